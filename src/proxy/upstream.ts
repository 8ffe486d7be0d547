/**
 * The upstream client: one undici Pool per (origin, connect timeout, TLS verification), with
 * keep-alive; per-request read timeouts; retries only when no byte could have reached the
 * upstream (connection refused or timed out before it was established) and the body can be sent
 * again; every failure classified into Kong's answer (502 / 503 / 504).
 */
import { Pool, buildConnector, type Dispatcher } from 'undici';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { UpstreamError } from './errors.ts';
import { EgressBlockedError, egressVerdict, guardedLookup } from './egress.ts';
import type { HeaderMap } from './headers.ts';
import type { AbortLike } from './context.ts';

export interface UpstreamTarget {
  /** `http://host:port` */
  origin: string;
  connectTimeout: number;
  readTimeout: number;
  writeTimeout: number;
  retries: number;
  tlsVerify: boolean;
}

export interface UpstreamCall {
  target: UpstreamTarget;
  method: string;
  /** Path and query string. */
  path: string;
  headers: HeaderMap;
  body: Buffer | string | Readable | null;
  signal?: AbortLike;
}

export type UpstreamResponse = Dispatcher.ResponseData;

/** What a provider answered: still streaming, or gathered whole (see callUpstreamCollected). */
export type ProviderAnswer = UpstreamResponse | CollectedResponse;

export function isCollected(a: ProviderAnswer): a is CollectedResponse {
  return Buffer.isBuffer(a.body);
}

/** Lets go of an answer nobody will read (a balancer moving on to another target). */
export function discard(a: ProviderAnswer): void {
  if (!isCollected(a)) a.body.dump().catch(() => {});
}

const pools = new Map<string, Pool>();

export const WRITE_TIMEOUT = 'MODELGATE_WRITE_TIMEOUT';

/**
 * `write_timeout` (Kong: the longest wait between two successive writes to the upstream): once a
 * write leaves data queued in the socket because the upstream stopped reading, the queue must
 * drain within the timeout, else the connection is destroyed and the request fails as a 504.
 * undici has no such timer, but it writes through the socket's own `write`, so the socket it
 * connects is watched here: no timer at all while writes go straight through.
 */
function watchWrites(socket: net.Socket, timeoutMs: number): void {
  let timer: NodeJS.Timeout | null = null;
  const clear = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const write = socket.write;
  socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>): boolean {
    const flushed = write.apply(this, args);
    if (!flushed && !timer) {
      timer = setTimeout(() => {
        timer = null;
        this.destroy(Object.assign(new Error(`upstream did not accept request bytes for ${timeoutMs} ms`), { code: WRITE_TIMEOUT }));
      }, timeoutMs);
      timer.unref();
    }
    return flushed;
  } as net.Socket['write'];
  socket.on('drain', clear).once('close', clear);
}

/** Targets are long-lived (compiled per service and endpoint): each remembers its pool. */
const poolOfTarget = new WeakMap<UpstreamTarget, Pool>();

function poolFor(t: UpstreamTarget): Pool {
  let known = poolOfTarget.get(t);
  if (known === undefined || known.destroyed || known.closed) poolOfTarget.set(t, (known = poolByKey(t)));
  return known;
}

function poolByKey(t: UpstreamTarget): Pool {
  const key = `${t.origin}|${t.connectTimeout}|${t.writeTimeout}|${t.tlsVerify ? 1 : 0}`;
  let pool = pools.get(key);
  if (!pool) {
    const connector = buildConnector({
      timeout: t.connectTimeout,
      lookup: guardedLookup,
      rejectUnauthorized: t.tlsVerify,
    } as buildConnector.BuildOptions);
    pool = new Pool(t.origin, {
      connect: (opts, cb) => {
        // An IP literal skips DNS, so the policy is applied to it here.
        const host = opts.hostname.replace(/^\[|\]$/g, '');
        if (net.isIP(host)) {
          const why = egressVerdict(host, host);
          if (why) return cb(new EgressBlockedError(why), null);
        }
        return connector(opts, (...args) => {
          const socket = args[1];
          if (socket && t.writeTimeout > 0) watchWrites(socket, t.writeTimeout);
          cb(...args);
        });
      },
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connections: 1024,
      pipelining: 1,
    });
    pools.set(key, pool);
  }
  return pool;
}

const BEFORE_SEND = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', WRITE_TIMEOUT]);

/** Maps an undici/socket error to the client's answer. */
export function classifyUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { code?: string; cause?: { code?: string }; message?: string };
  const code = e?.code ?? e?.cause?.code ?? 'UNKNOWN';
  if (err instanceof EgressBlockedError || code === 'MODELGATE_EGRESS_BLOCKED') {
    return new UpstreamError(502, 'An invalid response was received from the upstream server', code, false);
  }
  if (DNS.has(code)) return new UpstreamError(503, 'name resolution failed', code, true);
  if (TIMEOUTS.has(code)) return new UpstreamError(504, 'The upstream server is timing out', code, code === 'UND_ERR_CONNECT_TIMEOUT');
  return new UpstreamError(502, 'An invalid response was received from the upstream server', code, BEFORE_SEND.has(code));
}

function replayable(body: UpstreamCall['body']): boolean {
  return body === null || typeof body === 'string' || Buffer.isBuffer(body);
}

export interface CallResult {
  response: UpstreamResponse;
  attempts: number;
}

/**
 * Sends the request, retrying (up to `retries` times) only failures that happened before any
 * byte was sent. Throws an UpstreamError otherwise.
 */
export async function callUpstream(call: UpstreamCall): Promise<CallResult> {
  const pool = poolFor(call.target);
  const canRetry = replayable(call.body);
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      const response = await pool.request({
        path: call.path,
        method: call.method as Dispatcher.HttpMethod,
        headers: call.headers as Record<string, string | string[]>,
        body: call.body,
        signal: call.signal,
        headersTimeout: call.target.readTimeout,
        bodyTimeout: call.target.readTimeout,
      } as Dispatcher.RequestOptions); // undici never follows redirects on request(): a 3xx cannot send the key elsewhere
      return { response, attempts: attempt };
    } catch (err) {
      if (call.signal?.aborted) throw err;
      const classified = classifyUpstreamError(err);
      if (classified.beforeSend && canRetry && attempt <= call.target.retries && classified.status !== 503) continue;
      classified.attempts = attempt;
      throw classified;
    }
  }
}

/** A whole upstream answer, gathered without a stream in between. */
export interface CollectedResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class ResponseTooLargeError extends Error {
  readonly code = 'MODELGATE_RESPONSE_TOO_LARGE';
}

/**
 * Like callUpstream, for callers that read every answer whole (non-streamed AI calls): the
 * answer's bytes are gathered straight from the connection into one Buffer, bounded by `cap`,
 * without a Readable stream and an async iterator per request in between.
 */
export async function callUpstreamCollected(call: UpstreamCall, cap: number): Promise<{ response: CollectedResponse; attempts: number }> {
  const pool = poolFor(call.target);
  const canRetry = replayable(call.body);
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      return { response: await collect(pool, call, cap), attempts: attempt };
    } catch (err) {
      if (call.signal?.aborted) throw err;
      if (err instanceof ResponseTooLargeError) throw new UpstreamError(502, err.message, err.code, false);
      const classified = classifyUpstreamError(err);
      if (classified.beforeSend && canRetry && attempt <= call.target.retries && classified.status !== 503) continue;
      classified.attempts = attempt;
      throw classified;
    }
  }
}

function collect(pool: Pool, call: UpstreamCall, cap: number): Promise<CollectedResponse> {
  return new Promise((resolve, reject) => {
    const handler = new Collector(call.signal, cap, resolve, reject);
    pool.dispatch(
      {
        path: call.path,
        method: call.method as Dispatcher.HttpMethod,
        headers: call.headers as Record<string, string | string[]>,
        body: call.body as string | Buffer | null,
        headersTimeout: call.target.readTimeout,
        bodyTimeout: call.target.readTimeout,
      },
      handler,
    );
  });
}

/** undici's handler for one collected answer: one object with prototype methods, not a closure per callback. */
class Collector implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null;
  #statusCode = 0;
  #headers: CollectedResponse['headers'] = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  readonly #signal: AbortLike | undefined;
  readonly #cap: number;
  readonly #resolve: (r: CollectedResponse) => void;
  readonly #reject: (e: unknown) => void;
  readonly #onAbort = (): void => {
    const reason = this.#signal?.reason;
    this.#controller?.abort(reason instanceof Error ? reason : new Error('aborted'));
  };

  constructor(signal: AbortLike | undefined, cap: number, resolve: (r: CollectedResponse) => void, reject: (e: unknown) => void) {
    this.#signal = signal;
    this.#cap = cap;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.#controller = c;
    if (this.#signal?.aborted) this.#onAbort();
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>): void {
    this.#statusCode = status;
    this.#headers = headers;
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.#cap) return c.abort(new ResponseTooLargeError(`upstream response larger than ${this.#cap} bytes`));
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    const chunks = this.#chunks;
    this.#resolve({ statusCode: this.#statusCode, headers: this.#headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.#size) });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#reject(err);
  }
}

/** Open connections per pool, for probes and leak tests. */
export function poolStats(): Record<string, { connected: number; free: number; pending: number; running: number }> {
  const out: Record<string, { connected: number; free: number; pending: number; running: number }> = {};
  for (const [key, pool] of pools) {
    const s = pool.stats;
    out[key.split('|')[0]] = { connected: s.connected, free: s.free, pending: s.pending, running: s.running };
  }
  return out;
}

export async function closePools(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.close().catch(() => {})));
  pools.clear();
}
