// the tool policies register themselves with governance.ts when imported (docs/plugins.md, "ai-mcp-proxy")
import './acl.ts';
import './tool-rate-limit.ts';
export { schema } from './schema.ts';
export { handler } from './handler.ts';
