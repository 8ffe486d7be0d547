/**
 * `passthrough-listener` toward an older MCP server (`server.transport: sse`: the 2024-11-05
 * HTTP+SSE transport, legacy-sse.ts) while the client speaks Streamable HTTP to the gateway as
 * on any passthrough route. passthrough.ts does what every passthrough POST does first (parsing,
 * the session, governance); this module carries the messages:
 * - initialize opens the upstream stream (its `endpoint` event within `server.timeout`) on this
 *   worker, which becomes the session's home (legacy-home.ts); the gateway's session id is the
 *   only one the client sees (the upstream's is in the endpoint URI, never relayed);
 * - a POST with requests is answered on an SSE stream: what the upstream sends for them (progress,
 *   its other messages while they wait, then the answers), each relayed as passthrough relays
 *   (tools/list filtered, tool calls recorded); a POST of notifications or responses gets 202;
 * - GET is the session's stream: the server's messages no request waits on;
 * - faults as on the Streamable path (passthrough.ts, finishFailed): silent for `server.timeout`
 *   while answers are awaited → -32001 and the session closed; the stream gone → -32000 and the
 *   session closed; closing the session closes the upstream stream, which ends it upstream.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import { CONNECTION_CLOSED, INVALID_REQUEST, SESSION_NOT_FOUND, errorResponse, isRequest, type RpcId, type RpcMessage } from './jsonrpc.ts';
import { sessions, type McpSession } from './session.ts';
import { SESSION_HEADER, SseWriter, answerJson } from './transport.ts';
import { LegacySseUpstream, type ExchangeEnd, type LegacyLink } from './legacy-sse.ts';
import { holdLink, homeAddress, linkOf, releaseLink } from './legacy-home.ts';
import { endWaiting, finishFailed, relayText, type Waiting } from './passthrough.ts';

/** A closed session's upstream stream closes with it, wherever it is held. */
sessions.onClose((s, reason) => {
  const here = releaseLink(s.id);
  if (here) return here.close();
  // held by another worker: told, unless that worker is the one that closed it
  if (reason !== 'elsewhere') linkOf(s)?.close();
});

/** Opens the upstream session on this worker, which becomes its home. */
async function openLink(s: McpSession, url: string, headers: Record<string, string | string[]>, conf: CompiledMcp): Promise<LegacyLink> {
  const link = await LegacySseUpstream.open(url, headers, conf.timeoutMs, () => sessions.close(s, 'upstream_gone'));
  if (s.closed) {
    link.close();
    throw new Error('the session closed');
  }
  holdLink(s, link);
  s.home = await homeAddress();
  return link;
}

function progressTokens(messages: RpcMessage[]): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of messages) {
    const t = isRequest(m) ? (m.params?._meta as { progressToken?: unknown } | undefined)?.progressToken : undefined;
    if (typeof t === 'string' || typeof t === 'number') out.push(t);
  }
  return out;
}

/** One client POST through the legacy upstream; `waiting` holds its requests that governance let through. */
export async function relayLegacy(ctx: RequestContext, conf: CompiledMcp, s: McpSession, url: string, headers: Record<string, string | string[]>, body: Buffer, messages: RpcMessage[], waiting: Map<RpcId, Waiting>, init: boolean): Promise<void> {
  const extra: Record<string, string> = init ? { [SESSION_HEADER]: s.id } : {};
  let link: LegacyLink | null;
  ctx.upstreamStartedAt = performance.now();
  if (init) {
    try {
      link = await openLink(s, url, headers, conf);
    } catch (e) {
      sessions.close(s, 'upstream_gone');
      const message = `Connection closed: the MCP server's SSE stream could not be opened (${(e as Error).message})`;
      ctx.error = { status: 502, code: 'upstream_gone', message };
      const errors = endWaiting(ctx, conf, waiting, 'error', message, CONNECTION_CLOSED);
      return answerJson(ctx, 502, errors[0] ?? errorResponse(null, CONNECTION_CLOSED, message));
    }
    // shared before the client can see the session's id: its next request may reach another worker, which finds the home here
    await sessions.share(s);
  } else link = linkOf(s);
  if (link === null) {
    // the home worker is gone: so is the upstream stream, and the session with it
    sessions.close(s, 'upstream_gone');
    endWaiting(ctx, conf, waiting, 'error', 'upstream session not found');
    return answerJson(ctx, 404, errorResponse(null, SESSION_NOT_FOUND, 'Session not found'));
  }

  const waited = waiting.size > 0;
  const out = new SseWriter(ctx);
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  ctx.clientSignal.addEventListener('abort', onClientGone);
  let end: ExchangeEnd;
  try {
    end = await link.exchange({ body: body.toString('utf8'), wait: [...waiting.keys()], tokens: progressTokens(messages), headers }, async (text) => {
      if (!out.started) {
        ctx.upstreamHeadersAt = performance.now();
        out.start(200, extra);
      }
      await out.write({ data: relayText(ctx, conf, s, waiting, text) });
    }, abort.signal);
  } finally {
    ctx.clientSignal.removeEventListener('abort', onClientGone);
  }
  // the protocol version the initialize answer settled on (relayText) goes to the other workers too
  if (init && !s.closed) await sessions.share(s);

  switch (end.kind) {
    case 'answered':
      // what is still waited for was cancelled by the client: the specification sends no answer for it
      endWaiting(ctx, conf, waiting, 'error', 'cancelled by the client');
      if (!waited) return answerJson(ctx, 202, undefined, extra);
      out.start(200, extra);
      return out.end();
    case 'duplicate':
      endWaiting(ctx, conf, waiting, 'error', 'duplicate request id');
      return answerJson(ctx, 400, errorResponse(end.id, INVALID_REQUEST, 'Invalid Request: a request with this id is already under way in the session'));
    case 'refused': {
      if (init) sessions.close(s, 'upstream_gone');
      const message = `MCP server answered HTTP ${end.status}`;
      endWaiting(ctx, conf, waiting, 'error', message);
      ctx.error = { status: end.status, code: 'upstream', message };
      return answerJson(ctx, end.status >= 500 ? 502 : end.status, errorResponse(null, CONNECTION_CLOSED, message));
    }
    case 'aborted':
      return finishFailed(ctx, conf, s, waiting, out, 'client', init, extra);
    case 'timeout':
      return finishFailed(ctx, conf, s, waiting, out, 'timeout', init, extra);
    case 'gone':
      return finishFailed(ctx, conf, s, waiting, out, 'gone', init, extra);
    case 'closed':
      // closed by the gateway meanwhile (a DELETE, another request's fault); else the home forgot it: gone
      return finishFailed(ctx, conf, s, waiting, out, s.closed ? 'closed' : 'gone', init, extra);
  }
}

/** GET: the session's own stream, carrying the server's messages no request waits on. */
export async function listenLegacy(ctx: RequestContext, s: McpSession): Promise<void> {
  const link = linkOf(s);
  if (link === null) {
    sessions.close(s, 'upstream_gone');
    return answerJson(ctx, 404, errorResponse(null, SESSION_NOT_FOUND, 'Session not found'));
  }
  const out = new SseWriter(ctx);
  out.start(200);
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  ctx.clientSignal.addEventListener('abort', onClientGone);
  try {
    await link.listen((text) => out.write({ data: text }), abort.signal);
  } finally {
    ctx.clientSignal.removeEventListener('abort', onClientGone);
  }
  out.end();
}
