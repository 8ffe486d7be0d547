/**
 * One proxied request as plugins see it: the matched route and service, the request (body read
 * once, on demand, within limits), the upstream request being prepared, the response once known,
 * and the values plugins share and log. Kong's `kong.request` / `kong.service.request` /
 * `kong.response` / `kong.ctx.shared`, in one object.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Instruments } from '../observability/otel/instrumentations.ts';
import { chainForConsumer, type CompiledRoute, type CompiledService, type PluginInstance, type Snapshot } from '../snapshot/compile.ts';
import type { RouteMatch } from '../router/router.ts';
import type { HeaderMap } from './headers.ts';
import type { UpstreamTarget } from './upstream.ts';
import { ClientError } from './errors.ts';
import { JsonBodyError, parseJsonBody } from '../util/json.ts';
import { watchIdle } from '../util/idle-watch.ts';
import type { Row } from '../store/types.ts';
import type { ResponseHookFactory, RequestCheck } from '../plugins/shared/response-hooks.ts';
import type { PromptHook } from '../plugins/shared/prompt-hooks.ts';
import type { Trace } from '../observability/otel/trace.ts';

export interface UpstreamRequest {
  target: UpstreamTarget | null;
  method: string;
  /** Path plus query string, as sent: set when the call is made (the log's `upstream_uri`), '' before. */
  path: string;
  headers: HeaderMap;
  /** Replaced body; undefined means "the client's body, streamed". */
  body: Buffer | string | undefined;
}

export interface ExitResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ProxySettings {
  maxBodySize: number;
  maxResponseSize: number;
  clientBodyTimeoutMs: number;
  maxStreamDurationMs: number;
  /** Which spans a traced request records (`tracing_instrumentations`). */
  tracingInstruments: Instruments;
}

export class RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly snapshot: Snapshot;
  readonly route: CompiledRoute;
  readonly service: Row | null;
  readonly compiledService: CompiledService | null;
  readonly match: RouteMatch<CompiledRoute>;
  readonly requestId: string;
  readonly startedAt: number;
  readonly method: string;
  /** Request path (without query string), as received. */
  readonly path: string;
  /** Query string including the leading `?`, or ''. Changed only by `clearQueryArg`. */
  rawQuery: string;
  readonly settings: ProxySettings;
  /** The plugins that run for this request; replaced once a consumer is authenticated. */
  chain: PluginInstance[];

  upstream: UpstreamRequest;
  /** Set by a plugin (ai-proxy) that performs the upstream exchange itself. */
  handler: ((ctx: RequestContext) => Promise<void>) | null = null;
  exitResponse: ExitResponse | null = null;
  /** A plugin needs the whole upstream body (body_filter). */
  bufferResponse = false;
  /** The response as it will be / was sent. */
  response: { status: number; headers: HeaderMap } | null = null;
  /** `kong.ctx.shared`: values plugins hand to each other. */
  readonly shared: Record<string, unknown> = {};
  /** Extra fields for log serializers (Kong's `kong.log.set_serialize_value`), e.g. `ai`. */
  readonly logFields: Record<string, unknown> = {};
  /** Prompt plugins' steps over the parsed request, in plugin order: the AI exchange runs them (plugins/shared/prompt-hooks.ts). */
  readonly promptHooks: PromptHook[] = [];
  /** Plugins' hooks over the answer's text and async request checks (plugins/shared/response-hooks.ts): empty for most requests. */
  readonly responseHooks: ResponseHookFactory[] = [];
  readonly requestChecks: RequestCheck[] = [];
  consumer: Row | null = null;
  credential: Row | null = null;
  /** Milliseconds (performance.now) at which upstream phases happened. */
  upstreamStartedAt = 0;
  upstreamHeadersAt = 0;
  firstByteAt = 0;
  /** Classified failure, for the log. */
  error: { status: number; code: string; message: string } | null = null;
  /** Upstream attempts (retries included). */
  attempts = 0;
  /** The request's trace when its chain has the opentelemetry plugin (src/observability/otel/trace.ts), else null. */
  trace: Trace | null = null;
  /** performance.now() around the route match (the `kong.router` span). */
  routerStartedAt = 0;
  routerEndedAt = 0;
  private abortController: AbortController | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** Fires once when the client goes away before its response completed. */
  readonly clientSignal = new ClientSignal();
  /** The connection's byte count when this request arrived (keep-alive): log plugins derive the response size. */
  readonly socketBytesWrittenAtStart: number;

  private bodyBuffer: Buffer | undefined;
  private bodyReading: Promise<Buffer> | undefined;
  private parsedJson: unknown;
  private jsonIsParsed = false;
  private parsedQuery: URLSearchParams | undefined;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    snapshot: Snapshot,
    match: RouteMatch<CompiledRoute>,
    requestId: string,
    startedAt: number,
    path: string,
    rawQuery: string,
    settings: ProxySettings,
  ) {
    this.req = req;
    this.res = res;
    this.snapshot = snapshot;
    this.match = match;
    this.route = match.route.data;
    this.compiledService = this.route.service;
    this.service = this.route.service?.entity ?? null;
    this.chain = this.route.chain;
    this.requestId = requestId;
    this.startedAt = startedAt;
    this.method = req.method ?? 'GET';
    this.path = path;
    this.rawQuery = rawQuery;
    this.settings = settings;
    this.upstream = { target: this.route.service?.target ?? null, method: this.method, path: '', headers: {}, body: undefined };
    this.socketBytesWrittenAtStart = req.socket.bytesWritten;
  }

  /**
   * Aborted when the client goes away before the response completed. Made on first use: most
   * requests complete without anything needing an AbortSignal (the non-streamed provider call
   * listens to `clientSignal`, which costs no EventTarget).
   */
  get abort(): AbortController {
    if (this.abortController === null) {
      this.abortController = new AbortController();
      if (this.clientSignal.aborted) this.abortController.abort(this.clientSignal.reason);
    }
    return this.abortController;
  }

  /**
   * `abort.signal`, aborted as well (with a TimeoutError, as `AbortSignal.timeout` would) `ms` after
   * the first call: a provider stream's maximum duration, failovers included. One timer, cleared
   * when the request ends (`release`); `AbortSignal.any` with `AbortSignal.timeout` cost ~15 µs a
   * stream and kept their timer for the whole limit after the stream had ended.
   */
  abortAfter(ms: number): AbortSignal {
    const controller = this.abort;
    if (this.deadlineTimer === null && !controller.signal.aborted) {
      this.deadlineTimer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms);
      this.deadlineTimer.unref();
    }
    return controller.signal;
  }

  /** The request is over (response closed, exchange settled): timers it started are cleared. */
  release(): void {
    if (this.deadlineTimer !== null) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }

  /** The client closed the connection before its response completed (called by the server). */
  clientLeft(): void {
    if (this.clientSignal.aborted) return;
    this.clientSignal.fire();
    this.abortController?.abort(this.clientSignal.reason);
  }

  get localPort(): number | undefined {
    return this.req.socket.localPort;
  }

  queryParams(): URLSearchParams {
    return (this.parsedQuery ??= new URLSearchParams(this.rawQuery));
  }

  /** `kong.service.request.clear_query_arg`: the argument does not reach the upstream (key-auth `hide_credentials`). */
  clearQueryArg(name: string): void {
    const params = this.queryParams();
    if (!params.has(name)) return;
    params.delete(name);
    const rest = params.toString();
    this.rawQuery = rest ? `?${rest}` : '';
  }

  /**
   * An auth plugin found who is calling: later plugins (and the log) see the consumer, and the
   * chain becomes the consumer's (consumer-scoped plugins apply from here on, Kong's precedence).
   */
  setConsumer(consumer: Row, credential: Row | null): void {
    this.consumer = consumer;
    this.credential = credential;
    this.chain = chainForConsumer(this.snapshot, this.route, consumer.id);
  }

  /** Answer the client now; the rest of the access phase and the upstream call are skipped. */
  exit(status: number, body?: unknown, headers?: Record<string, string>): void {
    this.exitResponse = { status, body, headers };
  }

  get exited(): boolean {
    return this.exitResponse !== null;
  }

  get bodyRead(): boolean {
    return this.bodyBuffer !== undefined;
  }

  /**
   * The whole request body, read once. Bodies over `limit` are refused with 413 as soon as that
   * is known (from Content-Length, or while reading); a client that stops sending is cut after
   * the body idle timeout.
   */
  readBody(limit = this.settings.maxBodySize): Promise<Buffer> {
    if (this.bodyBuffer) return Promise.resolve(this.bodyBuffer);
    return (this.bodyReading ??= this.receiveBody(limit));
  }

  private receiveBody(limit: number): Promise<Buffer> {
    const req = this.req;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      return Promise.reject(tooLarge(limit));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const cleanup = () => {
        idle.stop();
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('aborted', onAborted);
      };
      const fail = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) return fail(tooLarge(limit));
        chunks.push(chunk);
        idle.touch();
      };
      const onEnd = () => {
        cleanup();
        this.bodyBuffer = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
        resolve(this.bodyBuffer);
      };
      const onError = (e: Error) => fail(e);
      const onAborted = () => fail(new ClientError(499, { message: 'Client closed request' }));
      if (req.readableEnded) {
        this.bodyBuffer = Buffer.alloc(0);
        return resolve(this.bodyBuffer);
      }
      // a client that stops sending mid-body is cut after the idle timeout
      const idle = watchIdle(this.settings.clientBodyTimeoutMs, () => fail(new ClientError(408, { message: 'Request timeout' })));
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('aborted', onAborted);
    });
  }

  /**
   * The body as JSON (parsed once, shared by every plugin). Throws JsonBodyError on bad input;
   * callers map it to their own error shape.
   */
  async readJson(limit?: number): Promise<unknown> {
    if (this.jsonIsParsed) return this.parsedJson;
    const body = await this.readBody(limit);
    this.parsedJson = parseJsonBody(body);
    this.jsonIsParsed = true;
    return this.parsedJson;
  }

  /** Replace the JSON body seen by later plugins (prompt decorators, templates). */
  setJson(value: unknown): void {
    this.parsedJson = value;
    this.jsonIsParsed = true;
  }

  get jsonParsed(): boolean {
    return this.jsonIsParsed;
  }

  /** Milliseconds since the request arrived. */
  elapsed(now = performance.now()): number {
    return now - this.startedAt;
  }
}

/** The part of AbortSignal the upstream client uses: `aborted`, `reason`, and one 'abort' listener. */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', fn: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}

/**
 * The AbortLike every request has: its listeners in a plain array (usually one, the provider call
 * in flight), fired once when the client leaves. No EventTarget, no AbortController per request.
 */
export class ClientSignal implements AbortLike {
  aborted = false;
  reason: Error | undefined = undefined;
  private listeners: (() => void)[] | null = null;

  addEventListener(_type: 'abort', fn: () => void): void {
    (this.listeners ??= []).push(fn);
  }

  removeEventListener(_type: 'abort', fn: () => void): void {
    const i = this.listeners?.indexOf(fn) ?? -1;
    if (i !== -1) this.listeners!.splice(i, 1);
  }

  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = Object.assign(new Error('the client closed the connection'), { name: 'AbortError' });
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners) for (const fn of listeners) fn();
  }
}

function tooLarge(limit: number): ClientError {
  return new ClientError(413, { message: `Request body is larger than the limit of ${limit} bytes` });
}

export { JsonBodyError };
export type { Readable };
