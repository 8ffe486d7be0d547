/**
 * The OTLP/HTTP exporter: what the request path hands finished spans, log records or metric
 * batches to (`Sink.add`, synchronous, never throws, never waits), and what sends them to the
 * collector in batches, off the request path (docs/decisions.md, "OpenTelemetry (issue 21)").
 *
 * - **Bounded**: at most `maxQueue` items are held, the batch being sent included; beyond, new
 *   items are dropped and counted in `modelgate_otel_dropped_spans_total{signal,reason}`. Every
 *   item that never reaches the collector is counted there once: `queue_full`, `rejected` (a 4xx,
 *   a partial success's rejected count, an oversized answer), `retries_exhausted`, `shutdown`.
 * - **Batches** of `maxBatch` items, or whatever is queued `flushDelayMs` after the first item
 *   arrived (Kong's `batch_span_count` / `batch_flush_delay`). One request in flight at a time:
 *   a slow collector makes the queue fill and drop, never memory grow.
 * - **Retries** as the OTLP specification says (OTLP/HTTP "Failures"): 429, 502, 503, 504 and
 *   connection errors or timeouts, with capped exponential back-off and jitter, `Retry-After`
 *   honoured when it is no longer than the cap; any other status is not retried.
 * - **Timeouts**: Kong's connect/send/read, as the upstream pools time theirs (`timedConnect`):
 *   connect around undici's connector, send as the longest wait for the socket to take a write
 *   (a collector that stops reading the body fails there), read by undici's headers and body
 *   timeouts; the whole attempt is bounded by the sum of the three besides.
 * - Header values carry collector tokens: they are registered as secrets (redact.ts) and never
 *   logged; the URL is logged without its query or credentials.
 *
 * One exporter per distinct options in a worker (`exporterFor`, `sharedExporter`), kept across
 * snapshot swaps; the worker's drain calls `stopExporters` to send what it can before exiting.
 */
import { Agent, errors as undiciErrors } from '../../util/undici.ts';
import { ResponseTooLargeError, dispatchCollected, timedConnect } from '../../proxy/upstream.ts';
import { logger } from '../logger.ts';
import { client, registry, PREFIX } from '../metrics.ts';
import { registerSecret } from '../redact.ts';
import { encodeLogsJson, encodeTracesJson, logsEncoder, tracesEncoder, type InstrumentationScope } from './otlp.ts';
import type { Attributes, ExporterOptions, LogRecord, Sink, SpanRecord } from './types.ts';

export type Signal = 'traces' | 'logs' | 'metrics';
export type DropReason = 'queue_full' | 'rejected' | 'retries_exhausted' | 'shutdown';

export const otelDropped = new client.Counter({
  name: `${PREFIX}otel_dropped_spans_total`,
  help: 'OpenTelemetry items (spans, log records, metric data points) never delivered to the collector, by signal and reason (queue_full, rejected, retries_exhausted, shutdown)',
  labelNames: ['signal', 'reason'] as const,
  registers: [registry],
});

/** Turns a batch into an OTLP request body. */
export type BatchEncoder<T> = (items: T[]) => Uint8Array | string;

/** Retry timing; the defaults suit production, tests shorten them. */
export interface RetryTuning {
  /** First back-off, ms; doubled per retry. */
  initialDelayMs: number;
  /** Longest back-off, and the longest `Retry-After` honoured, ms. */
  maxDelayMs: number;
  /** A batch is given up (and counted) once it has been retried for this long, ms (Kong's queue `max_retry_time`: 60 s). */
  maxRetryTimeMs: number;
}

export const DEFAULT_RETRY: RetryTuning = { initialDelayMs: 250, maxDelayMs: 10_000, maxRetryTimeMs: 60_000 };

/** OTLP/HTTP "OTLP/HTTP Response": clients limit what they read of an answer (4 MiB recommended). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** OTLP/HTTP "Retryable Response Codes". */
const RETRYABLE = new Set([429, 502, 503, 504]);

/** What one attempt came to. */
type Outcome =
  | { ok: true; rejected: number; message: string }
  | { ok: false; retry: boolean; retryAfterMs: number | null; reason: string };

export class OtlpExporter<T> implements Sink<T> {
  readonly signal: Signal;
  readonly #opts: ExporterOptions;
  readonly #encode: BatchEncoder<T>;
  readonly #retry: RetryTuning;
  readonly #agent: Agent;
  readonly #origin: string;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  /** The URL as logged: no credentials, no query. */
  readonly #where: string;

  #queue: T[] = [];
  /** Items of the batch being sent (still held: they count against maxQueue). */
  #inFlight = 0;
  #sending = false;
  #timer: NodeJS.Timeout | null = null;
  #stopping = false;
  /** Aborts the attempt in flight and the back-off wait when stop()'s deadline passes. */
  #abort = new AbortController();
  #idle: Promise<void> = Promise.resolve();
  #failing = false;
  #warnedPartial = false;

  constructor(signal: Signal, opts: ExporterOptions, encode: BatchEncoder<T>, retry: RetryTuning = DEFAULT_RETRY) {
    this.signal = signal;
    this.#opts = opts;
    this.#encode = encode;
    this.#retry = retry;
    const url = new URL(opts.endpoint.url);
    this.#origin = url.origin;
    this.#path = (url.pathname || '/') + url.search;
    this.#where = url.origin + url.pathname;
    for (const value of Object.values(opts.endpoint.headers)) registerSecret(value);
    const contentType = opts.endpoint.encoding === 'json' ? 'application/json' : 'application/x-protobuf';
    // the configured headers first (Kong lets them set Content-Type), then what the body needs
    this.#headers = { 'content-type': contentType, ...lowerKeys(opts.endpoint.headers) };
    this.#headers['user-agent'] ??= 'modelgate-otlp';
    this.#agent = new Agent({
      // connected as the upstream pools connect (their connect and write timeouts), without their
      // egress policy: the collector is the operator's; the same kind of socket keeps the stream
      // code the request path shares with the export seeing one socket class (docs/performance.md)
      connect: timedConnect({ connectTimeout: opts.endpoint.connectTimeoutMs, writeTimeout: opts.endpoint.sendTimeoutMs }),
      headersTimeout: opts.endpoint.readTimeoutMs,
      bodyTimeout: opts.endpoint.readTimeoutMs,
      connections: 1,
    });
    otelDropped.inc({ signal, reason: 'queue_full' }, 0);
  }

  /** Items held now (queued and in flight). */
  get held(): number {
    return this.#queue.length + this.#inFlight;
  }

  add(item: T): void {
    if (this.#stopping) return this.#drop(1, 'shutdown');
    if (this.#queue.length + this.#inFlight >= this.#opts.maxQueue) return this.#drop(1, 'queue_full');
    this.#queue.push(item);
    if (this.#sending) return; // the running pump takes it
    if (this.#queue.length >= this.#opts.maxBatch) this.#start();
    else this.#timer ??= setTimeout(() => this.#start(), this.#opts.flushDelayMs).unref();
  }

  /**
   * Sends what is held, in batches and without waiting for batches to fill, until everything is
   * sent or `deadlineMs` has passed; what is left then is dropped and counted (`shutdown`).
   * Later `add()`s are dropped. Idempotent.
   */
  async stop(deadlineMs: number): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#start();
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([this.#idle, deadline]);
    clearTimeout(timer);
    if (this.#sending) {
      this.#abort.abort(new Error('exporter stopped'));
      await this.#idle;
    }
    if (this.#queue.length > 0) {
      this.#drop(this.#queue.length, 'shutdown');
      this.#queue = [];
    }
    await this.#agent.close().catch(() => {});
  }

  #start(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#sending || this.#queue.length === 0) return;
    this.#sending = true;
    this.#idle = this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      // the first batch goes whatever its size (a full batch, flushDelayMs, or stop() started us);
      // after it, without stop(), a short remainder waits for its batch to fill or its delay
      for (let first = true; this.#queue.length > 0 && !this.#abort.signal.aborted; first = false) {
        if (!first && !this.#stopping && this.#queue.length < this.#opts.maxBatch) break;
        const batch = this.#queue.splice(0, this.#opts.maxBatch);
        this.#inFlight = batch.length;
        try {
          await this.#send(batch);
        } finally {
          this.#inFlight = 0;
        }
      }
    } finally {
      this.#sending = false;
      if (this.#queue.length > 0 && !this.#stopping) this.#timer ??= setTimeout(() => this.#start(), this.#opts.flushDelayMs).unref();
    }
  }

  /** One batch: encode, post, retry while retryable and within maxRetryTimeMs; count a loss. */
  async #send(batch: T[]): Promise<void> {
    let body: Uint8Array | string;
    try {
      body = this.#encode(batch);
    } catch (err) {
      logger().error({ err, signal: this.signal }, 'otel exporter: a batch could not be encoded');
      return this.#drop(batch.length, 'rejected');
    }
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#post(body);
      if (outcome.ok) {
        if (this.#failing) {
          this.#failing = false;
          logger().info({ signal: this.signal, url: this.#where }, 'otel exporter: the collector accepts again');
        }
        if (outcome.rejected > 0 || outcome.message) this.#partial(outcome.rejected, outcome.message);
        return;
      }
      if (this.#abort.signal.aborted) return this.#drop(batch.length, 'shutdown');
      const backoff = Math.min(this.#retry.maxDelayMs, this.#retry.initialDelayMs * 2 ** attempt);
      const delay = outcome.retryAfterMs !== null && outcome.retryAfterMs <= this.#retry.maxDelayMs ? outcome.retryAfterMs : backoff * (0.5 + Math.random() / 2);
      const retry = outcome.retry && Date.now() + delay - started <= this.#retry.maxRetryTimeMs;
      if (!this.#failing || !retry) {
        this.#failing = true;
        logger().warn({ signal: this.signal, url: this.#where, reason: outcome.reason, retrying: retry, items: batch.length }, 'otel exporter: export failed');
      }
      if (!retry) return this.#drop(batch.length, outcome.retry ? 'retries_exhausted' : 'rejected');
      if (!(await sleep(delay, this.#abort.signal))) return this.#drop(batch.length, 'shutdown');
    }
  }

  async #post(body: Uint8Array | string): Promise<Outcome> {
    const { connectTimeoutMs, sendTimeoutMs, readTimeoutMs } = this.#opts.endpoint;
    // One controller and one timer per attempt, cleared when it settles. `AbortSignal.any` with
    // `AbortSignal.timeout` cost more (a composite signal registered on the exporter's long-lived
    // one, and a timer left armed for the whole limit after every batch).
    const attempt = new AbortController();
    const timer = setTimeout(() => attempt.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), connectTimeoutMs + sendTimeoutMs + readTimeoutMs).unref();
    const stopped = () => attempt.abort(this.#abort.signal.reason);
    if (this.#abort.signal.aborted) stopped();
    else this.#abort.signal.addEventListener('abort', stopped, { once: true });
    const signal = attempt.signal;
    try {
      // the answer gathered by a collector, as the request path gathers a provider's (no Readable,
      // no async iterator: objects of the shapes the request path's shared code already sees);
      // the encoder's view goes out as a Buffer over the same memory, as request bodies do
      const payload = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const res = await dispatchCollected(this.#agent, { origin: this.#origin, path: this.#path, method: 'POST', headers: this.#headers, body: payload }, signal, MAX_RESPONSE_BYTES);
      const answer = res.body;
      if (res.statusCode >= 200 && res.statusCode < 300) {
        const contentType = String(res.headers['content-type'] ?? '');
        const partial = contentType.includes('json') ? partialFromJson(answer) : partialFromProtobuf(answer);
        return { ok: true, ...partial };
      }
      return {
        ok: false,
        retry: RETRYABLE.has(res.statusCode),
        retryAfterMs: retryAfterMs(res.headers['retry-after']),
        reason: `status ${res.statusCode}`,
      };
    } catch (err) {
      if (err instanceof ResponseTooLargeError) return { ok: false, retry: false, retryAfterMs: null, reason: `an answer over ${MAX_RESPONSE_BYTES} bytes` };
      // connection refused or reset, a timeout, the collector closing without an answer: retryable
      const code = (err as { code?: string }).code ?? (err as Error).name;
      return { ok: false, retry: true, retryAfterMs: null, reason: err instanceof undiciErrors.UndiciError || code ? String(code) : 'error' };
    } finally {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', stopped);
    }
  }

  #partial(rejected: number, message: string): void {
    if (rejected > 0) this.#drop(rejected, 'rejected');
    if (this.#warnedPartial) return;
    this.#warnedPartial = true;
    logger().warn({ signal: this.signal, url: this.#where, rejected, message: message.slice(0, 512) }, 'otel exporter: the collector rejected part of a batch (logged once)');
  }

  #drop(n: number, reason: DropReason): void {
    if (n > 0) otelDropped.inc({ signal: this.signal, reason }, n);
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** Waits `ms`, or less when `signal` aborts: true when the wait ran its course. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (full: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(full);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(done, ms, true);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from now; null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * Export<signal>ServiceResponse.partial_success (field 1): rejected_spans / rejected_log_records /
 * rejected_data_points (1, int64) and error_message (2) — the same numbers in all three messages.
 */
function partialFromProtobuf(bytes: Uint8Array): { rejected: number; message: string } {
  const none = { rejected: 0, message: '' };
  try {
    const outer = new Reader(bytes);
    while (outer.more()) {
      const [field, wire] = outer.key();
      if (field !== 1 || wire !== 2) {
        outer.skip(wire);
        continue;
      }
      const inner = new Reader(outer.lengthDelimited());
      let rejected = 0;
      let message = '';
      while (inner.more()) {
        const [f, w] = inner.key();
        if (f === 1 && w === 0) rejected = inner.varint();
        else if (f === 2 && w === 2) message = Buffer.from(inner.lengthDelimited()).toString('utf8');
        else inner.skip(w);
      }
      return { rejected, message };
    }
  } catch {
    // an unreadable success body is still a success
  }
  return none;
}

function partialFromJson(bytes: Uint8Array): { rejected: number; message: string } {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { partialSuccess?: Record<string, unknown> };
    const p = parsed?.partialSuccess;
    if (!p || typeof p !== 'object') return { rejected: 0, message: '' };
    const count = p.rejectedSpans ?? p.rejectedLogRecords ?? p.rejectedDataPoints ?? 0;
    return { rejected: Number(count) || 0, message: typeof p.errorMessage === 'string' ? p.errorMessage : '' };
  } catch {
    return { rejected: 0, message: '' };
  }
}

/** Just enough of a protobuf reader for a partial_success. */
class Reader {
  #b: Uint8Array;
  #p = 0;
  constructor(b: Uint8Array) {
    this.#b = b;
  }
  more(): boolean {
    return this.#p < this.#b.length;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#p >= this.#b.length) throw new Error('truncated');
      const byte = this.#b[this.#p++];
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) return result;
      mul *= 128;
    }
    throw new Error('varint too long');
  }
  key(): [number, number] {
    const k = this.varint();
    return [Math.floor(k / 8), k & 7];
  }
  lengthDelimited(): Uint8Array {
    const n = this.varint();
    if (this.#p + n > this.#b.length) throw new Error('truncated');
    const out = this.#b.subarray(this.#p, this.#p + n);
    this.#p += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.#p += 8;
    else if (wire === 2) this.lengthDelimited();
    else if (wire === 5) this.#p += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

// ------------------------------------------------------------------ the registry

/** Default InstrumentationScope of what modelgate exports. */
export const DEFAULT_SCOPE: InstrumentationScope = { name: 'modelgate' };

const exporters = new Map<string, OtlpExporter<unknown>>();

/** The key of an exporter: every option that changes what or where it sends. */
function keyOf(signal: Signal, opts: ExporterOptions, extra: unknown): string {
  const e = opts.endpoint;
  const headers = Object.entries(e.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([signal, e.url, e.encoding, headers, e.connectTimeoutMs, e.sendTimeoutMs, e.readTimeoutMs, sortedAttributes(opts.resource), opts.maxBatch, opts.flushDelayMs, opts.maxQueue, extra]);
}

function sortedAttributes(a: Attributes): [string, unknown][] {
  return Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * The worker's one exporter for these options (created on first use, then shared by every
 * snapshot that asks with equal options). `makeEncoder` runs once, at creation.
 */
export function sharedExporter<T>(signal: Signal, opts: ExporterOptions, makeEncoder: () => BatchEncoder<T>, keyExtra: unknown = null): OtlpExporter<T> {
  const key = keyOf(signal, opts, keyExtra);
  let exporter = exporters.get(key) as OtlpExporter<T> | undefined;
  if (!exporter) {
    exporter = new OtlpExporter<T>(signal, opts, makeEncoder());
    exporters.set(key, exporter as OtlpExporter<unknown>);
  }
  return exporter;
}

export interface SignalOptions extends ExporterOptions {
  scope?: InstrumentationScope;
}

/** The shared exporter of spans or log records, encoding as the endpoint says (protobuf or JSON). */
export function exporterFor(kind: 'traces', opts: SignalOptions): OtlpExporter<SpanRecord>;
export function exporterFor(kind: 'logs', opts: SignalOptions): OtlpExporter<LogRecord>;
export function exporterFor(kind: 'traces' | 'logs', opts: SignalOptions): OtlpExporter<SpanRecord> | OtlpExporter<LogRecord> {
  const scope = opts.scope ?? DEFAULT_SCOPE;
  const json = opts.endpoint.encoding === 'json';
  const resource = opts.resource;
  if (kind === 'traces') {
    // protobuf: the resource and scope are encoded once, with the exporter
    return sharedExporter<SpanRecord>('traces', opts, () => (json ? (s) => encodeTracesJson(s, resource, scope) : tracesEncoder(resource, scope)), scope);
  }
  return sharedExporter<LogRecord>('logs', opts, () => (json ? (r) => encodeLogsJson(r, resource, scope) : logsEncoder(resource, scope)), scope);
}

/** The worker's shutdown: every exporter sends what it holds within `deadlineMs` (together), then closes. */
export async function stopExporters(deadlineMs: number): Promise<void> {
  const all = [...exporters.values()];
  exporters.clear();
  await Promise.all(all.map((e) => e.stop(deadlineMs)));
}
