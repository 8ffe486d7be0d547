/**
 * ai-budget against the real gateway and an OpenAI mock. Routes set `model.options.input_cost` and
 * `output_cost` to $1,000,000 per million tokens, so an answer costs exactly its total tokens in
 * dollars (TOTAL per question below).
 *
 * One node (local counters, two workers sharing the primary's): a consumer is stopped after
 * exactly the expected answers (whole and streamed), refused with 429 in OpenAI's shape (and
 * Anthropic's on an `llm_format: anthropic` route) before the provider is called, sees
 * `X-Modelgate-Budget-Remaining` on every answer, is warned once past the soft limit, and is whole
 * again past the UTC midnight (the test clock, MODELGATE_TEST_FAULTS + MODELGATE_TEST_CLOCK_FILE,
 * moved from 23:50 to 00:10); another consumer is unaffected; http-log forwards `ai.budget`.
 * Two nodes with `strategy: redis` share one budget, and it survives a node's restart.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import { parseSse } from '../helpers/sse.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';

const QUESTION = 'What is 1+1?';
const TOTAL = countTokens(QUESTION) + countTokens(DEFAULT_TEXT);
const DAY = 86_400_000;
const KEYS = { alice: 'budget-alice-2f8c1d', bob: 'budget-bob-7a3e9b', carol: 'budget-carol-5d1f0e' };
const CHAT = { messages: [{ role: 'user', content: QUESTION }] };

let openai: MockProvider;
let sink: LogSink;
let gw: Gateway;
const clockDir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-clock-'));
const clockFile = path.join(clockDir, 'offset');

/** Puts the gateway's budget clock at `at` (ms since the epoch). */
function setClock(at: number): void {
  writeFileSync(clockFile, String(at - Date.now()));
}

function aiProxy(upstream: string, extra: Record<string, unknown> = {}, priced = true) {
  return {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' },
      model: { provider: 'openai', name: priced ? 'gpt-4' : 'mock-unpriced-model-x1', options: { upstream_url: upstream, ...(priced ? { input_cost: 1_000_000, output_cost: 1_000_000 } : {}) } },
      logging: { log_statistics: true },
      ...extra,
    },
  };
}

async function ok(g: Gateway, method: string, url: string, body: unknown): Promise<any> {
  const r = await g.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${url}: ${r.text}`);
  return r.json;
}

const chat = (g: Gateway, key: string, stream = false, route = '/chat') => g.proxyRequest('POST', route, stream ? { ...CHAT, stream: true } : CHAT, { apikey: key });

/** The remaining budget as a request that reaches no provider sees it (an empty body: ai-proxy's 400). */
async function remaining(g: Gateway, key: string, route = '/chat'): Promise<number> {
  const r = await g.proxyRequest('POST', route, {}, { apikey: key });
  assert.ok(r.status === 400 || r.status === 429, r.text);
  const h = r.headers.get('x-modelgate-budget-remaining');
  assert.ok(h !== null, `the header on a ${r.status}`);
  return Number(h);
}

/** Cost lands in the log phase, just after the answer: waits until the budget shows `expected`. */
async function waitRemaining(g: Gateway, key: string, expected: number, route = '/chat'): Promise<void> {
  const deadline = Date.now() + 5000;
  let left = await remaining(g, key, route);
  while (left !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = await remaining(g, key, route);
  }
  assert.equal(left, expected);
}

function assertOpenAiRefusal(r: HttpResult, spent: number, amount: number): void {
  assert.equal(r.status, 429, r.text);
  const message = r.json?.error?.message as string;
  assert.deepEqual(r.json.error, { message, type: 'rate_limit_error', code: 'budget_exceeded', param: null });
  assert.match(message, new RegExp(`^Budget exceeded: \\$${spent} spent of \\$${amount} per calendar day \\(UTC\\); resets at \\d{4}-\\d\\d-\\d\\dT00:00:00\\.000Z`));
  assert.equal(r.headers.get('x-modelgate-budget-remaining'), '0');
}

describe('one node, local counters', () => {
  before(async () => {
    openai = await startMockProvider('openai', { models: '*' });
    sink = await new LogSink().start();
    // 23:50 UTC: ten minutes before a day's budget resets
    setClock(Math.ceil(Date.now() / DAY) * DAY + DAY - 10 * 60_000);
    gw = await Gateway.start({ workers: 2, env: { MODELGATE_TEST_FAULTS: '1', MODELGATE_TEST_CLOCK_FILE: clockFile } });
    await ok(gw, 'POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
    for (const [name, key] of Object.entries(KEYS)) {
      await ok(gw, 'POST', '/consumers', { username: name });
      await ok(gw, 'POST', `/consumers/${name}/key-auth`, { key });
    }
    await ok(gw, 'POST', '/plugins', { name: 'key-auth' });
    await ok(gw, 'POST', '/plugins', { name: 'http-log', config: { http_endpoint: sink.url, queue: { max_batch_size: 1, max_coalescing_delay: 0.01 } } });
    const upstream = `${openai.url}/v1/chat/completions`;
    const routes: [string, unknown[]][] = [
      ['chat', [aiProxy(upstream), { name: 'ai-budget', config: { budgets: [{ amount: 3 * TOTAL, period: 'day', soft_limit: 0.5 }, { amount: 1000 * TOTAL, period: 'month' }] } }]],
      ['anthropic', [aiProxy(upstream, { llm_format: 'anthropic' }), { name: 'ai-budget', config: { budgets: [{ amount: 0.000001, period: 'day' }] } }]],
      ['unpriced', [aiProxy(upstream, {}, false), { name: 'ai-budget', config: { budgets: [{ amount: 0.000001, period: 'day' }] } }]],
    ];
    for (const [name, plugins] of routes) {
      await ok(gw, 'POST', '/services/ai/routes', { name, paths: [`/${name}`] });
      for (const p of plugins) await ok(gw, 'POST', `/routes/${name}/plugins`, p);
    }
  });

  after(async () => {
    await gw?.close();
    await openai?.close();
    await sink?.close();
    rmSync(clockDir, { recursive: true, force: true });
  });

  test('stopped after exactly three answers (whole and streamed), 429 before the provider in OpenAI shape; bob unaffected; whole again after midnight', async () => {
    await waitRemaining(gw, KEYS.alice, 3 * TOTAL);
    const first = await chat(gw, KEYS.alice);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-modelgate-budget-remaining'), String(3 * TOTAL), 'the header on every answer, before the soft limit too');
    await waitRemaining(gw, KEYS.alice, 2 * TOTAL);

    const streamed = await chat(gw, KEYS.alice, true);
    assert.equal(streamed.status, 200, streamed.text);
    assert.match(streamed.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(streamed.headers.get('x-modelgate-budget-remaining'), String(2 * TOTAL));
    assert.equal(
      parseSse(streamed.text)
        .map((e) => e.data?.choices?.[0]?.delta?.content ?? '')
        .join(''),
      DEFAULT_TEXT,
    );
    await waitRemaining(gw, KEYS.alice, TOTAL);

    // the log entry says what was counted, for http-log to forward
    const entry = await sink.entryFor(streamed.headers.get('x-modelgate-request-id')!);
    assert.equal(entry.ai.proxy.usage.total_tokens, TOTAL, 'ai-proxy wrote its section too');
    assert.equal(entry.ai.budget.cost, TOTAL);
    assert.equal(entry.ai.budget.unpriced, false);
    assert.equal(entry.ai.budget.refused, false);
    assert.deepEqual(
      entry.ai.budget.budgets.map((b: any) => [b.period, b.window, b.amount, b.spent, b.remaining, b.soft_limit_reached, b.exceeded]),
      [
        ['day', 'calendar', 3 * TOTAL, TOTAL, 2 * TOTAL, false, false],
        ['month', 'calendar', 1000 * TOTAL, TOTAL, 999 * TOTAL, false, false],
      ],
    );

    const third = await chat(gw, KEYS.alice);
    assert.equal(third.status, 200, third.text);
    await waitRemaining(gw, KEYS.alice, 0);

    const before = openai.requests.length;
    for (const stream of [false, true]) {
      const refused = await chat(gw, KEYS.alice, stream);
      assertOpenAiRefusal(refused, 3 * TOTAL, 3 * TOTAL);
      const retry = Number(refused.headers.get('retry-after'));
      assert.ok(retry > 0 && retry <= 600, `Retry-After ${retry}: the reset at midnight, ten minutes away on the test clock`);
    }
    assert.equal(openai.requests.length, before, 'refused before any provider call');
    const refusedEntry = sink.entries().find((e) => e.ai?.budget?.refused === true);
    assert.ok(refusedEntry, 'a refusal is in the log');

    const bob = await chat(gw, KEYS.bob);
    assert.equal(bob.status, 200, 'another consumer has a budget of its own');
    assert.equal(bob.headers.get('x-modelgate-budget-remaining'), String(3 * TOTAL));

    // the soft limit (half of the day's) was crossed once: one warning, however many requests saw it
    const warnings = () => gw.logs.split('\n').filter((l) => l.includes('budget soft limit reached'));
    const deadline = Date.now() + 3000;
    while (warnings().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(warnings().length, 1, warnings().join('\n'));
    assert.match(warnings()[0], /\$3 per calendar day \(UTC\)|per calendar day/);

    // 00:10 UTC the next day: the day's budget is whole again (the month's keeps counting, unless it turned too)
    setClock(Math.ceil(Date.now() / DAY) * DAY + DAY + 10 * 60_000);
    const next = await chat(gw, KEYS.alice);
    assert.equal(next.status, 200, next.text);
    assert.equal(next.headers.get('x-modelgate-budget-remaining'), String(3 * TOTAL));
  });

  test("an Anthropic client is refused in Anthropic's error shape", async () => {
    const headers = { apikey: KEYS.carol, 'anthropic-version': '2023-06-01' };
    const body = { model: 'gpt-4', max_tokens: 100, messages: [{ role: 'user', content: QUESTION }] };
    const first = await gw.proxyRequest('POST', '/anthropic/v1/messages', body, headers);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.type, 'message');
    await waitRemaining(gw, KEYS.carol, 0, '/anthropic/v1/messages');
    const before = openai.requests.length;
    for (const stream of [false, true]) {
      const r = await gw.proxyRequest('POST', '/anthropic/v1/messages', { ...body, stream }, headers);
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'rate_limit_error');
      assert.match(r.json.error.message, /^Budget exceeded: \$[\d.]+ spent of \$0\.000001 per calendar day \(UTC\)/);
      assert.deepEqual(r.json.error.details, { error_code: 'budget_exceeded' });
    }
    assert.equal(openai.requests.length, before);
  });

  test('an answer of a model without a price counts nothing, and the log says it was unpriced', async () => {
    const r = await chat(gw, KEYS.alice, false, '/unpriced');
    assert.equal(r.status, 200, r.text);
    const entry = await sink.entryFor(r.headers.get('x-modelgate-request-id')!);
    assert.equal(entry.ai.budget.unpriced, true);
    assert.equal(entry.ai.budget.cost, 0);
    assert.equal((await chat(gw, KEYS.alice, false, '/unpriced')).status, 200, 'still within a budget of a millionth of a dollar');
  });
});

describe('two nodes sharing Redis', { skip: redisMissing ?? false }, () => {
  const IDS = { alice: '5b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e', credential: '6c2d3e4f-5a6b-4c7d-9e8f-0a1b2c3d4e5f' };
  let redis: RedisServer;
  let mock: MockProvider;
  let nodes: Gateway[] = [];

  async function configure(g: Gateway): Promise<void> {
    await ok(g, 'POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
    await ok(g, 'POST', '/consumers', { id: IDS.alice, username: 'alice' });
    await ok(g, 'POST', '/consumers/alice/key-auth', { id: IDS.credential, key: KEYS.alice });
    await ok(g, 'POST', '/plugins', { name: 'key-auth' });
    await ok(g, 'POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
    await ok(g, 'POST', '/routes/chat/plugins', aiProxy(`${mock.url}/v1/chat/completions`));
    // the same namespace on both nodes: one budget, whatever the plugin's id on each
    await ok(g, 'POST', '/routes/chat/plugins', { name: 'ai-budget', config: { strategy: 'redis', namespace: 'team', budgets: [{ amount: 3 * TOTAL, period: 'week', window: 'rolling' }] } });
  }

  before(async () => {
    redis = await RedisServer.start();
    mock = await startMockProvider('openai');
    nodes = await Gateway.startAll([0, 1].map(() => ({ workers: 1, env: { MODELGATE_REDIS_URL: redis.url } })));
    for (const n of nodes) await configure(n);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await mock?.close();
    await redis?.close();
  });

  test('a budget spent on one node is spent on the other, and a restart keeps it', async () => {
    for (let i = 0; i < 3; i++) {
      await waitRemaining(nodes[(i + 1) % 2], KEYS.alice, (3 - i) * TOTAL);
      const r = await chat(nodes[i % 2], KEYS.alice, i === 1);
      assert.equal(r.status, 200, r.text);
    }
    await waitRemaining(nodes[0], KEYS.alice, 0);
    for (const n of nodes) {
      const refused = await chat(n, KEYS.alice);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.json.error.code, 'budget_exceeded');
      assert.match(refused.json.error.message, /per rolling 7 days$/);
      const retry = Number(refused.headers.get('retry-after'));
      assert.ok(retry > 6 * 86400 && retry <= 7 * 86400 + 6 * 3600, `Retry-After ${retry}: when the first answer leaves the 7 days`);
    }

    await nodes[0].stop();
    await nodes[0].launch({ workers: 1, env: { MODELGATE_REDIS_URL: redis.url } });
    const after = await chat(nodes[0], KEYS.alice);
    assert.equal(after.status, 429, 'the counters live in Redis: a restarted node still sees the budget spent');
  });
});

describe('one node, local counters, restarted', () => {
  let mock: MockProvider;
  let node: Gateway;

  before(async () => {
    mock = await startMockProvider('openai');
    node = await Gateway.start({ workers: 2 });
    await ok(node, 'POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
    await ok(node, 'POST', '/consumers', { username: 'alice' });
    await ok(node, 'POST', '/consumers/alice/key-auth', { key: KEYS.alice });
    await ok(node, 'POST', '/plugins', { name: 'key-auth' });
    // global: seeded from the spend log, which sums a consumer's spend on every route
    await ok(node, 'POST', '/plugins', { name: 'ai-budget', config: { budgets: [{ amount: 2 * TOTAL, period: 'day', window: 'rolling' }] } });
    await ok(node, 'POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
    await ok(node, 'POST', '/routes/chat/plugins', aiProxy(`${mock.url}/v1/chat/completions`));
  });

  after(async () => {
    await node?.close();
    await mock?.close();
  });

  test('a restart keeps the budget: counters are seeded from the spend log', async () => {
    for (let i = 0; i < 2; i++) {
      await waitRemaining(node, KEYS.alice, (2 - i) * TOTAL);
      assert.equal((await chat(node, KEYS.alice, i === 1)).status, 200);
    }
    await waitRemaining(node, KEYS.alice, 0);
    await node.stop(); // the primary writes the spend rows it holds before it exits
    await node.launch({ workers: 2 });
    const r = await chat(node, KEYS.alice);
    assert.equal(r.status, 429, r.text);
    assert.match(r.json.error.message, new RegExp(`^Budget exceeded: \\$${2 * TOTAL} spent of \\$${2 * TOTAL} per rolling 24 hours$`));
    assert.equal(await remaining(node, KEYS.alice), 0, 'the other worker sees the seeded counter too');
  });
});
