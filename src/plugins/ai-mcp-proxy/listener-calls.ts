/**
 * What a `listener` asks of one member, whatever kind it is: its tools (unprefixed), and a call
 * of one of them. A `passthrough-listener` member is an upstream MCP server, reached through the
 * client session's upstream session with it; a `conversion-only` member's tools are its config's
 * `tools[]`, called through the gateway as its own mode would (conversion.ts, `runConversionTool`).
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { RpcMessage, RpcRequest, RpcResponse } from './jsonrpc.ts';
import type { Member } from './listener-members.ts';
import { UpstreamFailure, type MessageSink, type UpstreamSession } from './upstream-session.ts';
import { conversionTools } from './conversion-tools.ts';
import { runConversionTool } from './conversion.ts';

/** A member's tools/list pages followed up to this many (a server whose cursors never end). */
const MAX_PAGES = 100;

export type MemberAnswer = { kind: 'answer'; response: RpcResponse } | { kind: 'failed'; failure: UpstreamFailure; upstream: UpstreamSession | null };

/** The member's whole tool list; rejects with an UpstreamFailure when its server fails. */
export async function memberTools(_ctx: RequestContext, member: Member, open: () => Promise<UpstreamSession>): Promise<Record<string, unknown>[]> {
  if (member.mode === 'conversion-only') return conversionTools(member.conf.config).list.map((t) => t.listing);
  const up = await open();
  const tools: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await up.request(up.newId(), 'tools/list', cursor === undefined ? undefined : { cursor }, null);
    if (r.error) throw new UpstreamFailure('gone', `${member.server} refused tools/list: ${r.error.message}`);
    const result = (r.result ?? {}) as { tools?: unknown; nextCursor?: unknown };
    if (Array.isArray(result.tools)) for (const t of result.tools) if (t && typeof t === 'object' && typeof (t as { name?: unknown }).name === 'string') tools.push(t as Record<string, unknown>);
    if (typeof result.nextCursor !== 'string' || result.nextCursor === '') break;
    cursor = result.nextCursor;
  }
  return tools;
}

/**
 * One tools/call on the member, by the member's own tool name. The client's params go as they
 * are (its `_meta.progressToken` included, so the server's progress notifications name the
 * client's token); notifications the server sends before its answer go to `sink`. A cancellation
 * (`signal`) is passed on as notifications/cancelled with the gateway's id for the request.
 */
export async function memberCall(ctx: RequestContext, member: Member, tool: string, m: RpcRequest, open: () => Promise<UpstreamSession>, sink: MessageSink, signal: AbortSignal): Promise<MemberAnswer> {
  if (member.mode === 'conversion-only') {
    const def = conversionTools(member.conf.config).byName.get(tool);
    if (!def) return { kind: 'answer', response: { jsonrpc: '2.0', id: m.id, error: { code: -32602, message: `Unknown tool or not allowed: ${m.params?.name as string}` } } };
    const out = await runConversionTool(ctx, member.conf, def, m.params?.arguments);
    if ('error' in out) return { kind: 'answer', response: { jsonrpc: '2.0', id: m.id, error: out.error } };
    return { kind: 'answer', response: { jsonrpc: '2.0', id: m.id, result: out.result } };
  }
  let up: UpstreamSession;
  try {
    up = await open();
  } catch (e) {
    return { kind: 'failed', failure: asFailure(e), upstream: null };
  }
  const id = up.newId();
  const onCancel = () => void up.notify('notifications/cancelled', { requestId: id, reason: 'cancelled by the client' });
  signal.addEventListener('abort', onCancel, { once: true });
  try {
    const response = await up.request(id, 'tools/call', { ...m.params, name: tool }, (n: RpcMessage) => sink(n), false, signal);
    return { kind: 'answer', response };
  } catch (e) {
    return { kind: 'failed', failure: asFailure(e), upstream: up };
  } finally {
    signal.removeEventListener('abort', onCancel);
  }
}

function asFailure(e: unknown): UpstreamFailure {
  return e instanceof UpstreamFailure ? e : new UpstreamFailure('gone', (e as Error).message);
}
