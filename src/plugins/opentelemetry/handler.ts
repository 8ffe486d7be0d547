/**
 * `opentelemetry` (Kong's priority 14): every request through a chain that has it gets a Trace
 * (src/observability/otel/trace.ts), started by the request path before the first plugin runs
 * (`startTrace` in start-trace.ts, which the request path imports without this module and its
 * exporters: the caller's context extracted, `clear` headers removed, the trace-id response header
 * set); the request path, forward.ts and the AI exchange add their spans to it; the log phase ends
 * the request span and hands every span to the shared OTLP exporter, and one log record per
 * request (the access-log fields, with the trace and span ids) when `logs_endpoint` is set.
 * Nothing here waits for a collector: `add()` only queues (exporter.ts).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { OpenTelemetryConfig } from './schema.ts';
import { STATUS_CODE, type Attributes, type AttributeValue, type LogRecord, type OtlpEndpoint } from '../../observability/otel/types.ts';
import type { Trace } from '../../observability/otel/trace.ts';
import { compilePropagation } from '../../observability/otel/propagation/index.ts';
import { exporterFor, stopExporters } from '../../observability/otel/exporter.ts';
import { flushMetrics, metricsFor } from '../../observability/otel/otlp-metrics.ts';
import { atWorkerExit } from '../../server/exit-steps.ts';
import type { CompiledOpenTelemetry } from './start-trace.ts';
import { accessLogEntry } from '../../proxy/access-log.ts';
import { VERSION } from '../../proxy/names.ts';

/** The request span's name: Kong's (kong/observability/tracing/instrumentation.lua, `_M.request`). */
export const ROOT_SPAN_NAME = 'kong';

// At a worker's exit: the GenAI metrics measured since the last interval join the exporters'
// queues, then the last spans, log records and metrics go to the collector within the deadline.
atWorkerExit(async (deadlineMs) => {
  flushMetrics();
  await stopExporters(deadlineMs);
});

/** This worker process as an OTLP resource: one id per process, like Kong's node id per node. */
const INSTANCE_ID = randomUUID();

/**
 * The sampling rate when `sampling_rate` is unset: 1.0. Kong falls back to kong.conf's
 * `tracing_sampling_rate` (0.01 by default); modelgate has no such node setting, and an operator
 * who adds the plugin expects the requests' traces: the rate is set on the plugin to sample less.
 */
export const DEFAULT_SAMPLING_RATE = 1.0;

function resourceOf(config: OpenTelemetryConfig): Attributes {
  const r: Attributes = { 'service.name': 'modelgate', 'service.version': VERSION, 'service.instance.id': INSTANCE_ID, 'host.name': hostname() };
  // the plugin's resource_attributes override the defaults (Kong: "to override service.name ...")
  for (const [k, v] of Object.entries(config.resource_attributes ?? {})) r[k] = v;
  return r;
}

/** Kong's Queue.get_plugin_params: the deprecated batch fields count when set and the queue field is at its default. */
function batching(config: OpenTelemetryConfig): { maxBatch: number; flushDelayMs: number; maxQueue: number } {
  const q = config.queue;
  const maxBatch = config.batch_span_count != null && q.max_batch_size === 200 ? config.batch_span_count : q.max_batch_size;
  const delayS = config.batch_flush_delay != null && q.max_coalescing_delay === 1 ? config.batch_flush_delay : q.max_coalescing_delay;
  return { maxBatch, flushDelayMs: delayS * 1000, maxQueue: q.max_entries };
}

function compile(config: OpenTelemetryConfig, cctx: { registerSecret(v: string): void }): CompiledOpenTelemetry {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.headers ?? {})) {
    headers[k.toLowerCase()] = v;
    cctx.registerSecret(v); // collector tokens: masked wherever they might be logged
  }
  const endpoint = (url: string): OtlpEndpoint => ({
    url,
    headers,
    connectTimeoutMs: config.connect_timeout,
    sendTimeoutMs: config.send_timeout,
    readTimeoutMs: config.read_timeout,
    encoding: config.encoding ?? 'protobuf',
  });
  const resource = resourceOf(config);
  const batch = batching(config);
  const tracesUrl = config.traces_endpoint ?? config.endpoint; // `endpoint`: Kong's deprecated shorthand
  const propagation = compilePropagation(config);
  return {
    traces: tracesUrl ? { endpoint: endpoint(tracesUrl), resource, ...batch } : null,
    logs: config.logs_endpoint ? { endpoint: endpoint(config.logs_endpoint), resource, ...batch } : null,
    metrics: config.metrics_endpoint ? metricsFor(endpoint(config.metrics_endpoint), resource) : null,
    propagation,
    clear: propagation.clear.map((h) => h.toLowerCase()),
    sampleRate: config.sampling_rate ?? DEFAULT_SAMPLING_RATE,
    traceIdHeader: config.http_response_header_for_traceid || null,
    tracesSink: null,
    logsSink: null,
  };
}

/**
 * The request span's attributes (HTTP server semantic conventions, and Kong's `kong.request.id`),
 * what a route's requests share first and the request's own id last: the encoder writes a span's
 * opening attributes that repeat the last span's as one copy (otlp.ts AttributeBlock).
 */
function rootAttributes(ctx: RequestContext, status: number): Attributes {
  const req = ctx.req;
  const a: Attributes = {
    'url.scheme': 'http',
    'network.protocol.version': req.httpVersion,
    'http.request.method': ctx.method,
  };
  const host = req.headers.host;
  if (host) a['server.address'] = serverAddressOf(host);
  const port = req.socket.localPort;
  if (port) a['server.port'] = port;
  const paths = ctx.route.entity.paths as string[] | null | undefined;
  if (paths && paths.length) a['http.route'] = paths[0];
  if (ctx.route.name) a['kong.route.name'] = ctx.route.name;
  a['url.path'] = ctx.path;
  a['http.response.status_code'] = status;
  if (ctx.consumer) a['kong.consumer.id'] = ctx.consumer.id;
  const ua = req.headers['user-agent'];
  if (ua) a['user_agent.original'] = ua;
  const client = req.socket.remoteAddress;
  if (client) a['client.address'] = client;
  if (ctx.error) a['error.type'] = ctx.error.status >= 400 ? String(ctx.error.status) : ctx.error.code;
  a['kong.request.id'] = ctx.requestId;
  return a;
}

/**
 * server.address of a Host header with a colon (one without is the address): without a trailing
 * `:<digits>` port, then without a leading `[` and a trailing `]` (an IPv6 literal's brackets).
 * Read by index: the two regular expressions this was written with ran on every traced request
 * whose Host carries a port (~0.3 µs).
 */
export function serverAddressOf(host: string): string {
  if (host === lastHost) return lastAddress; // a gateway's clients send one Host or a few
  lastAddress = addressOf(host);
  lastHost = host;
  return lastAddress;
}

let lastHost = '';
let lastAddress = '';

function addressOf(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon === -1) return host;
  let end = host.length;
  if (colon < end - 1) {
    let digits = colon + 1;
    while (digits < end && host.charCodeAt(digits) >= 48 && host.charCodeAt(digits) <= 57) digits++;
    if (digits === end) end = colon;
  }
  const start = host.charCodeAt(0) === 91 ? 1 : 0; // [
  if (end > start && host.charCodeAt(end - 1) === 93) end--; // ]
  return start === 0 && end === host.length ? host : host.slice(start, end);
}

/** An access-log value as an attribute value: scalars as they are, objects as JSON text. */
function attributeValue(v: unknown): AttributeValue | undefined {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v === null || v === undefined) return undefined;
  return JSON.stringify(v);
}

function logRecord(ctx: RequestContext, trace: Trace): LogRecord {
  const entry = accessLogEntry(ctx);
  const status = entry.status as number;
  const attributes: Attributes = {};
  for (const k in entry) {
    const v = attributeValue(entry[k]);
    if (v !== undefined) attributes[k] = v;
  }
  return {
    timeMs: Date.now(),
    severityNumber: status >= 500 ? 17 : status >= 400 ? 13 : 9,
    severityText: status >= 500 ? 'ERROR' : status >= 400 ? 'WARN' : 'INFO',
    body: 'request',
    attributes,
    traceId: trace.traceId,
    spanId: trace.rootSpanId,
  };
}

export const handler: PluginHandler<OpenTelemetryConfig, CompiledOpenTelemetry> = {
  compile,
  log(ctx, conf) {
    const trace = ctx.trace;
    if (!trace) return;
    if (conf.traces !== null && trace.recording) {
      const status = ctx.res.writableFinished ? ctx.res.statusCode : 499;
      const end = trace.endAt || performance.now();
      const spans = trace.finish(end, ROOT_SPAN_NAME, rootAttributes(ctx, status), status >= 500 ? { code: STATUS_CODE.error } : undefined);
      const sink = (conf.tracesSink ??= exporterFor('traces', conf.traces));
      for (let i = 0; i < spans.length; i++) sink.add(spans[i]);
    }
    if (conf.logs !== null) (conf.logsSink ??= exporterFor('logs', conf.logs)).add(logRecord(ctx, trace));
  },
};

