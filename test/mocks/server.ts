/**
 * The HTTP machinery every mock provider shares: recording, mode selection, fault injection,
 * streaming with pacing, and back-pressure accounting. Providers only turn a request into a
 * `Reply` (a JSON body or a list of stream frames); this module decides how it reaches the wire.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { Modes, ModeError } from './modes.ts';
import { DEFAULT_TEXT, Ids, fillerText } from './text.ts';

// ---------------------------------------------------------------------------------------------
// Types

export interface Backpressure {
  /** `res.write` calls. */
  writes: number;
  bytesWritten: number;
  /** Writes after which `res.write` returned false. */
  blockedWrites: number;
  /** Bytes written (counting the write that returned false) when `res.write` first returned false. */
  bytesBeforeFirstBlock: number | null;
  /** Total time spent waiting for 'drain'. */
  drainWaitMs: number;
}

export interface RecordedRequest {
  /** 1-based order of arrival at this mock. */
  seq: number;
  method: string;
  /** Path without the query string, as received. */
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** The raw request body. */
  body: string;
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  json: unknown;
  /** The modes this request was served with (`ok` when none). */
  mode: string;
  /** `Date.now()` when the request headers arrived. */
  receivedAt: number;
  /** Status sent, null when no status line was sent (refuse / reset-before-headers / garbage / client left). */
  status: number | null;
  /** When the mock finished writing the response. */
  finishedAt: number | null;
  /** When the client (the gateway) closed the connection before the response was complete. */
  closedAt: number | null;
  /** The mock itself cut the connection (refuse / reset modes). */
  resetByMock: boolean;
  /** Stream events written (frames), for stream replies. */
  eventsSent: number;
  backpressure: Backpressure;
}

export interface JsonReply {
  kind: 'json';
  status: number;
  /** An object is JSON-encoded; a string is sent as it is. */
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

/** One wire-ready stream frame: text (SSE, NDJSON) or bytes (AWS event stream). */
export type Frame = string | Uint8Array;

export interface StreamReply {
  kind: 'stream';
  status?: number;
  contentType: string;
  headers?: Record<string, string>;
  /** Wire-ready frames, e.g. `data: {...}\n\n`, `{...}\n`, or an event-stream message's bytes. */
  frames: Frame[];
  /** How many trailing frames are the terminal event(s) (`data: [DONE]`, `message_stop`, ...). Default 1. */
  terminal?: number;
  /** A keep-alive/filler frame for `never-ending-sse`. */
  filler: (i: number) => Frame;
}

export type Reply = JsonReply | StreamReply;

/** What a provider sees of one request. */
export interface HandlerCtx {
  req: RecordedRequest;
  /** Path with a `/__mock/redirected` prefix removed. */
  path: string;
  /** The completion text to answer with. */
  text: string;
  /** A mode asked for the streaming framing whatever the body says. */
  forceStream: boolean;
  /** Stream pieces (`x-mock-chunks` / option `chunks`); null: one per word. */
  chunks: number | null;
  ids: Ids;
}

export interface ProviderImpl {
  handle(ctx: HandlerCtx): Reply;
  /** The provider's own error body for a 5xx (`kind: 'server'`) or a 429 (`kind: 'rate-limit'`). */
  errorReply(status: number, kind: 'server' | 'rate-limit', ctx: HandlerCtx): JsonReply;
}

/** Options common to every mock; providers add their own (see providers.ts). */
export interface CoreOptions {
  /** Port to listen on (0: any free port). */
  port?: number;
  host?: string;
  /** Completion text (default "1 + 1 = 2."). */
  text?: string;
  /** Stream pieces per answer (default: one per word). */
  chunks?: number | null;
  /** Delay between stream events in ms (default 0). */
  delayMs?: number;
  /** Default mode for requests without `x-mock-mode` (default `ok`). */
  mode?: string;
  /** Fixed clock, epoch seconds, for `created` / `created_at`. */
  fixedTime?: number;
}

/** One queued override for the next request: a mode string, or a raw reply / text override. */
export type NextResponse =
  | string
  | {
      mode?: string;
      /** With `body`, answer this raw reply instead of asking the provider. */
      status?: number;
      body?: unknown;
      headers?: Record<string, string>;
      /** Answer with this completion text. */
      text?: string;
    };

export interface MockServer {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Queue an override for the next request (FIFO, one per request). */
  nextResponse(spec: NextResponse): void;
  /** The default mode; `refuse` stops listening (connections are refused) until another mode is set. */
  setMode(mode: string): Promise<void>;
  /** Change options (text, chunks, delayMs, provider options) for later requests. */
  configure(options: Record<string, unknown>): void;
  /** Resolves with the first recorded request (past or future) matching `predicate`. */
  waitFor(predicate: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Forget recorded requests and queued overrides. */
  clear(): void;
  /** Close the keep-alive connections that carry no request now (leak checks: what stays open is in use). */
  closeIdleConnections(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Server

const REDIRECTED = '/__mock/redirected';
const WRITE_SIZE = 64 * 1024;

export async function startMockServer(name: string, provider: ProviderImpl, options: CoreOptions & Record<string, unknown>): Promise<MockServer> {
  const opts = options;
  const ids = new Ids(opts.fixedTime);
  const requests: RecordedRequest[] = [];
  const queue: NextResponse[] = [];
  const events = new EventEmitter();
  const inflight = new Set<AbortController>();
  let defaultMode = new Modes(opts.mode ?? 'ok');
  let port = opts.port ?? 0;
  /** Set by close(): connections cut then are not the client's doing. */
  let shuttingDown = false;
  const host = opts.host ?? '127.0.0.1';

  const server = http.createServer({ noDelay: true }, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ mock_error: String(err) }));
      } else res.destroy();
    });
  });

  async function listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  function update(): void {
    events.emit('update');
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mock');
    const redirected = url.pathname.startsWith(REDIRECTED + '/');
    const rec: RecordedRequest = {
      seq: requests.length + 1,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: '',
      json: undefined,
      mode: 'ok',
      receivedAt: Date.now(),
      status: null,
      finishedAt: null,
      closedAt: null,
      resetByMock: false,
      eventsSent: 0,
      backpressure: { writes: 0, bytesWritten: 0, blockedWrites: 0, bytesBeforeFirstBlock: null, drainWaitMs: 0 },
    };
    requests.push(rec);

    const ac = new AbortController();
    inflight.add(ac);
    res.on('close', () => {
      if (!res.writableFinished && !rec.resetByMock && !shuttingDown) rec.closedAt = Date.now();
      inflight.delete(ac);
      ac.abort();
      update();
    });
    const origWriteHead = res.writeHead.bind(res);
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      rec.status = status;
      return (origWriteHead as (...a: unknown[]) => http.ServerResponse)(status, ...rest);
    }) as typeof res.writeHead;

    // Which modes: header, else the queued override, else the default. A redirect target is plain.
    const next = redirected ? undefined : queue.shift();
    const nextObj = typeof next === 'object' ? next : undefined;
    let modes: Modes;
    try {
      const header = req.headers['x-mock-mode'];
      const spec = redirected ? 'ok' : typeof header === 'string' ? header : typeof next === 'string' ? next : nextObj?.mode;
      modes = spec !== undefined ? new Modes(spec) : defaultMode;
    } catch (err) {
      if (!(err instanceof ModeError)) throw err;
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ mock_error: err.message }));
      update();
      return;
    }
    rec.mode = modes.source;
    update();

    if (modes.has('refuse')) return cut(rec, req.socket, false);

    rec.body = await readBody(req);
    try {
      rec.json = rec.body ? JSON.parse(rec.body) : undefined;
    } catch {
      rec.json = undefined;
    }
    update();

    if (modes.has('reset-before-headers')) return cut(rec, req.socket, true);
    if (modes.has('reset-mid-headers')) {
      // raw bytes on the socket: node:http would only ever send a complete header block
      rec.status = 200;
      req.socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Le');
      await settle(ac.signal).catch(() => {});
      return cut(rec, req.socket, true);
    }
    if (modes.has('garbage')) {
      // what a TLS or SSH server on the wrong port, or a broken middlebox, might answer; the
      // socket stays open so only the bytes themselves can make the client give up (`closedAt`
      // records when it did)
      req.socket.write(GARBAGE);
      await new Promise<void>((resolve) => (req.socket.destroyed ? resolve() : req.socket.once('close', () => resolve())));
      update();
      return;
    }

    const ctx: HandlerCtx = {
      req: rec,
      path: redirected ? url.pathname.slice(REDIRECTED.length) : url.pathname,
      text: nextObj?.text ?? (opts.text as string | undefined) ?? DEFAULT_TEXT,
      forceStream: modes.forcesStream,
      chunks: numberHeader(req, 'x-mock-chunks') ?? opts.chunks ?? null,
      ids,
    };
    const reply = decide(ctx, modes, nextObj, url);
    await send(rec, req, res, reply, modes, ctx, ac.signal).catch((err: unknown) => {
      if ((err as { name?: string }).name !== 'AbortError') throw err;
    });
    update();
  }

  /** What to answer, before any transport fault is applied. */
  function decide(ctx: HandlerCtx, modes: Modes, next: Exclude<NextResponse, string> | undefined, url: URL): Reply {
    const rec = ctx.req;
    if (next && (next.status !== undefined || next.body !== undefined)) {
      return { kind: 'json', status: next.status ?? 200, body: next.body ?? '', headers: next.headers };
    }
    if (modes.has('echo')) {
      return { kind: 'json', status: 200, body: { method: rec.method, path: rec.path, query: rec.query, headers: rec.headers, body: rec.body, json: rec.json ?? null } };
    }
    if (modes.has('5xx-json')) return provider.errorReply(modes.arg('5xx-json'), 'server', ctx);
    if (modes.has('5xx-html')) return htmlError(modes.arg('5xx-html'));
    if (modes.has('429')) {
      const r = provider.errorReply(429, 'rate-limit', ctx);
      return { ...r, headers: { ...r.headers, 'retry-after': String(modes.arg('429')) } };
    }
    if (modes.has('redirect')) {
      const location = `${mockUrl()}${REDIRECTED}${ctx.path}${url.search}`;
      return { kind: 'json', status: modes.arg('redirect'), body: '', contentType: 'text/plain', headers: { location } };
    }
    if (modes.has('invalid-json-200')) return { kind: 'json', status: 200, body: '{"id":"mock","choices":[{"message":{"content":"1 + 1 = ' };
    if (modes.has('wrong-shape-200')) return { kind: 'json', status: 200, body: { result: 'ok', data: null } };
    if (modes.has('huge')) {
      // Pad the text so the whole JSON body is `huge` bytes long (JSON escaping of the filler is 1:1).
      // Usage numbers grow with the text, so adjust until the size is exact (two rounds suffice).
      const target = modes.arg('huge');
      let length = target;
      let reply = provider.handle({ ...ctx, text: fillerText(length) });
      for (let round = 0; round < 4 && reply.kind === 'json' && typeof reply.body === 'object'; round++) {
        const size = Buffer.byteLength(JSON.stringify(reply.body));
        if (size === target) break;
        length = Math.max(0, length + target - size);
        reply = provider.handle({ ...ctx, text: fillerText(length) });
      }
      return reply;
    }
    return provider.handle(ctx);
  }

  async function send(rec: RecordedRequest, req: http.IncomingMessage, res: http.ServerResponse, reply: Reply, modes: Modes, ctx: HandlerCtx, signal: AbortSignal): Promise<void> {
    if (modes.has('slow-headers')) await sleep(modes.arg('slow-headers'), undefined, { signal });
    const gzip = modes.has('gzip');
    const out = new Writer(res, rec, signal);

    if (reply.kind === 'json') {
      let bytes = Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
      const headers: Record<string, string> = { 'content-type': reply.contentType ?? 'application/json', ...reply.headers };
      if (gzip) {
        bytes = zlib.gzipSync(bytes);
        headers['content-encoding'] = 'gzip';
      }
      headers['content-length'] = String(bytes.length);
      res.writeHead(reply.status, headers);
      if (modes.has('slow-body')) {
        res.flushHeaders();
        await sleep(modes.arg('slow-body'), undefined, { signal });
      }
      if (modes.has('reset-mid-body')) {
        await out.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
        await settle(signal);
        return cut(rec, req.socket, true);
      }
      for (let i = 0; i < bytes.length; i += WRITE_SIZE) if (!(await out.write(bytes.subarray(i, i + WRITE_SIZE)))) return;
      return finish(rec, res);
    }

    // Stream
    const terminal = Math.min(reply.terminal ?? 1, reply.frames.length);
    const body = reply.frames.slice(0, reply.frames.length - terminal);
    let frames = reply.frames;
    if (modes.has('truncated-sse') || modes.has('never-ending-sse')) frames = body;
    if (modes.has('stall-stream')) frames = reply.frames.slice(0, modes.arg('stall-stream'));
    if (modes.has('reset-mid-stream')) frames = reply.frames.slice(0, Math.max(1, Math.floor(reply.frames.length / 2)));

    const headers: Record<string, string> = { 'content-type': reply.contentType, 'cache-control': 'no-cache', ...reply.headers };
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(reply.status ?? 200, headers);
    res.flushHeaders();
    if (modes.has('slow-body')) await sleep(modes.arg('slow-body'), undefined, { signal });

    const delay = numberHeader(req, 'x-mock-delay-ms') ?? (opts.delayMs as number | undefined) ?? 0;
    const gz = gzip ? zlib.createGzip() : null;
    gz?.on('data', (d: Buffer) => void out.write(d));
    const emit = async (frame: Frame): Promise<boolean> => {
      rec.eventsSent++;
      update();
      if (!gz) return out.write(typeof frame === 'string' ? frame : Buffer.from(frame));
      gz.write(frame);
      await new Promise<void>((r) => gz.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
      return !res.destroyed;
    };

    for (let i = 0; i < frames.length; i++) {
      if (i > 0 && delay > 0) await sleep(delay, undefined, { signal });
      if (!(await emit(frames[i]!))) return;
    }
    if (modes.has('reset-mid-stream')) {
      await settle(signal);
      return cut(rec, req.socket, true);
    }
    if (modes.has('stall-stream')) {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    if (modes.has('never-ending-sse')) {
      for (let i = 0; !signal.aborted; i++) {
        await sleep(modes.arg('never-ending-sse'), undefined, { signal });
        if (!(await emit(reply.filler(i)))) return;
      }
      return;
    }
    if (gz) await new Promise<void>((r) => gz.end(() => r()));
    return finish(rec, res);
  }

  function finish(rec: RecordedRequest, res: http.ServerResponse): void {
    res.end(() => {
      rec.finishedAt = Date.now();
      update();
    });
  }

  /** Cut the connection: a TCP reset (reset modes) or a plain close (refuse). */
  function cut(rec: RecordedRequest, socket: Socket, reset: boolean): void {
    rec.resetByMock = true;
    if (reset && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
    update();
  }

  function mockUrl(): string {
    return `http://${host}:${port}`;
  }

  await listen();
  let listening = true;

  const mock: MockServer = {
    name,
    get url() {
      return mockUrl();
    },
    get port() {
      return port;
    },
    requests,
    nextResponse(spec) {
      if (typeof spec === 'string') new Modes(spec);
      else if (spec.mode) new Modes(spec.mode);
      queue.push(spec);
    },
    async setMode(mode) {
      const parsed = new Modes(mode);
      defaultMode = parsed;
      if (parsed.has('refuse') && listening) {
        listening = false;
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
      } else if (!parsed.has('refuse') && !listening) {
        await listen();
        listening = true;
      }
    },
    configure(partial) {
      Object.assign(opts, partial);
      if (typeof partial.mode === 'string') defaultMode = new Modes(partial.mode);
    },
    waitFor(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = requests.find(predicate);
          if (!hit) return false;
          cleanup();
          resolve(hit);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`mock ${name}: no request matched within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          events.off('update', check);
        };
        if (!check()) events.on('update', check);
      });
    },
    clear() {
      requests.length = 0;
      queue.length = 0;
    },
    closeIdleConnections() {
      server.closeIdleConnections();
    },
    async close() {
      shuttingDown = true;
      for (const ac of inflight) ac.abort();
      if (!listening) return;
      listening = false;
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
  return mock;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Writes with back-pressure: waits for 'drain' when `res.write` returns false, and records it. */
class Writer {
  readonly #res: http.ServerResponse;
  readonly #rec: RecordedRequest;
  readonly #signal: AbortSignal;
  constructor(res: http.ServerResponse, rec: RecordedRequest, signal: AbortSignal) {
    this.#res = res;
    this.#rec = rec;
    this.#signal = signal;
  }
  /** False once the connection is gone. */
  async write(chunk: string | Buffer): Promise<boolean> {
    const res = this.#res;
    if (res.destroyed || this.#signal.aborted) return false;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const bp = this.#rec.backpressure;
    bp.writes++;
    const ok = res.write(buf);
    bp.bytesWritten += buf.length;
    if (!ok) {
      bp.blockedWrites++;
      bp.bytesBeforeFirstBlock ??= bp.bytesWritten;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          this.#signal.removeEventListener('abort', done);
          resolve();
        };
        res.on('drain', done);
        this.#signal.addEventListener('abort', done, { once: true });
      });
      bp.drainWaitMs += performance.now() - t0;
    }
    return !res.destroyed && !this.#signal.aborted;
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function numberHeader(req: http.IncomingMessage, name: string): number | undefined {
  const v = req.headers[name];
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Give the client a moment to read what was sent before the connection is reset. */
async function settle(signal: AbortSignal): Promise<void> {
  await sleep(20, undefined, { signal });
}

/** Bytes that are not an HTTP response: an SSH banner followed by binary noise. */
const GARBAGE = Buffer.concat([Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 167 + 13) % 256))]);

const REASONS: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' };

/** The kind of HTML page a CDN or load balancer answers with (nginx's default error page). */
export function htmlError(status: number): JsonReply {
  const title = `${status} ${REASONS[status] ?? http.STATUS_CODES[status] ?? 'Error'}`;
  return {
    kind: 'json',
    status,
    contentType: 'text/html',
    body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
  };
}

/** Frames one Server-Sent Event, with an `event:` line when named. */
export function sse(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`;
}

/** Frames one newline-delimited JSON event. */
export function ndjson(data: unknown): string {
  return `${JSON.stringify(data)}\n`;
}
