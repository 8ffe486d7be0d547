/**
 * The GenAI client metrics (issue 21), aggregated per worker process and exported over OTLP by
 * otlp-metrics.ts: names, units, bucket boundaries and attributes from the OpenTelemetry GenAI
 * semantic conventions, "Generative AI client metrics" (semantic-conventions v1.41,
 * docs/gen-ai/gen-ai-metrics.md; the page has since moved to open-telemetry/semantic-conventions-genai).
 *
 * - `gen_ai.client.token.usage` ({token}): one measurement per token type (`input`, `output`).
 * - `gen_ai.client.operation.duration` (s): every call, with `error.type` when it failed.
 * - `gen_ai.client.operation.time_to_first_chunk` (s): streamed calls only. The issue named
 *   `gen_ai.server.time_to_first_token`, but the spec keeps that one for model servers (queue +
 *   prefill time); a gateway is a client of the provider, and this is the client-side metric the
 *   spec defines for the same wait ("SHOULD be reported for streaming calls and SHOULD NOT be
 *   reported otherwise").
 *
 * Aggregation is explicit-bucket histograms, cumulative from the aggregator's start (why:
 * docs/decisions.md, "OpenTelemetry (issue 21)"). A measurement is a few array increments under a
 * map look-up by a string key: no SDK objects on the request path.
 *
 * Bounded memory: each instrument keeps at most `cardinalityLimit` attribute sets, the overflow one
 * included, as the OpenTelemetry metrics SDK does (default 2000): once full, measurements with a new
 * attribute set go to a single point whose only attribute is `otel.metric.overflow = true`, so
 * totals stay right while the per-attribute breakdown undercounts, and the overflow is visible.
 */
import type { Attributes } from './types.ts';

export interface InstrumentSpec {
  name: string;
  unit: string;
  description: string;
  /** ExplicitBucketBoundaries the spec advises for the instrument. */
  bounds: readonly number[];
}

/** The spec's durations advice, shared by operation.duration and time_to_first_chunk. */
const DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] as const;

export const GENAI_INSTRUMENTS = {
  tokenUsage: {
    name: 'gen_ai.client.token.usage',
    unit: '{token}',
    description: 'Number of input and output tokens used.',
    bounds: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  },
  operationDuration: {
    name: 'gen_ai.client.operation.duration',
    unit: 's',
    description: 'GenAI operation duration.',
    bounds: DURATION_BOUNDS,
  },
  timeToFirstChunk: {
    name: 'gen_ai.client.operation.time_to_first_chunk',
    unit: 's',
    description: 'Time to receive the first chunk, measured from when the client issues the generation request to when the first chunk is received in the response stream.',
    bounds: DURATION_BOUNDS,
  },
} as const satisfies Record<string, InstrumentSpec>;

/** The OpenTelemetry SDK's default aggregation cardinality limit per metric stream. */
export const DEFAULT_CARDINALITY_LIMIT = 2000;
export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';
/** Attribute values are bounded in length too (a model name from a client could be anything). */
const MAX_VALUE_LENGTH = 256;

/** One call's attributes, by their semantic-conventions names (the values the span carries). */
export interface GenAiMetricAttrs {
  /** gen_ai.operation.name: `chat`, `text_completion`, `embeddings`, `generate_content` ... */
  operation: string;
  /** gen_ai.provider.name: `openai`, `anthropic`, `aws.bedrock`, `azure.ai.openai`, `gcp.vertex_ai` ... */
  provider: string;
  /** gen_ai.request.model */
  requestModel?: string | null;
  /** gen_ai.response.model */
  responseModel?: string | null;
  /** server.address / server.port: the provider's host and port. */
  serverAddress?: string | null;
  serverPort?: number | null;
  /** error.type, when the call failed: the provider's status (`429`, `500`) or a low-cardinality name (`timeout`). */
  errorType?: string | null;
}

/** One call's measurements. Tokens and time to first chunk are left out when unknown (null/undefined). */
export interface GenAiMetricValues {
  /** From sending the request to the provider to its full answer (or the failure), seconds. */
  durationS: number;
  inputTokens?: number | null;
  outputTokens?: number | null;
  /** Streamed calls only: from sending the request to the first chunk, seconds. */
  timeToFirstChunkS?: number | null;
}

/** One histogram data point: cumulative since the aggregator started. */
export interface HistogramPoint {
  attributes: Attributes;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** bounds.length + 1 counts: bucket i holds values in (bounds[i-1], bounds[i]], the last one above. */
  bucketCounts: Float64Array;
}

export interface InstrumentSnapshot {
  spec: InstrumentSpec;
  points: HistogramPoint[];
}

/** An explicit-bucket histogram over attribute sets, with the SDK's cardinality cap. */
export class HistogramInstrument {
  readonly spec: InstrumentSpec;
  readonly #limit: number;
  readonly #points = new Map<string, HistogramPoint>();
  #overflow: HistogramPoint | null = null;
  /** Measurements that went to the overflow point (the points they would have made are lost). */
  overflowed = 0;

  constructor(spec: InstrumentSpec, cardinalityLimit = DEFAULT_CARDINALITY_LIMIT) {
    this.spec = spec;
    // At least one attribute set besides the overflow one.
    this.#limit = Math.max(2, cardinalityLimit);
  }

  /** `attributes` is only called when the key is new: the request path builds no object for a known set. */
  record(key: string, attributes: () => Attributes, value: number): void {
    this.recordInto(this.pointOf(key, attributes), value);
  }

  /**
   * The point of an attribute set (`attributes` called only when it is new), or null when a new
   * set would pass the cardinality limit: its measurements go to the overflow point. A caller may
   * keep a point it got and record into it again (recordGenAi does, for a route's repeated set).
   */
  pointOf(key: string, attributes: () => Attributes): HistogramPoint | null {
    let point = this.#points.get(key);
    if (point === undefined) {
      // The overflow point counts against the limit: limit - 1 attribute sets, then overflow.
      if (this.#points.size >= this.#limit - 1) return null;
      point = newPoint(attributes(), this.spec.bounds.length);
      this.#points.set(key, point);
    }
    return point;
  }

  /** One measurement into a point of pointOf(), or into the overflow point (null). */
  recordInto(point: HistogramPoint | null, value: number): void {
    if (!(value >= 0) || !Number.isFinite(value)) return; // histograms take non-negative finite values
    if (point === null) {
      point = this.#overflow ??= newPoint({ [OVERFLOW_ATTRIBUTE]: true }, this.spec.bounds.length);
      this.overflowed++;
    }
    observe(point, this.spec.bounds, value);
  }

  /** The current cumulative points (copies: the exporter encodes them while requests keep recording). */
  snapshot(): InstrumentSnapshot {
    const points: HistogramPoint[] = [];
    for (const p of this.#points.values()) points.push(copyPoint(p));
    if (this.#overflow) points.push(copyPoint(this.#overflow));
    return { spec: this.spec, points };
  }
}

function newPoint(attributes: Attributes, bounds: number): HistogramPoint {
  return { attributes, count: 0, sum: 0, min: Infinity, max: -Infinity, bucketCounts: new Float64Array(bounds + 1) };
}

function copyPoint(p: HistogramPoint): HistogramPoint {
  return { attributes: p.attributes, count: p.count, sum: p.sum, min: p.min, max: p.max, bucketCounts: p.bucketCounts.slice() };
}

function observe(p: HistogramPoint, bounds: readonly number[], value: number): void {
  p.count++;
  p.sum += value;
  if (value < p.min) p.min = value;
  if (value > p.max) p.max = value;
  // Upper bounds are inclusive (the data model's `(bounds[i-1], bounds[i]]`); ≤ 15 bounds: a linear scan.
  let i = 0;
  while (i < bounds.length && value > bounds[i]) i++;
  p.bucketCounts[i]++;
}

/** The three GenAI instruments of one (endpoint, resource) in this worker, and when they started. */
export class GenAiMetrics {
  readonly tokenUsage: HistogramInstrument;
  readonly operationDuration: HistogramInstrument;
  readonly timeToFirstChunk: HistogramInstrument;
  /** Epoch ms (fractional): every point's start_time_unix_nano (cumulative temporality). */
  readonly startMs: number;
  /** @internal recordGenAi's keys of the last attribute set. */
  lastKeys: LastKeys | null = null;

  constructor(cardinalityLimit = DEFAULT_CARDINALITY_LIMIT, startMs = Date.now()) {
    this.tokenUsage = new HistogramInstrument(GENAI_INSTRUMENTS.tokenUsage, cardinalityLimit);
    this.operationDuration = new HistogramInstrument(GENAI_INSTRUMENTS.operationDuration, cardinalityLimit);
    this.timeToFirstChunk = new HistogramInstrument(GENAI_INSTRUMENTS.timeToFirstChunk, cardinalityLimit);
    this.startMs = startMs;
  }

  /** Every instrument's points; instruments with none are left out (nothing to say yet). */
  snapshot(): InstrumentSnapshot[] {
    const out: InstrumentSnapshot[] = [];
    for (const i of [this.tokenUsage, this.operationDuration, this.timeToFirstChunk]) {
      const s = i.snapshot();
      if (s.points.length > 0) out.push(s);
    }
    return out;
  }

  /** Measurements counted in an overflow point so far, all instruments. */
  get overflowed(): number {
    return this.tokenUsage.overflowed + this.operationDuration.overflowed + this.timeToFirstChunk.overflowed;
  }
}

function bounded(v: string): string {
  return v.length > MAX_VALUE_LENGTH ? v.slice(0, MAX_VALUE_LENGTH) : v;
}

/**
 * The semantic-conventions attributes of a call: required ones always, conditional and recommended
 * ones when known (`server.port` only with `server.address`, `error.type` only on failure).
 */
export function genAiAttributes(a: GenAiMetricAttrs, withError: boolean): Attributes {
  const out: Attributes = { 'gen_ai.operation.name': bounded(a.operation), 'gen_ai.provider.name': bounded(a.provider) };
  if (a.requestModel) out['gen_ai.request.model'] = bounded(a.requestModel);
  if (a.responseModel) out['gen_ai.response.model'] = bounded(a.responseModel);
  if (a.serverAddress) {
    out['server.address'] = bounded(a.serverAddress);
    if (a.serverPort) out['server.port'] = a.serverPort;
  }
  if (withError && a.errorType) out['error.type'] = bounded(a.errorType);
  return out;
}

/** A map key for an attribute set: the values in a fixed order (NUL never appears in them meaningfully). */
function keyOf(a: GenAiMetricAttrs): string {
  return `${a.operation}\u0000${a.provider}\u0000${a.requestModel ?? ''}\u0000${a.responseModel ?? ''}\u0000${a.serverAddress ?? ''}\u0000${a.serverAddress ? (a.serverPort ?? '') : ''}`;
}

/**
 * The keys of the last attribute set a GenAiMetrics recorded, and its points once made: a route's
 * calls mostly repeat one set, and a key string made once keeps its hash, where a new one is built
 * and hashed per call; with the points at hand a call records without a map lookup or a closure
 * (docs/performance.md, "OpenTelemetry").
 */
interface LastKeys {
  attrs: GenAiMetricAttrs;
  base: string;
  input: string;
  output: string;
  /** Points of this set (the duration's without error.type), null until first recorded or while over the limit. */
  duration: HistogramPoint | null;
  firstChunk: HistogramPoint | null;
  inputTokens: HistogramPoint | null;
  outputTokens: HistogramPoint | null;
}

function sameSet(a: GenAiMetricAttrs, b: GenAiMetricAttrs): boolean {
  return a.operation === b.operation && a.provider === b.provider && (a.requestModel ?? '') === (b.requestModel ?? '') && (a.responseModel ?? '') === (b.responseModel ?? '') && (a.serverAddress ?? '') === (b.serverAddress ?? '') && (a.serverAddress ? (a.serverPort ?? '') : '') === (b.serverAddress ? (b.serverPort ?? '') : '');
}

function keysOf(m: GenAiMetrics, attrs: GenAiMetricAttrs): LastKeys {
  let k = m.lastKeys;
  if (k === null || !sameSet(k.attrs, attrs)) {
    const base = keyOf(attrs);
    k = { attrs: { ...attrs, errorType: null }, base, input: `${base}\u0000input`, output: `${base}\u0000output`, duration: null, firstChunk: null, inputTokens: null, outputTokens: null };
    m.lastKeys = k;
  }
  return k;
}

/**
 * Records one GenAI call (the plugin calls it once per provider call, at log time). Token counts
 * and time to first chunk are recorded when given (the caller leaves them out when unknown, and
 * gives time to first chunk for streams only); `error.type` goes on the duration alone, the one
 * instrument whose attributes the spec gives it.
 */
export function recordGenAi(m: GenAiMetrics, attrs: GenAiMetricAttrs, values: GenAiMetricValues): void {
  const keys = keysOf(m, attrs);
  const base = keys.base;
  if (attrs.errorType) m.operationDuration.record(`${base}\u0000${attrs.errorType}`, () => genAiAttributes(attrs, true), values.durationS);
  else m.operationDuration.recordInto((keys.duration ??= m.operationDuration.pointOf(base, () => genAiAttributes(attrs, true))), values.durationS);
  if (values.timeToFirstChunkS !== null && values.timeToFirstChunkS !== undefined) {
    m.timeToFirstChunk.recordInto((keys.firstChunk ??= m.timeToFirstChunk.pointOf(base, () => genAiAttributes(attrs, false))), values.timeToFirstChunkS);
  }
  if (values.inputTokens !== null && values.inputTokens !== undefined) {
    m.tokenUsage.recordInto((keys.inputTokens ??= m.tokenUsage.pointOf(keys.input, () => ({ ...genAiAttributes(attrs, false), 'gen_ai.token.type': 'input' }))), values.inputTokens);
  }
  if (values.outputTokens !== null && values.outputTokens !== undefined) {
    m.tokenUsage.recordInto((keys.outputTokens ??= m.tokenUsage.pointOf(keys.output, () => ({ ...genAiAttributes(attrs, false), 'gen_ai.token.type': 'output' }))), values.outputTokens);
  }
}
