/**
 * ai-semantic-cache with `vectordb.strategy: redis` (issue 22): two gateway nodes sharing one
 * redis-server — a prompt answered on node A is a semantic Hit on node B (the provider called
 * once), the hit's spend row carries what the original answer cost as saved and `/usage` totals sum
 * it, an entry expires on Redis with `cache_ttl`, and Redis going down is `X-Cache-Status: Failed`
 * with the provider's 200 (or a 500 with `stop_on_failure`), never a hang; back to Miss once Redis is.
 *
 * Both nodes have their own SQLite databases, so every entity is created with the same id on both
 * (as nodes sharing PostgreSQL would see them): the cache's scope is keyed by plugin and route ids.
 * The embeddings are test/mocks/embeddings.ts's bag of words ("What is 2+2?" and "what's 2 + 2" are
 * the same point). Skips without a `redis-server` binary.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT } from '../mocks/providers.ts';
import { startEmbeddingsMock, type EmbeddingsMock } from '../mocks/embeddings.ts';

const EMBED_KEY = 'sk-embed-redis';
const IDS = {
  service: '1a2b3c4d-0001-4a5b-9c8d-0e1f2a3b4c5d',
  semantic: '1a2b3c4d-0002-4a5b-9c8d-0e1f2a3b4c5d',
  short: '1a2b3c4d-0003-4a5b-9c8d-0e1f2a3b4c5d',
  strict: '1a2b3c4d-0004-4a5b-9c8d-0e1f2a3b4c5d',
};
const pluginId = (route: string, n: number) => `${IDS[route as keyof typeof IDS].slice(0, -2)}${n}${n}`;

let redis: RedisServer;
let inspect: Redis;
let openai: MockProvider;
let embed: EmbeddingsMock;
let nodes: Gateway[] = [];

async function configure(gw: Gateway): Promise<void> {
  const ok = async (method: string, url: string, body: unknown) => {
    const r = await gw.adminRequest(method, url, body);
    assert.ok(r.status < 300, `${url}: ${r.text}`);
  };
  await ok('POST', '/services', { id: IDS.service, name: 'ai', url: 'http://localhost:32000' });
  const routes: [string, Record<string, unknown>][] = [
    ['semantic', {}],
    ['short', { cache_ttl: 1 }],
    ['strict', { stop_on_failure: true }],
  ];
  for (const [name, extra] of routes) {
    await ok('POST', '/services/ai/routes', { id: IDS[name as keyof typeof IDS], name, paths: [`/${name}`] });
    await ok('POST', `/routes/${name}/plugins`, {
      id: pluginId(name, 1),
      name: 'ai-proxy',
      config: {
        route_type: 'llm/v1/chat',
        auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' },
        model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } },
        logging: { log_statistics: true },
      },
    });
    await ok('POST', `/routes/${name}/plugins`, {
      id: pluginId(name, 2),
      name: 'ai-semantic-cache',
      config: {
        embeddings: {
          auth: { header_name: 'Authorization', header_value: `Bearer ${EMBED_KEY}` },
          model: { provider: 'openai', name: 'mock-embed', options: { upstream_url: `${embed.url}/v1/embeddings` } },
          timeout: 1000,
        },
        vectordb: { strategy: 'redis', dimensions: 64, distance_metric: 'cosine', threshold: 0.1 },
        ...extra,
      },
    });
  }
}

function ask(gw: Gateway, route: string, content: string): Promise<HttpResult> {
  return gw.proxyRequest('POST', `/${route}/v1/chat/completions`, { model: 'gpt-4', messages: [{ role: 'user', content }] });
}

const status = (r: HttpResult) => r.headers.get('x-cache-status');
const providerCalls = () => openai.requests.filter((r) => r.path.endsWith('/chat/completions')).length;

/** Waits for probe to hold, trying every 20 ms (the answer is stored in the log phase, just after the client got it). */
async function until(probe: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The Miss's answer and vector are in Redis (under its X-Cache-Key). */
async function stored(miss: HttpResult): Promise<void> {
  const key = miss.headers.get('x-cache-key');
  assert.ok(key, 'a Miss names its key');
  await until(async () => (await inspect.keys(`modelgate:vec:*:v:${key}`)).length === 1 && (await inspect.exists(`modelgate:cache:ai-semantic-cache:${key}`)) === 1, 'the answer stored in Redis');
}

async function spendRow(gw: Gateway, r: HttpResult): Promise<any> {
  const id = r.headers.get('x-modelgate-request-id')!;
  for (let i = 0; i < 200; i++) {
    const got = await gw.adminRequest('GET', `/usage/requests?request_id=${id}`);
    const row = got.json?.data?.find((x: any) => x.request_id === id);
    if (row) return row;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`no spend row for ${id}`);
}

describe('ai-semantic-cache on Redis, two nodes', { skip: redisMissing ?? false }, () => {
  before(async () => {
    redis = await RedisServer.start();
    inspect = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    inspect.on('error', () => {});
    openai = await startMockProvider('openai');
    embed = await startEmbeddingsMock({ dimensions: 64, key: EMBED_KEY });
    nodes = await Gateway.startAll([0, 1].map(() => ({ workers: 1, env: { MODELGATE_REDIS_URL: redis.url, MODELGATE_REDIS_TIMEOUT_MS: '300' } })));
    for (const gw of nodes) await configure(gw);
  });

  after(async () => {
    inspect?.disconnect();
    await Promise.all(nodes.map((n) => n.close()));
    await openai?.close();
    await embed?.close();
    await redis?.close();
  });

  test('a prompt answered on node A is a semantic Hit on node B; the provider is called once', async () => {
    const [a, b] = nodes;
    const before = providerCalls();
    const miss = await ask(a, 'semantic', 'What is 2+2?');
    assert.equal(miss.status, 200, miss.text);
    assert.equal(status(miss), 'Miss');
    await stored(miss);
    const hit = await ask(b, 'semantic', "what's 2 + 2");
    assert.equal(hit.status, 200, hit.text);
    assert.equal(status(hit), 'Hit', hit.text);
    assert.equal(hit.json.choices[0].message.content, DEFAULT_TEXT);
    assert.equal(hit.headers.get('x-cache-key'), miss.headers.get('x-cache-key'), 'the entry node A stored');
    assert.equal(providerCalls(), before + 1);
    assert.equal(status(await ask(b, 'semantic', 'What is the capital of France?')), 'Miss', 'a different question');
  });

  test("a hit's spend row carries the original answer's tokens and cost as saved; /usage totals sum them", async () => {
    const [a, b] = nodes;
    const miss = await ask(a, 'semantic', 'Name three colours of the rainbow');
    assert.equal(status(miss), 'Miss');
    await stored(miss);
    const original = await spendRow(a, miss);
    assert.ok(original.total_tokens > 0 && original.cost > 0, `the original answer used tokens and was priced: ${JSON.stringify(original)}`);
    assert.equal(original.cache_hit, false);
    assert.equal(original.saved_tokens, 0);
    assert.equal(original.saved_cost, 0);
    const hits = [await ask(b, 'semantic', 'name three colours of the rainbow'), await ask(b, 'semantic', 'Three colours of the rainbow: name')];
    const rows = [];
    for (const h of hits) {
      assert.equal(status(h), 'Hit');
      const row = await spendRow(b, h);
      assert.equal(row.cache_hit, true);
      assert.equal(row.total_tokens, 0);
      assert.equal(row.cost, 0);
      assert.equal(row.saved_tokens, original.total_tokens);
      assert.equal(row.saved_cost, original.cost);
      rows.push(row);
    }
    // node B's own spend log: every hit it served (this test's and the one before)
    const all = await b.adminRequest('GET', '/usage/requests?limit=1000');
    const hitRows = all.json.data.filter((r: any) => r.cache_hit);
    assert.ok(hitRows.length >= rows.length);
    const usage = await b.adminRequest('GET', `/usage?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}&interval=hour`);
    assert.equal(usage.status, 200, usage.text);
    assert.equal(usage.json.totals.saved_tokens, hitRows.reduce((s: number, r: any) => s + r.saved_tokens, 0));
    assert.ok(Math.abs(usage.json.totals.saved_cost - hitRows.reduce((s: number, r: any) => s + r.saved_cost, 0)) < 1e-12, `${usage.json.totals.saved_cost}`);
    assert.ok(usage.json.totals.saved_cost >= 2 * original.cost);
    const onA = await a.adminRequest('GET', `/usage?from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}&interval=hour`);
    assert.equal(onA.json.totals.saved_cost, 0, 'node A served no hit');
  });

  test('an entry expires on Redis with cache_ttl: its vector and answer are gone, both nodes Miss', async () => {
    const [a, b] = nodes;
    const miss = await ask(a, 'short', 'Is it raining in Lisbon?');
    assert.equal(status(miss), 'Miss');
    await stored(miss);
    assert.equal(status(await ask(b, 'short', 'is it raining in lisbon')), 'Hit');
    const key = miss.headers.get('x-cache-key');
    await until(async () => (await inspect.keys(`modelgate:vec:*:v:${key}`)).length === 0, 'the vector expired in Redis', 3000);
    assert.equal(await inspect.exists(`modelgate:cache:ai-semantic-cache:${key}`), 0, 'the answer expired with it');
    assert.equal(status(await ask(b, 'short', 'Is it raining in Lisbon?')), 'Miss');
  });

  test('Redis down: Failed and the provider answers (200); stop_on_failure: 500; back to Miss once Redis is', async () => {
    const [a] = nodes;
    await redis.stop();
    try {
      const r = await ask(a, 'semantic', 'Where does the sun rise?');
      assert.equal(r.status, 200, r.text);
      assert.equal(status(r), 'Failed');
      assert.equal(r.json.choices[0].message.content, DEFAULT_TEXT);
      const strict = await ask(a, 'strict', 'Where does the sun rise?');
      assert.equal(strict.status, 500, strict.text);
      assert.equal(status(strict), 'Failed');
      assert.ok(!strict.text.includes(EMBED_KEY) && !strict.text.includes('sk-test'));
    } finally {
      await redis.start();
    }
    // the connection comes back on its own (every 2 s at most)
    await until(async () => status(await ask(a, 'semantic', 'Where does the moon rise?')) !== 'Failed', 'the cache works again', 10_000);
    const miss = await ask(a, 'semantic', 'Where does the sun set?');
    assert.equal(status(miss), 'Miss');
  });
});
