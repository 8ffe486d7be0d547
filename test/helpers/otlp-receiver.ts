/**
 * An OTLP/HTTP receiver for tests: `/v1/traces`, `/v1/logs`, `/v1/metrics` on a free loopback
 * port, as the OTLP specification describes the server side (OTLP/HTTP "Request"/"Response").
 *
 * Decoding uses the OFFICIAL definitions: the .proto files of open-telemetry/opentelemetry-proto
 * v1.11.0 (tag commit 790608c4d51e6ffc12210b541e8514cbed9e91a4), copied unchanged with their
 * LICENSE into test/helpers/otlp-proto/, loaded by `protobufjs` (devDependency). No npm package
 * ships them any more: `@opentelemetry/otlp-transformer` dropped its generated protobufjs root for
 * a hand-written serializer in 0.209+, and the older roots it shipped predate fields we write.
 * Protobuf bodies are decoded with `Type.decode`; JSON bodies are checked key by key against the
 * same types (every key a field's lowerCamelCase name, 64-bit integers as decimal strings, enums as
 * integers, ids as hex: OTLP's "JSON Protobuf Encoding") and then read with `Type.fromObject`.
 *
 * What it exposes is plain: `spans()`, `logs()`, `metrics()` flatten every accepted request, with
 * ids as lower-case hex, 64-bit integers as decimal strings (times) or numbers (attribute ints),
 * attributes as `{ key: value }` records, and each item's `resource` and `scope` beside it.
 * Modes: `slow(ms)` (answer after ms), `fail(status, times, retryAfter?)`, `partial(n, message)`,
 * `down()` / `up()` (the port refuses connections, then listens again on the same port).
 */
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import type { AddressInfo, Socket } from 'node:net';
import protobuf from 'protobufjs';

const PROTO_DIR = path.join(import.meta.dirname, 'otlp-proto');
const PKG = 'opentelemetry.proto';

let rootCache: protobuf.Root | null = null;

/** The official definitions, loaded once per process. */
export function otlpRoot(): protobuf.Root {
  if (rootCache) return rootCache;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(
    ['trace', 'logs', 'metrics'].map((s) => `opentelemetry/proto/collector/${s}/v1/${s}_service.proto`),
    { keepCase: false },
  );
  root.resolveAll();
  rootCache = root;
  return root;
}

export type OtlpSignal = 'traces' | 'logs' | 'metrics';

const REQUEST_TYPE: Record<OtlpSignal, string> = {
  traces: `${PKG}.collector.trace.v1.ExportTraceServiceRequest`,
  logs: `${PKG}.collector.logs.v1.ExportLogsServiceRequest`,
  metrics: `${PKG}.collector.metrics.v1.ExportMetricsServiceRequest`,
};
const RESPONSE_TYPE: Record<OtlpSignal, string> = {
  traces: `${PKG}.collector.trace.v1.ExportTraceServiceResponse`,
  logs: `${PKG}.collector.logs.v1.ExportLogsServiceResponse`,
  metrics: `${PKG}.collector.metrics.v1.ExportMetricsServiceResponse`,
};
const REJECTED_FIELD: Record<OtlpSignal, string> = { traces: 'rejectedSpans', logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints' };

/** Fields that are ids: hex in OTLP/JSON and in what this helper exposes. */
const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Array, defaults: false, arrays: false, json: false };

/** Decodes a binary protobuf body of `signal` into a plain object (ids hex). */
export function decodeProtobuf(signal: OtlpSignal, body: Uint8Array): Record<string, unknown> {
  const type = otlpRoot().lookupType(REQUEST_TYPE[signal]);
  const message = type.decode(body);
  return plain(type.toObject(message, TO_OBJECT)) as Record<string, unknown>;
}

/**
 * Decodes an OTLP/JSON body of `signal`: strictly checked against the official types (throws on
 * a key that is no field, a 64-bit integer not written as a string, an enum as a name, an id not
 * in hex), then the same plain object `decodeProtobuf` gives.
 */
export function decodeJson(signal: OtlpSignal, text: string): Record<string, unknown> {
  const type = otlpRoot().lookupType(REQUEST_TYPE[signal]);
  const json = JSON.parse(text) as unknown;
  checkJson(type, json, '$');
  const message = type.fromObject(hexIdsToBytes(json) as Record<string, unknown>);
  // fromObject then toObject normalises exactly as the protobuf path does
  return plain(type.toObject(message, TO_OBJECT)) as Record<string, unknown>;
}

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const SCALARS = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'bool', 'string', 'bytes', ...INT64_TYPES]);

function checkJson(type: protobuf.Type, value: unknown, at: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${at}: ${type.name} must be an object`);
  for (const [key, v] of Object.entries(value)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${at}.${key}: no field of ${type.fullName} is called that (OTLP/JSON keys are lowerCamelCase field names)`);
    if (field.repeated) {
      if (!Array.isArray(v)) throw new Error(`${at}.${key}: a repeated field must be an array`);
      v.forEach((item, i) => checkJsonValue(field, item, `${at}.${key}[${i}]`));
    } else checkJsonValue(field, v, `${at}.${key}`);
  }
}

function checkJsonValue(field: protobuf.Field, v: unknown, at: string): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return checkJson(resolved, v, at);
  if (resolved instanceof protobuf.Enum) {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${at}: OTLP/JSON enums are integers, got ${JSON.stringify(v)}`);
    return;
  }
  if (!SCALARS.has(field.type)) throw new Error(`${at}: unknown type ${field.type}`);
  if (INT64_TYPES.has(field.type)) {
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new Error(`${at}: a 64-bit integer is a decimal string in OTLP/JSON, got ${JSON.stringify(v)}`);
  } else if (field.type === 'bytes') {
    if (typeof v !== 'string') throw new Error(`${at}: bytes are a string`);
    if (ID_FIELDS.has(field.name) && !/^([0-9a-fA-F]{2})*$/.test(v)) throw new Error(`${at}: ids are hex in OTLP/JSON, got ${JSON.stringify(v)}`);
  } else if (field.type === 'string') {
    if (typeof v !== 'string') throw new Error(`${at}: a string, got ${JSON.stringify(v)}`);
  } else if (field.type === 'bool') {
    if (typeof v !== 'boolean') throw new Error(`${at}: a boolean, got ${JSON.stringify(v)}`);
  } else if (field.type === 'double' || field.type === 'float') {
    if (typeof v !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(v as string)) throw new Error(`${at}: a number, got ${JSON.stringify(v)}`);
  } else if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${at}: an integer, got ${JSON.stringify(v)}`);
}

function hexIdsToBytes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(hexIdsToBytes);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = ID_FIELDS.has(k) && typeof x === 'string' ? Buffer.from(x, 'hex') : hexIdsToBytes(x);
  return out;
}

/** toObject's output made plain: ids (byte arrays) as hex, other bytes as hex too. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((b) => typeof b === 'number')) return v; // packed numbers stay numbers
    return v.map(plain);
  }
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if ((ID_FIELDS.has(k) || k === 'bytesValue') && Array.isArray(x)) out[k] = Buffer.from(x as number[]).toString('hex');
    else out[k] = plain(x);
  }
  return out;
}

// ------------------------------------------------------------------ plain views

export type PlainValue = string | number | boolean | null | PlainValue[] | { [k: string]: PlainValue };

/** OTLP KeyValue[] as a record; an AnyValue as the JS value (int64 as a number, bytes as hex). */
export function attributesOf(list: unknown): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as { key: string; value?: Record<string, unknown> }[]) out[kv.key] = anyValue(kv.value);
  return out;
}

export function anyValue(v: Record<string, unknown> | undefined): PlainValue {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue as number;
  if ('bytesValue' in v) return v.bytesValue as string;
  if ('arrayValue' in v) return (((v.arrayValue as { values?: Record<string, unknown>[] }).values) ?? []).map(anyValue);
  if ('kvlistValue' in v) return attributesOf((v.kvlistValue as { values?: unknown }).values);
  return null;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' when the span has none. */
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, PlainValue>;
  events: { timeUnixNano: string; name: string; attributes: Record<string, PlainValue> }[];
  links: unknown[];
  status: { code: number; message: string };
  resource: Record<string, PlainValue>;
  scope: { name: string; version: string; attributes: Record<string, PlainValue> };
}

export interface ReceivedLog {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: PlainValue;
  attributes: Record<string, PlainValue>;
  flags: number;
  traceId: string;
  spanId: string;
  eventName: string;
  resource: Record<string, PlainValue>;
  scope: { name: string; version: string; attributes: Record<string, PlainValue> };
}

/** A metric as decoded (its data's points with plain attributes), with its resource and scope. */
export interface ReceivedMetric {
  name: string;
  description: string;
  unit: string;
  /** Which `data` oneof it carries: gauge, sum, histogram, exponentialHistogram, summary. */
  type: string;
  /** The data message without its points (aggregationTemporality, isMonotonic). */
  data: Record<string, unknown>;
  dataPoints: (Record<string, unknown> & { attributes: Record<string, PlainValue> })[];
  resource: Record<string, PlainValue>;
  scope: { name: string; version: string; attributes: Record<string, PlainValue> };
}

type Obj = Record<string, unknown>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

function scopeOf(s: unknown): ReceivedSpan['scope'] {
  const o = (s ?? {}) as Obj;
  return { name: (o.name as string) ?? '', version: (o.version as string) ?? '', attributes: attributesOf(o.attributes) };
}

export function flattenSpans(request: Obj): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of arr(request.resourceSpans)) {
    const resource = attributesOf((rs.resource as Obj | undefined)?.attributes);
    for (const ss of arr(rs.scopeSpans)) {
      const scope = scopeOf(ss.scope);
      for (const s of arr(ss.spans)) {
        const status = (s.status ?? {}) as Obj;
        out.push({
          traceId: (s.traceId as string) ?? '',
          spanId: (s.spanId as string) ?? '',
          parentSpanId: (s.parentSpanId as string) ?? '',
          traceState: (s.traceState as string) ?? '',
          flags: (s.flags as number) ?? 0,
          name: (s.name as string) ?? '',
          kind: (s.kind as number) ?? 0,
          startTimeUnixNano: (s.startTimeUnixNano as string) ?? '0',
          endTimeUnixNano: (s.endTimeUnixNano as string) ?? '0',
          attributes: attributesOf(s.attributes),
          events: arr(s.events).map((e) => ({ timeUnixNano: (e.timeUnixNano as string) ?? '0', name: (e.name as string) ?? '', attributes: attributesOf(e.attributes) })),
          links: arr(s.links),
          status: { code: (status.code as number) ?? 0, message: (status.message as string) ?? '' },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

export function flattenLogs(request: Obj): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of arr(request.resourceLogs)) {
    const resource = attributesOf((rl.resource as Obj | undefined)?.attributes);
    for (const sl of arr(rl.scopeLogs)) {
      const scope = scopeOf(sl.scope);
      for (const r of arr(sl.logRecords)) {
        out.push({
          timeUnixNano: (r.timeUnixNano as string) ?? '0',
          observedTimeUnixNano: (r.observedTimeUnixNano as string) ?? '0',
          severityNumber: (r.severityNumber as number) ?? 0,
          severityText: (r.severityText as string) ?? '',
          body: anyValue(r.body as Obj | undefined),
          attributes: attributesOf(r.attributes),
          flags: (r.flags as number) ?? 0,
          traceId: (r.traceId as string) ?? '',
          spanId: (r.spanId as string) ?? '',
          eventName: (r.eventName as string) ?? '',
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

const METRIC_DATA = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

export function flattenMetrics(request: Obj): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of arr(request.resourceMetrics)) {
    const resource = attributesOf((rm.resource as Obj | undefined)?.attributes);
    for (const sm of arr(rm.scopeMetrics)) {
      const scope = scopeOf(sm.scope);
      for (const m of arr(sm.metrics)) {
        const type = METRIC_DATA.find((k) => k in m) ?? '';
        const { dataPoints, ...data } = (m[type] ?? {}) as Obj;
        out.push({
          name: (m.name as string) ?? '',
          description: (m.description as string) ?? '',
          unit: (m.unit as string) ?? '',
          type,
          data,
          dataPoints: arr(dataPoints).map((p) => ({ ...p, attributes: attributesOf(p.attributes) })),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ the server

export interface ReceivedRequest {
  signal: OtlpSignal;
  contentType: string;
  headers: http.IncomingHttpHeaders;
  /** The status this receiver answered. */
  status: number;
  /** The decoded request (plain, ids hex); null when it was refused before decoding or did not decode. */
  body: Record<string, unknown> | null;
  /** Why decoding failed, if it did (answered 400). */
  error?: string;
}

const PATHS: Record<string, OtlpSignal> = { '/v1/traces': 'traces', '/v1/logs': 'logs', '/v1/metrics': 'metrics' };
/** OTLP/HTTP: servers limit request bodies (64 MiB recommended). */
const MAX_BODY = 64 * 1024 * 1024;

export class OtlpReceiver {
  readonly server: http.Server;
  port = 0;
  /** Every request, in arrival order, including refused and undecodable ones. */
  readonly requests: ReceivedRequest[] = [];
  /** Request bodies fully received, answered or not yet (a slow receiver answers later). */
  arrived = 0;
  #delayMs = 0;
  #failures: { status: number; times: number; retryAfter?: string } | null = null;
  #partial: { rejected: number; message: string } | null = null;
  #sockets = new Set<Socket>();
  #waiters = new Set<() => void>();

  constructor() {
    this.server = http.createServer((req, res) => this.#handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
  }

  static async start(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    await r.#listen(0);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests whose answer was 200 (what a collector accepted). */
  accepted(signal?: OtlpSignal): ReceivedRequest[] {
    return this.requests.filter((r) => r.status === 200 && r.body && (!signal || r.signal === signal));
  }

  spans(): ReceivedSpan[] {
    return this.accepted('traces').flatMap((r) => flattenSpans(r.body!));
  }

  logs(): ReceivedLog[] {
    return this.accepted('logs').flatMap((r) => flattenLogs(r.body!));
  }

  metrics(): ReceivedMetric[] {
    return this.accepted('metrics').flatMap((r) => flattenMetrics(r.body!));
  }

  /** The headers of every request, in order. */
  get headers(): http.IncomingHttpHeaders[] {
    return this.requests.map((r) => r.headers);
  }

  /** Answer every request `ms` after its body arrived (0: at once). */
  slow(ms: number): this {
    this.#delayMs = ms;
    return this;
  }

  /** Answer the next `times` requests with `status` (and `Retry-After`, if given) instead of accepting them. */
  fail(status: number, times = Infinity, retryAfter?: string): this {
    this.#failures = { status, times, retryAfter };
    return this;
  }

  /** Accept the next requests with a partial_success rejecting `rejected` items (null: plain success again). */
  partial(rejected: number | null, message = 'rejected by the test receiver'): this {
    this.#partial = rejected === null ? null : { rejected, message };
    return this;
  }

  /** Stops listening and cuts open connections: clients get connection refused until `up()`. */
  async down(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }

  /** Listens again, on the same port. */
  async up(): Promise<void> {
    await this.#listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  /** Resolves once `pred()` holds (checked now and after every request); rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`OtlpReceiver.waitFor: not within ${timeoutMs} ms (${this.requests.length} requests so far)`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #record(r: ReceivedRequest): void {
    this.requests.push(r);
    for (const w of [...this.#waiters]) w();
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      this.arrived++;
      for (const w of [...this.#waiters]) w();
      const answer = () => this.#answer(req, res, Buffer.concat(chunks), size);
      if (this.#delayMs > 0) setTimeout(answer, this.#delayMs);
      else answer();
    });
  }

  #answer(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer, size: number): void {
    if (res.destroyed) return;
    const signal = PATHS[(req.url ?? '').split('?')[0]];
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const json = contentType === 'application/json';
    const base = { contentType, headers: req.headers };
    if (req.method !== 'POST' || !signal) {
      res.writeHead(404).end();
      return;
    }
    if (size > MAX_BODY) {
      this.#record({ signal, ...base, status: 413, body: null });
      res.writeHead(413).end();
      return;
    }
    if (this.#failures && this.#failures.times > 0) {
      const { status, retryAfter } = this.#failures;
      this.#failures.times--;
      this.#record({ signal, ...base, status, body: null });
      res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf', ...(retryAfter ? { 'retry-after': retryAfter } : {}) }).end();
      return;
    }
    if (!json && contentType !== 'application/x-protobuf') {
      this.#record({ signal, ...base, status: 415, body: null, error: `content-type ${contentType}` });
      res.writeHead(415).end();
      return;
    }
    let body: Record<string, unknown>;
    try {
      const bytes = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
      body = json ? decodeJson(signal, bytes.toString('utf8')) : decodeProtobuf(signal, bytes);
    } catch (err) {
      this.#record({ signal, ...base, status: 400, body: null, error: (err as Error).message });
      res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
      return;
    }
    this.#record({ signal, ...base, status: 200, body });
    // the answer is the signal's Export*ServiceResponse, in the request's encoding
    const partial = this.#partial ? { partialSuccess: { [REJECTED_FIELD[signal]]: this.#partial.rejected, errorMessage: this.#partial.message } } : {};
    if (json) {
      const text = this.#partial ? JSON.stringify({ partialSuccess: { [REJECTED_FIELD[signal]]: String(this.#partial.rejected), errorMessage: this.#partial.message } }) : '{}';
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    } else {
      const type = otlpRoot().lookupType(RESPONSE_TYPE[signal]);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(type.encode(type.fromObject(partial)).finish());
    }
  }
}
