/**
 * `GET /budgets` (src/admin/budget-routes.ts) against the real gateway: known traffic through
 * ai-proxy routes priced at a whole dollar per token (so every cost is an exact integer), with
 * ai-budget instances at several scopes. The answer's `spent` is what the known traffic cost,
 * following Kong's precedence (a route-scoped instance takes its route's requests from the global
 * one), and equals what the plugin's own counters say (`X-Modelgate-Budget-Remaining`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';

const QUESTION = 'What is 1+1?';
/** Dollars per request: $1 per token on chat, $2 per token on mini. */
const T = countTokens(QUESTION) + countTokens(DEFAULT_TEXT);
const PRICE = { chat: 1, mini: 2 } as const;
const KEYS = { alice: 'budgets-alice-7c1e2a', bob: 'budgets-bob-3f9d0b', carol: 'budgets-carol-81aa4c' } as const;

let gw: Gateway;
let openai: MockProvider;
const ids: Record<string, string> = {};

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

const chat = (route: 'chat' | 'mini', who: keyof typeof KEYS, stream = false) =>
  gw.proxyRequest('POST', `/${route}`, { messages: [{ role: 'user', content: QUESTION }], ...(stream ? { stream: true } : {}) }, { apikey: KEYS[who] });

/** The plugin's own view: the remaining budget an answer without a provider call reports. */
async function remainingHeader(route: 'chat' | 'mini', who: keyof typeof KEYS): Promise<number> {
  const r = await gw.proxyRequest('POST', `/${route}`, {}, { apikey: KEYS[who] });
  return Number(r.headers.get('x-modelgate-budget-remaining'));
}

before(async () => {
  openai = await startMockProvider('openai', { models: '*' });
  gw = await Gateway.start();
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  for (const route of ['chat', 'mini'] as const) {
    ids[`route_${route}`] = (await admin('POST', '/services/ai/routes', { name: route, paths: [`/${route}`] })).id;
    await admin('POST', `/routes/${route}/plugins`, {
      name: 'ai-proxy',
      config: {
        route_type: 'llm/v1/chat',
        auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' },
        model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions`, input_cost: PRICE[route] * 1e6, output_cost: PRICE[route] * 1e6 } },
      },
    });
    await admin('POST', `/routes/${route}/plugins`, { name: 'key-auth' });
  }
  for (const [username, key] of Object.entries(KEYS)) {
    ids[username] = (await admin('POST', '/consumers', { username })).id;
    await admin('POST', `/consumers/${username}/key-auth`, { key });
  }
  // rolling windows: the traffic cannot straddle a reset however late in the day the test runs
  ids.global = (await admin('POST', '/plugins', { name: 'ai-budget', config: { budgets: [{ amount: 10 * T, period: 'day', window: 'rolling', soft_limit: 0.5 }, { amount: 1000 * T, period: 'week', window: 'rolling' }] } })).id;
  ids.mini = (await admin('POST', '/routes/mini/plugins', { name: 'ai-budget', config: { budgets: [{ amount: 10 * T, period: 'day', window: 'rolling' }] } })).id;
  // counted per credential: not in the answer; and it takes carol's requests from the global instance
  await admin('POST', '/consumers/carol/plugins', { name: 'ai-budget', config: { identifier: 'credential', budgets: [{ amount: 5, period: 'day' }] } });
  // disabled: runs for nobody
  await admin('POST', '/services/ai/plugins', { name: 'ai-budget', enabled: false, config: { budgets: [{ amount: 1, period: 'day' }] } });

  const traffic: [route: 'chat' | 'mini', who: keyof typeof KEYS, stream?: boolean, fail?: boolean][] = [
    ['chat', 'alice'],
    ['chat', 'alice', true],
    ['chat', 'alice'],
    ['mini', 'alice'],
    ['mini', 'alice', true],
    ['chat', 'bob'],
    ['mini', 'bob', false, true],
    ['chat', 'carol'],
  ];
  for (const [route, who, stream, fail] of traffic) {
    if (fail) openai.nextResponse('5xx-json:500');
    const r = await chat(route, who, stream);
    assert.equal(r.status, fail ? 500 : 200, `${who} → ${route}: ${r.text}`);
  }
  // 7 successful requests: the spend log has them once the primary wrote its batch
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await gw.adminRequest('GET', `/usage?from=${Date.now() - 3_600_000}&interval=hour`);
    if (r.status === 200 && r.json.totals.requests >= traffic.length) break;
    if (Date.now() > deadline) throw new Error(`spend rows did not arrive: ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
});

after(async () => {
  await gw?.close();
  await openai?.close();
});

test('GET /budgets: each budget and consumer with spend, exactly the known cost, highest ratio first', async () => {
  const r = await gw.adminRequest('GET', '/budgets');
  assert.equal(r.status, 200, r.text);
  const rows = (r.json.data as any[]).map((b) => [b.consumer.username, b.plugin_id === ids.global ? 'global' : b.plugin_id === ids.mini ? 'mini' : b.plugin_id, b.period, b.window, b.limit, b.spent, b.remaining, b.ratio, b.soft_limit_reached, b.exceeded]);
  // alice: 3 chat ($T each) count for the global instance, her 2 mini ($2T each) for mini's own;
  // bob's failed mini call cost nothing; carol's instance (per credential) is left out
  assert.deepEqual(rows, [
    ['alice', 'mini', 'day', 'rolling', 10 * T, 4 * T, 6 * T, 0.4, false, false],
    ['alice', 'global', 'day', 'rolling', 10 * T, 3 * T, 7 * T, 0.3, false, false],
    ['bob', 'global', 'day', 'rolling', 10 * T, T, 9 * T, 0.1, false, false],
    ['alice', 'global', 'week', 'rolling', 1000 * T, 3 * T, 997 * T, 0.003, false, false],
    ['bob', 'global', 'week', 'rolling', 1000 * T, T, 999 * T, 0.001, false, false],
  ]);
  const first = r.json.data[0];
  assert.deepEqual(first.scope, { route: ids.route_mini, service: null, consumer: null });
  assert.equal(first.consumer.id, ids.alice);
  assert.equal(first.soft_limit, 0.8);
  assert.equal(first.soft_limit_amount, 8 * T);
  assert.equal(first.resets_at, null, 'a rolling budget frees up gradually');
  // the span the plugin reads: 1-hour buckets covering at least the last 24 hours, up to now
  const start = Date.parse(first.period_start);
  const end = Date.parse(first.period_end);
  assert.equal(start % 3_600_000, 0);
  assert.equal(end - start, 25 * 3_600_000);
  assert.ok(start <= Date.now() - 24 * 3_600_000 && end > Date.now());
});

test("GET /budgets agrees with the plugin's own counters", async () => {
  const data = (await gw.adminRequest('GET', '/budgets')).json.data as any[];
  const left = (who: string, plugin: string) => Math.min(...data.filter((b) => b.consumer.username === who && b.plugin_id === plugin).map((b) => b.remaining));
  assert.equal(await remainingHeader('chat', 'alice'), left('alice', ids.global));
  assert.equal(await remainingHeader('mini', 'alice'), left('alice', ids.mini));
  assert.equal(await remainingHeader('chat', 'bob'), left('bob', ids.global));
});

test('a calendar budget: its period and reset; a soft limit and an exceeded budget', async () => {
  await admin('PATCH', `/plugins/${ids.mini}`, { config: { budgets: [{ amount: 4 * T, period: 'month', soft_limit: 0.5 }, { amount: 5 * T, period: 'day', window: 'rolling', soft_limit: 0.5 }] } });
  const data = (await gw.adminRequest('GET', '/budgets')).json.data as any[];
  const month = data.find((b) => b.plugin_id === ids.mini && b.period === 'month');
  const now = new Date();
  assert.equal(month.period_start, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString());
  assert.equal(month.period_end, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());
  assert.equal(month.resets_at, month.period_end);
  assert.deepEqual([month.spent, month.remaining, month.ratio, month.exceeded], [4 * T, 0, 1, true]);
  const day = data.find((b) => b.plugin_id === ids.mini && b.period === 'day');
  assert.deepEqual([day.spent, day.ratio, day.soft_limit_reached, day.exceeded], [4 * T, 0.8, true, false]);
  assert.deepEqual(data.slice(0, 2).map((b) => b.ratio), [1, 0.8], 'highest ratio first');
});

test('GET /budgets answers GET only', async () => {
  assert.equal((await gw.adminRequest('POST', '/budgets', {})).status, 405);
});
