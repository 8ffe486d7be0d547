/**
 * ai-semantic-cache (issue 22) against the real gateway, an OpenAI mock behind it and a
 * deterministic embeddings mock (test/mocks/embeddings.ts: bag of words, so "What is 2+2?" and
 * "what's 2 + 2" are the same point and other prompts far): Miss then Hit (exact, then semantic),
 * the provider not called for a hit, a hit streamed to the openai SDK as a normal stream, an
 * Anthropic Messages client served a hit in its API (JSON and stream), TTL expiry, Cache-Control
 * (no-store: Bypass, no-cache and max-age: Refresh), two consumers isolated and shared when the
 * route says so, the embeddings provider down or hanging (Failed, the request still answered) and
 * `stop_on_failure` (500), the spend of a hit (cost 0) and the cache metric; an exact hit makes no
 * embeddings call, and embeddings calls share a pooled connection.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT } from '../mocks/providers.ts';
import { startEmbeddingsMock, type EmbeddingsMock } from '../mocks/embeddings.ts';

const KEYS = { alice: 'cache-alice-4c2e91', bob: 'cache-bob-8d7f30' };
const EMBED_KEY = 'sk-embed-test';

let openai: MockProvider;
let embed: EmbeddingsMock;
let gw: Gateway;

function cachePlugin(extra: Record<string, unknown> = {}, vectordb: Record<string, unknown> = {}) {
  return {
    name: 'ai-semantic-cache',
    config: {
      embeddings: {
        auth: { header_name: 'Authorization', header_value: `Bearer ${EMBED_KEY}` },
        model: { provider: 'openai', name: 'mock-embed', options: { upstream_url: `${embed.url}/v1/embeddings` } },
        timeout: 500,
      },
      vectordb: { strategy: 'memory', dimensions: 64, distance_metric: 'cosine', threshold: 0.1, ...vectordb },
      exact_caching: true,
      cache_control: true,
      ...extra,
    },
  };
}

function aiProxy(extra: Record<string, unknown> = {}) {
  return {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' },
      model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } },
      logging: { log_statistics: true },
      ...extra,
    },
  };
}

async function ok(method: string, url: string, body: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${url}: ${r.text}`);
  return r.json;
}

function ask(route: string, content: string, opts: { key?: string; stream?: boolean; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.apikey = opts.key;
  return gw.proxyRequest('POST', `/${route}/v1/chat/completions`, { model: 'gpt-4', messages: [{ role: 'user', content }], ...(opts.stream ? { stream: true } : {}) }, headers);
}

const status = (r: HttpResult) => r.headers.get('x-cache-status');
const providerCalls = () => openai.requests.filter((r) => r.path.endsWith('/chat/completions')).length;

before(async () => {
  openai = await startMockProvider('openai');
  embed = await startEmbeddingsMock({ dimensions: 64, key: EMBED_KEY });
  gw = await Gateway.start();
  await ok('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  for (const [name, key] of Object.entries(KEYS)) {
    await ok('POST', '/consumers', { username: name });
    await ok('POST', `/consumers/${name}/key-auth`, { key });
  }
  const routes: [string, unknown[]][] = [
    ['chat', [aiProxy(), cachePlugin()]],
    ['semantic', [aiProxy(), cachePlugin({ exact_caching: false })]],
    ['anthropic', [aiProxy({ llm_format: 'anthropic' }), cachePlugin({ llm_format: 'anthropic' })]],
    ['short', [aiProxy(), cachePlugin({ cache_ttl: 1 })]],
    ['private', [aiProxy(), cachePlugin(), { name: 'key-auth' }]],
    ['shared', [aiProxy(), cachePlugin({ cache_scope: 'route' }), { name: 'key-auth' }]],
    ['lenient', [aiProxy(), cachePlugin()]],
    ['strict', [aiProxy(), cachePlugin({ stop_on_failure: true })]],
    ['euclid', [aiProxy(), cachePlugin({ exact_caching: false }, { distance_metric: 'euclidean', threshold: 0.2 })]],
  ];
  for (const [name, plugins] of routes) {
    await ok('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
    for (const p of plugins) await ok('POST', `/routes/${name}/plugins`, p);
  }
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await embed?.close();
});

describe('ai-semantic-cache', () => {
  test('Miss then exact Hit: the provider is called once; the hit has the answer, zero usage marked cached, and Kong headers', async () => {
    const before = providerCalls();
    const miss = await ask('chat', 'Tell me a joke about caches');
    assert.equal(miss.status, 200, miss.text);
    assert.equal(status(miss), 'Miss');
    assert.equal(miss.json.choices[0].message.content, DEFAULT_TEXT);
    const hit = await ask('chat', 'Tell me a joke about caches');
    assert.equal(hit.status, 200, hit.text);
    assert.equal(status(hit), 'Hit');
    assert.equal(providerCalls(), before + 1, 'the hit did not reach the provider');
    assert.equal(hit.json.object, 'chat.completion');
    assert.equal(hit.json.choices[0].message.content, DEFAULT_TEXT);
    assert.equal(hit.json.choices[0].finish_reason, 'stop');
    assert.deepEqual(hit.json.usage, { cached: true, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    assert.equal(hit.headers.get('x-cache-key'), miss.headers.get('x-cache-key'));
    assert.match(hit.headers.get('x-cache-key') ?? '', /^[0-9a-f]{64}$/);
    assert.ok(Number(hit.headers.get('x-cache-ttl')) > 0 && Number(hit.headers.get('x-cache-ttl')) <= 300);
    assert.match(hit.headers.get('age') ?? '', /^\d+$/);
    assert.equal(embed.auth.at(-1), `Bearer ${EMBED_KEY}`, 'the embeddings call carries the plugin auth');
  });

  test('a paraphrase is a semantic Hit; a different question is a Miss', async () => {
    const before = providerCalls();
    assert.equal(status(await ask('semantic', 'What is 2+2?')), 'Miss');
    const hit = await ask('semantic', "what's 2 + 2");
    assert.equal(status(hit), 'Hit', hit.text);
    assert.equal(hit.json.choices[0].message.content, DEFAULT_TEXT);
    const other = await ask('semantic', 'What is the capital of France?');
    assert.equal(status(other), 'Miss');
    assert.equal(providerCalls(), before + 2);
  });

  test('the euclidean metric: the paraphrase hits, a different question does not', async () => {
    assert.equal(status(await ask('euclid', 'What is 3+3?')), 'Miss');
    assert.equal(status(await ask('euclid', "what's 3 + 3")), 'Hit');
    assert.equal(status(await ask('euclid', 'How tall is Mount Everest?')), 'Miss');
  });

  test('a hit streams as a normal stream the openai SDK reads (usage chunk included when asked)', async () => {
    assert.equal(status(await ask('chat', 'Name a prime number')), 'Miss');
    const before = providerCalls();
    const client = new OpenAI({ baseURL: `${gw.proxy}/chat/v1`, apiKey: 'unused', maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'Name a prime number' }], stream: true, stream_options: { include_usage: true } }).withResponse();
    assert.equal(response.headers.get('x-cache-status'), 'Hit');
    let text = '';
    let usage: unknown = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, DEFAULT_TEXT);
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, { cached: true, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    assert.equal(providerCalls(), before);
  });

  test('a streamed Miss is stored too, and served whole to a JSON client', async () => {
    const miss = await ask('chat', 'Count to three', { stream: true });
    assert.equal(status(miss), 'Miss');
    assert.ok(miss.text.includes('[DONE]'));
    const hit = await ask('chat', 'Count to three');
    assert.equal(status(hit), 'Hit');
    assert.equal(hit.json.choices[0].message.content, DEFAULT_TEXT);
  });

  test('an Anthropic Messages client is served a hit in its own API, whole and streamed', async () => {
    const client = new Anthropic({ baseURL: `${gw.proxy}/anthropic`, apiKey: 'unused', maxRetries: 0 });
    const params = { model: 'gpt-4', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Describe the sea' }] };
    const first = await client.messages.create(params).withResponse();
    assert.equal(first.response.headers.get('x-cache-status'), 'Miss');
    const before = providerCalls();
    const hit = await client.messages.create(params).withResponse();
    assert.equal(hit.response.headers.get('x-cache-status'), 'Hit');
    assert.equal(hit.data.type, 'message');
    assert.equal(hit.data.role, 'assistant');
    assert.deepEqual(hit.data.content.map((b) => (b.type === 'text' ? b.text : b.type)), [DEFAULT_TEXT]);
    assert.equal(hit.data.stop_reason, 'end_turn');
    assert.equal(hit.data.usage.input_tokens, 0);
    assert.equal(hit.data.usage.output_tokens, 0);
    assert.equal((hit.data.usage as unknown as { cached?: boolean }).cached, true);
    const stream = client.messages.stream(params);
    const final = await stream.finalMessage();
    assert.deepEqual(final.content.map((b) => (b.type === 'text' ? b.text : b.type)), [DEFAULT_TEXT]);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(providerCalls(), before);
  });

  test('an entry expires with cache_ttl', async () => {
    assert.equal(status(await ask('short', 'Is it raining?')), 'Miss');
    assert.equal(status(await ask('short', 'Is it raining?')), 'Hit');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(status(await ask('short', 'Is it raining?')), 'Miss');
  });

  test('an exact hit makes no embeddings call; embeddings calls reuse the pooled connection', async () => {
    const q = 'Where do exact hits come from?';
    assert.equal(status(await ask('chat', q)), 'Miss');
    const calls = embed.inputs.length;
    assert.equal(status(await ask('chat', q)), 'Hit');
    assert.equal(embed.inputs.length, calls, 'the exact lookup answered before any embeddings call');
    const connections = embed.connections;
    for (let i = 0; i < 6; i++) assert.equal(status(await ask('semantic', `Pooled question number ${i} about keep-alive`)), 'Miss');
    assert.equal(embed.inputs.length, calls + 6);
    // one more at most: the pool's idle connection may have been closed by the mock's keep-alive timeout
    assert.ok(embed.connections - connections <= 1, `${embed.connections - connections} new connections for 6 embeddings calls`);
  });

  test('Cache-Control: no-store bypasses, no-cache and max-age refresh', async () => {
    const q = 'Which planet is largest?';
    const bypass = await ask('chat', q, { headers: { 'cache-control': 'no-store' } });
    assert.equal(status(bypass), 'Bypass');
    assert.equal(status(await ask('chat', q)), 'Miss', 'no-store stored nothing');
    assert.equal(status(await ask('chat', q)), 'Hit');
    const before = providerCalls();
    assert.equal(status(await ask('chat', q, { headers: { 'cache-control': 'no-cache' } })), 'Refresh');
    assert.equal(providerCalls(), before + 1, 'a refresh asks the provider');
    assert.equal(status(await ask('chat', q, { headers: { 'cache-control': 'max-age=3600' } })), 'Hit');
    assert.equal(status(await ask('chat', q, { headers: { 'cache-control': 'max-age=0' } })), 'Refresh');
    assert.equal(status(await ask('chat', q, { headers: { 'cache-control': 'no-store' } })), 'Bypass');
  });

  test('two consumers do not share answers; a route with cache_scope: route shares them', async () => {
    const q = 'What is my secret plan?';
    assert.equal(status(await ask('private', q, { key: KEYS.alice })), 'Miss');
    assert.equal(status(await ask('private', q, { key: KEYS.bob })), 'Miss', "bob never gets alice's answer");
    assert.equal(status(await ask('private', q, { key: KEYS.alice })), 'Hit');
    assert.equal(status(await ask('shared', q, { key: KEYS.alice })), 'Miss');
    assert.equal(status(await ask('shared', q, { key: KEYS.bob })), 'Hit');
  });

  test('embeddings provider down or hanging: Failed and the answer still comes; stop_on_failure: 500', async () => {
    embed.setMode('error');
    try {
      const r = await ask('lenient', 'Will this be cached?');
      assert.equal(r.status, 200, r.text);
      assert.equal(status(r), 'Failed');
      assert.equal(r.json.choices[0].message.content, DEFAULT_TEXT);
      const strict = await ask('strict', 'Will this be cached?');
      assert.equal(strict.status, 500, strict.text);
      assert.equal(status(strict), 'Failed');
      assert.ok(!strict.text.includes(EMBED_KEY));
      embed.setMode('hang');
      const slow = await ask('lenient', 'Another question for a hanging embedder');
      assert.equal(slow.status, 200, slow.text);
      assert.equal(status(slow), 'Failed');
    } finally {
      embed.setMode('ok');
    }
    assert.equal(status(await ask('lenient', 'Will this be cached?')), 'Miss', 'back to normal once the embedder is');
  });

  test('the cache metric counts by status', async () => {
    const r = await gw.adminRequest('GET', '/metrics');
    for (const s of ['Hit', 'Miss', 'Bypass', 'Refresh', 'Failed']) assert.match(r.text, new RegExp(`modelgate_ai_cache_requests_total\\{status="${s}"\\} [1-9]`), s);
  });
});

describe('ai-semantic-cache spend', () => {
  test("a hit's spend row: cache_hit, zero tokens, cost 0", async () => {
    const hit = await ask('chat', 'Tell me a joke about caches');
    assert.equal(status(hit), 'Hit');
    const id = hit.headers.get('x-modelgate-request-id')!;
    let row: any = null;
    for (let i = 0; i < 100 && !row; i++) {
      const r = await gw.adminRequest('GET', `/usage/requests?request_id=${id}`);
      row = r.json?.data?.find((x: any) => x.request_id === id) ?? null;
      if (!row) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(row, 'the row was written');
    assert.equal(row.cache_hit, true);
    assert.equal(row.total_tokens, 0);
    assert.equal(row.cost, 0);
  });
});
