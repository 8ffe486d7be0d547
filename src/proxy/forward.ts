/**
 * Plain reverse proxying to a route's service (routes without an AI plugin): Kong's upstream path
 * rules, Kong's forwarding headers, the service's timeouts and retries, and both bodies streamed.
 */
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { RequestContext } from './context.ts';
import { callUpstream } from './upstream.ts';
import { endToEndHeaders, endToEndResponseHeaders, type HeaderMap } from './headers.ts';
import { ClientError, UpstreamError } from './errors.ts';
import { HEADERS } from './names.ts';
import { SPAN_KIND, STATUS_CODE, type Attributes } from '../observability/otel/types.ts';
import { headerFilterSpanName, injectTrace, type Trace } from '../observability/otel/trace.ts';
import { newSpanId } from '../observability/otel/ids.ts';

/** Bodies up to this size are read before sending, so a connection failure can be retried. */
const REPLAYABLE_BODY = 64 * 1024;

const DROP_REQUEST = new Set(['host']);
const DROP_RESPONSE = new Set<string>();

/**
 * Kong's `path_handling: v0` join of the service path and the (stripped) request path:
 * `/s` + `/x` = `/s/x`, `/s/` + `/x` = `/s/x`, `/s` + `` = `/s`.
 */
export function upstreamPath(servicePath: string | null, requestPath: string, matched: string, stripPath: boolean): string {
  let rest = stripPath && matched ? requestPath.slice(matched.length) : requestPath;
  const base = servicePath ?? '/';
  if (rest === '') return base;
  if (rest.charCodeAt(0) !== 47) rest = '/' + rest;
  if (base === '/') return rest;
  if (base.endsWith('/')) return base + rest.slice(1);
  return base + rest;
}

function appendForwardedFor(existing: string | string[] | undefined, addr: string): string {
  if (existing === undefined) return addr;
  return `${Array.isArray(existing) ? existing.join(', ') : existing}, ${addr}`;
}

/** Kong's upstream request headers: end-to-end client headers plus X-Forwarded-* and X-Real-IP. */
export function forwardingHeaders(ctx: RequestContext, upstreamHost: string): HeaderMap {
  const req = ctx.req;
  const headers = endToEndHeaders(req.headers, DROP_REQUEST);
  const remote = req.socket.remoteAddress ?? '';
  headers.host = ctx.route.preserveHost && req.headers.host ? req.headers.host : upstreamHost;
  headers['x-forwarded-for'] = appendForwardedFor(req.headers['x-forwarded-for'], remote);
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = (req.headers.host ?? '').replace(/:\d+$/, '');
  headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
  headers['x-forwarded-path'] = ctx.path;
  headers['x-real-ip'] = remote;
  return headers;
}

/**
 * Watches a streamed request body: fails with 413 past the size limit, and with 408 when the
 * client stops sending for longer than the body idle timeout (a trickled body must not hold an
 * upstream connection forever, docs/decisions.md, D9).
 */
class BodyLimit extends Transform {
  readonly #limit: number;
  readonly #idle: NodeJS.Timeout;
  #seen = 0;
  constructor(limit: number, idleMs: number) {
    super();
    this.#limit = limit;
    this.#idle = setTimeout(() => this.destroy(new ClientError(408, { message: 'Request timeout: the client stopped sending its body' })), idleMs);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) return cb(new ClientError(413, { message: `Request body is larger than the limit of ${this.#limit} bytes` }));
    this.#idle.refresh();
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    clearTimeout(this.#idle);
    cb();
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    clearTimeout(this.#idle);
    cb(err);
  }
}

function hasBody(ctx: RequestContext): boolean {
  const h = ctx.req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

export async function forwardToService(ctx: RequestContext): Promise<void> {
  const service = ctx.compiledService!;
  const target = service.target;
  const defaultPort = target.origin.startsWith('https:') ? 443 : 80;
  const hostHeader = service.port === defaultPort ? service.host : `${service.host}:${service.port}`;
  const headers = forwardingHeaders(ctx, hostHeader);
  const path = upstreamPath(service.path, ctx.match.path, ctx.match.matched, ctx.route.stripPath) + ctx.rawQuery;

  let body: Buffer | BodyLimit | null = null;
  if (ctx.bodyRead || ctx.upstream.body !== undefined) {
    const b = ctx.upstream.body ?? (await ctx.readBody());
    body = Buffer.isBuffer(b) ? b : Buffer.from(b);
    headers['content-length'] = String(body.length);
  } else if (hasBody(ctx)) {
    const declared = Number(ctx.req.headers['content-length']);
    if (declared > ctx.settings.maxBodySize) throw new ClientError(413, { message: `Request body is larger than the limit of ${ctx.settings.maxBodySize} bytes` });
    if (declared <= REPLAYABLE_BODY) {
      body = await ctx.readBody();
    } else {
      const limiter = new BodyLimit(ctx.settings.maxBodySize, ctx.settings.clientBodyTimeoutMs);
      ctx.req.pipe(limiter);
      ctx.req.once('aborted', () => limiter.destroy());
      body = limiter;
    }
  }

  ctx.upstream.path = path; // Kong's upstream_uri, logged even when the call fails
  const trace = ctx.trace;
  const attempts = trace !== null ? new BalancerAttempts(trace, service.host, service.port) : null;
  if (attempts !== null) injectTrace(trace!, attempts.lastSpanId, headers as Record<string, string>);
  ctx.upstreamStartedAt = performance.now();
  let result;
  try {
    result = await callUpstream({ target, method: ctx.method, path, headers, body, signal: ctx.abort.signal, onAttemptFailed: attempts?.failed });
  } catch (e) {
    attempts?.settled(null);
    if (body instanceof BodyLimit && body.errored instanceof ClientError) throw body.errored;
    throw e;
  }
  ctx.attempts = result.attempts;
  const response = result.response;
  ctx.upstreamHeadersAt = performance.now();

  const resHeaders = endToEndResponseHeaders(response.headers, DROP_RESPONSE);
  resHeaders.via = HEADERS.via;
  resHeaders[HEADERS.requestId] = ctx.requestId;
  resHeaders[HEADERS.upstreamLatency] = String(Math.round(ctx.upstreamHeadersAt - ctx.upstreamStartedAt));
  resHeaders[HEADERS.proxyLatency] = String(Math.round(ctx.upstreamStartedAt - ctx.startedAt));
  ctx.response = { status: response.statusCode, headers: resHeaders };
  if (trace === null || !trace.records.pluginHeaderFilter) {
    for (const p of ctx.chain) p.handler.headerFilter?.(ctx, p.conf);
  } else {
    for (const p of ctx.chain) {
      if (!p.handler.headerFilter) continue;
      const t0 = performance.now();
      p.handler.headerFilter(ctx, p.conf);
      trace.span(headerFilterSpanName(p.name), SPAN_KIND.internal, t0, performance.now());
    }
  }

  ctx.res.writeHead(response.statusCode, resHeaders);
  await new Promise<void>((resolve) => {
    pipeline(response.body, ctx.res, (err) => {
      if (err && !ctx.abort.signal.aborted) {
        // the upstream failed after the status line went out: the client sees a cut response
        ctx.error = { status: 502, code: (err as NodeJS.ErrnoException).code ?? 'UPSTREAM_BODY', message: new UpstreamError(502, err.message, 'body', false).message };
        ctx.res.destroy();
      }
      resolve();
    });
  });
  attempts?.settled(response.statusCode); // Kong ends the last balancer span once the body went through
}

/**
 * Kong's `kong.balancer` spans (CLIENT), one per attempt at the service. The headers that carry the
 * trace are written once, before the first attempt, naming the span of the attempt that answers
 * (or fails last): that span's id is made first, as Kong pre-creates its balancer span; the
 * attempts that failed before it get their own.
 */
class BalancerAttempts {
  readonly lastSpanId = newSpanId();
  readonly #trace: Trace;
  readonly #host: string;
  readonly #port: number;
  #start = performance.now();
  #failures: { start: number; end: number; code: string; status: number }[] = [];

  constructor(trace: Trace, host: string, port: number) {
    this.#trace = trace;
    this.#host = host;
    this.#port = port;
  }

  readonly failed = (err: UpstreamError): void => {
    const now = performance.now();
    this.#failures.push({ start: this.#start, end: now, code: err.code, status: err.status });
    this.#start = now;
  };

  #attrs(n: number): Attributes {
    return { try_count: n, 'server.address': this.#host, 'server.port': this.#port };
  }

  /** The call is over: `status` is the answer's, null when no attempt got one (the last failure is the injected span). */
  settled(status: number | null): void {
    const fails = this.#failures;
    const last = status === null ? fails.length - 1 : fails.length;
    for (let i = 0; i < fails.length; i++) {
      const f = fails[i];
      const a = this.#attrs(i + 1);
      a['error.type'] = f.code;
      const span = this.#trace.startSpan('kong.balancer', SPAN_KIND.client, a, i === last ? this.lastSpanId : undefined, f.start, this.#trace.records.balancer);
      span.end(f.end, undefined, { code: STATUS_CODE.error });
    }
    if (status !== null) {
      const a = this.#attrs(fails.length + 1);
      a['http.response.status_code'] = status;
      const span = this.#trace.startSpan('kong.balancer', SPAN_KIND.client, a, this.lastSpanId, this.#start, this.#trace.records.balancer);
      span.end(performance.now(), undefined, status >= 500 ? { code: STATUS_CODE.error } : undefined);
    }
  }
}
