/**
 * The request's trace as the request path starts it (server.ts, before the first plugin runs),
 * apart from the plugin's handler: the request path imports this module in every worker, and the
 * handler brings the OTLP exporters and metrics, which only a configuration that names the plugin
 * needs loaded (docs/performance.md, "Idle memory").
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { ExporterOptions, LogRecord, PropagationConfig, Sink, SpanRecord } from '../../observability/otel/types.ts';
import type { GenAiMetrics } from '../../observability/otel/metrics.ts';
import { Trace } from '../../observability/otel/trace.ts';
import { NO_INSTRUMENTS } from '../../observability/otel/instrumentations.ts';
import { extract } from '../../observability/otel/propagation/index.ts';
import { setResponseHeader } from '../shared/response-headers.ts';

export interface CompiledOpenTelemetry {
  /** null: no `traces_endpoint` (Kong then neither propagates nor exports spans). */
  traces: ExporterOptions | null;
  logs: ExporterOptions | null;
  metrics: GenAiMetrics | null;
  propagation: PropagationConfig;
  /** Header names removed from the request after extraction (lower-case). */
  clear: string[];
  sampleRate: number;
  traceIdHeader: string | null;
  tracesSink: Sink<SpanRecord> | null;
  logsSink: Sink<LogRecord> | null;
}

/**
 * The request's trace, made before its first plugin runs (server.ts): the caller's context read in
 * the configured formats (only with a traces endpoint, as Kong), the `clear` headers removed so
 * they reach no upstream, and the trace id header set on whatever answer the request gets.
 */
export function startTrace(ctx: RequestContext, conf: CompiledOpenTelemetry): Trace {
  const tracing = conf.traces !== null;
  const incoming = tracing && conf.propagation.extract.length ? extract(ctx.req.headers, conf.propagation.extract) : null;
  if (tracing) for (let i = 0; i < conf.clear.length; i++) delete ctx.req.headers[conf.clear[i]];
  // without a traces endpoint no span is recorded: the trace's ids still serve the logs endpoint and the trace-id header
  const trace = new Trace(ctx.startedAt, incoming, conf.sampleRate, tracing ? conf.propagation : null, conf.metrics, tracing ? ctx.settings.tracingInstruments : NO_INSTRUMENTS);
  if (conf.traceIdHeader) setResponseHeader(ctx, conf.traceIdHeader, trace.traceId);
  return trace;
}
