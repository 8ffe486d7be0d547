/**
 * `passthrough-listener`: the route fronts one upstream MCP server (`server.url`, else the route's
 * service). Every message goes through as the client and the server wrote it, except:
 * - sessions: the client holds the gateway's session id, the gateway the upstream's (session.ts);
 * - tools/list answers: tools the consumer may not use are left out (cursors untouched, so
 *   pagination goes on working);
 * - tools/call: refused by governance before it reaches the server (governance.ts), and recorded
 *   when its answer (or error, or timeout) is known;
 * - headers: the client's credentials stay at the gateway, the gateway's own for the upstream
 *   (`server.headers`, vault references) are added;
 * - faults: a server silent for `server.timeout` while a request waits, or gone mid-stream, gets
 *   every waiting request an error and closes the session (upstream told with DELETE where it can
 *   still hear it).
 * Toward the upstream this module speaks Streamable HTTP; an older server's HTTP+SSE transport
 * (`server.transport: sse`) is passthrough-legacy.ts, after the same parsing, session and governance.
 */
import type { RequestContext } from '../../proxy/context.ts';
import { endToEndHeaders, CLIENT_CREDENTIAL_HEADERS } from '../../proxy/headers.ts';
import { credentialNames } from '../shared/credentials.ts';
import { watchIdle, type IdleWatch } from '../../util/idle-watch.ts';
import type { CompiledMcp } from './compile.ts';
import {
  CONNECTION_CLOSED,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  REQUEST_TIMEOUT,
  SESSION_NOT_FOUND,
  errorResponse,
  isNotification,
  isRequest,
  isResponse,
  parseMessages,
  parseUpstream,
  type RpcId,
  type RpcResponse,
} from './jsonrpc.ts';
import { sessions, type McpSession } from './session.ts';
import { checkToolCall, mcpLogSection, toolCallEnded, toolErrorText, visibleTools, type ToolCall } from './governance.ts';
import { openSession, requireSession } from './client-session.ts';
import { listenLegacy, relayLegacy } from './passthrough-legacy.ts';
import { ACCEPT_BOTH, LAST_EVENT_HEADER, SESSION_HEADER, SseWriter, VERSION_HEADER, answerJson, callUpstream, contentTypeOf, headerValue, readCapped, sseEvents, type SseEvent, type UpstreamAnswer } from './transport.ts';

/** Protocol revisions from which JSON-RPC batches are gone (the 2025-06-18 changelog). */
const NO_BATCH_FROM = '2025-06-18';
/** An upstream's error body is relayed up to this size. */
const MAX_ERROR_BODY = 64 * 1024;
/** How long an upstream gets to hear the DELETE that ends a session it still holds. */
const DELETE_TIMEOUT_MS = 2000;

/** Headers never copied from the client: ours to set (session, version, negotiation, framing). */
const OWN_HEADERS = new Set(['host', 'content-length', 'content-type', 'accept', 'accept-encoding', SESSION_HEADER, VERSION_HEADER, LAST_EVENT_HEADER]);

/** What a session keeps on the worker serving it, beyond the shared copy. */
const UPSTREAM_KEY = 'passthrough.upstream';
const EXCHANGES_KEY = 'passthrough.exchanges';

interface UpstreamOf {
  url: string;
  headers: Record<string, string | string[]>;
}

/** A request the client waits an answer for, by its JSON-RPC id. */
export interface Waiting {
  method: string;
  call: ToolCall | null;
}

/** One client POST under way: the requests it carries that are still unanswered. */
interface Exchange {
  readonly waiting: Map<RpcId, Waiting>;
  /** Ends the exchange's client stream once nothing is waited for (a cancelled request). */
  settle(): void;
}

export async function servePassthrough(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const section = mcpLogSection(ctx);
  section.mode = 'passthrough-listener';
  switch (ctx.method) {
    case 'POST':
      return post(ctx, conf);
    case 'GET':
      return get(ctx, conf);
    case 'DELETE':
      return del(ctx, conf);
    default:
      return answerJson(ctx, 405, errorResponse(null, INVALID_REQUEST, `Method ${ctx.method} is not part of MCP's Streamable HTTP transport`), { allow: 'GET, POST, DELETE' });
  }
}

function upstreamUrl(ctx: RequestContext, conf: CompiledMcp): string | null {
  if (conf.upstreamUrl) return conf.upstreamUrl.href;
  const svc = ctx.compiledService;
  if (!svc) return null;
  return `${svc.target.origin}${svc.path ?? '/'}`;
}

/** The headers toward the upstream: the client's (without its credentials unless configured), then the gateway's own. */
function upstreamHeaders(ctx: RequestContext, conf: CompiledMcp): Record<string, string | string[]> {
  const server = conf.config.server;
  const out: Record<string, string | string[]> = {};
  if (server.forward_client_headers) {
    const creds = server.forward_client_credentials ? null : credentialNames(ctx).headers;
    const all = endToEndHeaders(ctx.req.headers);
    for (const name in all) {
      if (OWN_HEADERS.has(name) || conf.upstreamHeaderNames.has(name)) continue;
      if (creds !== null && (CLIENT_CREDENTIAL_HEADERS.has(name) || creds.has(name))) continue;
      out[name] = all[name];
    }
  }
  for (const name in conf.upstreamHeaders) out[name] = conf.upstreamHeaders[name];
  return out;
}

function sessionHeaders(ctx: RequestContext, s: McpSession, base: Record<string, string | string[]>): Record<string, string | string[]> {
  const h = { ...base };
  if (s.upstreamSessionId !== null) h[SESSION_HEADER] = s.upstreamSessionId;
  const version = headerValue(ctx.req.headers, VERSION_HEADER) ?? s.protocolVersion;
  if (version) h[VERSION_HEADER] = version;
  return h;
}

function exchangesOf(s: McpSession): Set<Exchange> {
  let set = s.extra.get(EXCHANGES_KEY) as Set<Exchange> | undefined;
  if (!set) s.extra.set(EXCHANGES_KEY, (set = new Set()));
  return set;
}

/** The upstream's session id ends with ours when it goes idle or its server stalls: told with DELETE (specification: clients SHOULD). */
sessions.onClose((s, reason) => {
  if (reason === 'client' || reason === 'upstream_not_found' || reason === 'elsewhere') return;
  const up = s.extra.get(UPSTREAM_KEY) as UpstreamOf | undefined;
  if (!up || s.upstreamSessionId === null) return;
  const headers = { ...up.headers, [SESSION_HEADER]: s.upstreamSessionId };
  callUpstream({ url: up.url, method: 'DELETE', headers, signal: AbortSignal.timeout(DELETE_TIMEOUT_MS) })
    .then((r) => r.body.dump())
    .catch(() => {});
});

async function post(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const limit = conf.maxBodySize > 0 ? conf.maxBodySize : ctx.settings.maxBodySize;
  const body = await ctx.readBody(limit); // too large: 413, in JSON-RPC's envelope (handler.errorBody)
  const parsed = parseMessages(body);
  if (!parsed.ok) return answerJson(ctx, 400, parsed.error);
  const { messages, batch } = parsed;
  const section = mcpLogSection(ctx);
  section.methods = messages.map((m) => ('method' in m ? m.method : 'response'));

  const url = upstreamUrl(ctx, conf);
  if (url === null) return answerJson(ctx, 503, errorResponse(null, INTERNAL_ERROR, 'No upstream MCP server: set config.server.url or attach the route to a service'));

  const init = messages.find((m) => isRequest(m) && m.method === 'initialize');
  let session: McpSession | null;
  if (init) {
    if (batch) return answerJson(ctx, 400, errorResponse((init as { id: RpcId }).id, INVALID_REQUEST, 'Invalid Request: initialize must not be part of a batch'));
    session = openSession(ctx, conf);
    if (!session) return answerJson(ctx, 503, errorResponse((init as { id: RpcId }).id, INTERNAL_ERROR, 'Too many open MCP sessions on this gateway; try again later'));
  } else {
    session = await requireSession(ctx);
    if (!session) return;
    if (batch && session.protocolVersion !== null && session.protocolVersion >= NO_BATCH_FROM) {
      return answerJson(ctx, 400, errorResponse(null, INVALID_REQUEST, `Invalid Request: JSON-RPC batches are not part of MCP ${session.protocolVersion}`));
    }
  }

  // governance: every tools/call is checked before anything goes upstream
  const waiting = new Map<RpcId, Waiting>();
  const refusals: RpcResponse[] = [];
  for (const m of messages) {
    if (isNotification(m) && m.method === 'notifications/cancelled') cancelWaiting(ctx, conf, session, m.params?.requestId as RpcId | undefined);
    if (!isRequest(m)) continue;
    let call: ToolCall | null = null;
    if (m.method === 'tools/call') {
      const name = m.params?.name;
      if (typeof name !== 'string' || name === '') {
        refusals.push(errorResponse(m.id, INVALID_PARAMS, 'Invalid params: tools/call needs params.name'));
        continue;
      }
      call = { tool: name, id: m.id, arguments: m.params?.arguments, startedAt: performance.now(), requestBytes: batch ? Buffer.byteLength(JSON.stringify(m)) : body.length };
      const refusal = await checkToolCall(ctx, conf, call);
      if (refusal) {
        refusals.push(errorResponse(m.id, refusal.code, refusal.message, refusal.data));
        continue;
      }
    }
    waiting.set(m.id, { method: m.method, call });
  }
  if (refusals.length > 0) {
    if (!batch) return answerJson(ctx, 200, refusals[0]);
    // a batch with a refused call is refused whole: what was let through is answered too, never half sent
    for (const [id, w] of waiting) {
      const e = errorResponse(id, INVALID_REQUEST, 'Invalid Request: the batch holds a call the gateway refused; send it without that call');
      if (w.call) toolCallEnded(ctx, conf, w.call, { status: 'error', responseBytes: 0, error: e.error });
      refusals.push(e);
    }
    return answerJson(ctx, 200, refusals);
  }

  const base = upstreamHeaders(ctx, conf);
  // an older server (2024-11-05's HTTP+SSE): its one stream carries every answer (passthrough-legacy.ts)
  if (conf.config.server.transport === 'sse') return relayLegacy(ctx, conf, session, url, base, body, messages, waiting, init !== undefined);
  // what ending the session upstream takes, on whichever worker ends it
  if (!session.extra.has(UPSTREAM_KEY)) session.extra.set(UPSTREAM_KEY, { url, headers: base } satisfies UpstreamOf);
  const headers = sessionHeaders(ctx, session, base);
  headers['content-type'] = 'application/json';
  headers.accept = ACCEPT_BOTH;
  await relayPost(ctx, conf, session, url, headers, body, waiting, init !== undefined);
}

/** A client's notifications/cancelled: the request it names is answered by nobody (specification), so its stream is not waited on. */
function cancelWaiting(ctx: RequestContext, conf: CompiledMcp, s: McpSession, id: RpcId | undefined): void {
  if (id === undefined) return;
  for (const ex of exchangesOf(s)) {
    const w = ex.waiting.get(id);
    if (!w) continue;
    ex.waiting.delete(id);
    if (w.call) toolCallEnded(ctx, conf, w.call, { status: 'error', responseBytes: 0, error: { message: 'cancelled by the client' } });
    ex.settle();
  }
}

type Failure = 'timeout' | 'gone' | 'client' | 'closed';

async function relayPost(ctx: RequestContext, conf: CompiledMcp, s: McpSession, url: string, headers: Record<string, string | string[]>, body: Buffer, waiting: Map<RpcId, Waiting>, init: boolean): Promise<void> {
  const abort = new AbortController();
  let failure: Failure | null = null;
  const fail = (f: Failure) => {
    if (failure === null) failure = f;
    abort.abort();
  };
  const onClientGone = () => fail('client');
  ctx.clientSignal.addEventListener('abort', onClientGone);
  s.inflight.add(abort);
  const idle: IdleWatch | null = waiting.size > 0 ? watchIdle(conf.timeoutMs, () => fail('timeout')) : null;
  const exchange: Exchange = { waiting, settle: () => waiting.size === 0 && !init && fail('closed') };
  const exchanges = exchangesOf(s);
  exchanges.add(exchange);
  const out = new SseWriter(ctx);
  const extra: Record<string, string> = init ? { [SESSION_HEADER]: s.id } : {};
  try {
    ctx.upstreamStartedAt = performance.now();
    let answer: UpstreamAnswer;
    try {
      answer = await callUpstream({ url, method: 'POST', headers, body, signal: abort.signal });
    } catch (e) {
      if (failure === null) failure = s.closed ? 'closed' : 'gone';
      throw e;
    }
    ctx.upstreamHeadersAt = performance.now();
    idle?.touch();
    if (init) {
      s.upstreamSessionId = headerValue(answer.headers, SESSION_HEADER);
      // shared before the client can see the session's id: its next request may reach another worker
      await sessions.share(s);
    }
    const type = contentTypeOf(answer.headers);
    if (answer.status === 404 && !init && s.upstreamSessionId !== null) {
      // the server forgot the session: ours ends too, and the client is told as the specification says (404: start again)
      await answer.body.dump();
      sessions.close(s, 'upstream_not_found');
      endWaiting(ctx, conf, waiting, 'error', 'upstream session not found');
      return answerJson(ctx, 404, errorResponse(null, SESSION_NOT_FOUND, 'Session not found'));
    }
    if (answer.status >= 400) {
      const text = await readCapped(answer.body, MAX_ERROR_BODY, () => idle?.touch());
      if (init) sessions.close(s, 'upstream_gone');
      endWaiting(ctx, conf, waiting, 'error', `upstream answered ${answer.status}`);
      ctx.error = { status: answer.status, code: 'upstream', message: `MCP server answered ${answer.status}` };
      const relayed = text !== null && type === 'application/json' ? text.toString('utf8') : errorResponse(null, CONNECTION_CLOSED, `MCP server answered HTTP ${answer.status}`);
      return answerJson(ctx, answer.status, relayed);
    }
    if (type === 'text/event-stream') {
      out.start(answer.status, extra);
      for await (const e of sseEvents(answer.body, () => idle?.touch())) {
        await out.write(relayEvent(ctx, conf, s, waiting, e));
        // everything answered: the specification has the server close the stream now; the gateway does not wait on it
        if (waiting.size === 0) break;
      }
    } else if (type === 'application/json') {
      const text = await readCapped(answer.body, ctx.settings.maxResponseSize, () => idle?.touch());
      if (text === null) {
        endWaiting(ctx, conf, waiting, 'error', 'upstream answer too large');
        return answerJson(ctx, 502, errorResponse(null, INTERNAL_ERROR, 'The MCP server answer is larger than the gateway relays'));
      }
      const relayed = relayText(ctx, conf, s, waiting, text.toString('utf8'));
      if (init) await sessions.share(s);
      return answerJson(ctx, answer.status, relayed, extra);
    } else {
      // 202 Accepted for notifications and responses, or an answer with no body
      await answer.body.dump();
      return answerJson(ctx, answer.status, undefined, extra);
    }
    if (init) await sessions.share(s);
    if (waiting.size > 0) failure = 'gone'; // the stream ended with requests unanswered
  } catch (e) {
    if (failure === null) throw e;
  } finally {
    idle?.stop();
    ctx.clientSignal.removeEventListener('abort', onClientGone);
    s.inflight.delete(abort);
    exchanges.delete(exchange);
  }
  await finishFailed(ctx, conf, s, waiting, out, failure, init, extra);
}

/** Ends a POST whose upstream failed: every waiting request gets its error, and the session closes when the server cannot be trusted with it. */
export async function finishFailed(ctx: RequestContext, conf: CompiledMcp, s: McpSession, waiting: Map<RpcId, Waiting>, out: SseWriter, failure: Failure | null, init: boolean, extra: Record<string, string>): Promise<void> {
  if (failure === null || failure === 'closed') {
    if (failure === 'closed' && waiting.size > 0) {
      const errors = endWaiting(ctx, conf, waiting, 'error', 'session closed', CONNECTION_CLOSED);
      return writeErrors(ctx, out, errors, 200, extra);
    }
    if (out.started) out.end();
    else if (!ctx.res.headersSent) answerJson(ctx, 202, undefined, extra);
    return;
  }
  if (failure === 'client') {
    endWaiting(ctx, conf, waiting, 'error', 'the client closed the connection');
    ctx.error = { status: 499, code: 'client', message: 'the client closed the connection' };
    if (!ctx.res.writableEnded) ctx.res.destroy();
    return;
  }
  const timeout = failure === 'timeout';
  const message = timeout ? `Request timed out: the MCP server sent nothing for ${conf.timeoutMs} ms` : 'Connection closed: the MCP server went away before answering';
  ctx.error = { status: timeout ? 504 : 502, code: timeout ? 'upstream_timeout' : 'upstream_gone', message };
  const errors = endWaiting(ctx, conf, waiting, 'error', message, timeout ? REQUEST_TIMEOUT : CONNECTION_CLOSED);
  sessions.close(s, timeout ? 'upstream_timeout' : 'upstream_gone');
  await writeErrors(ctx, out, errors.length > 0 ? errors : [errorResponse(null, timeout ? REQUEST_TIMEOUT : CONNECTION_CLOSED, message)], init ? 502 : 200, init ? {} : extra);
}

/** Errors for requests left unanswered: on the stream already open, else as a JSON answer. */
async function writeErrors(ctx: RequestContext, out: SseWriter, errors: RpcResponse[], status: number, extra: Record<string, string>): Promise<void> {
  if (out.started) {
    for (const e of errors) await out.write({ data: JSON.stringify(e) });
    out.end();
    return;
  }
  answerJson(ctx, errors.length === 1 ? (status === 502 ? 502 : 200) : status, errors.length === 1 ? errors[0] : errors, extra);
}

/** Every waiting request ends with an error: recorded, and the JSON-RPC errors that answer them returned. */
export function endWaiting(ctx: RequestContext, conf: CompiledMcp, waiting: Map<RpcId, Waiting>, status: 'error', message: string, code = INTERNAL_ERROR): RpcResponse[] {
  const errors: RpcResponse[] = [];
  for (const [id, w] of waiting) {
    if (w.call) toolCallEnded(ctx, conf, w.call, { status, responseBytes: 0, error: { code, message } });
    errors.push(errorResponse(id, code, message));
  }
  waiting.clear();
  return errors;
}

function relayEvent(ctx: RequestContext, conf: CompiledMcp, s: McpSession, waiting: Map<RpcId, Waiting>, e: SseEvent): SseEvent {
  if (e.data === '') return e; // a priming event (an id for resumption, no message)
  return { id: e.id, event: e.event, data: relayText(ctx, conf, s, waiting, e.data) };
}

/** One upstream message (or batch) on its way to the client: answers matched to what waits for them; the same bytes unless something had to change. */
export function relayText(ctx: RequestContext, conf: CompiledMcp, s: McpSession, waiting: Map<RpcId, Waiting>, text: string): string {
  const messages = parseUpstream(text);
  if (messages === null) return text;
  let changed = false;
  for (const m of messages) {
    if (!isResponse(m) || m.id === null) continue;
    const w = waiting.get(m.id);
    if (!w) continue;
    waiting.delete(m.id);
    if (relayAnswer(ctx, conf, s, w, m, messages.length === 1 ? Buffer.byteLength(text) : Buffer.byteLength(JSON.stringify(m)))) changed = true;
  }
  if (!changed) return text;
  return JSON.stringify(messages.length === 1 && !text.trimStart().startsWith('[') ? messages[0] : messages);
}

/** What the gateway does with an answer it waited for; true when the message was changed. */
function relayAnswer(ctx: RequestContext, conf: CompiledMcp, s: McpSession, w: Waiting, m: RpcResponse, bytes: number): boolean {
  const result = m.result as Record<string, unknown> | undefined;
  if (w.method === 'initialize' && result && typeof result.protocolVersion === 'string') {
    s.protocolVersion = result.protocolVersion;
    mcpLogSection(ctx).protocol_version = result.protocolVersion;
  }
  if (w.call) {
    const isError = m.error !== undefined || result?.isError === true;
    const error = m.error ? { code: m.error.code, message: m.error.message } : isError ? { message: toolErrorText(result) } : undefined;
    toolCallEnded(ctx, conf, w.call, { status: isError ? 'error' : 'ok', responseBytes: bytes, error, result: m.error ?? result });
  }
  if (w.method === 'tools/list' && result && Array.isArray(result.tools)) {
    const visible = visibleTools(ctx, conf, result.tools);
    if (visible.length !== result.tools.length) {
      result.tools = visible;
      return true;
    }
  }
  return false;
}

/** GET: the server's own stream (its requests and notifications), relayed as it comes; resumed with Last-Event-ID. */
async function get(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const s = await requireSession(ctx);
  if (!s) return;
  if (conf.config.server.transport === 'sse') return listenLegacy(ctx, s);
  const url = upstreamUrl(ctx, conf);
  if (url === null) return answerJson(ctx, 503, errorResponse(null, INTERNAL_ERROR, 'No upstream MCP server'));
  const headers = sessionHeaders(ctx, s, upstreamHeaders(ctx, conf));
  headers.accept = 'text/event-stream';
  const lastEvent = headerValue(ctx.req.headers, LAST_EVENT_HEADER);
  if (lastEvent !== null) headers[LAST_EVENT_HEADER] = lastEvent;
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  ctx.clientSignal.addEventListener('abort', onClientGone);
  s.inflight.add(abort);
  const out = new SseWriter(ctx);
  try {
    const answer = await callUpstream({ url, method: 'GET', headers, signal: abort.signal });
    if (answer.status === 404 && s.upstreamSessionId !== null) {
      await answer.body.dump();
      sessions.close(s, 'upstream_not_found');
      return answerJson(ctx, 404, errorResponse(null, SESSION_NOT_FOUND, 'Session not found'));
    }
    if (answer.status !== 200 || contentTypeOf(answer.headers) !== 'text/event-stream') {
      // 405: the server offers no stream of its own; relayed as it is
      const text = await readCapped(answer.body, MAX_ERROR_BODY);
      const allow = headerValue(answer.headers, 'allow');
      return answerJson(ctx, answer.status, text !== null && contentTypeOf(answer.headers) === 'application/json' ? text.toString('utf8') : undefined, allow ? { allow } : undefined);
    }
    out.start(200);
    for await (const e of sseEvents(answer.body)) await out.write(e);
    out.end();
  } catch (e) {
    if (abort.signal.aborted || ctx.clientSignal.aborted) {
      // the client left, or the session closed: its stream ends here
      if (out.started) out.end();
      else if (!ctx.res.headersSent) answerJson(ctx, 404, errorResponse(null, SESSION_NOT_FOUND, 'Session not found'));
      return;
    }
    // the server went away: the stream ends (the client may reconnect with Last-Event-ID)
    if (out.started) out.end();
    else answerJson(ctx, 502, errorResponse(null, CONNECTION_CLOSED, 'The MCP server could not be reached'));
    void e;
  } finally {
    ctx.clientSignal.removeEventListener('abort', onClientGone);
    s.inflight.delete(abort);
  }
}

/** DELETE: the client ends its session; the upstream's ends with it. */
async function del(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const s = await requireSession(ctx);
  if (!s) return;
  const url = upstreamUrl(ctx, conf);
  let status = 200;
  if (url !== null && s.upstreamSessionId !== null) {
    const headers = sessionHeaders(ctx, s, upstreamHeaders(ctx, conf));
    try {
      const answer = await callUpstream({ url, method: 'DELETE', headers, signal: AbortSignal.timeout(conf.timeoutMs) });
      await answer.body.dump();
      // 405: the server does not let clients end sessions; the gateway's session ends all the same
      if (answer.status < 400) status = answer.status;
    } catch {
      // unreachable: the gateway's session still ends
    }
  }
  sessions.close(s, 'client');
  answerJson(ctx, status, undefined);
}
