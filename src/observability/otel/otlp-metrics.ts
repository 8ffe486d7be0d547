/**
 * OTLP metrics: ExportMetricsServiceRequest bodies (binary protobuf and OTLP/JSON) from the GenAI
 * histograms of metrics.ts, and the loop that sends them every export interval through the
 * worker's shared OTLP exporter (exporter.ts, signal `metrics`). Field numbers from opentelemetry-proto,
 * opentelemetry/proto/collector/metrics/v1/metrics_service.proto and metrics/v1/metrics.proto;
 * the JSON mapping (lowerCamelCase names, 64-bit integers as decimal strings, enums as numbers)
 * from the OTLP specification, "JSON Protobuf Encoding".
 *
 * Temporality is cumulative from the aggregator's start (docs/decisions.md, "OpenTelemetry
 * (issue 21)"): every export carries the totals so far, so an export the collector never got
 * loses nothing but its own timeliness.
 */
import { logger } from '../logger.ts';
import { VERSION } from '../../proxy/names.ts';
import { sharedExporter, type OtlpExporter } from './exporter.ts';
import { nanosHalves, nanosString, ProtoWriter } from './protobuf.ts';
import { GenAiMetrics, type HistogramPoint, type InstrumentSnapshot } from './metrics.ts';
import type { AttributeValue, Attributes, OtlpEndpoint } from './types.ts';

/** metrics.proto AggregationTemporality. */
export const TEMPORALITY_CUMULATIVE = 2;

export interface MetricsScope {
  name: string;
  version: string;
}

/** What one export says: the resource, the scope, the instruments' points and their time span. */
export interface MetricsExport {
  resource: Attributes;
  scope: MetricsScope;
  instruments: InstrumentSnapshot[];
  /** Epoch ms: when the cumulative points started (start_time_unix_nano) and were read (time_unix_nano). */
  startMs: number;
  timeMs: number;
}

// ---------------------------------------------------------------------------------------------
// protobuf

// common.proto
const ANY = { string: 1, bool: 2, int: 3, double: 4, array: 5 } as const;
const KV = { key: 1, value: 2 } as const;
const SCOPE = { name: 1, version: 2 } as const;
// resource.proto
const RESOURCE = { attributes: 1 } as const;
// metrics_service.proto / metrics.proto
const REQUEST = { resourceMetrics: 1 } as const;
const RESOURCE_METRICS = { resource: 1, scopeMetrics: 2 } as const;
const SCOPE_METRICS = { scope: 1, metrics: 2 } as const;
const METRIC = { name: 1, description: 2, unit: 3, histogram: 9 } as const;
const HISTOGRAM = { dataPoints: 1, temporality: 2 } as const;
const POINT = { startTime: 2, time: 3, count: 4, sum: 5, bucketCounts: 6, explicitBounds: 7, attributes: 9, min: 11, max: 12 } as const;

function writeScalar(w: ProtoWriter, v: string | number | boolean): void {
  if (typeof v === 'string') w.stringField(ANY.string, v);
  else if (typeof v === 'boolean') w.boolField(ANY.bool, v);
  else if (Number.isSafeInteger(v)) w.int64Field(ANY.int, v);
  else w.doubleField(ANY.double, v);
}

function writeAnyValue(w: ProtoWriter, field: number, v: AttributeValue): void {
  w.fork(field);
  if (Array.isArray(v)) {
    w.fork(ANY.array);
    for (const item of v) {
      w.fork(1); // ArrayValue.values
      writeScalar(w, item);
      w.join();
    }
    w.join();
  } else {
    writeScalar(w, v);
  }
  w.join();
}

function writeAttributes(w: ProtoWriter, field: number, attrs: Attributes): void {
  for (const key in attrs) {
    w.fork(field);
    w.stringField(KV.key, key);
    writeAnyValue(w, KV.value, attrs[key]);
    w.join();
  }
}

function writePoint(w: ProtoWriter, p: HistogramPoint, bounds: readonly number[], start: [number, number], time: [number, number]): void {
  w.fork(HISTOGRAM.dataPoints);
  w.fixed64Field(POINT.startTime, start[0], start[1]);
  w.fixed64Field(POINT.time, time[0], time[1]);
  w.fixed64Field(POINT.count, p.count % 4294967296, Math.floor(p.count / 4294967296));
  w.doubleField(POINT.sum, p.sum);
  w.packedFixed64(POINT.bucketCounts, p.bucketCounts);
  w.packedDoubles(POINT.explicitBounds, bounds);
  writeAttributes(w, POINT.attributes, p.attributes);
  if (p.count > 0) {
    w.doubleField(POINT.min, p.min);
    w.doubleField(POINT.max, p.max);
  }
  w.join();
}

/** Reused across exports: the buffer grows once to the largest request and stays. */
const writer = new ProtoWriter(16 * 1024);

/** An ExportMetricsServiceRequest as binary protobuf (`application/x-protobuf`). */
export function encodeMetricsProtobuf(e: MetricsExport): Uint8Array {
  const w = writer.reset();
  const start = nanosHalves(e.startMs);
  const time = nanosHalves(e.timeMs);
  w.fork(REQUEST.resourceMetrics);
  w.fork(RESOURCE_METRICS.resource);
  writeAttributes(w, RESOURCE.attributes, e.resource);
  w.join();
  w.fork(RESOURCE_METRICS.scopeMetrics);
  w.fork(SCOPE_METRICS.scope);
  w.stringField(SCOPE.name, e.scope.name);
  if (e.scope.version) w.stringField(SCOPE.version, e.scope.version);
  w.join();
  for (const inst of e.instruments) {
    w.fork(SCOPE_METRICS.metrics);
    w.stringField(METRIC.name, inst.spec.name);
    w.stringField(METRIC.description, inst.spec.description);
    w.stringField(METRIC.unit, inst.spec.unit);
    w.fork(METRIC.histogram);
    for (const p of inst.points) writePoint(w, p, inst.spec.bounds, start, time);
    w.int64Field(HISTOGRAM.temporality, TEMPORALITY_CUMULATIVE);
    w.join();
    w.join();
  }
  w.join();
  w.join();
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// JSON

type JsonAny = { stringValue: string } | { boolValue: boolean } | { intValue: string } | { doubleValue: number } | { arrayValue: { values: JsonAny[] } };

function jsonScalar(v: string | number | boolean): JsonAny {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Number.isSafeInteger(v)) return { intValue: String(v) };
  return { doubleValue: v };
}

function jsonAttributes(attrs: Attributes): { key: string; value: JsonAny }[] {
  const out: { key: string; value: JsonAny }[] = [];
  for (const key in attrs) {
    const v = attrs[key];
    out.push({ key, value: Array.isArray(v) ? { arrayValue: { values: v.map(jsonScalar) } } : jsonScalar(v) });
  }
  return out;
}

/** The same request as OTLP/JSON (`application/json`). */
export function encodeMetricsJson(e: MetricsExport): string {
  const startTimeUnixNano = nanosString(e.startMs);
  const timeUnixNano = nanosString(e.timeMs);
  const body = {
    resourceMetrics: [
      {
        resource: { attributes: jsonAttributes(e.resource) },
        scopeMetrics: [
          {
            scope: e.scope.version ? { name: e.scope.name, version: e.scope.version } : { name: e.scope.name },
            metrics: e.instruments.map((inst) => ({
              name: inst.spec.name,
              description: inst.spec.description,
              unit: inst.spec.unit,
              histogram: {
                dataPoints: inst.points.map((p) => ({
                  attributes: jsonAttributes(p.attributes),
                  startTimeUnixNano,
                  timeUnixNano,
                  count: String(p.count),
                  sum: p.sum,
                  bucketCounts: Array.from(p.bucketCounts, (c) => String(c)),
                  explicitBounds: inst.spec.bounds,
                  ...(p.count > 0 ? { min: p.min, max: p.max } : {}),
                })),
                aggregationTemporality: TEMPORALITY_CUMULATIVE,
              },
            })),
          },
        ],
      },
    ],
  };
  return JSON.stringify(body);
}

// ---------------------------------------------------------------------------------------------
// the export loop: one aggregator per (endpoint, resource) in a worker

/**
 * How often the metrics are exported, ms: the OpenTelemetry SDK environment variable
 * OTEL_METRIC_EXPORT_INTERVAL (its default, 60 s), read once per worker; `exportIntervalMs`
 * given to metricsFor wins. Not below 100 ms: tests set it small, production has no use for less.
 */
export const DEFAULT_EXPORT_INTERVAL_MS = 60_000;
const MIN_EXPORT_INTERVAL_MS = 100;

function envInterval(): number {
  const raw = process.env.OTEL_METRIC_EXPORT_INTERVAL;
  if (raw === undefined || raw === '') return DEFAULT_EXPORT_INTERVAL_MS;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= MIN_EXPORT_INTERVAL_MS) return n;
  logger().warn({ OTEL_METRIC_EXPORT_INTERVAL: raw }, `OTEL_METRIC_EXPORT_INTERVAL: expected milliseconds ≥ ${MIN_EXPORT_INTERVAL_MS}; using ${DEFAULT_EXPORT_INTERVAL_MS}`);
  return DEFAULT_EXPORT_INTERVAL_MS;
}

export interface MetricsOptions {
  /** Export interval, ms (default: OTEL_METRIC_EXPORT_INTERVAL, else 60 s). */
  exportIntervalMs?: number;
  /** Attribute sets per instrument, the overflow one included (default 2000, the SDK's). */
  cardinalityLimit?: number;
}

interface Loop {
  metrics: GenAiMetrics;
  exporter: OtlpExporter<MetricsExport>;
  resource: Attributes;
  timer: NodeJS.Timeout;
}

export const METRICS_SCOPE: MetricsScope = { name: 'modelgate', version: VERSION };

/**
 * Aggregators a worker keeps at most: one per distinct (endpoint, resource) its configurations
 * named. Beyond, the oldest stops (its series end; a configuration still holding it records into
 * nothing that is sent) — configurations are edited far less often than this allows.
 */
const MAX_LOOPS = 32;
const loops = new Map<string, Loop>();
let envIntervalMs: number | null = null;

function loopKey(endpoint: OtlpEndpoint, resource: Attributes): string {
  const headers = Object.entries(endpoint.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const attrs = Object.entries(resource).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([endpoint.url, endpoint.encoding, headers, endpoint.connectTimeoutMs, endpoint.sendTimeoutMs, endpoint.readTimeoutMs, attrs]);
}

/** The current cumulative points of a loop, queued for the exporter (nothing when nothing was recorded yet). */
function exportNow(loop: Loop): void {
  const instruments = loop.metrics.snapshot();
  if (instruments.length === 0) return;
  loop.exporter.add({ resource: loop.resource, scope: METRICS_SCOPE, instruments, startMs: loop.metrics.startMs, timeMs: Date.now() });
}

/**
 * The worker's GenAI metrics for this metrics_endpoint and resource: created on first use with its
 * export loop, then shared by every snapshot that asks with equal values (so a configuration
 * change that keeps them keeps the cumulative series going). Call it in the plugin's compile().
 *
 * The export goes through the shared exporter with one snapshot per request (maxBatch 1) and room
 * for one more while it is sent (maxQueue 2): a later cumulative snapshot holds everything an
 * earlier one did, so while the collector is slow or away nothing is lost but timeliness, and a
 * dropped snapshot is counted in modelgate_otel_dropped_spans_total{signal="metrics"}.
 */
export function metricsFor(endpoint: OtlpEndpoint, resource: Attributes, opts: MetricsOptions = {}): GenAiMetrics {
  const key = loopKey(endpoint, resource);
  const found = loops.get(key);
  if (found) return found.metrics;
  const intervalMs = Math.max(MIN_EXPORT_INTERVAL_MS, opts.exportIntervalMs ?? (envIntervalMs ??= envInterval()));
  const json = endpoint.encoding === 'json';
  const exporter = sharedExporter<MetricsExport>('metrics', { endpoint, resource, maxBatch: 1, flushDelayMs: 0, maxQueue: 2 }, () => (batch) => (json ? encodeMetricsJson(batch[batch.length - 1]) : encodeMetricsProtobuf(batch[batch.length - 1])));
  const loop: Loop = { metrics: new GenAiMetrics(opts.cardinalityLimit), exporter, resource, timer: null as unknown as NodeJS.Timeout };
  loop.timer = setInterval(() => exportNow(loop), intervalMs).unref();
  if (loops.size >= MAX_LOOPS) {
    const [oldestKey, oldest] = loops.entries().next().value as [string, Loop];
    clearInterval(oldest.timer);
    loops.delete(oldestKey);
  }
  loops.set(key, loop);
  return loop.metrics;
}

/**
 * Queues every aggregator's current points now, and stops the loops: the worker's drain calls it
 * before exporter.ts's stopExporters, so what was measured since the last interval is sent too.
 */
export function flushMetrics(): void {
  for (const loop of loops.values()) {
    clearInterval(loop.timer);
    exportNow(loop);
  }
  loops.clear();
}
