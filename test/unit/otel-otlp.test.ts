/**
 * The OTLP encoders (src/observability/otel/otlp.ts) against the official definitions: every
 * field we write, in both encodings, decoded by protobufjs with opentelemetry-proto's own .proto
 * files (test/helpers/otlp-receiver.ts), and the protobuf writer's primitives against protobufjs'.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import fc from 'fast-check';
import { encodeLogs, encodeLogsJson, encodeTraces, encodeTracesJson } from '../../src/observability/otel/otlp.ts';
import { ProtoWriter, nanosHalves, nanosString } from '../../src/observability/otel/protobuf.ts';
import type { LogRecord, SpanRecord } from '../../src/observability/otel/types.ts';
import { anyValue, decodeJson, decodeProtobuf, flattenLogs, flattenSpans } from '../helpers/otlp-receiver.ts';

const RESOURCE = { 'service.name': 'modelgate', 'service.version': '0.1.0', 'service.instance.id': 'w1', 'deployment.environment': 'test' };
const SCOPE = { name: 'modelgate', version: '0.1.0', attributes: { 'scope.attr': true } };

// 2024-04-05T19:34:38.901234567Z, written as the request path takes it: fractional epoch ms
const T0 = 1712345678901.234;

const SPANS: SpanRecord[] = [
  {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: null,
    name: 'kong',
    kind: 2,
    startMs: T0,
    endMs: T0 + 1234.5678,
    attributes: { 'http.request.method': 'POST', 'http.response.status_code': 200, 'url.full': 'http://gw/chat' },
    status: { code: 0 },
  },
  {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: '00f067aa0ba902b7',
    parentSpanId: 'b7ad6b7169203331',
    traceState: 'vendor=abc,other=1',
    remoteParent: false,
    name: 'chat gpt-4o-mini',
    kind: 3,
    startMs: T0 + 10.000001,
    endMs: T0 + 1200.999999,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.temperature': 0.7,
      'gen_ai.request.max_tokens': 256,
      'gen_ai.response.finish_reasons': ['stop', 'length'],
      'gen_ai.usage.input_tokens': 0,
      'gen_ai.is_stream': false,
      'modelgate.cost': 0.000123,
      'negative.int': -42,
      'ints': [1, -2, 3],
      'bools': [true, false],
      'unicode': 'héllo — 日本 🎉',
      'empty': '',
    },
    events: [
      { name: 'gen_ai.first_token', timeMs: T0 + 250.5 },
      { name: 'gen_ai.choice', timeMs: T0 + 1200, attributes: { index: 0, 'finish_reason': 'stop' } },
    ],
    status: { code: 2, message: 'upstream said 500' },
  },
  {
    traceId: 'ffffffffffffffffffffffffffffffff',
    spanId: 'ffffffffffffffff',
    parentSpanId: '0000000000000001',
    remoteParent: true,
    name: 'kong.balancer',
    kind: 1,
    startMs: T0,
    endMs: T0,
    attributes: {},
    status: { code: 1 },
  },
];

const LOGS: LogRecord[] = [
  {
    timeMs: T0 + 0.5,
    severityNumber: 9,
    severityText: 'INFO',
    body: 'POST /chat 200',
    attributes: { 'http.response.status_code': 200, route: 'r1', latency: 12.5 },
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
  },
  { timeMs: T0 + 1, severityNumber: 17, severityText: 'ERROR', body: 'no trace', attributes: {} },
];

/** What each span should read as once decoded (ids hex, times in ns as decimal strings). */
function expectedSpan(s: SpanRecord) {
  const flags = s.remoteParent === undefined ? 0x1 : 0x101 | (s.remoteParent ? 0x200 : 0);
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId ?? '',
    traceState: s.traceState ?? '',
    flags,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: exactNanos(s.startMs),
    endTimeUnixNano: exactNanos(s.endMs),
    attributes: s.attributes,
    events: (s.events ?? []).map((e) => ({ timeUnixNano: exactNanos(e.timeMs), name: e.name, attributes: e.attributes ?? {} })),
    links: [],
    status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
    resource: RESOURCE,
    scope: { name: SCOPE.name, version: SCOPE.version, attributes: SCOPE.attributes },
  };
}

/** Nanoseconds computed independently, with BigInt: whole ms × 1e6 + the sub-ms part rounded to ns. */
function exactNanos(ms: number): string {
  const whole = Math.floor(ms);
  const sub = Math.round((ms - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(sub)).toString();
}

for (const encoding of ['protobuf', 'json'] as const) {
  test(`spans round-trip through the official definitions (${encoding}): every field`, () => {
    const decoded =
      encoding === 'protobuf' ? decodeProtobuf('traces', encodeTraces(SPANS, RESOURCE, SCOPE)) : decodeJson('traces', encodeTracesJson(SPANS, RESOURCE, SCOPE));
    const spans = flattenSpans(decoded);
    assert.equal(spans.length, SPANS.length);
    spans.forEach((got, i) => assert.deepEqual(got, expectedSpan(SPANS[i]), `span ${i}`));
    // one ResourceSpans with one ScopeSpans: the whole batch shares its resource and scope
    assert.equal((decoded.resourceSpans as unknown[]).length, 1);
  });

  test(`log records round-trip through the official definitions (${encoding}): every field`, () => {
    const decoded = encoding === 'protobuf' ? decodeProtobuf('logs', encodeLogs(LOGS, RESOURCE, SCOPE)) : decodeJson('logs', encodeLogsJson(LOGS, RESOURCE, SCOPE));
    const logs = flattenLogs(decoded);
    assert.deepEqual(
      logs,
      LOGS.map((r) => ({
        timeUnixNano: exactNanos(r.timeMs),
        observedTimeUnixNano: exactNanos(r.timeMs),
        severityNumber: r.severityNumber,
        severityText: r.severityText,
        body: r.body,
        attributes: r.attributes,
        flags: r.traceId ? 1 : 0,
        traceId: r.traceId ?? '',
        spanId: r.spanId ?? '',
        eventName: '',
        resource: RESOURCE,
        scope: { name: SCOPE.name, version: SCOPE.version, attributes: SCOPE.attributes },
      })),
    );
  });
}

test('remembered attribute values: repeated, many-valued, long and look-alike values all decode as written', () => {
  // the encoder copies the KeyValue bytes of values it has seen with a key; a key with more than a
  // few dozen values stops being remembered; 1, '1' and true are different values
  const spans: SpanRecord[] = [];
  for (let i = 0; i < 300; i++) {
    spans.push({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: (i + 1).toString(16).padStart(16, '0'),
      parentSpanId: null,
      name: 'kong',
      kind: 2,
      startMs: T0 + i,
      endMs: T0 + i + 1,
      attributes: {
        'http.request.method': i % 2 ? 'POST' : 'GET',
        'kong.request.id': `req-${i}`,
        look: [1, '1', true, 1.5, -1][i % 5] as string | number | boolean,
        long: 'x'.repeat(100 + (i % 3) * 100),
        'gen_ai.usage.input_tokens': i,
        unicode: i % 2 ? 'héllo 日本' : 'hello',
      },
    });
  }
  for (let round = 0; round < 2; round++) {
    const got = flattenSpans(decodeProtobuf('traces', encodeTraces(spans, RESOURCE, SCOPE)));
    assert.equal(got.length, spans.length);
    got.forEach((g, i) => assert.deepEqual(g.attributes, spans[i].attributes, `round ${round}, span ${i}`));
  }
});

test('ids remembered from the span before: shared trace ids, parents named by the span before, remote parents and odd ids decode as written', () => {
  // the encoder writes an id field again from the bytes it made for the span before when the id
  // is the same (a request's spans share their trace id; the request span is its children's
  // parent); this holds it to the official definitions for any mix, across batches
  const traceIds = ['0af7651916cd43dd8448eb211c80319c', '4bf92f3577b34da6a3ce929d0e0e4736', '00000000000000000000000000000001', 'a3ce929d0e0e4736'];
  const spanIds = ['b7ad6b7169203331', '00f067aa0ba902b7', 'ffffffffffffffff', '0000000000000001', '00f067aa'];
  const span = fc.record({
    traceId: fc.constantFrom(...traceIds),
    spanId: fc.constantFrom(...spanIds),
    parentSpanId: fc.option(fc.constantFrom(...spanIds), { nil: null }),
  });
  fc.assert(
    fc.property(fc.array(fc.array(span, { maxLength: 8 }), { minLength: 1, maxLength: 3 }), (batches) => {
      for (const batch of batches) {
        const spans: SpanRecord[] = batch.map((ids, i) => ({ ...ids, name: 'kong', kind: 2, startMs: T0 + i, endMs: T0 + i + 1, attributes: {} }));
        const got = flattenSpans(decodeProtobuf('traces', encodeTraces(spans, RESOURCE, SCOPE)));
        assert.deepEqual(
          got.map((g) => [g.traceId, g.spanId, g.parentSpanId]),
          spans.map((s) => [s.traceId, s.spanId, s.parentSpanId ?? '']),
        );
      }
    }),
    { numRuns: 300 },
  );
});

test("a span's attributes written from the last span of its name: any change of keys, order, values, arrays or size decodes as written, in order", () => {
  // the encoder copies runs of attributes equal (by position, key and value) to the last span of
  // the same name from that span's bytes; this holds it to the official definitions for any mix,
  // across batches, with arrays changed by their owner after they were encoded
  const keys = ['http.route', 'n', 'arr', 'flag', 'gen_ai.response.id', 'big'];
  const stable: Record<string, string | number | boolean> = { 'http.route': 'x', n: 1, arr: 'A0', flag: true, 'gen_ai.response.id': 'y', big: 'BIG' };
  // mostly each key's usual value, as a route's spans have them, sometimes another or none
  const value = fc.oneof({ arbitrary: fc.constant('STABLE'), weight: 12 }, { arbitrary: fc.constantFrom('x', 'y', 1, 2, 1.5, true, 'A0', 'A1', null, undefined, 'BIG'), weight: 3 });
  const span = fc.record({
    name: fc.oneof({ arbitrary: fc.constant('kong'), weight: 4 }, { arbitrary: fc.constant('chat gpt-4o-mini'), weight: 1 }),
    values: fc.array(value, { minLength: keys.length, maxLength: keys.length }),
    upTo: fc.oneof({ arbitrary: fc.constant(keys.length), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: keys.length }), weight: 1 }),
    reversed: fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
  });
  const toAttributes = (b: { values: unknown[]; upTo: number; reversed: boolean }) => {
    const order = keys.map((k, i) => [k, b.values[i] === 'STABLE' ? stable[k] : b.values[i]] as const).slice(0, b.upTo);
    return b.reversed ? order.reverse() : order;
  };
  fc.assert(
    fc.property(fc.array(fc.array(span, { maxLength: 12 }), { minLength: 1, maxLength: 4 }), (batches) => {
      const arrays = [['stop'], ['stop', 'length']]; // shared by every span of the run, as a caller's array is
      const big = 'z'.repeat(1500); // past the size the encoder remembers with the rest
      for (const batch of batches) {
        const spans: SpanRecord[] = batch.map((b, i) => {
          const attributes: SpanRecord['attributes'] = {};
          for (const [k, v] of toAttributes(b)) (attributes as Record<string, unknown>)[k] = v === 'A0' ? arrays[0] : v === 'A1' ? arrays[1] : v === 'BIG' ? big : v;
          return { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: null, name: b.name, kind: 2, startMs: T0 + i, endMs: T0 + i + 1, attributes };
        });
        const expected = spans.map((s) => Object.entries(s.attributes).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]));
        const decoded = decodeProtobuf('traces', encodeTraces(spans, RESOURCE, SCOPE)) as any;
        const got = (decoded.resourceSpans?.[0]?.scopeSpans?.[0]?.spans ?? []).map((s: any) => (s.attributes ?? []).map((kv: any) => [kv.key, anyValue(kv.value)]));
        assert.deepEqual(got, expected);
        arrays[0].push('length'); // the owner changes its arrays after the batch left
        arrays[1].pop();
      }
    }),
    { numRuns: 400 },
  );
});

test('an empty batch is a valid request in both encodings', () => {
  assert.deepEqual(flattenSpans(decodeProtobuf('traces', encodeTraces([], RESOURCE, { name: 'x' }))), []);
  assert.deepEqual(flattenLogs(decodeJson('logs', encodeLogsJson([], {}, { name: 'x' }))), []);
});

test('OTLP/JSON spelling: lowerCamelCase keys, hex ids, enums as integers, 64-bit integers as strings', () => {
  const json = JSON.parse(encodeTracesJson([SPANS[1]], RESOURCE, SCOPE));
  const span = json.resourceSpans[0].scopeSpans[0].spans[0];
  assert.equal(span.traceId, SPANS[1].traceId);
  assert.equal(span.parentSpanId, SPANS[1].parentSpanId);
  assert.equal(span.kind, 3);
  assert.equal(span.status.code, 2);
  assert.equal(typeof span.startTimeUnixNano, 'string');
  const maxTokens = span.attributes.find((a: { key: string }) => a.key === 'gen_ai.request.max_tokens');
  assert.deepEqual(maxTokens.value, { intValue: '256' });
  const temperature = span.attributes.find((a: { key: string }) => a.key === 'gen_ai.request.temperature');
  assert.deepEqual(temperature.value, { doubleValue: 0.7 });
  // the receiver's strict check refuses what the spec forbids, so the round trips above mean something
  assert.throws(() => decodeJson('traces', JSON.stringify({ resource_spans: [] })), /lowerCamelCase/);
  assert.throws(() => decodeJson('traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ kind: 'SPAN_KIND_CLIENT' }] }] }] })), /enums are integers/);
  assert.throws(() => decodeJson('traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ startTimeUnixNano: 5 }] }] }] })), /decimal string/);
});

test('nanoseconds from fractional ms: exact to the ns for any epoch ms, without BigInt on the way', () => {
  fc.assert(
    fc.property(fc.double({ min: 1, max: 4_102_444_800_000, noNaN: true }), (ms) => {
      const want = exactNanos(ms);
      assert.equal(nanosString(ms), want);
      const [lo, hi] = nanosHalves(ms);
      assert.equal((BigInt(hi) * 4294967296n + BigInt(lo)).toString(), want);
    }),
  );
  assert.equal(nanosString(0), '0');
  assert.equal(nanosString(0.000001), '1');
  assert.equal(nanosString(1.9999999), '2000000'); // the sub-ms part rounds up into the next ms
});

test('the protobuf writer writes what protobufjs writes (varints, negatives, doubles, strings, nesting)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.double(),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      fc.nat({ max: 2 ** 32 - 1 }),
      (int, dbl, str, u32) => {
        const w = new ProtoWriter(8); // tiny: every call grows it
        w.int64Field(1, int).doubleField(2, dbl).fork(3).stringField(1, str).fork(2).uint32Field(1, u32).join().join().fixed32Field(4, u32);
        const mine = w.finish();
        const ref = protobuf.Writer.create();
        ref.uint32(8).int64(int).uint32(17).double(dbl);
        ref.uint32(26).fork().uint32(10).string(str).uint32(18).fork().uint32(8).uint32(u32).ldelim().ldelim();
        ref.uint32(37).fixed32(u32);
        assert.deepEqual(Buffer.from(mine), Buffer.from(ref.finish()));
      },
    ),
  );
});

test('a message opened wide (two bytes kept for its length) writes what protobufjs writes at every length, nested or not', () => {
  // forkWide: a span's body, usually 128 to 16,383 bytes, is not moved; shorter and longer ones move
  for (const n of [0, 1, 60, 124, 125, 126, 127, 128, 200, 16_380, 16_381, 16_383, 16_384, 20_000, 2_100_000]) {
    const bytes = new Uint8Array(n).map((_, i) => i % 251);
    const w = new ProtoWriter(8);
    w.uint32Field(1, 7).forkWide(2).bytesField(3, bytes).fork(4).uint32Field(1, n).join().join().forkWide(5).join().uint32Field(6, 9);
    const ref = protobuf.Writer.create();
    ref.uint32(8).uint32(7).uint32(18).fork().uint32(26).bytes(bytes).uint32(34).fork().uint32(8).uint32(n).ldelim().ldelim();
    ref.uint32(42).fork().ldelim().uint32(48).uint32(9);
    assert.deepEqual(Buffer.from(w.finish()), Buffer.from(ref.finish()), `${n} bytes`);
  }
});

test("strings whose UTF-8 length needs a longer varint than their UTF-16 length write what protobufjs writes", () => {
  // the writer reserves the length for an ASCII string's bytes and moves the body when UTF-8 needs more
  for (const str of ['é'.repeat(63), 'é'.repeat(64), 'é'.repeat(100), '日本'.repeat(30), 'a'.repeat(127) + 'é', '🎉'.repeat(40), 'x'.repeat(50), 'é'.repeat(8200)]) {
    const w = new ProtoWriter(8);
    w.stringField(1, str).fork(2).stringField(3, str).join();
    const ref = protobuf.Writer.create();
    ref.uint32(10).string(str).uint32(18).fork().uint32(26).string(str).ldelim();
    assert.deepEqual(Buffer.from(w.finish()), Buffer.from(ref.finish()), `${str.length} characters`);
  }
});

test('nesting deeper than the writer first keeps track of, and bodies long enough to move, write what protobufjs writes', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.string({ maxLength: 200 }), (depth, str) => {
      const w = new ProtoWriter(8);
      const ref = protobuf.Writer.create();
      for (let i = 0; i < depth; i++) {
        w.fork(1 + (i % 20));
        ref.uint32((1 + (i % 20)) * 8 + 2).fork();
      }
      w.stringField(2, str);
      ref.uint32(18).string(str);
      for (let i = 0; i < depth; i++) {
        w.join();
        ref.ldelim();
      }
      assert.deepEqual(Buffer.from(w.finish()), Buffer.from(ref.finish()));
    }),
  );
});

test('the writer is reused: a second message does not carry bytes of the first', () => {
  const a = encodeTraces(SPANS, RESOURCE, SCOPE);
  const b = encodeTraces([SPANS[2]], {}, { name: 'x' });
  const again = encodeTraces(SPANS, RESOURCE, SCOPE);
  assert.deepEqual(Buffer.from(again), Buffer.from(a), 'the same input, the same bytes');
  assert.equal(flattenSpans(decodeProtobuf('traces', b)).length, 1);
});
