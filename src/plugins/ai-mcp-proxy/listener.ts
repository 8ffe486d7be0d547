/**
 * `listener`: one MCP endpoint serving the tools of several servers (listener-members.ts: the
 * `ai-mcp-proxy` plugins tagged with `server.tag`) under one client session. The gateway is the
 * MCP server here; toward each member's upstream it is a client (upstream-session.ts), with one
 * upstream session per member inside the client's session, opened on first use and ended with it.
 *
 * - tools/list: every member's whole list (its pages followed), names prefixed (`server.tool_prefix`),
 *   the tools a consumer may not use left out (the listener's ACL on the prefixed name, the
 *   member's own on its name), then paged by the gateway (`server.tools_page_size`, opaque cursors).
 *   A member that fails is left out with a logged warning; the others are listed.
 * - tools/call: routed by the name's prefix to its member, the prefix stripped; governance
 *   (governance.ts) as in every mode; the member's progress and logging notifications reach the
 *   client on the call's stream, its error answers and failures come back as JSON-RPC errors.
 * - the client's GET stream carries the members' own notifications (tools/list_changed, logging).
 * - DELETE, idle and lifetime limits end the client's session and every upstream one with it.
 * Resources and prompts are not aggregated (not advertised); JSON-RPC batches are refused; members
 * whose upstream speaks the legacy HTTP+SSE transport are left out (upstream-session.ts speaks
 * Streamable HTTP only).
 */
import type { RequestContext } from '../../proxy/context.ts';
import { logger } from '../../observability/logger.ts';
import { cacheStore, counterStore } from '../../state/index.ts';
import type { CompiledMcp } from './compile.ts';
import {
  CONNECTION_CLOSED,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  REQUEST_TIMEOUT,
  errorResponse,
  isNotification,
  isRequest,
  parseMessages,
  type RpcId,
  type RpcMessage,
  type RpcRequest,
  type RpcResponse,
} from './jsonrpc.ts';
import { sessions, type McpSession } from './session.ts';
import { checkToolCall, deniedError, mcpLogSection, toolAllowed, toolCallEnded, toolErrorText, type ToolCall } from './governance.ts';
import { openSession, requireSession } from './client-session.ts';
import { SESSION_HEADER, SseWriter, answerJson, type SseEvent } from './transport.ts';
import { membersOf, memberByPrefix, type Member } from './listener-members.ts';
import { UpstreamFailure, UpstreamSession } from './upstream-session.ts';
import { memberCall, memberTools, type MemberAnswer } from './listener-calls.ts';

/** The revisions the listener speaks, newest first (the specification's version negotiation). */
export const SUPPORTED_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const SERVER_INFO = { name: 'modelgate-mcp-listener', version: '1.0.0' };
const STATE_KEY = 'listener.state';
/** Where a session's upstream session ids are shared with the node's other workers. */
const shared = cacheStore('local', 'ai-mcp-listener');

interface Listed {
  tools: Record<string, unknown>[];
}

/** What a client session holds on the worker serving it. */
interface ListenerState {
  /** The members' upstream sessions, by member key, opened on first use. */
  upstreams: Map<string, Promise<UpstreamSession>>;
  /** The names the session was shown, to the member and name they stand for. */
  names: Map<string, { member: string; tool: string }>;
  /** The merged list of the session's last tools/list without a cursor (its later pages come from it). */
  listed: Listed | null;
  /** Calls under way, by the client's id: cancelled with notifications/cancelled. */
  calls: Map<RpcId, AbortController>;
  /** The client's GET streams, and what listens to the upstreams for them. */
  streams: Set<SseWriter>;
  listening: AbortController | null;
}

function stateOf(s: McpSession): ListenerState {
  let st = s.extra.get(STATE_KEY) as ListenerState | undefined;
  if (!st) s.extra.set(STATE_KEY, (st = { upstreams: new Map(), names: new Map(), listed: null, calls: new Map(), streams: new Set(), listening: null }));
  return st;
}

/** Ending a client session ends its upstream sessions (each told with DELETE). */
sessions.onClose((s, reason) => {
  const st = s.extra.get(STATE_KEY) as ListenerState | undefined;
  if (!st) return;
  st.listening?.abort();
  for (const a of st.calls.values()) a.abort();
  for (const w of st.streams) w.end();
  // another worker closed it: that worker ended the upstream sessions it knew; the ones opened here are ours to end
  for (const p of st.upstreams.values()) p.then((u) => u.close(), () => {});
  void reason;
});

export async function serveListener(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  mcpLogSection(ctx).mode = 'listener';
  switch (ctx.method) {
    case 'POST':
      return post(ctx, conf);
    case 'GET':
      return get(ctx, conf);
    case 'DELETE': {
      const s = await requireSession(ctx);
      if (!s) return;
      // the session goes first (node-wide), then every upstream session any worker recorded for it:
      // a worker opening one meanwhile either recorded it before this reads, or finds the session gone (openUpstream)
      sessions.close(s, 'client');
      await endSharedUpstreams(s, conf, ctx);
      return answerJson(ctx, 200, undefined);
    }
    default:
      return answerJson(ctx, 405, errorResponse(null, INVALID_REQUEST, `Method ${ctx.method} is not part of MCP's Streamable HTTP transport`), { allow: 'GET, POST, DELETE' });
  }
}

function members(ctx: RequestContext, conf: CompiledMcp): Member[] {
  const self = ctx.chain.find((p) => p.conf === conf)?.id ?? '';
  return membersOf(ctx.snapshot, conf.config.server.tag, conf.config.server.tool_prefix, self);
}

async function post(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const limit = conf.maxBodySize > 0 ? conf.maxBodySize : ctx.settings.maxBodySize;
  const body = await ctx.readBody(limit);
  const parsed = parseMessages(body);
  if (!parsed.ok) return answerJson(ctx, 400, parsed.error);
  if (parsed.batch) return answerJson(ctx, 400, errorResponse(null, INVALID_REQUEST, 'Invalid Request: the listener takes one message per POST (no JSON-RPC batches)'));
  const m = parsed.messages[0];
  const section = mcpLogSection(ctx);
  section.methods = ['method' in m ? m.method : 'response'];

  if (isRequest(m) && m.method === 'initialize') return initialize(ctx, conf, m);
  const s = await requireSession(ctx);
  if (!s) return;
  if (!isRequest(m)) {
    if (isNotification(m) && m.method === 'notifications/cancelled') cancel(s, m.params?.requestId as RpcId | undefined);
    // notifications/initialized, the client's answers: nothing to answer
    return answerJson(ctx, 202, undefined);
  }
  switch (m.method) {
    case 'ping':
      return answerJson(ctx, 200, { jsonrpc: '2.0', id: m.id, result: {} });
    case 'tools/list':
      return answerJson(ctx, 200, await listTools(ctx, conf, s, m));
    case 'tools/call':
      return callTool(ctx, conf, s, m, body.length);
    default:
      return answerJson(ctx, 200, errorResponse(m.id, METHOD_NOT_FOUND, `Method not found: ${m.method}`));
  }
}

function initialize(ctx: RequestContext, conf: CompiledMcp, m: RpcRequest): void {
  const s = openSession(ctx, conf);
  if (!s) return answerJson(ctx, 503, errorResponse(m.id, INTERNAL_ERROR, 'Too many open MCP sessions on this gateway; try again later'));
  const asked = m.params?.protocolVersion;
  // the specification: the server answers with the client's version when it supports it, else its own latest
  const version = typeof asked === 'string' && SUPPORTED_VERSIONS.includes(asked) ? asked : SUPPORTED_VERSIONS[0];
  s.protocolVersion = version;
  mcpLogSection(ctx).protocol_version = version;
  return void sessions.share(s).then(() =>
    answerJson(ctx, 200, { jsonrpc: '2.0', id: m.id, result: { protocolVersion: version, capabilities: { tools: { listChanged: true } }, serverInfo: SERVER_INFO } }, { [SESSION_HEADER]: s.id }),
  );
}

/** The member's upstream session in this client session: opened once, shared by the node's workers. */
function upstreamOf(s: McpSession, member: Member): Promise<UpstreamSession> {
  const st = stateOf(s);
  let p = st.upstreams.get(member.key);
  if (!p) {
    p = openUpstream(s, member);
    st.upstreams.set(member.key, p);
    // a failed open is not kept: the next use tries again
    p.catch(() => st.upstreams.get(member.key) === p && st.upstreams.delete(member.key));
  }
  return p;
}

/** Where the node's workers find a member's upstream session for a client session: one key per member, so concurrent opens never overwrite each other. */
const sharedKey = (s: McpSession, member: Member) => `${s.id}:${member.key}`;

/** The opener's claim on a member's upstream session (an atomic counter: 1 for the first worker to ask). */
const claimKey = (s: McpSession, member: Member) => `mcp-listener-open:${s.id}:${member.key}`;
const CLAIM_POLL_MS = 25;

async function readKnown(s: McpSession, member: Member): Promise<{ s: string | null; v: string | null } | null> {
  try {
    return JSON.parse((await shared.get(sharedKey(s, member))) ?? 'null');
  } catch {
    return null; // nothing shared (or no shared state in this process)
  }
}

/**
 * Two workers serving the same client session at once (its GET stream and a tools/list) must not
 * both open an upstream session for a member: the one the shared key does not name would outlive
 * the client's session unseen. The first to claim opens; the others wait for its shared key.
 */
async function claim(s: McpSession, member: Member): Promise<boolean> {
  const counters = counterStore('local');
  const item = { key: claimKey(s, member), delta: 1, ttlMs: s.limits.idleMs };
  let n: number;
  try {
    [n] = await counters.increment([item]);
  } catch {
    return true; // no shared state in this process: this worker is the only one
  }
  if (n <= 1) return true;
  counters.increment([{ ...item, delta: -1 }]).catch(() => {});
  return false;
}

function releaseClaim(s: McpSession, member: Member): void {
  try {
    counterStore('local')
      .increment([{ key: claimKey(s, member), delta: -1, ttlMs: s.limits.idleMs }])
      .catch(() => {});
  } catch {
    // no shared state in this process
  }
}

async function openUpstream(s: McpSession, member: Member): Promise<UpstreamSession> {
  if (!member.target) throw new UpstreamFailure('gone', `${member.server} has no upstream MCP server (server.url or the route's service)`);
  // the listener's upstream client speaks Streamable HTTP only: a legacy member is left out (a warning), its calls refused
  if (member.conf.config.server.transport === 'sse') throw new UpstreamFailure('gone', `${member.server} speaks MCP's legacy HTTP+SSE transport, which the listener does not aggregate`);
  let known = await readKnown(s, member);
  if (!known && !(await claim(s, member))) {
    // another worker is opening it: its session is taken over once shared, or ours opened if it never comes
    for (let waited = 0; !known && waited < member.target.timeoutMs; waited += CLAIM_POLL_MS) {
      await new Promise((r) => setTimeout(r, CLAIM_POLL_MS));
      known = await readKnown(s, member);
    }
  }
  let up: UpstreamSession;
  if (known && known.s !== null) up = new UpstreamSession(member.target, { sessionId: known.s, protocolVersion: known.v });
  else {
    up = new UpstreamSession(member.target);
    try {
      await up.open({ name: SERVER_INFO.name, version: SERVER_INFO.version });
    } catch (e) {
      releaseClaim(s, member);
      throw e;
    }
    if (s.closed) {
      up.close();
      throw new UpstreamFailure('session', 'the session closed');
    }
    await shared.set(sharedKey(s, member), JSON.stringify({ s: up.sessionId, v: up.protocolVersion }), s.limits.idleMs).catch(() => {});
    // ended meanwhile by another worker (a DELETE): this upstream session would outlive it unseen
    if (!(await sessions.find(s.id, s.routeId, s.owner))) {
      up.close();
      throw new UpstreamFailure('session', 'the session closed');
    }
  }
  watchUpstream(s, up);
  return up;
}

/** A client GET stream open: the new upstream session's own stream is relayed to it too. */
function watchUpstream(s: McpSession, up: UpstreamSession): void {
  const st = stateOf(s);
  if (st.listening) void relayUpstreamStream(s, up, st.listening.signal);
}

/** The upstream sessions another worker of the node opened for this client session: ended by whichever worker ends the session. */
async function endSharedUpstreams(s: McpSession, conf: CompiledMcp, ctx: RequestContext): Promise<void> {
  const st = stateOf(s);
  await Promise.all(
    members(ctx, conf).map(async (m) => {
      let known: { s: string | null; v: string | null } | null = null;
      try {
        known = JSON.parse((await shared.get(sharedKey(s, m))) ?? 'null');
        await shared.delete(sharedKey(s, m));
      } catch {
        return;
      }
      if (!known || known.s === null || !m.target) return;
      const mine = st.upstreams.get(m.key);
      if (mine && (await mine.then((u) => u.sessionId === known!.s, () => false))) return; // ended with the session (onClose)
      new UpstreamSession(m.target, { sessionId: known.s, protocolVersion: known.v }).close();
    }),
  );
}

/** An upstream session that failed (stalled, gone, forgot the session) is dropped from the client session: the next use opens a new one. */
function dropUpstream(s: McpSession, member: Member, up: UpstreamSession | null): void {
  const st = stateOf(s);
  st.upstreams.delete(member.key);
  up?.close();
  // the shared record goes with it, unless it already names a newer session another worker opened
  void readKnown(s, member).then((known) => {
    if (known && up && known.s !== up.sessionId) return;
    shared.delete(sharedKey(s, member)).catch(() => {});
    releaseClaim(s, member);
  });
}

/** Cursor: the offset in the session's merged list, opaque to the client. */
function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}
function decodeCursor(c: unknown): number | null {
  if (typeof c !== 'string') return null;
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { o?: unknown };
    return Number.isInteger(v.o) && (v.o as number) >= 0 ? (v.o as number) : null;
  } catch {
    return null;
  }
}

async function listTools(ctx: RequestContext, conf: CompiledMcp, s: McpSession, m: RpcRequest): Promise<RpcResponse> {
  const st = stateOf(s);
  const cursor = m.params?.cursor;
  let offset = 0;
  if (cursor !== undefined) {
    const o = decodeCursor(cursor);
    if (o === null) return errorResponse(m.id, INVALID_PARAMS, 'Invalid params: unknown cursor');
    offset = o;
  }
  if (cursor === undefined || st.listed === null) st.listed = await mergedList(ctx, conf, s);
  const size = conf.config.server.tools_page_size;
  const page = st.listed.tools.slice(offset, offset + size);
  const result: Record<string, unknown> = { tools: page };
  if (offset + size < st.listed.tools.length) result.nextCursor = encodeCursor(offset + size);
  return { jsonrpc: '2.0', id: m.id, result };
}

/** Every member's tools as this consumer may see them, prefixed; a failing member is left out with a warning. */
async function mergedList(ctx: RequestContext, conf: CompiledMcp, s: McpSession): Promise<Listed> {
  const st = stateOf(s);
  const all = members(ctx, conf);
  const list = async (member: Member) => {
    try {
      return await memberTools(ctx, member, () => upstreamOf(s, member));
    } catch (e) {
      if (!(e instanceof UpstreamFailure) || e.kind !== 'session') throw e;
      // the server forgot the session (ended elsewhere after a fault): once more in a new one
      dropUpstream(s, member, null);
      return memberTools(ctx, member, () => upstreamOf(s, member));
    }
  };
  const lists = await Promise.allSettled(all.map(list));
  const tools: Record<string, unknown>[] = [];
  const names = new Map<string, { member: string; tool: string }>();
  for (let i = 0; i < all.length; i++) {
    const member = all[i];
    const r = lists[i];
    if (r.status === 'rejected') {
      const e = r.reason as Error;
      logger().warn({ plugin: 'ai-mcp-proxy', route: ctx.route.name ?? ctx.route.id, member: member.server, err: e.message }, 'MCP listener: a member server failed; its tools are left out of tools/list');
      if (e instanceof UpstreamFailure && e.kind !== 'aborted') dropUpstream(s, member, null);
      continue;
    }
    for (const t of r.value) {
      const name = `${member.prefix}${t.name as string}`;
      // a name listed already (one prefix the start of another): the first keeps it, so a call has one meaning
      if (names.has(name)) continue;
      if (!toolAllowed(ctx, member.conf, t.name as string) || !toolAllowed(ctx, conf, name)) continue;
      names.set(name, { member: member.key, tool: t.name as string });
      tools.push({ ...t, name });
    }
  }
  st.names = names;
  return { tools };
}

function cancel(s: McpSession, id: RpcId | undefined): void {
  if (id === undefined) return;
  stateOf(s).calls.get(id)?.abort();
}

async function callTool(ctx: RequestContext, conf: CompiledMcp, s: McpSession, m: RpcRequest, requestBytes: number): Promise<void> {
  const name = m.params?.name;
  if (typeof name !== 'string' || name === '') return answerJson(ctx, 200, errorResponse(m.id, INVALID_PARAMS, 'Invalid params: tools/call needs params.name'));
  const call: ToolCall = { tool: name, id: m.id, arguments: m.params?.arguments, startedAt: performance.now(), requestBytes };
  const st = stateOf(s);
  const all = members(ctx, conf);
  const listed = st.names.get(name);
  const member = listed ? (all.find((x) => x.key === listed.member) ?? null) : memberByPrefix(all, name);
  const tool = listed ? listed.tool : member ? name.slice(member.prefix.length) : '';
  // an unknown name and a hidden one get the same answer (governance.ts, deniedError)
  if (member === null || !toolAllowed(ctx, member.conf, tool)) {
    const e = deniedError(name);
    toolCallEnded(ctx, conf, call, { status: 'denied', responseBytes: 0, error: { code: e.code, message: e.message } });
    return answerJson(ctx, 200, errorResponse(m.id, e.code, e.message));
  }
  const refusal = await checkToolCall(ctx, conf, call);
  if (refusal) return answerJson(ctx, 200, errorResponse(m.id, refusal.code, refusal.message, refusal.data));

  const abort = new AbortController();
  st.calls.set(m.id, abort);
  const onClientGone = () => abort.abort();
  ctx.clientSignal.addEventListener('abort', onClientGone);
  // the call's stream: opened by the first notification the member sends before its answer
  const out = new SseWriter(ctx);
  const sink = (n: RpcMessage) => (isNotification(n) ? out.write({ data: JSON.stringify(n) }) : undefined);
  let answer: MemberAnswer;
  try {
    answer = await memberCall(ctx, member, tool, m, () => upstreamOf(s, member), sink, abort.signal);
    if (answer.kind === 'failed' && answer.failure.kind === 'session') {
      // the member's server no longer knows the session (another worker ended it after a fault, or the
      // server restarted): the call never ran there, so it goes again in a new session (the
      // specification's answer to a 404: the client initializes again)
      dropUpstream(s, member, answer.upstream);
      answer = await memberCall(ctx, member, tool, m, () => upstreamOf(s, member), sink, abort.signal);
    }
  } finally {
    st.calls.delete(m.id);
    ctx.clientSignal.removeEventListener('abort', onClientGone);
  }
  if (answer.kind === 'failed') {
    const f = answer.failure;
    if (f.kind === 'aborted') {
      // cancelled by the client (or it left): the specification has no answer sent; the stream just ends
      toolCallEnded(ctx, conf, call, { status: 'error', responseBytes: 0, error: { message: ctx.clientSignal.aborted ? 'the client closed the connection' : 'cancelled by the client' } });
      if (ctx.clientSignal.aborted) return void (ctx.res.writableEnded || ctx.res.destroy());
      return out.end();
    }
    // a member that stalled, went away or forgot the session: its upstream session ends; the client's goes on
    if (answer.upstream) dropUpstream(s, member, answer.upstream);
    const code = f.kind === 'timeout' ? REQUEST_TIMEOUT : CONNECTION_CLOSED;
    ctx.error = { status: f.kind === 'timeout' ? 504 : 502, code: f.kind === 'timeout' ? 'upstream_timeout' : 'upstream_gone', message: f.message };
    toolCallEnded(ctx, conf, call, { status: 'error', responseBytes: 0, error: { code, message: f.message } });
    return finish(ctx, out, errorResponse(m.id, code, f.message));
  }
  const reply: RpcResponse = answer.response.error ? { jsonrpc: '2.0', id: m.id, error: answer.response.error } : { jsonrpc: '2.0', id: m.id, result: answer.response.result };
  const text = JSON.stringify(reply);
  const result = answer.response.result as Record<string, unknown> | undefined;
  const isError = answer.response.error !== undefined || result?.isError === true;
  const error = answer.response.error ? { code: answer.response.error.code, message: answer.response.error.message } : isError ? { message: toolErrorText(result) } : undefined;
  toolCallEnded(ctx, conf, call, { status: isError ? 'error' : 'ok', responseBytes: Buffer.byteLength(text), error, result: answer.response.error ?? result });
  return finish(ctx, out, text);
}

/** The answer: on the call's stream when one was opened, else as JSON. */
async function finish(ctx: RequestContext, out: SseWriter, reply: RpcResponse | string): Promise<void> {
  if (out.started) {
    await out.write({ data: typeof reply === 'string' ? reply : JSON.stringify(reply) });
    return out.end();
  }
  answerJson(ctx, 200, reply);
}

/** GET: the session's own stream, carrying what the members' servers send on theirs. */
async function get(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const s = await requireSession(ctx);
  if (!s) return;
  const st = stateOf(s);
  const out = new SseWriter(ctx);
  out.start(200);
  st.streams.add(out);
  if (!st.listening) {
    st.listening = new AbortController();
    // every member's session is used from here on (its notifications are what the stream is for):
    // opened, or taken over from the worker that opened it; each relays its own stream (watchUpstream)
    const signal = st.listening.signal;
    for (const member of members(ctx, conf)) {
      const had = st.upstreams.has(member.key);
      const p = upstreamOf(s, member);
      if (had) p.then((up) => relayUpstreamStream(s, up, signal), () => {});
      else p.catch(() => {});
    }
  }
  await new Promise<void>((resolve) => {
    if (ctx.clientSignal.aborted || s.closed) return resolve();
    ctx.clientSignal.addEventListener('abort', () => resolve());
    ctx.res.once('close', () => resolve());
  });
  st.streams.delete(out);
  out.end();
  if (st.streams.size === 0 && st.listening) {
    st.listening.abort();
    st.listening = null;
  }
}

/** One upstream session's GET stream relayed to the client's GET streams, while any is open. */
async function relayUpstreamStream(s: McpSession, up: UpstreamSession, signal: AbortSignal): Promise<void> {
  const st = stateOf(s);
  await up.listen(async (m) => {
    // requests from a member's server are not relayed: the gateway declared no client capabilities to it
    if (!isNotification(m)) return;
    if (m.method !== 'notifications/tools/list_changed' && m.method !== 'notifications/message') return;
    if (m.method === 'notifications/tools/list_changed') st.listed = null;
    const e: SseEvent = { data: JSON.stringify(m) };
    for (const w of st.streams) await w.write(e);
  }, signal);
}
