/**
 * The upstream's `connect_timeout`, `write_timeout` and `read_timeout`, timed by the gateway
 * itself. undici's own timers for these run on its "fast timers", one shared tick about every
 * half second, made for long timeouts: a 400 ms read_timeout fired after 0.5 to 1 s, an 800 ms
 * one after about 1 s. Here each is a native timer, armed once per connection or attempt and
 * moved forward with `refresh()`, and cleared when what it watches ends; undici's are turned off.
 *
 * - connect_timeout: from the start of a new connection (name resolution included) until it is
 *   established (TLS: handshake done). A request on a kept-alive connection has no connect phase.
 * - write_timeout: the longest wait between two successive writes of the request to the upstream
 *   (not the whole transmission): a write the upstream does not take at once starts the timer,
 *   the socket draining stops it. Large bodies are written in steps so that each step drains.
 * - read_timeout: the longest wait between two successive reads from the upstream, once the
 *   request is sent: for the response headers, then between two body chunks (a stream's idle
 *   gap). It does not run while the gateway itself stopped reading because its client is slow.
 */
import type net from 'node:net';
import type { buildConnector } from 'undici';
import { errors } from '../util/undici.ts';

/** The code a write timeout carries (Kong's 504). */
export const WRITE_TIMEOUT = 'MODELGATE_WRITE_TIMEOUT';

// ------------------------------------------------------------------ connect_timeout

/**
 * A connector that gives up on a connection not established within `ms`, with undici's own
 * ConnectTimeoutError (so it is classified, and retried, as before). undici's connector returns
 * the socket it creates (its type says void), which is destroyed at the deadline; should it ever
 * not, the attempt still fails on time and a connection completing later is closed at once. The
 * socket is returned as undici's connector returns it (timedConnect watches its writes at once).
 */
export function connectWithin(connect: buildConnector.connector, ms: number): buildConnector.connector {
  return (opts, callback) => {
    let pending = true;
    let socket: unknown;
    const timer = setTimeout(() => {
      pending = false;
      (socket as net.Socket | undefined)?.destroy?.();
      callback(new errors.ConnectTimeoutError(`connecting to ${opts.hostname}:${opts.port} took longer than connect_timeout (${ms} ms)`), null);
    }, ms);
    try {
      socket = connect(opts, (...args) => {
        if (!pending) return void args[1]?.destroy();
        pending = false;
        clearTimeout(timer);
        callback(...args);
      });
    } catch (err) {
      clearTimeout(timer); // nothing to wait for
      throw err;
    }
    return socket as void;
  };
}

// ------------------------------------------------------------------ write_timeout

/**
 * Watches a connection's writes: undici writes through the socket's own `write`, so a write that
 * leaves bytes queued (the upstream stopped reading) arms the timer and `drain` clears it. When
 * it fires the connection is destroyed and the request fails with WRITE_TIMEOUT. Writes that go
 * straight through cost no timer.
 */
export function watchWrites(socket: net.Socket, ms: number): void {
  let timer: NodeJS.Timeout | null = null;
  const write = socket.write;
  socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>): boolean {
    const flushed = write.apply(this, args);
    if (!flushed && timer === null) timer = setTimeout(onWriteTimeout, ms, this, ms);
    return flushed;
  } as net.Socket['write'];
  const clear = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  socket.on('drain', clear).once('close', clear);
}

function onWriteTimeout(socket: net.Socket, ms: number): void {
  socket.destroy(Object.assign(new Error(`the upstream did not take the request's bytes within write_timeout (${ms} ms)`), { code: WRITE_TIMEOUT }));
}

/** Bodies larger than this are written in steps of this size (the socket's high-water mark). */
const WRITE_STEP = 64 * 1024;

/**
 * A request body as undici should write it: a large Buffer in steps, each written once the
 * previous one drained, so write_timeout is the wait between two steps, not for the whole body
 * (an upstream that reads slowly but steadily is not cut). Small bodies go in one write.
 */
export function writeSteps<T>(body: T): T | Iterable<Buffer> {
  if (!Buffer.isBuffer(body) || body.length <= WRITE_STEP) return body;
  return steps(body);
}

function* steps(body: Buffer): Generator<Buffer> {
  for (let at = 0; at < body.length; at += WRITE_STEP) yield body.subarray(at, at + WRITE_STEP);
}

// ------------------------------------------------------------------ read_timeout

/**
 * undici's handler interface as its Request calls it. The newer controller-based interface has
 * no "request sent" event, which is when read_timeout starts, so the timer speaks this one.
 */
export interface RequestHandler {
  onConnect(abort: (err?: Error) => void, context?: unknown): void;
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[] | null): void;
  onError(err: Error): void;
  onUpgrade?(statusCode: number, headers: Buffer[] | null, socket: unknown): void;
  onResponseStarted?(): void;
  onBodySent?(chunk: Buffer): void;
  onRequestSent?(): void;
}

/**
 * read_timeout for one attempt, in front of undici's handler for it. One timer, armed when the
 * request is sent (or an early answer starts), refreshed by the headers and every body chunk,
 * cleared when the attempt ends. While the handler holds the answer back (its reader is slow,
 * undici paused) a firing is ignored; resuming restarts the wait. A firing aborts the attempt
 * with undici's own error, as its timers did: HeadersTimeoutError before the status line,
 * BodyTimeoutError after it.
 */
export class ReadTimer implements RequestHandler {
  private readonly inner: RequestHandler;
  private readonly ms: number;
  private abort: ((err?: Error) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private headers = false;
  private paused = false;
  private ended = false;
  private resume: (() => void) | null = null;
  /** What undici's handler gets as `resume`: undici's own, and the end of a pause restarts the wait. */
  private readonly resumed = (): void => {
    if (this.paused) {
      this.paused = false;
      this.read();
    }
    this.resume?.();
  };

  constructor(inner: RequestHandler, ms: number) {
    if (typeof inner.onConnect !== 'function') throw new TypeError('ReadTimer needs a handler with undici’s onConnect/onHeaders/onData interface');
    this.inner = inner;
    this.ms = ms;
  }

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.abort = abort;
    this.inner.onConnect(abort, context);
  }

  onBodySent(chunk: Buffer): void {
    this.inner.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.read();
    this.inner.onRequestSent?.();
  }

  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.read();
    if (statusCode >= 200) this.headers = true;
    this.resume = resume;
    return this.held(this.inner.onHeaders(statusCode, headers, this.resumed, statusText));
  }

  onData(chunk: Buffer): boolean {
    this.read();
    return this.held(this.inner.onData(chunk));
  }

  onComplete(trailers: Buffer[] | null): void {
    this.end();
    this.inner.onComplete(trailers);
  }

  onError(err: Error): void {
    this.end();
    this.inner.onError(err);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | null, socket: unknown): void {
    this.end();
    this.inner.onUpgrade?.(statusCode, headers, socket);
  }

  /** A read happened (or the wait for one starts): the upstream has read_timeout from now. */
  private read(): void {
    if (this.ended) return;
    if (this.timer === null) this.timer = setTimeout(ReadTimer.expired, this.ms, this);
    else this.timer.refresh();
  }

  /** undici pauses reading when the handler says false: the wait is then ours, not the upstream's. */
  private held(more: boolean): boolean {
    if (more === false) this.paused = true;
    return more;
  }

  private end(): void {
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private static expired(t: ReadTimer): void {
    if (t.paused || t.ended) return; // resuming refreshes the timer (refresh() re-arms a fired one)
    const err = t.headers
      ? new errors.BodyTimeoutError(`the upstream sent nothing more within read_timeout (${t.ms} ms)`)
      : new errors.HeadersTimeoutError(`the upstream sent no response headers within read_timeout (${t.ms} ms)`);
    t.abort?.(err);
  }
}
