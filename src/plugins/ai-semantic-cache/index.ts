export { schema } from './schema.ts';
export { handler } from './handler.ts';
// the `redis` vector strategy registers itself with stores.ts (it loads no Redis client of its own)
import './redis-store.ts';
