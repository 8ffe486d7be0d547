/**
 * OTLP encoders for spans and log records: `ExportTraceServiceRequest` and
 * `ExportLogsServiceRequest` as binary protobuf (OTLP/HTTP `application/x-protobuf`) and as
 * OTLP/JSON (`application/json`). Field numbers are opentelemetry-proto v1.11.0's
 * (opentelemetry/proto/{common,resource,trace,logs}/v1/*.proto, collector/*_service.proto; the
 * test receiver decodes with those very files, test/helpers/otlp-proto/). The JSON form follows the
 * OTLP specification's "JSON Protobuf Encoding": lowerCamelCase keys, trace and span ids as hex
 * strings, enums as integers, 64-bit integers as decimal strings, default values left out.
 *
 * Runs off the request path, once per batch (exporter.ts). One writer is reused by every call:
 * encoding is synchronous, so calls never interleave.
 */
import { ProtoWriter, nanosString } from './protobuf.ts';
import { BoundedMap } from '../../util/bounded-map.ts';
import type { AttributeValue, Attributes, LogRecord, SpanEvent, SpanRecord } from './types.ts';

/** InstrumentationScope: who produced the items (the plugin's name and the gateway's version). */
export interface InstrumentationScope {
  name: string;
  version?: string;
  attributes?: Attributes;
}

// Field numbers (opentelemetry-proto v1.11.0).
const F = {
  // ExportTraceServiceRequest / ExportLogsServiceRequest
  resourceSpans: 1,
  resourceLogs: 1,
  // ResourceSpans / ResourceLogs
  resource: 1,
  scopeSpans: 2,
  scopeLogs: 2,
  // Resource
  resourceAttributes: 1,
  // ScopeSpans / ScopeLogs
  scope: 1,
  spans: 2,
  logRecords: 2,
  // InstrumentationScope
  scopeName: 1,
  scopeVersion: 2,
  scopeAttributes: 3,
  // KeyValue
  key: 1,
  value: 2,
  // AnyValue
  stringValue: 1,
  boolValue: 2,
  intValue: 3,
  doubleValue: 4,
  arrayValue: 5,
  // ArrayValue
  arrayValues: 1,
  // Span
  traceId: 1,
  spanId: 2,
  traceState: 3,
  parentSpanId: 4,
  name: 5,
  kind: 6,
  startTime: 7,
  endTime: 8,
  attributes: 9,
  events: 11,
  status: 15,
  spanFlags: 16,
  // Span.Event
  eventTime: 1,
  eventName: 2,
  eventAttributes: 3,
  // Status
  statusMessage: 2,
  statusCode: 3,
  // LogRecord
  logTime: 1,
  severityNumber: 2,
  severityText: 3,
  body: 5,
  logAttributes: 6,
  logFlags: 8,
  logTraceId: 9,
  logSpanId: 10,
  observedTime: 11,
} as const;

/**
 * Span.flags: the W3C trace flags in bits 0–7 (every exported span was sampled: 0x01), and bits
 * 8–9 when it is known whether the parent was remote (SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK,
 * SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK).
 */
const SAMPLED = 0x01;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

function spanFlags(span: SpanRecord): number {
  if (span.remoteParent === undefined) return SAMPLED;
  return SAMPLED | HAS_IS_REMOTE | (span.remoteParent ? IS_REMOTE : 0);
}

const writer = new ProtoWriter(64 * 1024);

// ------------------------------------------------------------------ protobuf

/** ExportTraceServiceRequest: one ResourceSpans, one ScopeSpans, the spans. */
export function encodeTraces(spans: readonly SpanRecord[], resource: Attributes, scope: InstrumentationScope): Uint8Array {
  return tracesEncoder(resource, scope)(spans);
}

/** ExportLogsServiceRequest: one ResourceLogs, one ScopeLogs, the records. */
export function encodeLogs(records: readonly LogRecord[], resource: Attributes, scope: InstrumentationScope): Uint8Array {
  return logsEncoder(resource, scope)(records);
}

/**
 * encodeTraces for one resource and scope, whose bytes are encoded once, here: an exporter makes
 * one and calls it per batch (the resource is the same for every batch it sends). It writes into
 * a buffer of its own and returns a view of it, valid until its next call: an exporter encodes a
 * batch only once the previous one is delivered or given up, so a batch costs no copy (tens of KB).
 */
export function tracesEncoder(resource: Attributes, scope: InstrumentationScope): (spans: readonly SpanRecord[]) => Uint8Array {
  const head = encodeHead(resource, scope);
  const own = new ProtoWriter(16 * 1024);
  return (spans) => {
    const w = own.reset();
    w.fork(F.resourceSpans);
    w.raw(head.resource);
    w.fork(F.scopeSpans);
    w.raw(head.scope);
    for (let i = 0; i < spans.length; i++) writeSpan(w, spans[i]);
    w.join();
    w.join();
    return w.written();
  };
}

/** encodeLogs for one resource and scope, encoded once. */
export function logsEncoder(resource: Attributes, scope: InstrumentationScope): (records: readonly LogRecord[]) => Uint8Array {
  const head = encodeHead(resource, scope);
  return (records) => {
    const w = writer.reset();
    w.fork(F.resourceLogs);
    w.raw(head.resource);
    w.fork(F.scopeLogs);
    w.raw(head.scope);
    for (let i = 0; i < records.length; i++) writeLogRecord(w, records[i]);
    w.join();
    w.join();
    return w.finish();
  };
}

/** The `resource` field of a Resource{Spans,Logs} and the `scope` field of a Scope{Spans,Logs} (both field 1), as bytes. */
function encodeHead(resource: Attributes, scope: InstrumentationScope): { resource: Uint8Array; scope: Uint8Array } {
  const w = new ProtoWriter(256);
  writeResource(w, resource);
  const r = w.finish();
  writeScope(w.reset(), scope);
  return { resource: r, scope: w.finish() };
}

function writeResource(w: ProtoWriter, resource: Attributes): void {
  w.fork(F.resource);
  writeAttributes(w, F.resourceAttributes, resource);
  w.join();
}

function writeScope(w: ProtoWriter, scope: InstrumentationScope): void {
  w.fork(F.scope);
  if (scope.name) w.stringField(F.scopeName, scope.name);
  if (scope.version) w.stringField(F.scopeVersion, scope.version);
  if (scope.attributes) writeAttributes(w, F.scopeAttributes, scope.attributes);
  w.join();
}

/**
 * An id field as bytes (tag, length, id), remembered from the span before: a request's spans come
 * together in a batch and share their trace id, and the first of them (the request span) is the
 * others' parent, so most id fields are bytes already made instead of hex turned into bytes again.
 */
class IdField {
  hex = '';
  readonly bytes: Uint8Array;
  constructor(field: number, idBytes: number) {
    this.bytes = new Uint8Array(idBytes + 2);
    this.bytes[0] = field * 8 + 2; // length-delimited; one byte for every field number here
    this.bytes[1] = idBytes;
  }
  /** Writes the field: the remembered bytes when `hex` is the same id, else from the hex (then remembered). */
  write(w: ProtoWriter, hex: string): void {
    if (hex === this.hex) {
      w.raw(this.bytes);
      return;
    }
    const at = w.pos;
    w.hexField(this.bytes[0] >>> 3, hex);
    this.remember(w, at, hex);
  }
  /** Remembers `hex` from its field just written at `at` (this field's or another's: the id bytes are the same). */
  remember(w: ProtoWriter, at: number, hex: string): void {
    const n = this.bytes.length - 2;
    if (w.pos - at !== n + 2) return; // not an id of the usual length: written, not remembered
    w.copyWritten(at + 2, n, this.bytes, 2);
    this.hex = hex;
  }
}

const TRACE_ID = new IdField(F.traceId, 16);
/** The last request span's id as a parent (its children's field 4). */
const PARENT_ID = new IdField(F.parentSpanId, 8);

/** Names up to this long are written by the writer's short-string loop; longer ones from their field's bytes (SpanName). */
const NAME_LOOP_MAX = 12;

/**
 * What the encoder keeps per span name: the name's field bytes when it is longer than the
 * writer's short-string loop (names are few, `kong`, `kong.access.plugin.<name>`, `chat <model>`,
 * and repeat in every batch; a longer one otherwise goes through Buffer's UTF-8 writer for every
 * span), and the block of its spans' opening attributes. One lookup a span for both. Bounded like
 * the keys (names come from code, routes and models).
 */
class SpanName {
  readonly field: Uint8Array | null;
  readonly attributes = new AttributeBlock();
  constructor(name: string) {
    this.field = name.length > NAME_LOOP_MAX ? keyWriter.reset().stringField(F.name, name).finish() : null;
  }
}

const SPAN_NAMES = new BoundedMap<string, SpanName>(1024);

function spanNameOf(name: string): SpanName {
  let known = SPAN_NAMES.get(name);
  if (known === undefined) SPAN_NAMES.set(name, (known = new SpanName(name)));
  return known;
}

function writeSpan(w: ProtoWriter, span: SpanRecord): void {
  w.forkWide(F.spans); // a span is 128 bytes or more but for the barest
  TRACE_ID.write(w, span.traceId);
  const idAt = w.pos;
  w.hexField(F.spanId, span.spanId);
  if (span.traceState) w.stringField(F.traceState, span.traceState);
  if (span.parentSpanId) PARENT_ID.write(w, span.parentSpanId);
  else PARENT_ID.remember(w, idAt, span.spanId); // a request span: the parent of the spans after it
  const named = spanNameOf(span.name);
  if (named.field === null) w.stringField(F.name, span.name);
  else w.raw(named.field);
  if (span.kind) w.uint32Field(F.kind, span.kind);
  w.timeField(F.startTime, span.startMs);
  w.timeField(F.endTime, span.endMs);
  writeSpanAttributes(w, named.attributes, span.attributes);
  const events = span.events;
  if (events) for (let i = 0; i < events.length; i++) writeEvent(w, events[i]);
  const status = span.status;
  if (status && (status.code !== 0 || status.message)) {
    w.fork(F.status);
    if (status.message) w.stringField(F.statusMessage, status.message);
    if (status.code) w.uint32Field(F.statusCode, status.code);
    w.join();
  }
  w.fixed32Field(F.spanFlags, spanFlags(span));
  w.join();
}

function writeEvent(w: ProtoWriter, event: SpanEvent): void {
  w.fork(F.events);
  w.timeField(F.eventTime, event.timeMs);
  w.stringField(F.eventName, event.name);
  if (event.attributes) writeAttributes(w, F.eventAttributes, event.attributes);
  w.join();
}

function writeLogRecord(w: ProtoWriter, record: LogRecord): void {
  w.fork(F.logRecords);
  w.timeField(F.logTime, record.timeMs);
  w.timeField(F.observedTime, record.timeMs);
  if (record.severityNumber) w.uint32Field(F.severityNumber, record.severityNumber);
  if (record.severityText) w.stringField(F.severityText, record.severityText);
  w.fork(F.body).stringField(F.stringValue, record.body).join();
  writeAttributes(w, F.logAttributes, record.attributes);
  if (record.traceId) {
    // the record belongs to a sampled trace: its trace flags say so
    w.fixed32Field(F.logFlags, SAMPLED);
    w.hexField(F.logTraceId, record.traceId);
  }
  if (record.spanId) w.hexField(F.logSpanId, record.spanId);
  w.join();
}

/**
 * What the encoder knows of one attribute key: its KeyValue.key field (tag, length, UTF-8), and the
 * whole KeyValue bodies of the scalar values seen with it. A batch writes the same few dozen keys
 * over and over, most of them with a handful of values (method, route, provider, model, server
 * address, status): those are copied as bytes instead of encoded again, where encoding a KeyValue
 * and its AnyValue was most of a span's cost in a loaded worker (docs/performance.md,
 * "OpenTelemetry"). A key that shows more than VALUES_PER_KEY distinct values (ids, costs, token
 * counts) stops being remembered and is always encoded. Bounded: keys come from code and
 * configuration, but a cache must not grow without end (both maps start over when full).
 */
interface KeyEntry {
  key: Uint8Array;
  /** KeyValue bodies by value, each after its length (what follows the field's tag); null once the key proved to have too many values to be worth it. */
  values: Map<string | number | boolean, Uint8Array> | null;
  /** The value this key was last written with, and its body: a route's spans repeat their values, so most attributes stop here without a lookup. */
  lastValue: string | number | boolean | undefined;
  lastBody: Uint8Array | undefined;
}

const KEYS = new Map<string, KeyEntry>();
const KEY_CACHE_MAX = 4096;
const VALUES_PER_KEY = 64;
/** Longer strings are never remembered (a prompt in an attribute, a user agent). */
const VALUE_CHARS_MAX = 128;
let rememberedValues = 0;
const REMEMBERED_VALUES_MAX = 16_384;
const keyWriter = new ProtoWriter(256);

function keyEntry(key: string): KeyEntry {
  let e = KEYS.get(key);
  if (e === undefined) {
    if (KEYS.size >= KEY_CACHE_MAX) forgetAll();
    e = { key: keyWriter.reset().stringField(F.key, key).finish(), values: new Map(), lastValue: undefined, lastBody: undefined };
    KEYS.set(key, e);
  }
  return e;
}

function forgetAll(): void {
  KEYS.clear();
  rememberedValues = 0;
}

/** The length-prefixed KeyValue body of a scalar attribute, remembered when its key still takes new values; undefined: encode it in place. */
function keyValueBody(e: KeyEntry, value: string | number | boolean): Uint8Array | undefined {
  const values = e.values!;
  let body = values.get(value);
  if (body !== undefined) return body;
  if (values.size >= VALUES_PER_KEY) {
    e.values = null;
    rememberedValues -= values.size;
    return undefined;
  }
  if ((typeof value === 'string' && value.length > VALUE_CHARS_MAX) || rememberedValues >= REMEMBERED_VALUES_MAX) return undefined;
  const w = keyWriter.reset().raw(e.key).fork(F.value);
  writeAnyValue(w, value);
  const kv = w.join().finish();
  body = keyWriter.reset().bytes(kv).finish();
  values.set(value, body);
  rememberedValues++;
  return body;
}

function writeAttributes(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    writeAttribute(w, field, key, value);
  }
}

/** One KeyValue field: from its key's last value's bytes, or its remembered values', or encoded. */
function writeAttribute(w: ProtoWriter, field: number, key: string, value: AttributeValue): void {
  const e = keyEntry(key);
  if (value === e.lastValue) {
    w.tag(field, 2).raw(e.lastBody!);
    return;
  }
  if (e.values !== null && typeof value !== 'object') {
    const body = keyValueBody(e, value);
    if (body !== undefined) {
      e.lastValue = value;
      e.lastBody = body;
      w.tag(field, 2).raw(body);
      return;
    }
  }
  w.fork(field);
  w.raw(e.key);
  w.fork(F.value);
  writeAnyValue(w, value);
  w.join();
  w.join();
}

/**
 * The attributes that open every span of one name, as their KeyValue fields' bytes. Spans of one
 * name are built by the same code, which adds their attributes in the same order, and the first
 * ones repeat from span to span (scheme, method, route, status; operation, provider, model,
 * server): a span whose first attributes equal the block's (by key and value, in order; arrays
 * element by element) has them written by one copy, and only the rest (a request id, a response
 * id, usage, a time) go through the per-key path (writeAttribute). Where a lookup and a copy per
 * attribute were most of what the encoder cost a traced request (docs/performance.md, "Thirteenth
 * look").
 *
 * The block learns: a span that differs inside it cuts it back to what matched; an attribute that
 * follows the whole block with the same key and value as the span before's is added to it. So a
 * value that changes every span (an id) ends the block, and the builders add those last. Nothing
 * is copied out of a span once the block has settled.
 */
class AttributeBlock {
  n = 0;
  readonly keys: string[] = [];
  readonly values: AttributeValue[] = [];
  /** Where attribute i's KeyValue field ends in `bytes`. */
  ends: Int32Array = new Int32Array(16);
  bytes: Uint8Array = new Uint8Array(512);
  /** bytes[0, ends[n - 1]): what a span that matches the whole block gets. */
  whole: Uint8Array = this.bytes.subarray(0, 0);
  /** The attribute that followed the whole block in the span before (added once it repeats). */
  nextKey = '';
  nextValue: AttributeValue | undefined = undefined;
}

/** The block stops growing here: a long value (content, a prompt) is not worth keeping a copy of. */
const BLOCK_BYTES_MAX = 2048;

function sameValue(a: AttributeValue | undefined, b: AttributeValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A value short enough to be held as the next attribute to add (the block's own values are bounded by its bytes). */
function small(value: AttributeValue): boolean {
  if (typeof value === 'string') return value.length <= VALUE_CHARS_MAX;
  if (typeof value !== 'object') return true;
  if (value.length > 16) return false;
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    if (typeof item === 'string' && item.length > VALUE_CHARS_MAX) return false;
  }
  return true;
}

/** A value as the block keeps it: an array copied, as its owner could change it after. */
function kept(value: AttributeValue): AttributeValue {
  return typeof value === 'object' ? value.slice() : value;
}

function writeSpanAttributes(w: ProtoWriter, block: AttributeBlock, attributes: Attributes): void {
  const { keys, values } = block;
  let i = 0;
  let matching = true;
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    if (matching) {
      if (i < block.n && keys[i] === key && sameValue(values[i], value)) {
        i++;
        continue;
      }
      matching = false;
      writeBlockPrefix(w, block, i);
      if (i === block.n) {
        // the attribute after the whole block: added to it when it repeats the span before's
        const at = w.pos;
        writeAttribute(w, F.attributes, key, value);
        if (key === block.nextKey && sameValue(block.nextValue, value)) grow(w, block, key, value, at);
        else if (small(value)) {
          block.nextKey = key;
          block.nextValue = kept(value);
        } else {
          block.nextKey = ''; // a long value (content, a prompt) is neither held nor added
          block.nextValue = undefined;
        }
        i++;
        continue;
      }
    }
    writeAttribute(w, F.attributes, key, value);
    i++;
  }
  if (matching) writeBlockPrefix(w, block, i);
}

/** Writes the block's first `k` attributes (the ones the span matched); fewer than the block has: the block is cut back to them. */
function writeBlockPrefix(w: ProtoWriter, block: AttributeBlock, k: number): void {
  if (k < block.n) {
    block.n = k;
    block.whole = block.bytes.subarray(0, k === 0 ? 0 : block.ends[k - 1]);
    block.nextKey = '';
  }
  if (k !== 0) w.raw(block.whole);
}

/** Adds the attribute just written at `at` to the end of the block, unless the block would pass its size. */
function grow(w: ProtoWriter, block: AttributeBlock, key: string, value: AttributeValue, at: number): void {
  const n = block.n;
  const from = n === 0 ? 0 : block.ends[n - 1];
  const end = from + w.pos - at;
  if (end > BLOCK_BYTES_MAX) return;
  if (end > block.bytes.length) {
    const more = new Uint8Array(Math.max(end, block.bytes.length * 2));
    more.set(block.bytes.subarray(0, from));
    block.bytes = more;
  }
  if (n === block.ends.length) {
    const more = new Int32Array(n * 2);
    more.set(block.ends);
    block.ends = more;
  }
  w.copyWritten(at, w.pos - at, block.bytes, from);
  block.keys[n] = key;
  block.values[n] = kept(value);
  block.ends[n] = end;
  block.n = n + 1;
  block.whole = block.bytes.subarray(0, end);
  block.nextKey = '';
  block.nextValue = undefined;
}

/** The fields of an AnyValue (the caller opened it). */
function writeAnyValue(w: ProtoWriter, value: AttributeValue): void {
  switch (typeof value) {
    case 'string':
      w.stringField(F.stringValue, value);
      return;
    case 'boolean':
      w.boolField(F.boolValue, value);
      return;
    case 'number':
      // Attributes carry no declared type: a safe integer is OTLP's int, anything else a double.
      if (Number.isSafeInteger(value)) w.int64Field(F.intValue, value);
      else w.doubleField(F.doubleValue, value);
      return;
    default:
      w.fork(F.arrayValue);
      for (const item of value) {
        w.fork(F.arrayValues);
        writeAnyValue(w, item);
        w.join();
      }
      w.join();
  }
}

// ------------------------------------------------------------------ JSON

type JsonAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number | string }
  | { arrayValue: { values: JsonAnyValue[] } };

interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

/** ExportTraceServiceRequest in OTLP/JSON. */
export function encodeTracesJson(spans: readonly SpanRecord[], resource: Attributes, scope: InstrumentationScope): string {
  return JSON.stringify({
    resourceSpans: [{ resource: jsonResource(resource), scopeSpans: [{ scope: jsonScope(scope), spans: spans.map(jsonSpan) }] }],
  });
}

/** ExportLogsServiceRequest in OTLP/JSON. */
export function encodeLogsJson(records: readonly LogRecord[], resource: Attributes, scope: InstrumentationScope): string {
  return JSON.stringify({
    resourceLogs: [{ resource: jsonResource(resource), scopeLogs: [{ scope: jsonScope(scope), logRecords: records.map(jsonLogRecord) }] }],
  });
}

function jsonResource(resource: Attributes): { attributes: JsonKeyValue[] } {
  return { attributes: jsonAttributes(resource) };
}

function jsonScope(scope: InstrumentationScope): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (scope.name) out.name = scope.name;
  if (scope.version) out.version = scope.version;
  if (scope.attributes) out.attributes = jsonAttributes(scope.attributes);
  return out;
}

function jsonSpan(span: SpanRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { traceId: span.traceId, spanId: span.spanId };
  if (span.traceState) out.traceState = span.traceState;
  if (span.parentSpanId) out.parentSpanId = span.parentSpanId;
  out.flags = spanFlags(span);
  out.name = span.name;
  if (span.kind) out.kind = span.kind;
  out.startTimeUnixNano = nanosString(span.startMs);
  out.endTimeUnixNano = nanosString(span.endMs);
  out.attributes = jsonAttributes(span.attributes);
  if (span.events?.length) out.events = span.events.map(jsonEvent);
  const status = span.status;
  if (status && (status.code !== 0 || status.message)) {
    const s: Record<string, unknown> = {};
    if (status.message) s.message = status.message;
    if (status.code) s.code = status.code;
    out.status = s;
  }
  return out;
}

function jsonEvent(event: SpanEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { timeUnixNano: nanosString(event.timeMs), name: event.name };
  if (event.attributes) out.attributes = jsonAttributes(event.attributes);
  return out;
}

function jsonLogRecord(record: LogRecord): Record<string, unknown> {
  const time = nanosString(record.timeMs);
  const out: Record<string, unknown> = { timeUnixNano: time, observedTimeUnixNano: time };
  if (record.severityNumber) out.severityNumber = record.severityNumber;
  if (record.severityText) out.severityText = record.severityText;
  out.body = { stringValue: record.body };
  out.attributes = jsonAttributes(record.attributes);
  if (record.traceId) {
    out.flags = SAMPLED;
    out.traceId = record.traceId;
  }
  if (record.spanId) out.spanId = record.spanId;
  return out;
}

function jsonAttributes(attributes: Attributes): JsonKeyValue[] {
  const out: JsonKeyValue[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    out.push({ key, value: jsonAnyValue(value) });
  }
  return out;
}

function jsonAnyValue(value: AttributeValue | string | number | boolean): JsonAnyValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      if (Number.isSafeInteger(value)) return { intValue: String(value) };
      // proto3 JSON spells the non-finite doubles as strings
      if (Number.isNaN(value)) return { doubleValue: 'NaN' };
      if (!Number.isFinite(value)) return { doubleValue: value > 0 ? 'Infinity' : '-Infinity' };
      return { doubleValue: value };
    default:
      return { arrayValue: { values: (value as (string | number | boolean)[]).map(jsonAnyValue) } };
  }
}
