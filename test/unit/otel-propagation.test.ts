/**
 * Trace context propagation (src/observability/otel/propagation/): every format read and written,
 * the precedence of extraction, malformed headers ignored, round trips, the configuration fold of
 * `header_type`, and the id generator.
 *
 * The vectors marked "Kong:" are Kong's own, same inputs and same outputs, from
 * spec/01-unit/26-observability/02-propagation_strategies_spec.lua (per-format extract/inject) and
 * spec/01-unit/26-observability/03-propagation_module_spec.lua (extract order, preserve, several
 * injectors). Kong's context has `span_id` (our spanId), `should_sample` (sampled; nil → null) and
 * `trace_id_original_size` (traceIdBytes). Where we answer differently on purpose it is said there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { compilePropagation, extract, extractEveryFormat, headersToClear, injectHeaders, LEGACY_EXTRACT, type InjectContext } from '../../src/observability/otel/propagation/index.ts';
import { newSpanId, newTraceId } from '../../src/observability/otel/ids.ts';
import { injectTrace, Trace } from '../../src/observability/otel/trace.ts';
import { PROPAGATION_FORMATS, type PropagationFormat, type TraceContext } from '../../src/observability/otel/types.ts';

// Kong's ids (02-propagation_strategies_spec.lua)
const T16 = '0af7651916cd43dd8448eb211c80319c';
const T8 = '8448eb211c80319c';
const T8_DEC = '9532127138774266268';
const S1 = 'b7ad6b7169203331';
const S1_DEC = '13235353014750950193';
const S2 = 'b7ad6b7169203332';
const BIG_T8 = 'fffffffffffffff1';
const BIG_T16 = 'fffffffffffffffffffffffffffffff1';
const BIG_S = 'fffffffffffffff3';
const BIG_T8_DEC = '18446744073709551601';
const BIG_S_DEC = '18446744073709551603';
const BIG_T16_DEC = '340282366920938463463374607431768211441';
const TOO_LONG = '1234567890123456789012345678901234567890';
const PAD = '0'.repeat(16);
const ALL = [...PROPAGATION_FORMATS];

/** The fields a context is compared on (undefined ones dropped, so absent and undefined compare equal). */
function shape(ctx: TraceContext | null): Partial<TraceContext> | null {
  if (ctx === null) return null;
  const out: Record<string, unknown> = {};
  for (const k of ['traceId', 'spanId', 'sampled', 'format', 'traceState', 'baggage', 'debug', 'traceIdBytes'] as const) {
    if (ctx[k] !== undefined) out[k] = ctx[k];
  }
  return out as Partial<TraceContext>;
}

function ok(traceId: string, spanId: string, sampled: boolean | null, format: PropagationFormat, traceIdBytes: number, extra: Partial<TraceContext> = {}): Partial<TraceContext> {
  return { traceId, spanId, sampled, format, traceIdBytes, ...extra };
}

type Case = [name: string, headers: IncomingHttpHeaders, expected: Partial<TraceContext> | null];

function check(format: PropagationFormat, cases: Case[]): void {
  for (const [name, headers, expected] of cases) {
    assert.deepEqual(shape(extract(headers, [format])), expected, `${format}: ${name}`);
  }
}

const aws = (root: string, parent: string, sampled: string) => ({ 'x-amzn-trace-id': `Root=${root};Parent=${parent};Sampled=${sampled}` });
const awsRoot = (t: string) => `1-${t.slice(0, 8)}-${t.slice(8)}`;

test('w3c: Kong\'s extraction vectors', () => {
  check('w3c', [
    ['base case', { traceparent: `00-${T16}-${S1}-01` }, ok(T16, S1, true, 'w3c', 16)],
    ['sampling mask (on)', { traceparent: `00-${T16}-${S1}-09` }, ok(T16, S1, true, 'w3c', 16)],
    ['sampling mask (off)', { traceparent: `00-${T16}-${S1}-08` }, ok(T16, S1, false, 'w3c', 16)],
    ['hex flags', { traceparent: `00-${T16}-${S1}-ef` }, ok(T16, S1, true, 'w3c', 16)],
    ['sampled = false', { traceparent: `00-${T16}-${S1}-00` }, ok(T16, S1, false, 'w3c', 16)],
    ['invalid header 1', { traceparent: `vv-${T16}-${S1}-00` }, null],
    ['invalid header 2', { traceparent: `00-${'v'.repeat(32)}-${S1}-00` }, null],
    ['invalid header 3', { traceparent: `00-${T16}-${'v'.repeat(16)}-00` }, null],
    ['invalid header 4', { traceparent: `00-${T16}-${S1}-vv` }, null],
    ['trace id too short', { traceparent: `00-123-${S1}-00` }, null],
    ['trace id all zero', { traceparent: `00-${'0'.repeat(32)}-${S1}-00` }, null],
    ['trace id too long', { traceparent: `00-${TOO_LONG}-${S1}-00` }, null],
    ['parent id too short', { traceparent: `00-${T16}-123-00` }, null],
    ['parent id too long', { traceparent: `00-${T16}-${TOO_LONG}-00` }, null],
    ['parent id all zero', { traceparent: `00-${T16}-${'0'.repeat(16)}-00` }, null],
    ['version 01', { traceparent: `01-${T16}-${S1}-00` }, null],
    ['flags 000', { traceparent: `00-${T16}-${S1}-000` }, null],
    ['flags 0', { traceparent: `00-${T16}-${S1}-0` }, null],
  ]);
});

test('w3c: our extra malformed inputs, and tracestate passed on', () => {
  check('w3c', [
    ['too many fields', { traceparent: `00-${T16}-${S1}-01-extra` }, null],
    ['too few fields', { traceparent: `00-${T16}-${S1}` }, null],
    ['empty', { traceparent: '' }, null],
    ['repeated header (Node joins it)', { traceparent: [`00-${T16}-${S1}-01`, `00-${T16}-${S2}-01`] }, null],
    ['upper-case hex read as Kong reads it, lower-cased', { traceparent: `00-${T16.toUpperCase()}-${S1.toUpperCase()}-01` }, ok(T16, S1, true, 'w3c', 16)],
    ['tracestate kept', { traceparent: `00-${T16}-${S1}-01`, tracestate: 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7' }, ok(T16, S1, true, 'w3c', 16, { traceState: 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7' })],
    ['tracestate without traceparent is nothing', { tracestate: 'rojo=1' }, null],
  ]);
  // a long tracestate keeps whole members from the left, within 512 characters
  const members = Array.from({ length: 40 }, (_, i) => `k${i}=${'v'.repeat(20)}`);
  const ctx = extract({ traceparent: `00-${T16}-${S1}-01`, tracestate: members.join(',') }, ['w3c'])!;
  assert.ok(ctx.traceState!.length <= 512);
  assert.ok(members.join(',').startsWith(ctx.traceState!));
  assert.ok(ctx.traceState!.endsWith('v'), 'cut between members');
});

test('b3 (multi headers): Kong\'s extraction vectors', () => {
  check('b3', [
    ['base case', { 'x-b3-traceid': T16, 'x-b3-spanid': S1, 'x-b3-parentspanid': S2, 'x-b3-sampled': '1' }, ok(T16, S1, true, 'b3', 16)],
    // Kong returns a context holding only the decision; ours needs a trace id to continue (extract.ts)
    ['sampling decision only', { 'x-b3-sampled': '0' }, null],
    ['sampled set via flags', { 'x-b3-traceid': T16, 'x-b3-spanid': S1, 'x-b3-parentspanid': S2, 'x-b3-flags': '1' }, ok(T16, S1, true, 'b3', 16, { debug: true })],
    ['sampled = false', { 'x-b3-traceid': T16, 'x-b3-spanid': S1, 'x-b3-parentspanid': S2, 'x-b3-sampled': '0' }, ok(T16, S1, false, 'b3', 16)],
    ['8-byte trace id', { 'x-b3-traceid': T8, 'x-b3-spanid': S1, 'x-b3-parentspanid': S2, 'x-b3-sampled': '1' }, ok(PAD + T8, S1, true, 'b3', 8)],
    ['invalid trace id', { 'x-b3-traceid': 'x', 'x-b3-spanid': S1, 'x-b3-parentspanid': S2, 'x-b3-sampled': '0' }, null],
    // Kong's propagation integration spec: a trace id and a decision, no span id, continue the trace without a parent
    ['trace id only', { 'x-b3-traceid': T16, 'x-b3-sampled': '1' }, ok(T16, '', true, 'b3', 16)],
    ['"true" is sampled', { 'x-b3-traceid': T16, 'x-b3-spanid': S1, 'x-b3-sampled': 'true' }, ok(T16, S1, true, 'b3', 16)],
    ['a malformed span id voids all ids', { 'x-b3-traceid': T16, 'x-b3-spanid': 'zz' }, null],
    ['all-zero span id', { 'x-b3-traceid': T16, 'x-b3-spanid': PAD }, null],
  ]);
});

test('b3 (single header): Kong\'s extraction vectors', () => {
  const single = (v: string) => ({ b3: v });
  check('b3', [
    // a lone decision: Kong keeps it; nothing to continue here
    ['1-char header, sampled', single('1'), null],
    ['1-char header, not sampled', single('0'), null],
    ['1-char header, debug', single('d'), null],
    ['all fields', single(`${T16}-${S1}-1-${S2}`), ok(T16, S1, true, 'b3-single', 16)],
    ['all fields, sampled = false', single(`${T16}-${S1}-0-${S2}`), ok(T16, S1, false, 'b3-single', 16)],
    ['all fields, debug', single(`${T16}-${S1}-d-${S2}`), ok(T16, S1, true, 'b3-single', 16, { debug: true })],
    ['from tracestate', { tracestate: `b3=${T16}-${S1}-d-${S2}` }, ok(T16, S1, true, 'b3-single', 16, { debug: true })],
    ['from tracestate, multi-value', { tracestate: ['test', `b3=${T16}-${S1}-1-${S2}`, 'test2'] }, ok(T16, S1, true, 'b3-single', 16)],
    ['trace and span only', single(`${T16}-${S1}`), ok(T16, S1, null, 'b3-single', 16)],
    ['no parent', single(`${T16}-${S1}-1`), ok(T16, S1, true, 'b3-single', 16)],
    ['8-byte trace id', single(`${T8}-${S1}-1`), ok(PAD + T8, S1, true, 'b3-single', 8)],
    ['invalid trace id (non hex)', single(`xxx-${S1}-1-${S2}`), null],
    ['invalid trace id (too long)', single(`${TOO_LONG}-${S1}-1-${S2}`), null],
    ['invalid trace id (too short)', single(`123-${S1}-1-${S2}`), null],
    ['empty header', single(''), null],
    ['no span id', single(`${T16}-`), null],
    ['non hex span id', single(`${T16}-xxx`), null],
    ['span id too long', single(`${T16}-${TOO_LONG}-1-${S2}`), null],
    ['span id too short', single(`${T16}-123-1-${S2}`), null],
    ['invalid sampled', single(`${T16}-${S1}-x`), null],
    ['invalid parent', single(`${T16}-${S1}-d-xxx`), null],
    ['parent too long', single(`${T16}-${S1}-d-${TOO_LONG}`), null],
    ['parent too short', single(`${T16}-${S1}-d-123`), null],
    ['too many fields (ours)', single(`${T16}-${S1}-1-${S2}-1`), null],
  ]);
  // the single header wins over the multi headers; a lone decision takes the multi headers' ids
  assert.deepEqual(shape(extract({ b3: `${T16}-${S1}-0`, 'x-b3-traceid': T8, 'x-b3-spanid': S2 }, ['b3'])), ok(T16, S1, false, 'b3-single', 16));
  assert.deepEqual(shape(extract({ b3: '0', 'x-b3-traceid': T16, 'x-b3-spanid': S2, 'x-b3-sampled': '1' }, ['b3'])), ok(T16, S2, false, 'b3', 16));
});

test('jaeger: Kong\'s extraction vectors', () => {
  const u = (t: string, s: string, p: string, f: string) => ({ 'uber-trace-id': `${t}:${s}:${p}:${f}` });
  check('jaeger', [
    ['base case', { ...u(T16, S1, S2, '01'), 'uberctx-foo': 'bar' }, ok(T16, S1, true, 'jaeger', 16, { baggage: { foo: 'bar' } })],
    ['sampled = false', u(T16, S1, S2, '00'), ok(T16, S1, false, 'jaeger', 16)],
    ['parent = 0', u(T16, S1, '0', '01'), ok(T16, S1, true, 'jaeger', 16)],
    ['0-pad shorter span id', u(T16, '123', S2, '01'), ok(T16, '0000000000000123', true, 'jaeger', 16)],
    ['0-pad shorter trace id', u('1234', S1, S2, '01'), ok('00000000000000000000000000001234', S1, true, 'jaeger', 2)],
    ['8-byte trace id', u(T8, S1, S2, '01'), ok(PAD + T8, S1, true, 'jaeger', 8)],
    ['invalid header 1', u('vv', S1, S2, '00'), null],
    ['invalid header 2', u(T8, 'vv', S2, '00'), null],
    ['invalid header 3', u(T8, S1, 'vv', '00'), null],
    ['invalid header 4', u(T8, S1, S2, 'vv'), null],
    ['trace id too long', u(TOO_LONG, S1, S2, '00'), null],
    ['trace id all zero', u('0'.repeat(32), S1, S2, '00'), null],
    // Kong only warns about a bad parent id and continues: so do we (the parent is not used)
    ['parent id too short', u(T16, S1, 'ff', '00'), ok(T16, S1, false, 'jaeger', 16)],
    ['parent id too long', u(T16, S1, TOO_LONG, '00'), ok(T16, S1, false, 'jaeger', 16)],
    ['span id too long', u(T16, TOO_LONG, S1, '00'), null],
    ['span id all zero', u(T16, '0'.repeat(32), S1, '00'), null],
    ['invalid flags', u(T16, S1, S2, '123'), null],
    ['too many fields (ours)', { 'uber-trace-id': `${T16}:${S1}:${S2}:01:01` }, null],
  ]);
});

test('ot: Kong\'s extraction vectors', () => {
  check('ot', [
    ['base case', { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '1', 'ot-baggage-foo': 'bar' }, ok(T16, S1, true, 'ot', 16, { baggage: { foo: 'bar' } })],
    ['sampled = false', { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '0' }, ok(T16, S1, false, 'ot', 16)],
    ['missing sampled flag', { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1 }, ok(T16, S1, null, 'ot', 16)],
    ['large ids', { 'ot-tracer-traceid': BIG_T16, 'ot-tracer-spanid': BIG_S, 'ot-baggage-foo': 'bar' }, ok(BIG_T16, BIG_S, null, 'ot', 16, { baggage: { foo: 'bar' } })],
    ['8-byte trace id', { 'ot-tracer-traceid': T8, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '0' }, ok(PAD + T8, S1, false, 'ot', 8)],
    ['invalid baggage name', { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '1', 'otttttbaggage-foo': 'bar' }, ok(T16, S1, true, 'ot', 16)],
    ['invalid header', { 'ot-tracer-traceid': 'xx' }, null],
    ['baggage url-decoded', { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-baggage-k': 'a%20b%2Fc' }, ok(T16, S1, null, 'ot', 16, { baggage: { k: 'a b/c' } })],
    ['baggage not decodable, kept as sent', { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-baggage-k': '%E0%A4%A' }, ok(T16, S1, null, 'ot', 16, { baggage: { k: '%E0%A4%A' } })],
  ]);
});

test('datadog: Kong\'s extraction vectors', () => {
  const dd = (t?: string, p?: string, s?: string) => {
    const h: IncomingHttpHeaders = {};
    if (t !== undefined) h['x-datadog-trace-id'] = t;
    if (p !== undefined) h['x-datadog-parent-id'] = p;
    if (s !== undefined) h['x-datadog-sampling-priority'] = s;
    return h;
  };
  check('datadog', [
    ['base case', dd(T8_DEC, S1_DEC, '1'), ok(PAD + T8, S1, true, 'datadog', 8)],
    ['sampled = false', dd(T8_DEC, S1_DEC, '0'), ok(PAD + T8, S1, false, 'datadog', 8)],
    // Kong keeps the lone decision; here there is no trace to continue
    ['missing trace id ignores parent id', dd(undefined, S1_DEC, '1'), null],
    ['missing parent id', dd(T8_DEC, undefined, '1'), ok(PAD + T8, '', true, 'datadog', 8)],
    ['missing sampled', dd(T8_DEC, S1_DEC), ok(PAD + T8, S1, null, 'datadog', 8)],
    ['big decimal trace id', dd(BIG_T8_DEC, S1_DEC), ok(PAD + BIG_T8, S1, null, 'datadog', 8)],
    ['big decimal span id', dd(T8_DEC, BIG_S_DEC), ok(PAD + T8, BIG_S, null, 'datadog', 8)],
    ['(can extract invalid) 128-bit decimal trace id', dd(BIG_T16_DEC, S1_DEC), ok(BIG_T16, S1, null, 'datadog', 16)],
    ['invalid trace id (hex)', dd(T16, S1_DEC, '1'), null],
    ['empty trace id', dd('', S1_DEC, '1'), null],
    // Kong drops a malformed parent id and continues the trace
    ['invalid parent id (hex)', dd(T8_DEC, S1, '1'), ok(PAD + T8, '', true, 'datadog', 8)],
    ['empty parent id', dd(T8_DEC, '', '1'), ok(PAD + T8, '', true, 'datadog', 8)],
    ['invalid sampling priority voids it', dd(T8_DEC, S1_DEC, '3'), null],
    ['priority 2 and -1', dd(T8_DEC, S1_DEC, '2'), ok(PAD + T8, S1, true, 'datadog', 8)],
    ['zero trace id', dd('0', S1_DEC, '1'), null],
    ['absurdly long decimal', dd('1'.repeat(41), S1_DEC, '1'), null],
  ]);
  assert.equal(extract(dd(T8_DEC, S1_DEC, '-1'), ['datadog'])!.sampled, false);
});

test('aws: Kong\'s extraction vectors', () => {
  check('aws', [
    ['base case', aws(awsRoot(T16), S1, '1'), ok(T16, S1, true, 'aws', 16)],
    ['with spaces', { 'x-amzn-trace-id': `  Root =   ${awsRoot(T16)}  ;  Parent= ${S1};  Sampled   =1` }, ok(T16, S1, true, 'aws', 16)],
    ['parent first', { 'x-amzn-trace-id': `Parent=${S1};Root=${awsRoot(T16)};Sampled=1` }, ok(T16, S1, true, 'aws', 16)],
    ['extra fields', { 'x-amzn-trace-id': `Foo=bar;Root=${awsRoot(T16)};Parent=${S1};Sampled=1` }, ok(T16, S1, true, 'aws', 16)],
    ['large id', aws(awsRoot(BIG_T16), S1, '1'), ok(BIG_T16, S1, true, 'aws', 16)],
    ['sampled = false', aws(awsRoot(T16), S1, '0'), ok(T16, S1, false, 'aws', 16)],
    ['invalid trace id 1', aws(`0-${T8.slice(0, 8)}-${T8.slice(8)}`, S1, '0'), null],
    ['invalid trace id 2', aws(`1-vv-${T8.slice(8)}`, S1, '0'), null],
    ['invalid trace id 3', aws(`1-${T8.slice(0, 8)}-vv`, S1, '0'), null],
    ['trace id too short', aws(`1-${T8.slice(0, 8)}-${T8.slice(8)}`, S1, '0'), null],
    ['trace id too long', aws(`1-${TOO_LONG.slice(0, 8)}-${TOO_LONG.slice(8)}`, S1, '0'), null],
    ['missing trace id', aws('', S1, '0'), null],
    ['invalid parent id', aws(awsRoot(T16), 'vv', '0'), null],
    ['parent id too long', aws(awsRoot(T16), TOO_LONG, '0'), null],
    ['parent id too short', aws(awsRoot(T16), '123', '0'), null],
    ['missing parent id', aws(awsRoot(T16), '', '0'), null],
    ['invalid sampled flag', aws(awsRoot(T16), S1, '2'), null],
    ['missing sampled flag', aws(awsRoot(T16), S1, ''), null],
    ['no Parent key: the trace without a parent (ours)', { 'x-amzn-trace-id': `Root=${awsRoot(T16)}` }, ok(T16, '', null, 'aws', 16)],
  ]);
});

test('gcp: Kong\'s extraction vectors', () => {
  const g = (v: string) => ({ 'x-cloud-trace-context': v });
  check('gcp', [
    ['base case', g(`${T16}/${S1_DEC};o=1`), ok(T16, S1, true, 'gcp', 16)],
    ['sampled = false', g(`${T16}/${S1_DEC};o=0`), ok(T16, S1, false, 'gcp', 16)],
    ['no flag', g(`${T16}/${S1_DEC}`), ok(T16, S1, false, 'gcp', 16)],
    ['trace id too short', g(`123/${S1_DEC};o=0`), null],
    ['trace id too long', g(`${TOO_LONG}/${S1_DEC};o=0`), null],
    ['trace id not hex', g(`vvv/${S1_DEC};o=0`), null],
    ['missing span id', g(`${T16}/;o=0`), null],
    ['span id not decimal', g(`${T16}/${S1};o=0`), null],
    ['span id too large', g(`${T16}/${S1_DEC}0;o=0`), null],
    ['sampling value 01', g(`${T16}/${S1_DEC};o=01`), null],
    ['sampling value missing', g(`${T16}/${S1_DEC};o=`), null],
    ['sampling value not a digit', g(`${T16}/${S1_DEC};o=v`), null],
    ['zero span id (ours)', g(`${T16}/0;o=1`), null],
  ]);
});

test('instana: Kong\'s extraction vectors', () => {
  check('instana', [
    ['base case', { 'x-instana-t': T16, 'x-instana-s': S1, 'x-instana-l': '1' }, ok(T16, S1, true, 'instana', 16)],
    ['sampled = false', { 'x-instana-t': T16, 'x-instana-s': S1, 'x-instana-l': '0' }, ok(T16, S1, false, 'instana', 16)],
    ['8-byte trace id', { 'x-instana-t': T8, 'x-instana-s': S1, 'x-instana-l': '0' }, ok(PAD + T8, S1, false, 'instana', 8)],
    ['level with correlation data', { 'x-instana-t': T16, 'x-instana-s': S1, 'x-instana-l': '1,correlationType=web;correlationId=1234567890abcdef' }, ok(T16, S1, true, 'instana', 16)],
    ['trace id not hex', { 'x-instana-t': 'abcdefghijklmnop', 'x-instana-s': S1 }, null],
    ['trace id too long', { 'x-instana-t': TOO_LONG }, null],
    ['trace id too short', { 'x-instana-t': 'abc' }, null],
    ['empty header', { 'x-instana-t': '' }, null],
    ['span id missing', { 'x-instana-t': T16, 'x-instana-l': '1' }, null],
  ]);
});

test('extraction order: the first format in the list that yields a trace id wins (Kong\'s module spec)', () => {
  // Kong: 03-propagation_module_spec.lua, request_headers_1
  const h: IncomingHttpHeaders = {
    traceparent: `00-${T16}-b7ad6b7169203331-01`,
    'x-b3-traceid': 'dc9d1b0ccedf0ecaf4f26ffab84d4f5e',
    'x-b3-spanid': 'b7ad6b7169203332',
    'x-b3-sampled': '1',
    'x-b3-parentspanid': 'f4f26ffab84d4f5f',
    'uber-trace-id': 'f744b23fe9aa64f08255043ba51848db:f4f26ffab84d4f60:f4f26ffab84d4f61:01',
  };
  assert.equal(extract(h, ['b3', 'w3c', 'jaeger'])!.traceId, 'dc9d1b0ccedf0ecaf4f26ffab84d4f5e');
  assert.equal(extract(h, ['w3c', 'b3', 'jaeger'])!.traceId, T16);
  assert.equal(extract(h, ['datadog', 'jaeger', 'b3'])!.format, 'jaeger');
  assert.equal(extract(h, []), null, 'no extractors: never continue');
  assert.equal(extract(h, ['gcp', 'aws']), null);
  // a malformed header is skipped, not fatal: the next format is read
  assert.equal(extract({ ...h, traceparent: 'garbage' }, ['w3c', 'jaeger'])!.format, 'jaeger');
  // ours, not Kong's: a W3C caller's tracestate does not make b3 "found" ahead of w3c (header_type preserve's order)
  assert.equal(extract({ traceparent: `00-${T16}-${S1}-01`, tracestate: 'rojo=1' }, LEGACY_EXTRACT)!.format, 'w3c');
  // b3-single in a list reads as b3
  assert.equal(extract({ b3: `${T16}-${S1}-1` }, ['b3-single'])!.format, 'b3-single');
});

/** An inject context from Kong's vector fields. */
function ictx(traceId: string, spanId: string, sampled: boolean, extra: Partial<InjectContext> = {}): InjectContext {
  return { traceId, spanId, sampled, ...extra };
}

type InjectCase = [name: string, ctx: InjectContext, headers: Record<string, string>];

function checkInject(format: PropagationFormat, cases: InjectCase[]): void {
  for (const [name, ctx, headers] of cases) assert.deepEqual(injectHeaders(ctx, [format], 'w3c'), headers, `${format}: ${name}`);
}

// Kong's injection vectors whose context has no sampling decision (or no ids) are left out: the
// gateway always has both, so its headers always carry them.
test('injection: Kong\'s vectors, every format', () => {
  checkInject('w3c', [
    ['base case', ictx(T16, S1, true, { traceIdBytes: 16 }), { traceparent: `00-${T16}-${S1}-01` }],
    ['sampled = false', ictx(T16, S1, false, { traceIdBytes: 16 }), { traceparent: `00-${T16}-${S1}-00` }],
    ['default size 16 bytes', ictx(T16, S1, true), { traceparent: `00-${T16}-${S1}-01` }],
    ['tracestate passed on (ours)', ictx(T16, S1, true, { traceState: 'rojo=1,congo=2' }), { traceparent: `00-${T16}-${S1}-01`, tracestate: 'rojo=1,congo=2' }],
  ]);
  const b3m = (t: string, s: string, p: string | null, flag: Record<string, string>) => ({ 'x-b3-traceid': t, 'x-b3-spanid': s, ...(p ? { 'x-b3-parentspanid': p } : {}), ...flag });
  checkInject('b3', [
    ['base case', ictx(T16, S1, true, { parentSpanId: S2, traceIdBytes: 16 }), b3m(T16, S1, S2, { 'x-b3-sampled': '1' })],
    ['sampled set via flags', ictx(T16, S1, true, { parentSpanId: S2, debug: true, traceIdBytes: 16 }), b3m(T16, S1, S2, { 'x-b3-flags': '1' })],
    ['sampled = false', ictx(T16, S1, false, { parentSpanId: S2, traceIdBytes: 16 }), b3m(T16, S1, S2, { 'x-b3-sampled': '0' })],
    ['8-byte trace id', ictx(PAD + T8, S1, true, { parentSpanId: S2, traceIdBytes: 8 }), b3m(T8, S1, S2, { 'x-b3-sampled': '1' })],
    ['default size 16 bytes', ictx(T16, S1, true, { parentSpanId: S2 }), b3m(T16, S1, S2, { 'x-b3-sampled': '1' })],
    ['no parent', ictx(T16, S1, true), b3m(T16, S1, null, { 'x-b3-sampled': '1' })],
  ]);
  checkInject('b3-single', [
    ['all fields', ictx(T16, S1, true, { parentSpanId: S2, traceIdBytes: 16 }), { b3: `${T16}-${S1}-1-${S2}` }],
    ['all fields, sampled = false', ictx(T16, S1, false, { parentSpanId: S2, traceIdBytes: 16 }), { b3: `${T16}-${S1}-0-${S2}` }],
    ['all fields, debug', ictx(T16, S1, true, { parentSpanId: S2, debug: true, traceIdBytes: 16 }), { b3: `${T16}-${S1}-d-${S2}` }],
    ['no parent', ictx(T16, S1, true, { traceIdBytes: 16 }), { b3: `${T16}-${S1}-1` }],
    ['8-byte trace id', ictx(PAD + T8, S1, true, { traceIdBytes: 8 }), { b3: `${T8}-${S1}-1` }],
    ['default size 16 bytes', ictx(T16, S1, true, { parentSpanId: S2, debug: true }), { b3: `${T16}-${S1}-d-${S2}` }],
    ['big 16-byte trace id', ictx(BIG_T16, S1, true, { parentSpanId: S2, debug: true }), { b3: `${BIG_T16}-${S1}-d-${S2}` }],
  ]);
  checkInject('jaeger', [
    ['base case', ictx(T16, S1, true, { parentSpanId: S2, baggage: { foo: 'bar' }, traceIdBytes: 16 }), { 'uber-trace-id': `${T16}:${S1}:${S2}:01`, 'uberctx-foo': 'bar' }],
    ['sampled = false', ictx(T16, S1, false, { parentSpanId: S2, traceIdBytes: 16 }), { 'uber-trace-id': `${T16}:${S1}:${S2}:00` }],
    ['8-byte trace id', ictx(PAD + T8, S1, true, { parentSpanId: S2, traceIdBytes: 8 }), { 'uber-trace-id': `${T8}:${S1}:${S2}:01` }],
    ['default size 16 bytes', ictx(T16, S1, true, { parentSpanId: S2, baggage: { foo: 'bar' } }), { 'uber-trace-id': `${T16}:${S1}:${S2}:01`, 'uberctx-foo': 'bar' }],
    ['no parent: 0', ictx(T16, S1, true), { 'uber-trace-id': `${T16}:${S1}:0:01` }],
  ]);
  checkInject('ot', [
    ['base case', ictx(T16, S1, true, { baggage: { foo: 'bar' }, traceIdBytes: 16 }), { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '1', 'ot-baggage-foo': 'bar' }],
    ['sampled = false', ictx(T16, S1, false, { traceIdBytes: 16 }), { 'ot-tracer-traceid': T16, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '0' }],
    ['8-byte trace id', ictx(PAD + T8, S1, false, { traceIdBytes: 8 }), { 'ot-tracer-traceid': T8, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '0' }],
    ['default size 8 bytes', ictx(PAD + T8, S1, true, { baggage: { foo: 'bar' } }), { 'ot-tracer-traceid': T8, 'ot-tracer-spanid': S1, 'ot-tracer-sampled': '1', 'ot-baggage-foo': 'bar' }],
  ]);
  const ddh = (t: string, p: string, s: string) => ({ 'x-datadog-trace-id': t, 'x-datadog-parent-id': p, 'x-datadog-sampling-priority': s });
  checkInject('datadog', [
    ['base case', ictx(PAD + T8, S1, true, { traceIdBytes: 8 }), ddh(T8_DEC, S1_DEC, '1')],
    ['sampled = false', ictx(PAD + T8, S1, false, { traceIdBytes: 8 }), ddh(T8_DEC, S1_DEC, '0')],
    ['default size 8 bytes: the low 64 bits', ictx(T16, S1, true), ddh(T8_DEC, S1_DEC, '1')],
    // Kong's "big dec trace id" / "big dec span id" vectors, with a decision added
    ['big decimal trace id', ictx(PAD + BIG_T8, S1, true, { traceIdBytes: 8 }), ddh(BIG_T8_DEC, S1_DEC, '1')],
    ['big decimal span id', ictx(PAD + T8, BIG_S, true, { traceIdBytes: 8 }), ddh(T8_DEC, BIG_S_DEC, '1')],
  ]);
  checkInject('aws', [
    ['base case', ictx(T16, S1, true, { traceIdBytes: 16 }), aws(awsRoot(T16), S1, '1')],
    ['large id', ictx(BIG_T16, S1, true, { traceIdBytes: 16 }), aws(awsRoot(BIG_T16), S1, '1')],
    ['sampled = false', ictx(T16, S1, false, { traceIdBytes: 16 }), aws(awsRoot(T16), S1, '0')],
    ['default size 16 bytes (an 8-byte caller id padded)', ictx(PAD + T8, S1, true, { traceIdBytes: 8 }), aws(awsRoot(PAD + T8), S1, '1')],
  ]);
  checkInject('gcp', [
    ['base case', ictx(T16, S1, true, { traceIdBytes: 16 }), { 'x-cloud-trace-context': `${T16}/${S1_DEC};o=1` }],
    ['sampled = false', ictx(T16, S1, false, { traceIdBytes: 16 }), { 'x-cloud-trace-context': `${T16}/${S1_DEC};o=0` }],
    ['default size 16 bytes', ictx(T16, S1, true), { 'x-cloud-trace-context': `${T16}/${S1_DEC};o=1` }],
  ]);
  checkInject('instana', [
    ['base case', ictx(T16, S1, true, { traceIdBytes: 16 }), { 'x-instana-t': T16, 'x-instana-s': S1, 'x-instana-l': '1' }],
    ['sampled = false', ictx(T16, S1, false, { traceIdBytes: 16 }), { 'x-instana-t': T16, 'x-instana-s': S1, 'x-instana-l': '0' }],
    ['8-byte trace id', ictx(PAD + T8, S1, false, { traceIdBytes: 8 }), { 'x-instana-t': T8, 'x-instana-s': S1, 'x-instana-l': '0' }],
    ['big 16-byte trace id', ictx(BIG_T16, S1, true), { 'x-instana-t': BIG_T16, 'x-instana-s': S1, 'x-instana-l': '1' }],
  ]);
});

/** Kong's transform_hex_id (03-propagation_module_spec.lua): the last character's code plus one, or '0' once it would reach 'f'. */
function bump(id: string): string {
  const c = id.charCodeAt(id.length - 1) + 1;
  return id.slice(0, -1) + (c < 'f'.charCodeAt(0) ? String.fromCharCode(c) : '0');
}

test('preserve, default_format and several injectors: Kong\'s module spec', () => {
  const fresh = ictx('0af7651916cd43dd8448eb211c80319d', '8448eb211c80319e', true);
  // "extract = ignore, inject = preserve, no default setting" (default_format defaults to w3c)
  assert.deepEqual(injectHeaders(fresh, ['preserve'], 'w3c'), { traceparent: '00-0af7651916cd43dd8448eb211c80319d-8448eb211c80319e-01' });
  // "extract = ignore, inject multiple headers"
  assert.deepEqual(injectHeaders(fresh, ['w3c', 'b3-single'], 'w3c'), {
    traceparent: '00-0af7651916cd43dd8448eb211c80319d-8448eb211c80319e-01',
    b3: '0af7651916cd43dd8448eb211c80319d-8448eb211c80319e-1',
  });
  // "inject = preserve, uses default format" (datadog)
  assert.deepEqual(injectHeaders(fresh, ['preserve'], 'datadog'), {
    'x-datadog-trace-id': '9532127138774266269',
    'x-datadog-parent-id': '9532127138774266270',
    'x-datadog-sampling-priority': '1',
  });
  // "extract configured with header not found in request, inject = preserve, uses default format" (ot)
  assert.deepEqual(injectHeaders(fresh, ['preserve'], 'ot', extract({}, ['datadog'])?.format), {
    'ot-tracer-sampled': '1',
    'ot-tracer-spanid': '8448eb211c80319e',
    'ot-tracer-traceid': '8448eb211c80319d',
  });

  const h1: IncomingHttpHeaders = {
    traceparent: `00-${T16}-b7ad6b7169203331-01`,
    'x-b3-traceid': 'dc9d1b0ccedf0ecaf4f26ffab84d4f5e',
    'x-b3-spanid': 'b7ad6b7169203332',
    'x-b3-sampled': '1',
    'x-b3-parentspanid': 'f4f26ffab84d4f5f',
    'uber-trace-id': 'f744b23fe9aa64f08255043ba51848db:f4f26ffab84d4f60:f4f26ffab84d4f61:01',
  };
  // what the callback does in Kong's spec: every id changed, the rest of the extracted context kept
  const next = (from: TraceContext, parent: string): InjectContext => ({ ...from, traceId: bump(from.traceId), spanId: bump(from.spanId), parentSpanId: bump(parent), sampled: from.sampled ?? true });

  // "extract configured with header found in request, inject = preserve + other formats"
  const fromB3 = extract(h1, ['b3', 'w3c', 'jaeger'])!;
  assert.deepEqual(injectHeaders(next(fromB3, 'f4f26ffab84d4f5f'), ['w3c', 'preserve', 'b3-single'], 'w3c', fromB3.format), {
    traceparent: `00-${bump('dc9d1b0ccedf0ecaf4f26ffab84d4f5e')}-${bump('b7ad6b7169203332')}-01`,
    'x-b3-traceid': bump('dc9d1b0ccedf0ecaf4f26ffab84d4f5e'),
    'x-b3-spanid': bump('b7ad6b7169203332'),
    'x-b3-sampled': '1',
    'x-b3-parentspanid': bump('f4f26ffab84d4f5f'),
    b3: `${bump('dc9d1b0ccedf0ecaf4f26ffab84d4f5e')}-${bump('b7ad6b7169203332')}-1-${bump('f4f26ffab84d4f5f')}`,
  });
  // "extract configured with header formats, multiple injection" (datadog + w3c from a w3c context)
  const fromW3c = extract(h1, ['w3c', 'b3', 'jaeger'])!;
  assert.deepEqual(injectHeaders({ ...next(fromW3c, S1), parentSpanId: null }, ['datadog', 'w3c'], 'w3c', fromW3c.format), {
    traceparent: `00-${bump(T16)}-${bump('b7ad6b7169203331')}-01`,
    'x-datadog-trace-id': bump(T8_DEC),
    'x-datadog-parent-id': bump(S1_DEC),
    'x-datadog-sampling-priority': '1',
  });
  // "extract = b3, 64b id, inject = b3 and w3c": the b3 header keeps the caller's 64-bit size, w3c pads
  const h2: IncomingHttpHeaders = { 'x-b3-traceid': 'f4f26ffab84d4f5e', 'x-b3-spanid': 'b7ad6b7169203332', 'x-b3-sampled': '1', 'x-b3-parentspanid': 'f4f26ffab84d4f5f' };
  const from64 = extract(h2, ['b3'])!;
  assert.deepEqual(injectHeaders(next(from64, 'f4f26ffab84d4f5f'), ['w3c', 'b3'], 'w3c', from64.format), {
    traceparent: `00-${bump(PAD + 'f4f26ffab84d4f5e')}-${bump('b7ad6b7169203332')}-01`,
    'x-b3-traceid': bump('f4f26ffab84d4f5e'),
    'x-b3-spanid': bump('b7ad6b7169203332'),
    'x-b3-sampled': '1',
    'x-b3-parentspanid': bump('f4f26ffab84d4f5f'),
  });
  // "inject = preserve (matches jaeger)"
  const fromJaeger = extract(h1, ['datadog', 'jaeger', 'b3'])!;
  assert.deepEqual(injectHeaders(next(fromJaeger, 'f4f26ffab84d4f61'), ['preserve'], 'w3c', fromJaeger.format), {
    'uber-trace-id': `${bump('f744b23fe9aa64f08255043ba51848db')}:${bump('f4f26ffab84d4f60')}:${bump('f4f26ffab84d4f61')}:01`,
  });
  // a context read from the single b3 header is preserved as b3-single
  const single = extract({ b3: `${T16}-${S1}-1` }, ['b3'])!;
  assert.deepEqual(Object.keys(injectHeaders({ ...single, spanId: S2, sampled: true }, ['preserve'], 'w3c', single.format)), ['b3']);
  assert.deepEqual(injectHeaders(fresh, [], 'w3c'), {}, 'no injectors: nothing written');
});

test('baggage: escaped on the way out as ngx.escape_uri does, decoded on the way in', () => {
  const out = injectHeaders(ictx(T16, S1, true, { baggage: { k: "a b/c!'()*~", 'bad name': 'x' } }), ['jaeger', 'ot'], 'w3c');
  assert.equal(out['uberctx-k'], 'a%20b%2Fc%21%27%28%29%2A~');
  assert.equal(out['ot-baggage-k'], 'a%20b%2Fc%21%27%28%29%2A~');
  assert.equal(out['uberctx-bad name'], undefined, 'a key that is not a header token is not written');
  assert.deepEqual(extract(out, ['jaeger'])!.baggage, { k: "a b/c!'()*~" });
  assert.deepEqual(extract(out, ['ot'])!.baggage, { k: "a b/c!'()*~" });
});

/** The formats' trace id sizes: the caller's when allowed, else the first (Kong's trace_id_allowed_sizes). */
const SIZES: Record<PropagationFormat, number[]> = { w3c: [16], b3: [16, 8], 'b3-single': [16, 8], jaeger: [16, 8], ot: [8, 16], datadog: [8], aws: [16], gcp: [16], instana: [16, 8] };

const hexId = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
// the low 64 bits non-zero, so that formats holding only those still hold a valid id
const traceIdArb = hexId(16).filter((t) => !/^0+$/.test(t.slice(16)));
const spanIdArb = hexId(8).filter((s) => !/^0+$/.test(s));

test('round trips: extract(inject(x)) gives x back, as far as the format holds it', () => {
  fc.assert(
    fc.property(fc.constantFrom(...ALL), traceIdArb, spanIdArb, fc.boolean(), fc.constantFrom(undefined, 8, 16), (format, traceId, spanId, sampled, traceIdBytes) => {
      const ctx = ictx(traceId, spanId, sampled, traceIdBytes === undefined ? {} : { traceIdBytes });
      const back = extract(injectHeaders(ctx, [format], 'w3c'), [format]);
      const sizes = SIZES[format];
      const size = traceIdBytes !== undefined && sizes.includes(traceIdBytes) ? traceIdBytes : sizes[0]!;
      assert.ok(back !== null);
      assert.equal(back.traceId, size === 16 ? traceId : PAD + traceId.slice(16));
      assert.equal(back.spanId, spanId);
      assert.equal(back.sampled, sampled);
      assert.equal(back.format, format);
      // the size written is the size read back (Datadog's decimal has no fixed width: its minimal bytes)
      if (format !== 'datadog') assert.equal(back.traceIdBytes, size);
    }),
    { numRuns: 2000 },
  );
});

test('whatever the headers, extract never throws and yields only well-formed ids', () => {
  const names = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'uber-trace-id', 'uberctx-k', 'ot-tracer-traceid', 'ot-tracer-spanid', 'ot-tracer-sampled', 'ot-baggage-k', 'x-datadog-trace-id', 'x-datadog-parent-id', 'x-datadog-sampling-priority', 'x-amzn-trace-id', 'x-cloud-trace-context', 'x-instana-t', 'x-instana-s', 'x-instana-l'];
  // values near the real shapes: hex and decimal runs, the formats' separators, and noise
  const piece = fc.oneof(hexId(8), hexId(16), fc.constantFrom('-', ':', ';', '/', '=', 'Root', 'Parent', 'Sampled', '1-', 'o=', '0', '1', 'd', ',', ' '), fc.stringMatching(/^[0-9]{1,25}$/), fc.string({ maxLength: 6 }));
  const value = fc.array(piece, { maxLength: 8 }).map((p) => p.join(''));
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...names), value), fc.shuffledSubarray(ALL), (headers, formats) => {
      const ctx = extract(headers, formats);
      if (ctx === null) return;
      assert.match(ctx.traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(ctx.traceId, '0'.repeat(32));
      assert.match(ctx.spanId, /^([0-9a-f]{16})?$/);
      assert.notEqual(ctx.spanId, PAD);
      // b3 and b3-single name one reader, which says which of the two shapes it read
      const b3 = (f: PropagationFormat | undefined) => (f === 'b3-single' ? 'b3' : f);
      assert.ok(formats.some((f) => b3(f) === b3(ctx.format)));
    }),
    { numRuns: 3000 },
  );
});

test('the trigger pre-check changes nothing: extract equals reading every format, whatever the headers', () => {
  // the formats' headers, the ones that alone carry no trace id among them, and ordinary headers
  const names = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'uber-trace-id', 'uberctx-k', 'ot-tracer-traceid', 'ot-tracer-spanid', 'ot-tracer-sampled', 'x-datadog-trace-id', 'x-datadog-parent-id', 'x-datadog-sampling-priority', 'x-amzn-trace-id', 'x-cloud-trace-context', 'x-instana-t', 'x-instana-s', 'x-instana-l', 'content-type', 'user-agent', 'authorization'];
  const piece = fc.oneof(hexId(8), hexId(16), fc.constantFrom('-', ':', ';', '/', '=', 'Root', 'Parent', 'Sampled', '1-', 'o=', 'b3=', '0', '1', 'd', ',', ' '), fc.stringMatching(/^[0-9]{1,25}$/));
  const value = fc.array(piece, { maxLength: 8 }).map((p) => p.join(''));
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...names), value), fc.shuffledSubarray(ALL), (headers, formats) => {
      assert.deepEqual(extract(headers, formats), extractEveryFormat(headers, formats));
    }),
    { numRuns: 5000 },
  );
  // a request with only ordinary headers continues nothing, and neither does one with span ids alone
  assert.equal(extract({ 'content-type': 'application/json', 'x-b3-spanid': 'a'.repeat(16), 'x-instana-s': '1' }, ALL), null);
});

test('compilePropagation: the propagation record as is, or header_type folded in as Kong does', () => {
  // propagation set (any of extract/clear/inject, an empty list counts): header_type ignored
  assert.deepEqual(compilePropagation({ header_type: 'preserve', propagation: { extract: ['b3'], inject: ['w3c'], default_format: 'w3c' } }), {
    extract: ['b3'],
    clear: [],
    inject: ['w3c'],
    default_format: 'w3c',
  });
  assert.deepEqual(compilePropagation({ header_type: 'preserve', propagation: { extract: [], inject: ['preserve'], default_format: 'w3c' } }), {
    extract: [],
    clear: [],
    inject: ['preserve'],
    default_format: 'w3c',
  });
  assert.deepEqual(compilePropagation({ header_type: 'preserve', propagation: { clear: ['OT-Tracer-TraceId', 'ot-tracer-traceid'], default_format: 'b3' } }), {
    extract: [],
    clear: ['ot-tracer-traceid'],
    inject: [],
    default_format: 'b3',
  });
  // propagation left at its default ({ default_format: w3c }): header_type decides
  const legacy = ['b3', 'w3c', 'jaeger', 'ot', 'datadog', 'aws', 'gcp', 'instana'];
  const def = { default_format: 'w3c', extract: null, clear: null, inject: null };
  assert.deepEqual(compilePropagation({ header_type: 'preserve', propagation: def }), { extract: legacy, clear: [], inject: ['preserve'], default_format: 'w3c' });
  assert.deepEqual(compilePropagation({ header_type: 'ignore', propagation: def }), { extract: [], clear: [], inject: ['w3c'], default_format: 'w3c' });
  assert.deepEqual(compilePropagation({ header_type: 'datadog', propagation: def }), { extract: legacy, clear: [], inject: ['preserve', 'datadog'], default_format: 'w3c' });
  assert.deepEqual(compilePropagation({ header_type: 'b3-single', propagation: { default_format: 'instana' } }), { extract: legacy, clear: [], inject: ['preserve', 'b3-single'], default_format: 'instana' });
  assert.deepEqual(compilePropagation({ header_type: 'ignore', default_header_type: 'jaeger' }), { extract: [], clear: [], inject: ['jaeger'], default_format: 'jaeger' });
  assert.deepEqual(compilePropagation({ header_type: null, propagation: def }), { extract: [], clear: [], inject: [], default_format: 'w3c' });
  // b3-single in extract reads as b3, once; unknown names are dropped
  assert.deepEqual(compilePropagation({ propagation: { extract: ['b3-single', 'b3', 'zipkin', 'w3c'], inject: ['preserve', 'preserve', 'nope'] } }).extract, ['b3', 'w3c']);
  assert.deepEqual(compilePropagation({ propagation: { extract: ['w3c'], inject: ['preserve', 'preserve', 'nope'] } }).inject, ['preserve']);
  assert.deepEqual(headersToClear(compilePropagation({ propagation: { clear: ['X-B3-TraceId', 'traceparent'] } })), ['x-b3-traceid', 'traceparent']);
});

test('newTraceId / newSpanId: lower-case hex of the right size, never zero, unique across pool refills', () => {
  const traces = new Set<string>();
  const spans = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const t = newTraceId();
    const s = newSpanId();
    assert.match(t, /^[0-9a-f]{32}$/);
    assert.match(s, /^[0-9a-f]{16}$/);
    assert.notEqual(t, '0'.repeat(32));
    assert.notEqual(s, PAD);
    traces.add(t);
    spans.add(s);
  }
  assert.equal(traces.size, 5000);
  assert.equal(spans.size, 5000);
});

test('injectTrace writes what injectHeaders would for every inject list and caller context (its w3c shortcut included)', () => {
  const formats: (PropagationFormat | 'preserve')[] = [...PROPAGATION_FORMATS, 'preserve'];
  fc.assert(
    fc.property(
      fc.oneof(fc.constant<(PropagationFormat | 'preserve')[]>(['preserve']), fc.constant<(PropagationFormat | 'preserve')[]>(['w3c']), fc.subarray(formats, { minLength: 0, maxLength: 3 })),
      fc.oneof(fc.constant('w3c' as const), fc.constantFrom(...PROPAGATION_FORMATS)),
      fc.option(fc.record({ format: fc.constantFrom(...PROPAGATION_FORMATS), sampled: fc.option(fc.boolean()), traceState: fc.option(fc.constant('vendor=1')) }), { nil: null }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (inject, defaultFormat, caller, rate) => {
        const incoming: TraceContext | null = caller && { traceId: newTraceId(), spanId: newSpanId(), sampled: caller.sampled, format: caller.format, ...(caller.traceState ? { traceState: caller.traceState } : {}) };
        const trace = new Trace(0, incoming, rate, { extract: [], clear: [], inject, default_format: defaultFormat });
        const spanId = newSpanId();
        const got: Record<string, string> = {};
        injectTrace(trace, spanId, got);
        const want = injectHeaders({ traceId: trace.traceId, spanId, parentSpanId: trace.rootSpanId, sampled: trace.sampled, traceState: trace.traceState }, inject, defaultFormat, incoming?.format ?? null);
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 400 },
  );
});
