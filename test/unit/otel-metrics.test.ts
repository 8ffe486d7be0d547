/**
 * The GenAI client metrics (src/observability/otel/metrics.ts) and their OTLP encoding
 * (otlp-metrics.ts): names, units and bucket boundaries of the semantic conventions, bucket
 * placement (upper bounds inclusive), the cardinality cap's overflow point, the protobuf and
 * JSON bodies decoded with the official opentelemetry-proto definitions (test/helpers/otlp-receiver.ts,
 * protobufjs), and the export loop against the test receiver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AiExchange } from '../../src/plugins/ai-proxy/analytics.ts';
import { metricAttrsOfSpan, recordAiExchange } from '../../src/observability/otel/genai-metrics.ts';
import { flushMetrics, metricsFor } from '../../src/observability/otel/otlp-metrics.ts';
import { DEFAULT_CARDINALITY_LIMIT, GENAI_INSTRUMENTS, GenAiMetrics, HistogramInstrument, OVERFLOW_ATTRIBUTE, recordGenAi, type GenAiMetricAttrs } from '../../src/observability/otel/metrics.ts';
import { encodeMetricsJson, encodeMetricsProtobuf, TEMPORALITY_CUMULATIVE, type MetricsExport } from '../../src/observability/otel/otlp-metrics.ts';
import { decodeJson, decodeProtobuf, flattenMetrics, OtlpReceiver } from '../helpers/otlp-receiver.ts';


const chat: GenAiMetricAttrs = { operation: 'chat', provider: 'openai', requestModel: 'gpt-4o', responseModel: 'gpt-4o-2024-08-06', serverAddress: 'api.openai.com', serverPort: 443 };

test('the instruments carry the semantic conventions\' names, units and advised bucket boundaries', () => {
  assert.deepEqual(
    Object.values(GENAI_INSTRUMENTS).map((i) => [i.name, i.unit, i.bounds.length, i.bounds[0], i.bounds.at(-1)]),
    [
      ['gen_ai.client.token.usage', '{token}', 14, 1, 67108864],
      ['gen_ai.client.operation.duration', 's', 14, 0.01, 81.92],
      ['gen_ai.client.operation.time_to_first_chunk', 's', 14, 0.01, 81.92],
    ],
  );
});

test('a value on a boundary counts in that bucket (upper bounds inclusive); above the last, in the overflow bucket', () => {
  const h = new HistogramInstrument({ name: 'x', unit: 's', description: '', bounds: [1, 2, 4] });
  for (const v of [0, 1, 1.5, 2, 4, 4.0001, 100]) h.record('k', () => ({ a: 'b' }), v);
  h.record('k', () => ({}), -1); // negative: not a histogram value, ignored
  h.record('k', () => ({}), Number.NaN);
  const [p] = h.snapshot().points;
  assert.deepEqual(Array.from(p.bucketCounts), [2, 2, 1, 2]);
  assert.equal(p.count, 7);
  assert.equal(p.sum, 0 + 1 + 1.5 + 2 + 4 + 4.0001 + 100);
  assert.equal(p.min, 0);
  assert.equal(p.max, 100);
  assert.deepEqual(p.attributes, { a: 'b' });
});

test('recordGenAi: duration for every call, tokens by type, time to first chunk when given, error.type on the duration only', () => {
  const m = new GenAiMetrics();
  recordGenAi(m, chat, { durationS: 0.3, inputTokens: 12, outputTokens: 30 });
  recordGenAi(m, chat, { durationS: 1.1, inputTokens: 100, outputTokens: 5, timeToFirstChunkS: 0.05 });
  recordGenAi(m, { ...chat, responseModel: null, errorType: '429' }, { durationS: 0.02 });
  recordGenAi(m, { operation: 'embeddings', provider: 'openai', requestModel: 'text-embedding-3-small' }, { durationS: 0.01, inputTokens: 8 });

  const duration = m.operationDuration.snapshot().points;
  assert.equal(duration.length, 3);
  assert.deepEqual(duration[0].attributes, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'server.address': 'api.openai.com',
    'server.port': 443,
  });
  assert.equal(duration[0].count, 2);
  assert.equal(duration[0].sum, 0.3 + 1.1);
  assert.deepEqual(duration[1].attributes, { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'server.address': 'api.openai.com', 'server.port': 443, 'error.type': '429' });
  assert.deepEqual(duration[2].attributes, { 'gen_ai.operation.name': 'embeddings', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'text-embedding-3-small' });

  const tokens = m.tokenUsage.snapshot().points;
  assert.deepEqual(
    tokens.map((p) => [p.attributes['gen_ai.operation.name'], p.attributes['gen_ai.token.type'], p.count, p.sum]),
    [
      ['chat', 'input', 2, 112],
      ['chat', 'output', 2, 35],
      ['embeddings', 'input', 1, 8],
    ],
  );
  assert.ok(tokens.every((p) => !('error.type' in p.attributes)));

  const ttfc = m.timeToFirstChunk.snapshot().points;
  assert.equal(ttfc.length, 1);
  assert.equal(ttfc[0].count, 1);
  assert.equal(ttfc[0].bucketCounts[3], 1); // 0.05 in (0.04, 0.08]
});

test('server.port only with server.address; long values are cut to 256 characters', () => {
  const m = new GenAiMetrics();
  recordGenAi(m, { operation: 'chat', provider: 'openai', requestModel: 'm'.repeat(1000), serverPort: 443 }, { durationS: 1 });
  const [p] = m.operationDuration.snapshot().points;
  assert.equal(p.attributes['server.port'], undefined);
  assert.equal((p.attributes['gen_ai.request.model'] as string).length, 256);
});

test('the cardinality cap: limit - 1 attribute sets, then one otel.metric.overflow point; totals stay whole', () => {
  assert.equal(DEFAULT_CARDINALITY_LIMIT, 2000);
  const m = new GenAiMetrics(5);
  for (let i = 0; i < 10; i++) recordGenAi(m, { operation: 'chat', provider: 'openai', requestModel: `model-${i}` }, { durationS: 1 });
  recordGenAi(m, { operation: 'chat', provider: 'openai', requestModel: 'model-0' }, { durationS: 2 }); // a known set still has its own point
  const points = m.operationDuration.snapshot().points;
  assert.equal(points.length, 5);
  assert.deepEqual(points.slice(0, 4).map((p) => p.attributes['gen_ai.request.model']), ['model-0', 'model-1', 'model-2', 'model-3']);
  assert.equal(points[0].count, 2);
  assert.deepEqual(points[4].attributes, { [OVERFLOW_ATTRIBUTE]: true });
  assert.equal(points[4].count, 6);
  assert.equal(points.reduce((n, p) => n + p.count, 0), 11);
  assert.equal(m.operationDuration.overflowed, 6);
});

test('a repeated attribute set (recorded through its kept points) counts as any other; an overflowing set repeated still counts each time', () => {
  const m = new GenAiMetrics(3);
  const a = { operation: 'chat', provider: 'openai', requestModel: 'a' };
  const b = { operation: 'chat', provider: 'openai', requestModel: 'b' };
  const c = { operation: 'chat', provider: 'openai', requestModel: 'c' };
  const values = (d: number) => ({ durationS: d, inputTokens: 10, outputTokens: 2, timeToFirstChunkS: 0.1 });
  for (const [attrs, d] of [[a, 1], [a, 2], [b, 3], [c, 4], [c, 5], [a, 6], [c, 7]] as const) recordGenAi(m, attrs, values(d));
  recordGenAi(m, { ...a, errorType: '500' }, { durationS: 8 }); // a set of its own, past the limit: overflow
  const duration = m.operationDuration.snapshot().points;
  assert.deepEqual(duration.map((p) => [p.attributes['gen_ai.request.model'] ?? p.attributes[OVERFLOW_ATTRIBUTE], p.count, p.sum]), [['a', 3, 9], ['b', 1, 3], [true, 4, 24]]);
  assert.equal(m.operationDuration.overflowed, 4);
  // tokens: a's input and output sets take the limit's two places; everything else overflows, each measurement counted
  const tokens = m.tokenUsage.snapshot().points;
  assert.deepEqual(tokens.map((p) => [p.attributes['gen_ai.token.type'] ?? p.attributes[OVERFLOW_ATTRIBUTE], p.count, p.sum]), [['input', 3, 30], ['output', 3, 6], [true, 8, 48]]);
  assert.equal(m.tokenUsage.overflowed, 8);
  assert.equal(m.timeToFirstChunk.snapshot().points.reduce((n, p) => n + p.count, 0), 7);
});

test('a snapshot is a copy: later measurements do not change what is being exported', () => {
  const m = new GenAiMetrics();
  recordGenAi(m, chat, { durationS: 1 });
  const snap = m.snapshot();
  recordGenAi(m, chat, { durationS: 1 });
  assert.equal(snap[0].points[0].count, 1);
  assert.equal(m.snapshot()[0].points[0].count, 2);
});

function sample(): MetricsExport {
  const m = new GenAiMetrics(DEFAULT_CARDINALITY_LIMIT, 1_700_000_000_000.25);
  recordGenAi(m, chat, { durationS: 0.3, inputTokens: 12, outputTokens: 30, timeToFirstChunkS: 0.2 });
  recordGenAi(m, chat, { durationS: 100, inputTokens: 5_000_000_000, outputTokens: 1 }); // count sums past 2^32
  recordGenAi(m, { ...chat, errorType: 'timeout' }, { durationS: 60 });
  return {
    resource: { 'service.name': 'kong', 'service.instance.id': 'w1', 'ratio': 0.5, 'tags': ['a', 'b'] },
    scope: { name: 'modelgate', version: '0.1.0' },
    instruments: m.snapshot(),
    startMs: m.startMs,
    timeMs: 1_700_000_060_000.5,
  };
}

test('protobuf: the official proto decodes every field (resource, scope, metrics, points, bounds, counts, times)', () => {
  const e = sample();
  const decoded = decodeProtobuf('metrics', encodeMetricsProtobuf(e)) as any;
  assert.equal(decoded.resourceMetrics.length, 1);
  const metrics = flattenMetrics(decoded);
  assert.deepEqual(metrics[0].resource, { 'service.name': 'kong', 'service.instance.id': 'w1', ratio: 0.5, tags: ['a', 'b'] });
  assert.deepEqual(metrics[0].scope, { name: 'modelgate', version: '0.1.0', attributes: {} });
  assert.deepEqual(metrics.map((x) => [x.name, x.unit, x.type, x.data.aggregationTemporality]), [
    ['gen_ai.client.token.usage', '{token}', 'histogram', TEMPORALITY_CUMULATIVE],
    ['gen_ai.client.operation.duration', 's', 'histogram', TEMPORALITY_CUMULATIVE],
    ['gen_ai.client.operation.time_to_first_chunk', 's', 'histogram', TEMPORALITY_CUMULATIVE],
  ]);
  const input = metrics[0].dataPoints[0] as any;
  assert.equal(input.startTimeUnixNano, '1700000000000250000');
  assert.equal(input.timeUnixNano, '1700000060000500000');
  assert.equal(input.count, '2');
  assert.equal(input.sum, 5_000_000_012);
  assert.equal(input.min, 12);
  assert.equal(input.max, 5_000_000_000);
  assert.deepEqual(input.explicitBounds, [...GENAI_INSTRUMENTS.tokenUsage.bounds]);
  assert.equal(input.bucketCounts.length, 15);
  assert.equal(input.bucketCounts[2], '1'); // 12 in (4, 16]
  assert.equal(input.bucketCounts[14], '1'); // 5e9 above 67108864
  assert.deepEqual(input.attributes, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'server.address': 'api.openai.com',
    'server.port': 443,
    'gen_ai.token.type': 'input',
  });
  const failed = metrics[1].dataPoints[1] as any;
  assert.equal(failed.attributes['error.type'], 'timeout');
  assert.equal(failed.bucketCounts[13], '1'); // 60 in (40.96, 81.92]
});

test('JSON: the same request in OTLP/JSON, checked key by key against the official types, decodes to what the protobuf does', () => {
  const e = sample();
  assert.deepEqual(decodeJson('metrics', encodeMetricsJson(e)), decodeProtobuf('metrics', encodeMetricsProtobuf(e)));
});

test('an overflow point encodes as otel.metric.overflow = true', () => {
  const m = new GenAiMetrics(2);
  recordGenAi(m, chat, { durationS: 1 });
  recordGenAi(m, { ...chat, requestModel: 'other' }, { durationS: 1 });
  const [duration] = flattenMetrics(decodeProtobuf('metrics', encodeMetricsProtobuf({ resource: {}, scope: { name: 'modelgate', version: '' }, instruments: m.snapshot(), startMs: m.startMs, timeMs: m.startMs + 1000 })));
  assert.deepEqual(duration.dataPoints[1].attributes, { [OVERFLOW_ATTRIBUTE]: true });
  assert.equal(duration.dataPoints[1].count, '1');
});

const exchange = (over: Partial<AiExchange>): AiExchange => ({
  provider: 'openai',
  requestModel: 'gpt-4o',
  responseModel: 'gpt-4o-2024-08-06',
  usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 },
  estimated: false,
  stream: false,
  llmLatencyMs: 250,
  timeToFirstTokenMs: null,
  partial: false,
  ...over,
});

test('recordAiExchange: reported tokens only (no estimate), no output tokens for embeddings, time to first chunk for streams', () => {
  const m = new GenAiMetrics();
  const call = { operation: 'chat', provider: 'openai', serverAddress: 'api.openai.com', serverPort: 443 };
  recordAiExchange(m, exchange({}), call);
  recordAiExchange(m, exchange({ estimated: true }), call);
  recordAiExchange(m, exchange({ stream: true, timeToFirstTokenMs: 120 }), call);
  recordAiExchange(m, exchange({ kind: 'embeddings', requestModel: 'e', responseModel: null, usage: { prompt_tokens: 7, completion_tokens: 0, total_tokens: 7 } }), { operation: 'embeddings', provider: 'openai' });
  const duration = m.operationDuration.snapshot().points;
  assert.deepEqual(duration.map((p) => [p.attributes['gen_ai.operation.name'], p.count, p.sum]), [['chat', 3, 0.75], ['embeddings', 1, 0.25]]);
  // each call's own attributes, whatever an earlier call had (no server on the embeddings call)
  assert.deepEqual(duration.map((p) => [p.attributes['server.address'], p.attributes['gen_ai.response.model']]), [['api.openai.com', 'gpt-4o-2024-08-06'], [undefined, undefined]]);
  const tokens = m.tokenUsage.snapshot().points;
  assert.deepEqual(tokens.map((p) => [p.attributes['gen_ai.operation.name'], p.attributes['gen_ai.token.type'], p.count, p.sum]), [
    ['chat', 'input', 2, 20],
    ['chat', 'output', 2, 40],
    ['embeddings', 'input', 1, 7],
  ]);
  const ttfc = m.timeToFirstChunk.snapshot().points;
  assert.deepEqual(ttfc.map((p) => [p.count, p.sum]), [[1, 0.12]]);
});

test('metricAttrsOfSpan reads the GenAI span\'s attributes', () => {
  assert.deepEqual(metricAttrsOfSpan({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude', 'server.address': 'api.anthropic.com', 'server.port': 443, 'error.type': '529', other: 1 }), {
    operation: 'chat',
    provider: 'anthropic',
    requestModel: 'claude',
    responseModel: null,
    serverAddress: 'api.anthropic.com',
    serverPort: 443,
    errorType: '529',
  });
});

test('the export loop: metricsFor posts cumulative points every interval to the endpoint (protobuf and JSON), one aggregator per endpoint and resource', async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  const endpoint = (encoding: 'protobuf' | 'json') => ({ url: `${receiver.url}/v1/metrics`, headers: { 'x-tenant': 'unit' }, connectTimeoutMs: 1000, sendTimeoutMs: 1000, readTimeoutMs: 1000, encoding });
  const resource = { 'service.name': 'unit-test', 'service.instance.id': 'w1' };
  const durationOf = (r: { body: Record<string, unknown> | null }) => flattenMetrics(r.body!).find((x) => x.name === 'gen_ai.client.operation.duration')!.dataPoints[0];

  const m = metricsFor(endpoint('protobuf'), resource, { exportIntervalMs: 100 });
  assert.equal(metricsFor(endpoint('protobuf'), { ...resource }, { exportIntervalMs: 100 }), m, 'equal endpoint and resource: the same aggregator');
  assert.notEqual(metricsFor(endpoint('protobuf'), { ...resource, 'service.instance.id': 'w2' }), m);
  recordGenAi(m, chat, { durationS: 0.5, inputTokens: 3, outputTokens: 4 });
  await receiver.waitFor(() => receiver.accepted('metrics').length >= 1);
  recordGenAi(m, chat, { durationS: 0.5, inputTokens: 3, outputTokens: 4 });
  const before = receiver.accepted('metrics').length;
  await receiver.waitFor(() => receiver.accepted('metrics').length > before);
  const [first, ...rest] = receiver.accepted('metrics');
  const last = rest.at(-1)!;
  assert.equal(first.contentType, 'application/x-protobuf');
  assert.equal(first.headers['x-tenant'], 'unit');
  assert.equal(durationOf(first).count, '1');
  assert.equal(durationOf(last).count, '2', 'cumulative: a later export holds both calls');
  assert.equal(durationOf(first).startTimeUnixNano, durationOf(last).startTimeUnixNano, 'one start time for the series');
  assert.deepEqual(flattenMetrics(first.body!)[0].resource, resource);
  assert.equal(flattenMetrics(first.body!)[0].scope.name, 'modelgate');

  const mj = metricsFor(endpoint('json'), resource, { exportIntervalMs: 60_000 });
  recordGenAi(mj, chat, { durationS: 1 });
  flushMetrics(); // the worker's drain: every aggregator's points now, whatever the interval
  await receiver.waitFor(() => receiver.accepted('metrics').some((r) => r.contentType === 'application/json'));
  const json = receiver.accepted('metrics').find((r) => r.contentType === 'application/json')!;
  assert.equal(durationOf(json).count, '1');
});
