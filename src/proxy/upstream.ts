/**
 * The upstream client: one undici Pool per (origin, timeouts, TLS verification), with
 * keep-alive; connect, write and read timeouts timed by the gateway (upstream-timers.ts); retries
 * only when no byte could have reached the upstream (connection refused or timed out before it
 * was established) and the body can be sent again; every failure classified into Kong's answer
 * (502 / 503 / 504).
 */
import type { Dispatcher, Pool as UndiciPool, buildConnector as UndiciConnector } from 'undici';
import { Pool, buildConnector, util } from '../util/undici.ts';
import type { HeaderNames } from './header-names.ts';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { UpstreamError } from './errors.ts';
import { EgressBlockedError, egressVerdict, guardedLookup } from './egress.ts';
import type { HeaderMap } from './headers.ts';
import type { AbortLike } from './context.ts';
import { ReadTimer, WRITE_TIMEOUT, connectWithin, watchWrites, writeSteps, type RequestHandler } from './upstream-timers.ts';

export { WRITE_TIMEOUT };

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
  /** Told of every failed attempt, retried or not (the tracing's per-attempt `kong.balancer` spans, forward.ts). */
  onAttemptFailed?: (err: UpstreamError, attempt: number) => void;
}

export type UpstreamResponse = Dispatcher.ResponseData;

/** What a provider answered: still streaming, or gathered whole (see callUpstreamCollected). */
export type ProviderAnswer = UpstreamResponse | CollectedResponse;

export function isCollected(a: ProviderAnswer): a is CollectedResponse {
  return a instanceof CollectedResponse;
}

/** Lets go of an answer nobody will read (a balancer moving on to another target). */
export function discard(a: ProviderAnswer): void {
  if (!isCollected(a)) a.body.dump().catch(() => {});
}

const pools = new Map<string, TimedPool>();

/** A Pool whose every request has its read_timeout timed by a ReadTimer in front of its handler. */
class TimedPool extends Pool {
  readonly #readTimeout: number;

  constructor(origin: string, options: UndiciPool.Options, readTimeout: number) {
    super(origin, options);
    this.#readTimeout = readTimeout;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // request() hands over undici's own RequestHandler, which speaks the interface ReadTimer wraps
    return super.dispatch(options, new ReadTimer(handler as unknown as RequestHandler, this.#readTimeout) as unknown as Dispatcher.DispatchHandler);
  }
}

/** Targets are long-lived (compiled per service and endpoint): each remembers its pool. */
const poolOfTarget = new WeakMap<UpstreamTarget, TimedPool>();

function poolFor(t: UpstreamTarget): TimedPool {
  let known = poolOfTarget.get(t);
  if (known === undefined || known.destroyed || known.closed) poolOfTarget.set(t, (known = poolByKey(t)));
  return known;
}

function poolByKey(t: UpstreamTarget): TimedPool {
  const key = `${t.origin}|${t.connectTimeout}|${t.writeTimeout}|${t.readTimeout}|${t.tlsVerify ? 1 : 0}`;
  let pool = pools.get(key);
  if (!pool) {
    const connect = timedConnect({ connectTimeout: t.connectTimeout, writeTimeout: t.writeTimeout, tlsVerify: t.tlsVerify, lookup: guardedLookup });
    pool = new TimedPool(
      t.origin,
      {
        connect: (opts, cb) => {
          // An IP literal skips DNS, so the policy is applied to it here.
          const host = opts.hostname.replace(/^\[|\]$/g, '');
          if (net.isIP(host)) {
            const why = egressVerdict(host, host);
            if (why) return cb(new EgressBlockedError(why), null);
          }
          return connect(opts, cb);
        },
        // undici's own header and body timers are off: ReadTimer times read_timeout
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 600_000,
        connections: 1024,
        pipelining: 1,
      },
      t.readTimeout,
    );
    pools.set(key, pool);
  }
  return pool;
}

/**
 * How a pool of the gateway's connects: undici's connector without its own timer, connect_timeout
 * timed around it (connectWithin), write_timeout watched on each new socket (watchWrites). The
 * upstream pools add the egress policy's DNS lookup; the OTLP exporter connects the same way, so
 * that its sockets are made as the upstreams' are: one hidden class for every socket the shared
 * stream and undici code sees (docs/performance.md, "OpenTelemetry"). The writes are watched as
 * soon as the connector returns the socket, not once it is connected: in between, Node's stream
 * code reads the socket (`destroyed`), and a socket without its `write` yet was one more hidden
 * class there for every connection opened after start-up ("Thirteenth look").
 */
export function timedConnect(o: { connectTimeout: number; writeTimeout: number; tlsVerify?: boolean; lookup?: net.LookupFunction }): UndiciConnector.connector {
  const connector = connectWithin(buildConnector({ timeout: 0, lookup: o.lookup, rejectUnauthorized: o.tlsVerify ?? true } as UndiciConnector.BuildOptions), o.connectTimeout);
  return (opts, cb) => {
    const socket = connector(opts, cb) as unknown as net.Socket | undefined;
    if (socket && o.writeTimeout > 0) watchWrites(socket, o.writeTimeout);
    return socket as unknown as void;
  };
}

/**
 * The body and headers of one attempt. A large Buffer is written in steps (write_timeout is the
 * wait between two writes), so its length, which undici took from the Buffer, is declared here.
 */
function attemptBody(call: UpstreamCall): { body: UpstreamCall['body'] | Iterable<Buffer>; headers: HeaderMap } {
  const body = writeSteps(call.body);
  if (body === call.body) return { body, headers: call.headers };
  return { body, headers: { ...call.headers, 'content-length': String((call.body as Buffer).length) } };
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
      const { body, headers } = attemptBody(call);
      const response = await pool.request({
        path: call.path,
        method: call.method as Dispatcher.HttpMethod,
        headers: headers as Record<string, string | string[]>,
        body,
        signal: call.signal,
      } as Dispatcher.RequestOptions); // undici never follows redirects on request(): a 3xx cannot send the key elsewhere
      return { response, attempts: attempt };
    } catch (err) {
      if (call.signal?.aborted) throw err;
      const classified = classifyUpstreamError(err);
      call.onAttemptFailed?.(classified, attempt);
      if (classified.beforeSend && canRetry && attempt <= call.target.retries && classified.status !== 503) continue;
      classified.attempts = attempt;
      throw classified;
    }
  }
}

/**
 * A whole upstream answer, gathered without a stream in between. Its headers stay undici's raw
 * list (name, value, name, value…, as Buffers) until `headers` is first read: the JSON path
 * reads one by name (`header`) and copies the few it keeps (`copyHeaders`, relay-json.ts), and
 * undici's parseHeaders, which builds an object of every header with a keyed load and store per
 * name that the worker's many header objects made megamorphic, was the costliest JavaScript
 * function of a chat request (~8 k instructions of ~320 k, docs/performance.md).
 */
export class CollectedResponse {
  readonly statusCode: number;
  readonly body: Buffer;
  private readonly raw: readonly Buffer[];
  private parsed: Record<string, string | string[] | undefined> | null = null;

  constructor(statusCode: number, rawHeaders: readonly Buffer[], body: Buffer) {
    this.statusCode = statusCode;
    this.raw = rawHeaders;
    this.body = body;
  }

  /** Every header by lower-case name, a repeated one as an array (undici's parseHeaders, once). */
  get headers(): Record<string, string | string[] | undefined> {
    return (this.parsed ??= util.parseHeaders(this.raw as Buffer[]) as Record<string, string | string[] | undefined>);
  }

  /**
   * One header by lower-case name, as `headers[name]` gives it, without building `headers`: each
   * raw name compared with it by length, then byte by byte without case (`name` is a token of
   * letters, digits and hyphens).
   */
  header(name: string): string | string[] | undefined {
    if (this.parsed !== null) return this.parsed[name];
    const raw = this.raw;
    let found = -1;
    for (let i = 0; i < raw.length; i += 2) {
      if (!sameName(raw[i], name)) continue;
      if (found >= 0) return this.headers[name]; // repeated: an array, as parseHeaders makes it
      found = i;
    }
    return found < 0 ? undefined : raw[found + 1].toString('latin1');
  }

  /**
   * Copies the headers `names` holds into `into`, a repeated one joined with ", " in the answer's
   * order (what copying `headers` with its arrays joined gives). A raw name `names` cannot hold by
   * its first byte is not made a string.
   */
  copyHeaders(names: HeaderNames, into: Record<string, string>): void {
    const raw = this.raw;
    for (let i = 0; i < raw.length; i += 2) {
      if (!names.mayHave(raw[i])) continue;
      const name = util.headerNameToString(raw[i]);
      if (!names.has(name)) continue;
      const value = raw[i + 1].toString('latin1');
      const before = into[name];
      into[name] = before === undefined ? value : `${before}, ${value}`;
    }
  }
}

/** Whether a raw header name is `lower` (letters, digits and hyphens) without regard to case. */
function sameName(raw: Uint8Array, lower: string): boolean {
  const n = lower.length;
  if (raw.length !== n) return false;
  for (let i = 0; i < n; i++) if ((raw[i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
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

function collect(pool: TimedPool, call: UpstreamCall, cap: number): Promise<CollectedResponse> {
  const { body, headers } = attemptBody(call);
  return dispatchCollected(
    pool,
    {
      path: call.path,
      method: call.method as Dispatcher.HttpMethod,
      headers: headers as Record<string, string | string[]>,
      body,
    } as Dispatcher.DispatchOptions, // an iterable body is documented, though not in the type
    call.signal,
    cap,
  );
}

/**
 * One request whose answer is gathered whole, at most `cap` bytes (a ResponseTooLargeError past
 * them), straight from the connection: no Readable and no async iterator (callUpstreamCollected's
 * way, and the OTLP exporter's).
 */
export function dispatchCollected(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal: AbortLike | undefined, cap: number): Promise<CollectedResponse> {
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, new Collector(signal, cap, resolve, reject) as unknown as Dispatcher.DispatchHandler);
  });
}

/**
 * undici's handler for one collected answer: one object with prototype methods, not a closure per
 * callback. It speaks the interface undici's Request calls (ReadTimer's, see upstream-timers.ts),
 * so undici adds no adapter objects of its own around it.
 */
class Collector implements RequestHandler {
  private abort: ((err?: Error) => void) | null = null;
  private statusCode = 0;
  private rawHeaders: Buffer[] = [];
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly signal: AbortLike | undefined;
  private readonly cap: number;
  private readonly resolve: (r: CollectedResponse) => void;
  private readonly reject: (e: unknown) => void;
  private readonly onAbort = (): void => {
    const reason = this.signal?.reason;
    this.abort?.(reason instanceof Error ? reason : new Error('aborted'));
  };

  constructor(signal: AbortLike | undefined, cap: number, resolve: (r: CollectedResponse) => void, reject: (e: unknown) => void) {
    this.signal = signal;
    this.cap = cap;
    this.resolve = resolve;
    this.reject = reject;
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.signal?.aborted) this.onAbort();
  }

  onHeaders(status: number, headers: Buffer[]): boolean {
    if (status < 200) return true; // an interim answer (100 Continue): the real one follows
    this.statusCode = status;
    this.rawHeaders = headers;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.cap) {
      this.abort?.(new ResponseTooLargeError(`upstream response larger than ${this.cap} bytes`));
      return true;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    const chunks = this.chunks;
    this.resolve(new CollectedResponse(this.statusCode, this.rawHeaders, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size)));
  }

  onError(err: Error): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.reject(err);
  }
}

/** Open connections per origin (summed over its pools: one per set of timeouts), for probes and leak tests. */
export function poolStats(): Record<string, { connected: number; free: number; pending: number; running: number }> {
  const out: Record<string, { connected: number; free: number; pending: number; running: number }> = {};
  for (const [key, pool] of pools) {
    const s = pool.stats;
    const o = (out[key.split('|')[0]] ??= { connected: 0, free: 0, pending: 0, running: 0 });
    o.connected += s.connected;
    o.free += s.free;
    o.pending += s.pending;
    o.running += s.running;
  }
  return out;
}

export async function closePools(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.close().catch(() => {})));
  pools.clear();
}
