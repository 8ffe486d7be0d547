/**
 * MCP's Streamable HTTP transport (modelcontextprotocol.io, revision 2025-06-18 and later,
 * "Transports"), both sides, as the modes use it:
 * - toward the client: JSON answers (`application/json`) and SSE streams (`text/event-stream`,
 *   each event's `data` one JSON-RPC message, its `id` kept for `Last-Event-ID` resumption);
 * - toward the upstream server: requests through an undici Agent whose connections keep the
 *   gateway's egress policy (src/proxy/egress.ts), and SSE decoding of its answers.
 * The header names live here: `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID`.
 */
import { once } from 'node:events';
import type { Dispatcher } from 'undici';
import { Agent, request } from '../../util/undici.ts';
import { createParser } from 'eventsource-parser';
import type { RequestContext } from '../../proxy/context.ts';
import { HEADERS } from '../../proxy/names.ts';
import { guardedLookup } from '../../proxy/egress.ts';

export const SESSION_HEADER = 'mcp-session-id';
export const VERSION_HEADER = 'mcp-protocol-version';
export const LAST_EVENT_HEADER = 'last-event-id';
export const ACCEPT_BOTH = 'application/json, text/event-stream';

/** One agent for every MCP upstream: keep-alive pools per origin, connections checked by the egress policy. */
const agent = new Agent({
  connect: { lookup: guardedLookup },
  // the modes time upstream silence themselves (`server.timeout`, per request): undici's own limits off
  headersTimeout: 0,
  bodyTimeout: 0,
});

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface UpstreamCall {
  url: string;
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string | string[]>;
  body?: Uint8Array | string;
  signal: AbortSignal;
}

export async function callUpstream(c: UpstreamCall): Promise<UpstreamAnswer> {
  const r = await request(c.url, { method: c.method, headers: c.headers, body: c.body, signal: c.signal, dispatcher: agent });
  return { status: r.statusCode, headers: r.headers, body: r.body };
}

export function headerValue(h: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = h[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

export function contentTypeOf(h: Record<string, string | string[] | undefined>): string {
  return (headerValue(h, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** Reads a body up to `cap` bytes; past it, null (the caller answers for the oversize message). */
export async function readCapped(body: AsyncIterable<Buffer>, cap: number, onChunk?: () => void): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    onChunk?.();
    size += chunk.length;
    if (size > cap) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** The upstream's SSE body as events, whatever way its bytes were cut; `onChunk` hears every chunk (idle timers). */
export async function* sseEvents(body: AsyncIterable<Buffer>, onChunk?: () => void): AsyncGenerator<SseEvent> {
  const queue: SseEvent[] = [];
  const parser = createParser({ onEvent: (e) => queue.push({ id: e.id, event: e.event, data: e.data }) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    onChunk?.();
    parser.feed(decoder.decode(chunk, { stream: true }));
    while (queue.length > 0) yield queue.shift()!;
  }
  parser.feed(decoder.decode());
  while (queue.length > 0) yield queue.shift()!;
}

function baseHeaders(ctx: RequestContext): Record<string, string | number> {
  return {
    [HEADERS.requestId]: ctx.requestId,
    [HEADERS.responseLatency]: Math.round(performance.now() - ctx.startedAt),
    server: HEADERS.server,
  };
}

/** A whole JSON answer to the client (one message, a batch's array, or nothing with 202). */
export function answerJson(ctx: RequestContext, status: number, body: unknown, extra?: Record<string, string>): void {
  const res = ctx.res;
  if (res.headersSent) return void res.destroy();
  const headers: Record<string, string | number> = { ...baseHeaders(ctx), ...extra };
  let text = '';
  if (body !== undefined) {
    text = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = Buffer.byteLength(text);
  res.writeHead(status, headers);
  res.end(text);
  ctx.response = { status, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) };
}

/** An SSE answer to the client, written with back-pressure. */
export class SseWriter {
  readonly #ctx: RequestContext;
  #started = false;

  constructor(ctx: RequestContext) {
    this.#ctx = ctx;
  }

  get started(): boolean {
    return this.#started;
  }

  start(status: number, extra?: Record<string, string>): void {
    if (this.#started) return;
    this.#started = true;
    const headers: Record<string, string | number> = { ...baseHeaders(this.#ctx), ...extra, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
    this.#ctx.res.writeHead(status, headers);
    // the head goes now: a client waits on it before reading events, however long the first one takes
    this.#ctx.res.flushHeaders();
    this.#ctx.response = { status, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) };
  }

  /** Writes one event; resolves when the client has taken it (or has gone). */
  async write(e: SseEvent): Promise<void> {
    this.start(200);
    const res = this.#ctx.res;
    if (res.destroyed || res.writableEnded) return;
    let text = '';
    if (e.id !== undefined) text += `id: ${e.id}\n`;
    if (e.event !== undefined && e.event !== 'message') text += `event: ${e.event}\n`;
    for (const line of e.data.split('\n')) text += `data: ${line}\n`;
    text += '\n';
    if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }

  end(): void {
    this.start(200);
    if (!this.#ctx.res.writableEnded) this.#ctx.res.end();
  }
}
