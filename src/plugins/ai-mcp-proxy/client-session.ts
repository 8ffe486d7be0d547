/**
 * The gateway session a client's request opens or names, the same in every mode: `initialize`
 * opens one with the plugin's limits; every later request must name one with `Mcp-Session-Id`
 * (400 without it, 404 when it is unknown, ended, or another consumer's or route's: the
 * specification's "start a new session"). What the three modes used to repeat.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import { INVALID_REQUEST, SESSION_NOT_FOUND, errorResponse } from './jsonrpc.ts';
import { sessions, type McpSession } from './session.ts';
import { mcpLogSection } from './governance.ts';
import { SESSION_HEADER, answerJson, headerValue } from './transport.ts';

/** A new session for this route and consumer, or null when the worker holds `max_sessions` already. */
export function openSession(ctx: RequestContext, conf: CompiledMcp): McpSession | null {
  const lim = conf.config.server.session;
  const s = sessions.create(ctx.route.id, ctx.consumer?.id ?? null, { idleMs: lim.idle_timeout * 1000, ttlMs: lim.session_ttl * 1000, maxSessions: lim.max_sessions });
  if (s) mcpLogSection(ctx).session_id = s.id;
  return s;
}

/** The session the request names, or null after answering 400 (no id) or 404 (unknown). */
export async function requireSession(ctx: RequestContext): Promise<McpSession | null> {
  const id = headerValue(ctx.req.headers, SESSION_HEADER);
  if (!id) {
    answerJson(ctx, 400, errorResponse(null, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required'));
    return null;
  }
  const s = await sessions.find(id, ctx.route.id, ctx.consumer?.id ?? null);
  if (!s) {
    answerJson(ctx, 404, errorResponse(null, SESSION_NOT_FOUND, 'Session not found'));
    return null;
  }
  mcpLogSection(ctx).session_id = s.id;
  return s;
}
