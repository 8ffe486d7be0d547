export { schema } from './schema.ts';
export { handler } from './handler.ts';
