/**
 * `MODELGATE_TRACING_INSTRUMENTATIONS` (Kong's `tracing_instrumentations`) on the real gateway:
 * the default records the request span, the GenAI client span of each provider call and the
 * balancer's attempts, not the router and plugin-phase spans (`all`: test/integration/otel.test.ts);
 * `off` records nothing, yet the caller's trace is continued and propagated and the log records
 * still name it. A bad value stops start-up with one line naming the setting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Gateway, CLI } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';
import { OtlpReceiver } from '../helpers/otlp-receiver.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

const KEY = 'sk-openai-instrumentations-5a1c';
const USER = [{ role: 'user', content: 'What is 1+1?' }];
const TRACE_HEADER = 'x-trace-id';

let byDefault: Gateway;
let off: Gateway;
let openai: MockProvider;
let echo: EchoServer;
let receiver: OtlpReceiver;
let offReceiver: OtlpReceiver;

async function configure(gw: Gateway, collector: OtlpReceiver): Promise<void> {
  const admin = async (method: string, url: string, body?: unknown) => {
    const r = await gw.adminRequest(method, url, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  };
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await admin('POST', '/services', { name: 'plain', url: echo.url });
  await admin('POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
  await admin('POST', '/services/plain/routes', { name: 'plain', paths: ['/plain'] });
  await admin('POST', '/routes/chat/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${KEY}` }, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
  });
  await admin('POST', '/plugins', {
    name: 'opentelemetry',
    config: { traces_endpoint: `${collector.url}/v1/traces`, logs_endpoint: `${collector.url}/v1/logs`, queue: { max_coalescing_delay: 0.05 }, http_response_header_for_traceid: TRACE_HEADER },
  });
}

before(async () => {
  [receiver, offReceiver] = await Promise.all([OtlpReceiver.start(), OtlpReceiver.start()]);
  openai = await startMockProvider('openai', { key: KEY });
  echo = await EchoServer.start();
  [byDefault, off] = await Gateway.startAll([{ workers: 1 }, { workers: 1, env: { MODELGATE_TRACING_INSTRUMENTATIONS: 'off' } }]);
  await configure(byDefault, receiver);
  await configure(off, offReceiver);
});

after(async () => {
  await Promise.all([byDefault?.close(), off?.close()]);
  await Promise.all([openai?.close(), echo?.close(), receiver?.close(), offReceiver?.close()]);
});

async function spansOf(traceId: string, expected: number) {
  await receiver.waitFor(() => receiver.spans().filter((s) => s.traceId === traceId).length >= expected);
  await new Promise((r) => setTimeout(r, 200)); // a span too many would arrive with the same batch
  return receiver.spans().filter((s) => s.traceId === traceId);
}

test('by default: an AI request records its request span and the GenAI client span, no router or plugin-phase span', async () => {
  const r = await byDefault.proxyRequest('POST', '/chat', { messages: USER });
  assert.equal(r.status, 200, r.text);
  const spans = await spansOf(r.headers.get(TRACE_HEADER)!, 2);
  assert.deepEqual(spans.map((s) => s.name).sort(), ['chat gpt-4o', 'kong']);
  const root = spans.find((s) => s.name === 'kong')!;
  assert.equal(spans.find((s) => s.name === 'chat gpt-4o')!.parentSpanId, root.spanId);
  // the provider was called under the GenAI span's id
  const tp = String(openai.requests.at(-1)!.headers.traceparent);
  assert.equal(tp, `00-${root.traceId}-${spans.find((s) => s.name === 'chat gpt-4o')!.spanId}-01`);
});

test('by default: a plain request records its request span and its balancer attempt', async () => {
  const r = await byDefault.proxyRequest('GET', '/plain');
  assert.equal(r.status, 200, r.text);
  const spans = await spansOf(r.headers.get(TRACE_HEADER)!, 2);
  assert.deepEqual(spans.map((s) => s.name).sort(), ['kong', 'kong.balancer']);
});

test('off: nothing is recorded, the caller\'s trace is still continued and propagated, the log record names it', async () => {
  const caller = '4bf92f3577b34da6a3ce929d0e0e4736';
  const r = await off.proxyRequest('POST', '/chat', { messages: USER }, { traceparent: `00-${caller}-00f067aa0ba902b7-01` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get(TRACE_HEADER), caller);
  assert.match(String(openai.requests.at(-1)!.headers.traceparent), new RegExp(`^00-${caller}-[0-9a-f]{16}-01$`));
  await offReceiver.waitFor(() => offReceiver.logs().some((l) => l.traceId === caller));
  const p = await off.proxyRequest('GET', '/plain');
  assert.equal(p.status, 200);
  await offReceiver.waitFor(() => offReceiver.logs().length >= 2);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(offReceiver.spans().length, 0, 'no span exported');
});

test('a bad tracing_instrumentations stops start-up naming the setting', () => {
  const run = spawnSync(process.execPath, [CLI, 'start'], { env: { ...process.env, MODELGATE_TRACING_INSTRUMENTATIONS: 'request,everything', MODELGATE_PREFIX: '/nonexistent-never-created' }, encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr + run.stdout, /MODELGATE_TRACING_INSTRUMENTATIONS/);
});
