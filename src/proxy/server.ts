/**
 * The proxy's request path: match a route in the current snapshot, run its plugin chain, hand the
 * request to the plugin that owns the exchange (ai-proxy) or forward it to the route's service,
 * then run the log phase. Everything here is per request, so it reads only what the snapshot
 * precomputed; nothing touches the database.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { uuid } from '../util/uuid.ts';
import type { Logger } from 'pino';
import type { Settings } from '../settings.ts';
import type { Snapshot } from '../snapshot/compile.ts';
import { RequestContext, type ProxySettings } from './context.ts';
import { ClientError, UpstreamError, defaultMessage } from './errors.ts';
import { errorBody, writeJson } from './respond.ts';
import { forwardToService } from './forward.ts';
import { HEADERS } from './names.ts';
import { JsonBodyError } from '../util/json.ts';
import { parserErrorAnswer, rawAnswer, type ParserError } from './parser-errors.ts';
import { lingerOnClose, lingeringClose } from './lingering-close.ts';
import { watchUnreadBody } from './unread-body.ts';
import { GatewayResponse } from './response.ts';
import { accessLogEntry } from './access-log.ts';
import { tracerIn } from '../snapshot/compile.ts';
import { startTrace } from '../plugins/opentelemetry/start-trace.ts';
import { SPAN_KIND } from '../observability/otel/types.ts';
import { accessSpanName } from '../observability/otel/trace.ts';
import { instrumentsOf } from '../observability/otel/instrumentations.ts';

/** An error body in the shape of the API the route speaks, when one of its plugins says (ai-proxy: OpenAI's envelope). */
function routeErrorBody(ctx: RequestContext, status: number, body: unknown): unknown {
  for (const p of ctx.chain) if (p.handler.errorBody) return p.handler.errorBody(ctx, p.conf, status, body);
  return body;
}

/** After the client's connection closed, how long the log phase waits for the exchange to settle. */
const LOG_AFTER_CLOSE_MAX_WAIT_MS = 5000;

/** Extra header of an answer after which the connection is closed. */
const CLOSE = { connection: 'close' };

export class ProxyServer {
  readonly #settings: Settings;
  readonly #proxySettings: ProxySettings;
  readonly #log: Logger;
  readonly #snapshot: () => Snapshot | null;
  #inflight = 0;
  #draining = false;
  #idle: (() => void) | null = null;
  /**
   * Runs for every routed request after the plugins' log phases: the worker installs the spend
   * log's row builder here (src/server/worker.ts), so this module knows nothing of IPC. Must not throw or wait.
   */
  afterLog: ((ctx: RequestContext) => void) | null = null;

  constructor(settings: Settings, log: Logger, snapshot: () => Snapshot | null) {
    this.#settings = settings;
    this.#log = log;
    this.#snapshot = snapshot;
    this.#proxySettings = {
      maxBodySize: settings.max_body_size,
      maxResponseSize: settings.max_response_size,
      clientBodyTimeoutMs: settings.client_body_timeout_ms,
      maxStreamDurationMs: settings.max_stream_duration_ms,
      tracingInstruments: instrumentsOf(settings.tracing_instrumentations),
    };
  }

  createServer(): http.Server {
    const server = http.createServer(
      {
        // slowloris: the whole header block must arrive in time; bodies have their own idle timer
        headersTimeout: this.#settings.client_header_timeout_ms,
        requestTimeout: 0,
        keepAliveTimeout: this.#settings.keepalive_timeout_ms,
        connectionsCheckingInterval: Math.min(30_000, Math.max(1000, Math.floor(this.#settings.client_header_timeout_ms / 2))),
        requireHostHeader: false,
        // plugins' headers held for the answer's writeHead (src/proxy/response.ts)
        ServerResponse: GatewayResponse,
      },
      (req, res) => this.#handle(req, res),
    );
    // Every client socket reads its peer's address once, as it connects: Node caches it on the
    // socket as a new property (`_peername`) the first time anything asks (the access log, a
    // trace's client.address, a rate-limit identifier, X-Forwarded-For), which otherwise moved
    // sockets to another hidden class partway through their life on some routes and not others,
    // and turned the stream code that every request runs (the `destroyed` getter, read ~20 times
    // a request) megamorphic (docs/performance.md, "Thirteenth look").
    server.on('connection', (socket: Socket) => void socket.remoteAddress);
    server.on('clientError', (err: ParserError, socket: Socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const [status, message] = parserErrorAnswer(err);
      if (status === 408) return void socket.end(rawAnswer(status, message)); // the client stopped sending
      // the rest of what was refused (headers past the limit, a body) may still be coming
      socket.write(rawAnswer(status, message));
      lingeringClose(socket);
    });
    // Expect: 100-continue. `100 Continue` goes out when something starts reading the body, so a
    // request refused before that (a length over its route's limit, no route, a plugin's answer)
    // is refused without inviting the body. node:http then closes the connection (the client may
    // put its body on the wire anyway, so the close lingers).
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      req.once('resume', () => {
        if (!res.headersSent) res.writeContinue();
      });
      lingerOnClose(req.socket);
      this.#handle(req, res);
    });
    // Never a forward proxy: CONNECT tunnels are refused outright.
    server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.end(rawAnswer(405, 'Method not allowed'));
    });
    return server;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const startedAt = performance.now();
    const requestId = uuid();
    const url = req.url ?? '/';
    if (this.#draining) res.setHeader('connection', 'close');

    // origin-form only: an absolute URL would make the gateway an open forward proxy
    if (url.charCodeAt(0) !== 47 /* / */) {
      // refused before its body (if any) is read: the connection is closed after the answer
      lingerOnClose(req.socket);
      writeJson(res, 400, errorBody('Bad request', requestId), requestId, startedAt, CLOSE);
      return;
    }
    const snapshot = this.#snapshot();
    if (!snapshot) {
      writeJson(res, 503, errorBody('The gateway is starting', requestId), requestId, startedAt);
      return;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? '' : url.slice(q);
    const routerStartedAt = performance.now();
    const match = snapshot.router.match({ method: req.method ?? 'GET', host: req.headers.host ?? '', path, headers: req.headers });
    const routerEndedAt = performance.now();
    if (!match) {
      res.once('close', () => {
        if (!req.complete) this.#watchUnreadBody(req);
        this.#accessLog(null, req, res, requestId, startedAt, path);
      });
      writeJson(res, 404, errorBody('no Route matched with those values', requestId), requestId, startedAt);
      return;
    }
    const ctx = new RequestContext(req, res, snapshot, match, requestId, startedAt, path, rawQuery, this.#proxySettings);
    ctx.routerStartedAt = routerStartedAt;
    ctx.routerEndedAt = routerEndedAt;
    this.#inflight++;
    // The log phase runs once the response is closed AND the exchange has settled: a stream cut
    // by its client records its partial usage after the close, and budgets must still count it.
    let closed = false;
    let settled = false;
    let logged = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      if (logged) return;
      logged = true;
      if (timer) clearTimeout(timer);
      ctx.release();
      this.#finished(ctx);
    };
    res.on('close', () => {
      if (ctx.trace !== null) ctx.trace.endAt = performance.now();
      if (!res.writableFinished) ctx.clientLeft();
      else if (!req.complete) this.#watchUnreadBody(req);
      closed = true;
      if (settled) finish();
      else timer = setTimeout(finish, LOG_AFTER_CLOSE_MAX_WAIT_MS); // never hold the log (and drain) on a stuck exchange
    });
    const settle = () => {
      settled = true;
      if (closed) finish();
    };
    this.#run(ctx).then(settle, (e: unknown) => {
      try {
        this.#fail(ctx, e);
      } finally {
        settle();
      }
    });
  }

  async #run(ctx: RequestContext): Promise<void> {
    const route = ctx.route;
    if (!route.protocols.has('http')) {
      // Kong: an https-only route reached over http is told to upgrade
      this.#exit(ctx, route.httpsRedirectStatus, { message: 'Please use HTTPS protocol' });
      return;
    }
    if (route.tracer !== null) this.#startTrace(ctx, route.tracer.conf);
    let chain = ctx.chain;
    for (let i = 0; i < chain.length; i++) {
      const p = chain[i];
      if (!p.handler.access) continue;
      const trace = ctx.trace !== null && ctx.trace.records.pluginAccess ? ctx.trace : null;
      const t0 = trace !== null ? performance.now() : 0;
      const r = p.handler.access(ctx, p.conf);
      if (r) await r;
      if (trace !== null) trace.span(accessSpanName(p.name), SPAN_KIND.internal, t0, performance.now());
      if (ctx.exitResponse) {
        this.#exit(ctx, ctx.exitResponse.status, ctx.exitResponse.body, ctx.exitResponse.headers);
        return;
      }
      if (ctx.res.destroyed) return;
      if (ctx.chain !== chain) {
        // an auth plugin identified a consumer: go on with the consumer's chain, below this priority
        chain = ctx.chain;
        if (ctx.trace === null) {
          // a consumer-scoped opentelemetry plugin: the trace starts now (its root span still at the request's arrival)
          const tracer = tracerIn(chain);
          if (tracer !== null) this.#startTrace(ctx, tracer.conf);
        }
        const next = chain.findIndex((q) => q.priority < p.priority);
        i = (next === -1 ? chain.length : next) - 1;
      }
    }
    if (ctx.handler) {
      await ctx.handler(ctx);
      return;
    }
    if (!ctx.compiledService) {
      // a route without a service and without a plugin answering for it
      this.#exit(ctx, 503, { message: 'no Service found with those values' });
      return;
    }
    await forwardToService(ctx);
  }

  #startTrace(ctx: RequestContext, conf: unknown): void {
    const trace = (ctx.trace = startTrace(ctx, conf as Parameters<typeof startTrace>[1]));
    if (trace.records.router) trace.span('kong.router', SPAN_KIND.internal, ctx.routerStartedAt, ctx.routerEndedAt);
  }

  #exit(ctx: RequestContext, status: number, body: unknown, headers?: Record<string, string>): void {
    const isText = typeof body === 'string';
    const contentType = headers?.['content-type'] ?? headers?.['Content-Type'];
    if (isText && contentType && !/json/i.test(contentType)) {
      if (ctx.res.headersSent) return void ctx.res.destroy();
      ctx.res.writeHead(status, { ...headers, [HEADERS.requestId]: ctx.requestId, server: HEADERS.server });
      ctx.res.end(body);
      return;
    }
    const payload = body === undefined ? { message: defaultMessage(status) } : body;
    writeJson(ctx.res, status, status >= 400 ? routeErrorBody(ctx, status, payload) : payload, ctx.requestId, ctx.startedAt, headers);
  }

  #fail(ctx: RequestContext, e: unknown): void {
    if (e instanceof ClientError) {
      ctx.error = { status: e.status, code: 'client', message: e.message };
      if (e.status === 499) return void ctx.res.destroy();
      if (ctx.req.complete) return this.#exit(ctx, e.status, e.body);
      // refused before its body was all read (too large, not JSON ...): the connection is closed
      // after the answer, lingering unless the client had stopped sending (408)
      if (e.status !== 408) lingerOnClose(ctx.req.socket);
      return this.#exit(ctx, e.status, e.body, CLOSE);
    }
    if (e instanceof JsonBodyError) {
      return this.#exit(ctx, 400, { message: e.message });
    }
    if (e instanceof UpstreamError) {
      ctx.error = { status: e.status, code: e.code, message: e.message };
      ctx.attempts ||= e.attempts;
      return this.#exit(ctx, e.status, errorBody(e.message, ctx.requestId));
    }
    if (ctx.clientSignal.aborted) return; // the client left; nothing to answer
    ctx.error = { status: 500, code: 'internal', message: (e as Error)?.message ?? String(e) };
    this.#log.error({ request_id: ctx.requestId, err: (e as Error)?.message, stack: (e as Error)?.stack }, 'request failed');
    this.#exit(ctx, 500, errorBody('An unexpected error occurred', ctx.requestId));
  }

  /** Answered before the body was all read: the rest is still held to the body timeout and limit. */
  #watchUnreadBody(req: IncomingMessage): void {
    watchUnreadBody(req, this.#proxySettings.clientBodyTimeoutMs, this.#proxySettings.maxBodySize);
  }

  #finished(ctx: RequestContext): void {
    for (const p of ctx.chain) {
      if (!p.handler.log) continue;
      try {
        p.handler.log(ctx, p.conf);
      } catch (e) {
        this.#log.error({ plugin: p.name, err: (e as Error).message }, 'log phase failed');
      }
    }
    if (this.afterLog) {
      try {
        this.afterLog(ctx);
      } catch (e) {
        this.#log.error({ err: (e as Error).message }, 'after-log hook failed');
      }
    }
    this.#accessLog(ctx, ctx.req, ctx.res, ctx.requestId, ctx.startedAt, ctx.path);
    if (--this.#inflight === 0 && this.#idle) this.#idle();
  }

  #accessLog(ctx: RequestContext | null, req: IncomingMessage, res: ServerResponse, requestId: string, startedAt: number, path: string): void {
    if (!this.#settings.access_log || !this.#log.isLevelEnabled('info')) return;
    if (ctx) return void this.#log.info(accessLogEntry(ctx), 'request');
    const entry: Record<string, unknown> = {
      request_id: requestId,
      method: req.method,
      path, // never the query string: clients put keys there
      status: res.writableFinished ? res.statusCode : 499,
      latency_ms: Math.round((performance.now() - startedAt) * 100) / 100,
      client_ip: req.socket.remoteAddress,
    };
    this.#log.info(entry, 'request');
  }

  /** Stops accepting, lets in-flight requests finish until the deadline, then cuts the rest. */
  async drain(servers: http.Server[], timeoutMs: number): Promise<void> {
    this.#draining = true;
    for (const s of servers) {
      s.close();
      s.closeIdleConnections();
    }
    if (this.#inflight > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        setTimeout(resolve, timeoutMs).unref();
      });
    }
    if (this.#inflight > 0) this.#log.warn({ inflight: this.#inflight }, 'drain deadline reached; cutting the remaining requests');
    for (const s of servers) s.closeAllConnections();
  }
}
