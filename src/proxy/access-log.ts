/**
 * The fields of a routed request's access-log line, built in one place: the worker's access log
 * (server.ts) writes them, and the opentelemetry plugin sends the same fields as an OTLP log record.
 */
import type { RequestContext } from './context.ts';

export function accessLogEntry(ctx: RequestContext): Record<string, unknown> {
  const res = ctx.res;
  const entry: Record<string, unknown> = {
    request_id: ctx.requestId,
    method: ctx.req.method,
    path: ctx.path, // never the query string: clients put keys there
    status: res.writableFinished ? res.statusCode : 499,
    latency_ms: Math.round((performance.now() - ctx.startedAt) * 100) / 100,
    client_ip: ctx.req.socket.remoteAddress,
  };
  if (ctx.trace) entry.trace_id = ctx.trace.traceId;
  entry.route = ctx.route.name ?? ctx.route.id;
  if (ctx.service) entry.service = ctx.service.name ?? ctx.service.id;
  if (ctx.upstreamHeadersAt) entry.upstream_latency_ms = Math.round((ctx.upstreamHeadersAt - ctx.upstreamStartedAt) * 100) / 100;
  if (ctx.consumer) entry.consumer = ctx.consumer.username ?? ctx.consumer.id;
  if (ctx.error) entry.error = ctx.error;
  if (ctx.attempts > 1) entry.attempts = ctx.attempts;
  Object.assign(entry, ctx.logFields);
  return entry;
}
