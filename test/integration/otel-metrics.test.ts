/**
 * The GenAI metrics over OTLP against the real gateway (issue 21): a global opentelemetry plugin
 * with a `metrics_endpoint` on the test receiver (test/helpers/otlp-receiver.ts, decoding with the
 * official proto), known traffic through an OpenAI mock — two chats, a streamed chat, embeddings
 * and a provider error — and the cumulative points the receiver gets: counts, sums, bucket counts
 * and attributes per the semantic conventions. The Prometheus series are still there beside them.
 * The export interval is OTEL_METRIC_EXPORT_INTERVAL (200 ms here); the test waits for the export
 * that holds every call, within a generous bound, never a fixed sleep.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { OtlpReceiver, flattenMetrics, type ReceivedMetric } from '../helpers/otlp-receiver.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { streamUsage } from '../helpers/spend-routes.ts';
import { GENAI_INSTRUMENTS } from '../../src/observability/otel/metrics.ts';

const OPENAI_KEY = 'sk-openai-otelmetrics-5c0f3a91';
const USER = [{ role: 'user', content: 'What is 1+1?' }];

let gw: Gateway;
let openai: MockProvider;
let receiver: OtlpReceiver;

before(async () => {
  receiver = await OtlpReceiver.start();
  openai = await startMockProvider('openai', { key: OPENAI_KEY });
  gw = await Gateway.start({ workers: 1, env: { OTEL_METRIC_EXPORT_INTERVAL: '200' } });
  const admin = async (method: string, url: string, body?: unknown): Promise<any> => {
    const r = await gw.adminRequest(method, url, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
    return r.json;
  };
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await admin('POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
  await admin('POST', '/services/ai/routes', { name: 'emb', paths: ['/emb'] });
  const auth = { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` };
  await admin('POST', '/routes/chat/plugins', { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', auth, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions` } } } });
  await admin('POST', '/routes/emb/plugins', { name: 'ai-proxy', config: { route_type: 'llm/v1/embeddings', auth, model: { provider: 'openai', name: 'text-embedding-3-small', options: { upstream_url: `${openai.url}/v1/embeddings` } } } });
  await admin('POST', '/plugins', { name: 'prometheus', config: { ai_metrics: true } });
  await admin('POST', '/plugins', { name: 'opentelemetry', config: { metrics_endpoint: `${receiver.url}/v1/metrics`, resource_attributes: { 'deployment.environment': 'test' } } });
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await receiver?.close();
});

/** The metrics of the latest accepted export (cumulative: it holds everything so far). */
function latest(): ReceivedMetric[] {
  const all = receiver.accepted('metrics');
  return all.length ? flattenMetrics(all[all.length - 1].body!) : [];
}

function pointsOf(metrics: ReceivedMetric[], name: string): ReceivedMetric['dataPoints'] {
  return metrics.find((m) => m.name === name)?.dataPoints ?? [];
}

const totalCount = (points: ReceivedMetric['dataPoints']) => points.reduce((n, p) => n + Number(p.count), 0);

/** The bucket a value falls in: upper bounds inclusive (the data model's `(bounds[i-1], bounds[i]]`). */
function bucketOf(bounds: readonly number[], v: number): number {
  let i = 0;
  while (i < bounds.length && v > bounds[i]) i++;
  return i;
}

test('known chat, stream, embeddings and error traffic gives the expected GenAI metric points; Prometheus still counts', async () => {
  const chat1 = await gw.proxyRequest('POST', '/chat', { messages: USER });
  assert.equal(chat1.status, 200, chat1.text);
  const chat2 = await gw.proxyRequest('POST', '/chat', { messages: [{ role: 'user', content: 'And 2+2? Answer at length.' }] });
  assert.equal(chat2.status, 200, chat2.text);
  // the mock's events come 150 ms apart, its role-only event first: the first content comes ≥ 150 ms after the call
  const streamed = await gw.proxyRequest('POST', '/chat', { messages: USER, stream: true, stream_options: { include_usage: true } }, { 'x-mock-delay-ms': '150' });
  assert.equal(streamed.status, 200, streamed.text);
  const sUsage = streamUsage(streamed.text);
  assert.ok(sUsage, 'the stream reported its usage');
  const emb = await gw.proxyRequest('POST', '/emb', { input: 'hello otel metrics' });
  assert.equal(emb.status, 200, emb.text);
  openai.nextResponse({ status: 500, body: { error: { message: 'the mock failed', type: 'server_error' } } });
  const failed = await gw.proxyRequest('POST', '/chat', { messages: USER });
  assert.equal(failed.status, 500, failed.text);

  // an export that holds all five calls
  await receiver.waitFor(() => totalCount(pointsOf(latest(), GENAI_INSTRUMENTS.operationDuration.name)) === 5, 20_000);
  const metrics = latest();

  // resource and scope: the plugin's resource, this worker's instance id
  for (const m of metrics) {
    assert.equal(m.resource['service.name'], 'modelgate');
    assert.equal(m.resource['deployment.environment'], 'test');
    assert.equal(typeof m.resource['service.instance.id'], 'string');
    assert.equal(m.scope.name, 'modelgate');
    assert.equal(m.type, 'histogram');
    assert.equal(m.data.aggregationTemporality, 2, 'cumulative');
  }
  assert.deepEqual(metrics.map((m) => [m.name, m.unit]).sort(), [
    ['gen_ai.client.operation.duration', 's'],
    ['gen_ai.client.operation.time_to_first_chunk', 's'],
    ['gen_ai.client.token.usage', '{token}'],
  ]);

  const server = { 'server.address': '127.0.0.1', 'server.port': Number(new URL(openai.url).port) };
  const chatAttrs = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': chat1.json.model, ...server };
  assert.equal(chat2.json.model, chat1.json.model);

  // duration: the three answered chats under one attribute set, the failure under its error.type, embeddings apart
  const duration = pointsOf(metrics, 'gen_ai.client.operation.duration');
  const byAttrs = (points: ReceivedMetric['dataPoints'], attrs: Record<string, unknown>) => points.find((p) => JSON.stringify(sortKeys(p.attributes)) === JSON.stringify(sortKeys(attrs)));
  const okChats = byAttrs(duration, chatAttrs);
  assert.ok(okChats, `a duration point with ${JSON.stringify(chatAttrs)}; got ${JSON.stringify(duration.map((p) => p.attributes))}`);
  assert.equal(okChats.count, '3');
  const errorPoint = duration.find((p) => p.attributes['error.type'] !== undefined);
  assert.ok(errorPoint, 'the failed call has a duration point with error.type');
  assert.equal(errorPoint.attributes['error.type'], '500');
  assert.equal(errorPoint.attributes['gen_ai.operation.name'], 'chat');
  assert.equal(errorPoint.count, '1');
  const embPoint = duration.find((p) => p.attributes['gen_ai.operation.name'] === 'embeddings');
  assert.ok(embPoint);
  assert.equal(embPoint.attributes['gen_ai.request.model'], 'text-embedding-3-small');
  assert.equal(embPoint.count, '1');
  for (const p of duration) {
    assert.equal((p.bucketCounts as string[]).reduce((n, c) => n + Number(c), 0), Number(p.count), 'bucket counts add up to the count');
    assert.deepEqual(p.explicitBounds, [...GENAI_INSTRUMENTS.operationDuration.bounds]);
    assert.ok((p.sum as number) > 0);
  }

  // tokens: input and output per call as the provider reported them, exact sums and buckets
  const tokens = pointsOf(metrics, 'gen_ai.client.token.usage');
  const bounds = GENAI_INSTRUMENTS.tokenUsage.bounds;
  const answered = [chat1.json.usage, chat2.json.usage, sUsage];
  for (const [type, field] of [['input', 'prompt_tokens'], ['output', 'completion_tokens']] as const) {
    const p = byAttrs(tokens, { ...chatAttrs, 'gen_ai.token.type': type });
    assert.ok(p, `a ${type} token point for the chats`);
    const values = answered.map((u) => u[field] as number);
    assert.equal(p.count, '3');
    assert.equal(p.sum, values.reduce((a, b) => a + b, 0));
    assert.equal(p.min, Math.min(...values));
    assert.equal(p.max, Math.max(...values));
    const expected = new Array(bounds.length + 1).fill(0);
    for (const v of values) expected[bucketOf(bounds, v)]++;
    assert.deepEqual((p.bucketCounts as string[]).map(Number), expected);
  }
  const embTokens = tokens.filter((p) => p.attributes['gen_ai.operation.name'] === 'embeddings');
  assert.deepEqual(embTokens.map((p) => [p.attributes['gen_ai.token.type'], Number(p.count), p.sum]), [['input', 1, emb.json.usage.prompt_tokens]], 'embeddings: input tokens only');
  assert.ok(tokens.every((p) => p.attributes['error.type'] === undefined), 'no token point for the failure');

  // time to first chunk: the stream only
  const ttfc = pointsOf(metrics, 'gen_ai.client.operation.time_to_first_chunk');
  assert.equal(ttfc.length, 1);
  assert.deepEqual(sortKeys(ttfc[0].attributes), sortKeys(chatAttrs));
  assert.equal(ttfc[0].count, '1');
  assert.ok((ttfc[0].sum as number) >= 0.15, `first content after the mock's 150 ms delay: ${ttfc[0].sum}`);

  // the Prometheus metrics are still there, counting the same calls
  const prom = await (await fetch(`${gw.admin}/metrics`)).text();
  assert.match(prom, /^modelgate_ai_llm_requests_total\{[^}]*ai_provider="openai"[^}]*\} \d+/m);
  assert.match(prom, /^modelgate_otel_dropped_spans_total/m);
});

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
