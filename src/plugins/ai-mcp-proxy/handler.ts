/**
 * `ai-mcp-proxy`: MCP traffic through the gateway (issue 23). The access phase claims the request
 * (`ctx.handler`, as ai-proxy does), so the route's auth and rate-limiting plugins have run first;
 * the mode's server (serve.ts) then answers it. Every error on the route, whoever answers it (a
 * 401 from key-auth, a 413 body limit), is in JSON-RPC's error envelope, which MCP clients read.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { AiMcpProxyConfig } from './schema.ts';
import { compileMcp, type CompiledMcp } from './compile.ts';
import { SERVE } from './serve.ts';
import { CONNECTION_CLOSED, INTERNAL_ERROR, INVALID_REQUEST, errorResponse } from './jsonrpc.ts';

export const handler: PluginHandler<AiMcpProxyConfig, CompiledMcp> = {
  compile: (config, ctx) => compileMcp(config, ctx),
  access(ctx, conf) {
    const serve = SERVE[conf.config.mode];
    if (serve) ctx.handler = (c: RequestContext) => serve(c, conf);
  },
  errorBody: (_ctx, _conf, status, body) => rpcErrorBody(status, body),
};

/** A gateway error (Kong's `{"message"}`) as a JSON-RPC error with no id; an answer already in that shape is kept. */
export function rpcErrorBody(status: number, body: unknown): unknown {
  if (body && typeof body === 'object' && (body as { jsonrpc?: unknown }).jsonrpc === '2.0') return body;
  const message = body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : `HTTP ${status}`;
  // malformed or oversize input is an invalid request; the server's own faults are internal errors;
  // the rest (401, 403, 429 ...) carry their meaning in the HTTP status, with the SDKs' generic server code
  const code = status === 400 || status === 413 ? INVALID_REQUEST : status >= 500 ? INTERNAL_ERROR : CONNECTION_CLOSED;
  return errorResponse(null, code, message);
}
