/**
 * ai-proxy-advanced against the real gateway: weights, failover on provider errors and timeouts,
 * the circuit breaker, no retry once a stream started, and the unified OpenAI endpoint where the
 * request's model picks the provider (the OpenAI SDK talks to three providers through one URL).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT } from '../mocks/providers.ts';

let gw: Gateway;
const m: Record<string, MockProvider> = {};
const USER = { messages: [{ role: 'user', content: 'What is 1+1?' }] };

function compatTarget(mock: MockProvider, model: string, weight = 100, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { route_type: 'llm/v1/chat', weight, model: { provider: 'llama2', name: model, options: { llama2_format: 'openai', upstream_url: `${mock.url}/v1/chat/completions` } }, ...extra };
}

async function route(name: string, config: Record<string, unknown>, paths = [`/${name}`]): Promise<void> {
  const r = await gw.adminRequest('POST', '/services/ai/routes', { name, paths });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: 'ai-proxy-advanced', config });
  assert.equal(p.status, 201, `${name}: ${p.text}`);
}

const hits = (mock: MockProvider, since: number) => mock.requests.filter((r) => r.seq > since).length;

before(async () => {
  for (const name of ['a', 'b', 'c']) m[name] = await startMockProvider('openai-compatible');
  m.openai = await startMockProvider('openai');
  m.anthropic = await startMockProvider('anthropic');
  m.cohere = await startMockProvider('cohere');
  gw = await Gateway.start({ workers: 1 });
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(m).map((x) => x.close()));
});

test('the config is validated with every target checked like an ai-proxy config', async () => {
  const bad = await gw.adminRequest('POST', '/plugins', {
    name: 'ai-proxy-advanced',
    config: { targets: [{ model: { provider: 'azure', name: 'x' }, auth: { header_name: 'api-key', header_value: 'k' } }], balancer: { algorithm: 'fastest' } },
  });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.json.fields.config.targets[0]), /azure_instance/);
  assert.match(bad.json.fields.config.balancer.algorithm, /expected one of/);
});

test('weights are honoured over 1,000 requests', async () => {
  await route('weighted', { targets: [compatTarget(m.a, 'model-a', 70), compatTarget(m.b, 'model-b', 25), compatTarget(m.c, 'model-c', 5)] });
  const before = { a: m.a.requests.length, b: m.b.requests.length, c: m.c.requests.length };
  const served: Record<string, number> = {};
  for (let batch = 0; batch < 50; batch++) {
    const answers = await Promise.all(Array.from({ length: 20 }, () => gw.proxyRequest('POST', '/weighted', USER)));
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      served[r.json.model] = (served[r.json.model] ?? 0) + 1;
    }
  }
  const counts = { a: hits(m.a, before.a), b: hits(m.b, before.b), c: hits(m.c, before.c) };
  assert.equal(counts.a + counts.b + counts.c, 1000);
  assert.ok(Math.abs(counts.a - 700) <= 30 && Math.abs(counts.b - 250) <= 30 && Math.abs(counts.c - 50) <= 15, JSON.stringify(counts));
  assert.equal(served['model-a'], counts.a, 'each answer came from the target the balancer chose');
});

test('a target answering 500 or 429, or timing out, is skipped; the request succeeds on the next', async () => {
  await route('failover', {
    balancer: { algorithm: 'priority', read_timeout: 400, retries: 2 },
    targets: [compatTarget(m.a, 'primary', 100), compatTarget(m.b, 'secondary', 50)],
  });
  for (const mode of ['5xx-json:500', '429', 'slow-headers:2000', 'reset-before-headers']) {
    m.a.nextResponse(mode);
    const beforeB = m.b.requests.length;
    const r = await gw.proxyRequest('POST', '/failover', USER);
    assert.equal(r.status, 200, `${mode}: ${r.text}`);
    assert.equal(r.json.model, 'secondary', mode);
    assert.equal(r.headers.get('x-modelgate-target'), '1');
    assert.equal(r.headers.get('x-modelgate-attempts'), '2');
    assert.equal(hits(m.b, beforeB), 1);
  }
  const ok = await gw.proxyRequest('POST', '/failover', USER);
  assert.equal(ok.json.model, 'primary', 'the primary serves again once it is healthy');
  // the log entry records every attempt
  await new Promise((r) => setTimeout(r, 100));
  const failedOver = gw.stdout
    .split('\n')
    .filter((l) => l.includes('"balancer"'))
    .map((l) => JSON.parse(l))
    .find((e) => e.ai.proxy.balancer.attempts.length === 2);
  assert.ok(failedOver, 'a log entry lists both attempts');
  assert.equal(failedOver.ai.proxy.balancer.attempts[1].status, 200);
  assert.equal(failedOver.ai.proxy.balancer.target, 1);
});

test('when every target fails, the last answer reaches the client as is', async () => {
  m.a.nextResponse('5xx-json:503');
  m.b.nextResponse('5xx-json:502');
  const r = await gw.proxyRequest('POST', '/failover', USER);
  assert.equal(r.status, 502);
  assert.equal(typeof r.json.error.message, 'string');
});

test('the circuit opens after max_fails, lets one probe through after fail_timeout, and closes', async () => {
  await route('circuit', {
    balancer: { algorithm: 'priority', max_fails: 2, fail_timeout: 600, retries: 1 },
    targets: [compatTarget(m.c, 'flaky', 100), compatTarget(m.b, 'steady', 50)],
  });
  await m.c.setMode('5xx-json:500');
  for (let i = 0; i < 2; i++) assert.equal((await gw.proxyRequest('POST', '/circuit', USER)).json.model, 'steady');
  const beforeOpen = m.c.requests.length;
  for (let i = 0; i < 5; i++) {
    const r = await gw.proxyRequest('POST', '/circuit', USER);
    assert.equal(r.json.model, 'steady');
    assert.equal(r.headers.get('x-modelgate-attempts'), '1', 'an open circuit is not tried');
  }
  assert.equal(hits(m.c, beforeOpen), 0);
  await m.c.setMode('ok');
  await new Promise((r) => setTimeout(r, 700));
  const probe = await gw.proxyRequest('POST', '/circuit', USER);
  assert.equal(probe.json.model, 'flaky', 'the half-open probe reached the recovered target');
  assert.equal((await gw.proxyRequest('POST', '/circuit', USER)).json.model, 'flaky', 'closed again');
});

test('a stream whose first bytes reached the client is never retried', async () => {
  const beforeB = m.b.requests.length;
  m.a.nextResponse('stream,reset-mid-stream');
  const res = await fetch(`${gw.proxy}/failover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...USER, stream: true }) });
  const text = await res.text();
  assert.equal(res.status, 200);
  assert.ok(!text.includes('[DONE]'));
  assert.match(text, /"error"/);
  assert.equal(hits(m.b, beforeB), 0, 'the secondary never saw the request');
});

test('one OpenAI endpoint, three providers: the request model picks the target', async () => {
  await route(
    'unified',
    {
      targets: [
        { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${m.openai.url}/v1/chat/completions` } } },
        {
          route_type: 'llm/v1/chat',
          alias: 'claude-3-5-sonnet',
          auth: { header_name: 'x-api-key', header_value: 'sk-ant-test' },
          model: { provider: 'anthropic', name: 'claude-3-5-sonnet-latest', options: { upstream_url: `${m.anthropic.url}/v1/messages` } },
        },
        { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer co-test' }, model: { provider: 'cohere', name: 'command-r', options: { upstream_url: `${m.cohere.url}/v1/chat` } } },
        { route_type: 'llm/v1/completions', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider: 'openai', name: 'gpt-3.5-turbo-instruct', options: { upstream_url: `${m.openai.url}/v1/completions` } } },
      ],
    },
    ['/unified/v1'],
  );
  const client = new OpenAI({ baseURL: `${gw.proxy}/unified/v1`, apiKey: 'client-key', maxRetries: 0 });
  for (const [model, mock] of [['gpt-4o', m.openai], ['claude-3-5-sonnet', m.anthropic], ['command-r', m.cohere]] as const) {
    const before = mock.requests.length;
    const c = await client.chat.completions.create({ model, messages: USER.messages as OpenAI.ChatCompletionMessageParam[] });
    assert.equal(c.choices[0].message.content?.trim(), DEFAULT_TEXT, model);
    assert.equal(hits(mock, before), 1, `${model} went to its provider`);
  }
  const stream = await client.chat.completions.create({ model: 'claude-3-5-sonnet', messages: USER.messages as OpenAI.ChatCompletionMessageParam[], stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text.trim(), DEFAULT_TEXT);
  const completion = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'What is 1+1?' });
  assert.equal(completion.choices[0].text.trim(), DEFAULT_TEXT);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((x) => x.id).sort(), ['claude-3-5-sonnet', 'command-r', 'gpt-3.5-turbo-instruct', 'gpt-4o']);
  await assert.rejects(client.chat.completions.create({ model: 'gpt-9', messages: USER.messages as OpenAI.ChatCompletionMessageParam[] }), (e: unknown) => e instanceof OpenAI.NotFoundError);
});
