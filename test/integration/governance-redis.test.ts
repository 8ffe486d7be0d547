/**
 * Two gateway nodes sharing one Redis (`MODELGATE_REDIS_URL`): a request limit and a token budget
 * configured with `policy`/`strategy: redis` hold across both nodes, exactly, under concurrency.
 * Then a Redis outage under a third gateway: both limits keep answering, counted locally, with one
 * warning and never a 500, and go back to counting in Redis once it is back.
 *
 * The nodes have their own SQLite databases here, so every entity is created with the same id on
 * both (as nodes sharing PostgreSQL would see them): counters are keyed by plugin and route ids.
 * Skips (with the reason) without a `redis-server` binary, or without the Redis counter store.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Gateway } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';

const storeMissing = existsSync(path.resolve(import.meta.dirname, '../../src/state/redis.ts'))
  ? null
  : 'the Redis counter store (src/state/redis.ts, installed from MODELGATE_REDIS_URL) is not in this build yet';
const skip = redisMissing ?? storeMissing ?? false;

const KEY = 'shared-key-8d1e5f2a7c3b';
const TOTAL = countTokens('What is 1+1?') + countTokens(DEFAULT_TEXT);
const IDS = {
  consumer: '6f1b2f4e-1c3d-4a5b-9c8d-0e1f2a3b4c5d',
  credential: '7a2c3e5f-2d4e-4b6c-8d9e-1f2a3b4c5d6e',
  ai: '8b3d4f6a-3e5f-4c7d-9e0f-2a3b4c5d6e7f',
  echo: '9c4e5a7b-4f6a-4d8e-8f1a-3b4c5d6e7f80',
  chat: 'ad5f6b8c-5a7b-4e9f-9a2b-4c5d6e7f8091',
  plain: 'be6a7c9d-6b8c-4f0a-8b3c-5d6e7f8091a2',
  burst: 'cf7b8d0e-7c9d-4a1b-9c4d-6e7f8091a2b3',
  keyauth: 'd08c9e1f-8d0e-4b2c-8d5e-7f8091a2b3c4',
  budget: 'e19d0f2a-9e1f-4c3d-9e6f-8091a2b3c4d5',
  aiproxy: 'f2ae1a3b-af2a-4d4e-8f7a-91a2b3c4d5e6',
  limit: '03bf2b4c-b03b-4e5f-9a8b-a2b3c4d5e6f7',
  burstLimit: '14c03c5d-c14c-4f6a-8b9c-b3c4d5e6f708',
};

let redis: RedisServer;
let nodes: Gateway[] = [];
let openai: MockProvider;
let echo: EchoServer;

async function configure(gw: Gateway): Promise<void> {
  const ok = async (method: string, url: string, body: unknown) => {
    const r = await gw.adminRequest(method, url, body);
    assert.ok(r.status < 300, `${url}: ${r.text}`);
  };
  await ok('POST', '/services', { id: IDS.ai, name: 'ai', url: 'http://localhost:32000' });
  await ok('POST', '/services', { id: IDS.echo, name: 'echo', url: echo.url });
  await ok('POST', '/consumers', { id: IDS.consumer, username: 'alice' });
  await ok('POST', '/consumers/alice/key-auth', { id: IDS.credential, key: KEY });
  await ok('POST', '/plugins', { id: IDS.keyauth, name: 'key-auth' });
  await ok('POST', '/services/ai/routes', { id: IDS.chat, name: 'chat', paths: ['/chat'] });
  await ok('POST', '/routes/chat/plugins', {
    id: IDS.aiproxy,
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
  });
  await ok('POST', '/routes/chat/plugins', { id: IDS.budget, name: 'ai-rate-limiting-advanced', config: { strategy: 'redis', llm_providers: [{ name: 'openai', limit: [3 * TOTAL], window_size: [3600] }] } });
  await ok('POST', '/services/echo/routes', { id: IDS.plain, name: 'plain', paths: ['/plain'] });
  await ok('POST', '/routes/plain/plugins', { id: IDS.limit, name: 'rate-limiting', config: { hour: 5, policy: 'redis' } });
  await ok('POST', '/services/echo/routes', { id: IDS.burst, name: 'burst', paths: ['/burst'] });
  await ok('POST', '/routes/burst/plugins', { id: IDS.burstLimit, name: 'rate-limiting', config: { hour: 10, policy: 'redis' } });
}

before(async () => {
  if (skip) return;
  redis = await RedisServer.start();
  openai = await startMockProvider('openai', { delayMs: 1 });
  echo = await EchoServer.start();
  nodes = await Gateway.startAll([0, 1].map(() => ({ workers: 1, env: { MODELGATE_REDIS_URL: redis.url } })));
  for (const gw of nodes) await configure(gw);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await openai?.close();
  await echo?.close();
  await redis?.close();
});

async function budgetLeft(gw: Gateway): Promise<number> {
  const r = await gw.proxyRequest('POST', '/chat', {}, { apikey: KEY });
  return Number(r.headers.get('x-ai-ratelimit-remaining-hour-openai'));
}

test('a request limit holds across two nodes sharing Redis, exactly under concurrency', { skip }, async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await nodes[i % 2].proxyRequest('GET', '/plain', undefined, { apikey: KEY })).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);

  const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => nodes[i % 2].proxyRequest('GET', '/burst', undefined, { apikey: KEY })));
  assert.equal(burst.filter((r) => r.status === 200).length, 10);
});

test('a token budget spent on one node is spent on the other', { skip }, async () => {
  for (let i = 0; i < 3; i++) {
    const gw = nodes[i % 2];
    // usage lands just after each answer: wait until both nodes see it
    const deadline = Date.now() + 3000;
    while ((await budgetLeft(nodes[(i + 1) % 2])) !== (3 - i) * TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const r = await gw.proxyRequest('POST', '/chat', { messages: [{ role: 'user', content: 'What is 1+1?' }] }, { apikey: KEY });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-ai-ratelimit-remaining-hour-openai'), String((3 - i) * TOTAL));
  }
  const deadline = Date.now() + 3000;
  while ((await budgetLeft(nodes[0])) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const gw of nodes) {
    const refused = await gw.proxyRequest('POST', '/chat', { messages: [{ role: 'user', content: 'What is 1+1?' }] }, { apikey: KEY });
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.json, { message: 'AI token rate limit exceeded for provider(s): openai', error: { message: 'AI token rate limit exceeded for provider(s): openai', type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null } });
  }
});

/** Waits for probe to hold, trying every 50 ms. */
async function until(probe: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a Redis outage: limits keep answering, counted locally, with one warning and no 500; then back to Redis', { skip }, async () => {
  const gw = await Gateway.start({ workers: 1, env: { MODELGATE_REDIS_URL: redis.url, MODELGATE_REDIS_TIMEOUT_MS: '200' } });
  const inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
  inspect.on('error', () => {});
  const statuses: number[] = [];
  const plain = async () => {
    const r = await gw.proxyRequest('GET', '/plain');
    statuses.push(r.status);
    return r;
  };
  const chat = async () => {
    const r = await gw.proxyRequest('POST', '/chat', { messages: [{ role: 'user', content: 'What is 1+1?' }] });
    statuses.push(r.status);
    return r;
  };
  // token usage is counted after the answer: wait until the next request sees it
  const budgetIs = (left: number) =>
    until(
      async () => {
        const r = await gw.proxyRequest('POST', '/chat', {});
        statuses.push(r.status);
        return Number(r.headers.get('x-ai-ratelimit-remaining-hour-openai')) === left;
      },
      3000,
      `budget ${left}`,
    );
  // this gateway's counters in Redis, by key prefix (the limit's route, the budget's plugin id)
  const counted = async (prefix: string) => {
    const keys = await inspect.keys(`modelgate:counter:${prefix}:*`);
    assert.ok(keys.length <= 1, keys.join(', '));
    return keys.length ? Number(await inspect.get(keys[0])) : 0;
  };
  const outageWarnings = () => gw.logs.split('\n').filter((l) => /Redis is unreachable/.test(l));
  try {
    const ok = async (method: string, url: string, body: unknown) => {
      const r = await gw.adminRequest(method, url, body);
      assert.ok(r.status < 300, `${url}: ${r.text}`);
      return r.json as { id: string };
    };
    await ok('POST', '/services', { name: 'echo', url: echo.url });
    const limitKeys = `ratelimit:${(await ok('POST', '/services/echo/routes', { name: 'plain', paths: ['/plain'] })).id}`;
    await ok('POST', '/routes/plain/plugins', { name: 'rate-limiting', config: { minute: 3, policy: 'redis' } });
    await ok('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
    await ok('POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
    await ok('POST', '/routes/chat/plugins', {
      name: 'ai-proxy',
      config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
    });
    const budget = await ok('POST', '/routes/chat/plugins', { name: 'ai-rate-limiting-advanced', config: { strategy: 'redis', llm_providers: [{ name: 'openai', limit: [2 * TOTAL], window_size: [3600] }] } });
    const budgetKeys = `ai-ratelimit:${budget.id}`;
    await inspect.connect();

    // Redis up: counted there
    assert.equal((await plain()).status, 200);
    assert.equal((await chat()).status, 200);
    await budgetIs(TOTAL);
    assert.equal(await counted(limitKeys), 1, 'the request limit counts in Redis');
    assert.equal(await counted(budgetKeys), TOTAL, 'the token budget counts in Redis');

    await redis.stop();
    // Redis down: each limit starts over on this node's local counters and holds there
    const limited = [];
    for (let i = 0; i < 4; i++) limited.push(await plain());
    assert.deepEqual(limited.map((r) => r.status), [200, 200, 200, 429], 'the minute limit holds, counted locally');
    assert.deepEqual(limited.map((r) => r.headers.get('x-ratelimit-remaining-minute')), ['2', '1', '0', '0']);
    assert.equal((await chat()).status, 200);
    await budgetIs(TOTAL);
    assert.equal((await chat()).status, 200);
    await budgetIs(0);
    const refused = await chat();
    assert.equal(refused.status, 429, refused.text);
    assert.deepEqual(refused.json, { message: 'AI token rate limit exceeded for provider(s): openai', error: { message: 'AI token rate limit exceeded for provider(s): openai', type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null } });
    assert.equal(outageWarnings().length, 1, `one warning for the outage:\n${outageWarnings().join('\n')}`);

    await redis.start();
    // back on Redis, which restarted empty: the limit counts from Redis's zero, not the local 3
    // (a 200 counted locally does not end the wait: the local minute window may roll over meanwhile)
    await until(async () => (await plain()).status === 200 && (await counted(limitKeys)) > 0, 10_000, 'the request limit counts in Redis again');
    assert.equal(await counted(limitKeys), 1);
    await until(async () => gw.logs.includes('Redis is reachable again'), 2000, 'a line saying Redis is back');
    assert.equal((await chat()).status, 200, 'the budget spent locally does not carry over to Redis');
    await until(async () => (await counted(budgetKeys)) === TOTAL, 3000, 'the token budget counts in Redis again');

    // 400: the budget probes' empty chat requests, refused by ai-proxy after the limiter let them by
    assert.deepEqual(statuses.filter((s) => s !== 200 && s !== 429 && s !== 400), [], 'every request answered, none failed');
    assert.ok(statuses.includes(400), 'the probes reached ai-proxy');
    assert.equal(outageWarnings().length, 1, 'still one warning');
    assert.ok(!/uncaught|unhandled|"level":50/i.test(gw.logs), gw.logs);
  } finally {
    inspect.disconnect();
    await gw.close();
  }
});
