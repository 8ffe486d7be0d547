/**
 * One request's trace (issue 21): its ids, the sampling decision, and the spans finished so far as
 * plain SpanRecords. Built only on routes whose plugin chain has `opentelemetry` (the request path
 * checks `ctx.trace !== null` and nothing else otherwise); handed whole to the exporter in the log
 * phase. Times are taken with performance.now() (what the request path already reads) and made
 * epoch milliseconds once per span by the trace's one offset, read from the wall clock when the
 * trace starts (src/util/wall-clock.ts): a trace's spans keep their exact durations and order.
 *
 * An unsampled trace still has ids (propagated with the "not sampled" flag, written in the access
 * log and the trace-id response header) but records nothing; a sampled one records the spans its
 * worker's `tracing_instrumentations` ask for (instrumentations.ts).
 */
import { SPAN_KIND, STATUS_CODE, type Attributes, type PropagationConfig, type SpanEvent, type SpanKind, type SpanRecord, type StatusCode, type TraceContext } from './types.ts';
import { newSpanId, newTraceId } from './ids.ts';
import { injectHeaders } from './propagation/index.ts';
import type { GenAiMetrics } from './metrics.ts';
import { ALL_INSTRUMENTS, NO_INSTRUMENTS, type Instruments } from './instrumentations.ts';
import { wallClockOffset } from '../../util/wall-clock.ts';

/**
 * The sampling decision on a trace id: its low 56 bits as a fraction of 2^56, below the rate.
 * Deterministic on the id, so every service sampling at the same rate keeps the same traces
 * (OpenTelemetry's TraceIdRatioBased idea; W3C trace ids are random in their low bits).
 */
export function sampledByRate(traceId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  const low = Number.parseInt(traceId.slice(18), 16); // 14 hex digits: 56 bits, exact in a double
  return low / 2 ** 56 < rate;
}

/** A span started now and ended later (a provider call, an upstream attempt). Ending twice is a no-op. */
export class OpenSpan {
  readonly spanId: string;
  readonly name: string;
  readonly kind: SpanKind;
  readonly start: number;
  readonly attributes: Attributes;
  events: SpanEvent[] | undefined = undefined;
  private readonly owner: Trace;
  private isEnded = false;
  /** Whether ending it records it (its instrumentation is on); its id is propagated either way. */
  private readonly isRecorded: boolean;

  constructor(trace: Trace, name: string, kind: SpanKind, start: number, attributes: Attributes, spanId: string, recorded: boolean) {
    this.owner = trace;
    this.isRecorded = recorded;
    this.name = name;
    this.kind = kind;
    this.start = start;
    this.attributes = attributes;
    this.spanId = spanId;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** Whether it is kept for export when it ends (sampled, and its instrumentation on). */
  get recorded(): boolean {
    return this.isRecorded;
  }

  end(end = performance.now(), attrs?: Attributes, status?: { code: StatusCode; message?: string }): void {
    if (this.isEnded) return;
    this.isEnded = true;
    if (!this.isRecorded) return;
    if (attrs) Object.assign(this.attributes, attrs);
    this.owner.record(this.name, this.kind, this.start, end, this.attributes, status, this.spanId, this.events);
  }
}

export class Trace {
  readonly traceId: string;
  /** The gateway's request span (Kong's `kong` server span). */
  readonly rootSpanId: string;
  /** The caller's span, when an incoming context was continued. */
  readonly parentSpanId: string | null;
  readonly traceState: string | undefined;
  readonly sampled: boolean;
  /** Which spans this trace records: the worker's `tracing_instrumentations` when sampled, none otherwise. */
  readonly records: Instruments;
  /** Some span is recorded: spans are kept for export. */
  readonly recording: boolean;
  /** What was read from the request's headers (for `preserve` injection and baggage), or null. */
  readonly incoming: TraceContext | null;
  /** performance.now() of the request's arrival. */
  readonly start: number;
  readonly spans: SpanRecord[] = [];
  private openSpans: OpenSpan[] | null = null;

  /** How the gateway's context is written on outgoing requests (null: the plugin has no traces_endpoint, Kong propagates nothing then). */
  readonly propagation: PropagationConfig | null;
  /** The plugin's GenAI metrics (its `metrics_endpoint`), recorded per provider call whatever the sampling. */
  readonly metrics: GenAiMetrics | null;
  /** performance.now() when the client's response closed (server.ts): the request span's end. */
  endAt = 0;
  /** What makes this trace's performance.now() readings epoch milliseconds. */
  private readonly origin: number;

  constructor(start: number, incoming: TraceContext | null, sampleRate: number, propagation: PropagationConfig | null = null, metrics: GenAiMetrics | null = null, instruments: Instruments = ALL_INSTRUMENTS) {
    this.start = start;
    this.origin = wallClockOffset(start);
    this.propagation = propagation;
    this.metrics = metrics;
    this.incoming = incoming;
    this.traceId = incoming?.traceId ?? newTraceId();
    this.parentSpanId = incoming?.spanId || null; // '' : the caller's format carried no span id
    this.traceState = incoming?.traceState;
    this.rootSpanId = newSpanId();
    // a caller's decision is followed; without one, the plugin's rate decides on the trace id
    this.sampled = incoming?.sampled ?? sampledByRate(this.traceId, sampleRate);
    const r = (this.records = this.sampled ? instruments : NO_INSTRUMENTS);
    this.recording = r.request || r.router || r.balancer || r.pluginAccess || r.pluginHeaderFilter;
  }

  /** A finished child of the request span. */
  span(name: string, kind: SpanKind, start: number, end: number, attributes: Attributes = {}, status?: { code: StatusCode; message?: string }): void {
    if (this.recording) this.record(name, kind, start, end, attributes, status, newSpanId(), undefined);
  }

  /**
   * A child of the request span that ends later; its id exists at once (it is what a propagated
   * header names), and it is recorded when `recorded` (its instrumentation is on).
   */
  startSpan(name: string, kind: SpanKind, attributes: Attributes = {}, spanId = newSpanId(), start = performance.now(), recorded = true): OpenSpan {
    const s = new OpenSpan(this, name, kind, start, attributes, spanId, recorded && this.recording);
    (this.openSpans ??= []).push(s);
    return s;
  }

  /** A provider call's GenAI client span: part of the `request` instrumentation. */
  startClient(name: string, attributes: Attributes = {}, spanId?: string): OpenSpan {
    return this.startSpan(name, SPAN_KIND.client, attributes, spanId, undefined, this.records.request);
  }

  /** @internal OpenSpan.end's way in. */
  record(name: string, kind: SpanKind, start: number, end: number, attributes: Attributes, status: { code: StatusCode; message?: string } | undefined, spanId: string, events: SpanEvent[] | undefined): void {
    if (!this.recording) return;
    const rec: SpanRecord = {
      traceId: this.traceId,
      spanId,
      parentSpanId: this.rootSpanId,
      name,
      kind,
      startMs: this.origin + start,
      endMs: this.origin + Math.max(start, end),
      attributes,
    };
    if (this.traceState) rec.traceState = this.traceState;
    if (events) rec.events = events;
    if (status && status.code !== STATUS_CODE.unset) rec.status = status;
    this.spans.push(rec);
  }

  /**
   * Ends the request span (and any span a failure path left open, at the same time) and returns
   * every span of the request, the request span first (when the `request` instrumentation is on).
   * Empty when not recording.
   */
  finish(end: number, name: string, attributes: Attributes, status?: { code: StatusCode; message?: string }): SpanRecord[] {
    const open = this.openSpans;
    if (open !== null) for (let i = 0; i < open.length; i++) if (!open[i].ended) open[i].end(end);
    this.openSpans = null;
    if (!this.records.request) return this.spans;
    const root: SpanRecord = {
      traceId: this.traceId,
      spanId: this.rootSpanId,
      parentSpanId: this.parentSpanId,
      name,
      kind: SPAN_KIND.server,
      startMs: this.origin + this.start,
      endMs: this.origin + Math.max(this.start, end),
      attributes,
    };
    if (this.traceState) root.traceState = this.traceState;
    if (this.parentSpanId !== null) root.remoteParent = true;
    if (status && status.code !== STATUS_CODE.unset) root.status = status;
    this.spans.unshift(root);
    return this.spans;
  }
}

/**
 * Writes the headers that carry this trace to an upstream into `out`, the call's span (`spanId`)
 * as their parent, in the plugin's `inject` formats (nothing without a traces endpoint or formats).
 */
export function injectTrace(trace: Trace, spanId: string, out: Record<string, string>): void {
  const p = trace.propagation;
  if (p === null || p.inject.length === 0) return;
  const incoming = trace.incoming;
  const only = p.inject.length === 1 ? p.inject[0] : null;
  if (incoming === null && (only === 'w3c' || (only === 'preserve' && p.default_format === 'w3c'))) {
    // the common case (Kong's default `preserve` with w3c, no caller context): the traceparent
    // injectHeaders would write, without its context object
    out.traceparent = `00-${trace.traceId}-${spanId}-${trace.sampled ? '01' : '00'}`;
    return;
  }
  injectHeaders(
    { traceId: trace.traceId, spanId, parentSpanId: trace.rootSpanId, sampled: trace.sampled, traceState: trace.traceState, baggage: incoming?.baggage, traceIdBytes: incoming?.traceIdBytes, debug: incoming?.debug },
    p.inject,
    p.default_format,
    incoming?.format ?? null,
    out,
  );
}

const ACCESS_NAMES = new Map<string, string>();
const HEADER_FILTER_NAMES = new Map<string, string>();

/** Kong's plugin phase span names (`kong.access.plugin.<name>`), made once per plugin name. */
export function accessSpanName(plugin: string): string {
  let n = ACCESS_NAMES.get(plugin);
  if (n === undefined) ACCESS_NAMES.set(plugin, (n = `kong.access.plugin.${plugin}`));
  return n;
}

export function headerFilterSpanName(plugin: string): string {
  let n = HEADER_FILTER_NAMES.get(plugin);
  if (n === undefined) HEADER_FILTER_NAMES.set(plugin, (n = `kong.header_filter.plugin.${plugin}`));
  return n;
}
