/**
 * The contract between modelgate's tracing parts (issue 21): what a span is once finished, what a
 * propagated trace context is, and what an exporter takes. Spans are plain records built by the
 * request path (src/observability/otel/trace.ts) and handed to an exporter (exporter.ts) that
 * encodes them as OTLP (otlp.ts) off the request path. No @opentelemetry/sdk objects on the hot
 * path: see docs/decisions.md, "OpenTelemetry (issue 21)".
 */

/** OTLP's attribute values (AnyValue): scalars and homogeneous arrays. */
export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];
export type Attributes = Record<string, AttributeValue>;

/** OTLP Span.SpanKind. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;
export type SpanKind = (typeof SPAN_KIND)[keyof typeof SPAN_KIND];

/** OTLP Status.StatusCode. */
export const STATUS_CODE = { unset: 0, ok: 1, error: 2 } as const;
export type StatusCode = (typeof STATUS_CODE)[keyof typeof STATUS_CODE];

export interface SpanEvent {
  name: string;
  /** Epoch milliseconds, fractional. */
  timeMs: number;
  attributes?: Attributes;
}

/** A finished span. Ids are lower-case hex: trace 32 digits, span 16. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** W3C tracestate carried from the parent, if any. */
  traceState?: string;
  /** Whether the parent came from another process (an extracted trace context); unset: not known. Goes to OTLP's Span.flags. */
  remoteParent?: boolean;
  name: string;
  kind: SpanKind;
  /** Epoch milliseconds, fractional. */
  startMs: number;
  endMs: number;
  attributes: Attributes;
  events?: SpanEvent[];
  status?: { code: StatusCode; message?: string };
}

/** One OTLP log record (the `logs_endpoint`): a request's access-log entry, tied to its trace. */
export interface LogRecord {
  timeMs: number;
  /** OTLP SeverityNumber (9 = INFO, 13 = WARN, 17 = ERROR). */
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: Attributes;
  traceId?: string;
  spanId?: string;
}

/** Header formats of trace context propagation (Kong's `propagation` and `header_type` values). */
export const PROPAGATION_FORMATS = ['w3c', 'b3', 'b3-single', 'jaeger', 'ot', 'aws', 'gcp', 'datadog', 'instana'] as const;
export type PropagationFormat = (typeof PROPAGATION_FORMATS)[number];

/**
 * A trace context read from, or written to, request headers. Ids are normalised to OpenTelemetry's
 * sizes (trace 32 hex digits, span 16): formats with shorter ids (b3's 64-bit trace ids, Datadog's
 * decimal 64-bit ids, GCP's decimal span id) are left-padded or truncated as Kong does.
 */
export interface TraceContext {
  traceId: string;
  /**
   * The caller's span: the parent of the gateway's request span. Empty ('') when the caller's format
   * carried a trace id but no span id (b3's `X-B3-TraceId` alone, Datadog without a parent id, AWS
   * without `Parent`): the trace continues and the request span has no parent (Kong does the same).
   */
  spanId: string;
  /** The caller's sampling decision, when its format carries one (null: not said, decide here). */
  sampled: boolean | null;
  traceState?: string;
  /** The format it was read from. */
  format?: PropagationFormat;
  /** Baggage-like extras some formats carry (ot's `ot-baggage-*`, jaeger's `uberctx-*`), passed on as read. */
  baggage?: Record<string, string>;
  /** Bytes of the trace id as the caller sent it (8: a 64-bit b3, ot, jaeger or instana id): injectors that allow several sizes write the caller's. */
  traceIdBytes?: number;
  /** b3's debug flag (`X-B3-Flags: 1`, or `d` in the single header), passed on as read. */
  debug?: boolean;
}

/** Kong's `propagation` record (with `header_type` already folded in by the plugin's compile). */
export interface PropagationConfig {
  /** Formats tried in order on incoming headers; empty: never continue a caller's trace. */
  extract: PropagationFormat[];
  /** Header names removed from the request after extraction. */
  clear: string[];
  /** Formats written on outgoing requests; `preserve`: the format the context was read in (else `default_format`). */
  inject: (PropagationFormat | 'preserve')[];
  default_format: PropagationFormat;
}

/** Where and how an exporter sends: Kong's `*_endpoint`, `headers` and timeouts. */
export interface OtlpEndpoint {
  url: string;
  headers: Record<string, string>;
  connectTimeoutMs: number;
  sendTimeoutMs: number;
  readTimeoutMs: number;
  /** OTLP/HTTP body: binary protobuf (`application/x-protobuf`, the default) or JSON (`application/json`). */
  encoding: 'protobuf' | 'json';
}

/** What every exporter takes: one per distinct endpoint + resource in a worker, shared by snapshots. */
export interface ExporterOptions {
  endpoint: OtlpEndpoint;
  /** Resource attributes (service.name, service.version, service.instance.id, and the plugin's `resource_attributes`). */
  resource: Attributes;
  /** Items per export request (Kong's `queue.max_batch_size` / `batch_span_count`). */
  maxBatch: number;
  /** Longest an item waits for its batch to fill, ms (Kong's `queue.max_coalescing_delay` / `batch_flush_delay`). */
  flushDelayMs: number;
  /** Items held at most while the collector is slow or away; beyond, new items are dropped and counted. */
  maxQueue: number;
}

/** Never blocks, never throws: a full queue drops the item and counts it. */
export interface Sink<T> {
  add(item: T): void;
}
