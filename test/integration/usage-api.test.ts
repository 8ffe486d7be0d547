/**
 * The Usage API (issue 19) against the real gateway on SQLite: known traffic through ai-proxy
 * routes to the OpenAI mock, by consumers with key-auth, lands in the spend log; `/usage` and
 * `/usage/requests` then answer exactly what was sent (the mock counts one token per word, and the
 * routes price tokens with `input_cost`/`output_cost`), as JSON and as CSV, behind the Admin
 * API's token, never on the proxy. Time to first token: percentiles of the streamed calls alone,
 * equal to what their rows' `ttft_ms` give by the histogram's rules, in JSON and CSV. A second
 * gateway with `MODELGATE_SPEND_LOG=off` answers 503.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';
import { latencyIndex, percentileOf, type LatencyHistogram } from '../../src/spend/sqlite.ts';

const SKIP: { skip?: string } = {};

const TOKEN = 'usage-admin-token-4f1c8a2e';
const KEYS = { alice: 'alice-usage-key-8d2e41f0', bob: 'bob-usage-key-1a7c93b5' } as const;
const USER = [{ role: 'user', content: 'What is 1+1?' }];
const P = countTokens('What is 1+1?');
const C = countTokens(DEFAULT_TEXT);
/** Per million tokens: input, output. */
const PRICES = { chat: [1000, 2000], mini: [100, 400] } as const;
const MODELS = { chat: 'gpt-4o', mini: 'gpt-4o-mini' } as const;
const costOf = (route: keyof typeof PRICES) => (P * PRICES[route][0] + C * PRICES[route][1]) / 1e6;

/** The traffic: who calls which route, and whether the provider fails that call. */
const TRAFFIC: { consumer: keyof typeof KEYS; route: keyof typeof PRICES; fail?: true }[] = [
  { consumer: 'alice', route: 'chat' },
  { consumer: 'alice', route: 'chat' },
  { consumer: 'alice', route: 'mini' },
  { consumer: 'bob', route: 'chat' },
  { consumer: 'alice', route: 'chat' },
  { consumer: 'alice', route: 'mini' },
  { consumer: 'bob', route: 'mini', fail: true },
];

let gw: Gateway;
let openai: MockProvider;
const ids: Record<string, string> = {};
/** The test's window: every row falls inside [from, to). */
let from = 0;
let to = 0;

async function adminCall(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return gw.adminRequest('GET', url, undefined, { 'kong-admin-token': TOKEN, ...headers });
}

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body, { 'kong-admin-token': TOKEN });
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

/** `/usage` with the test's window and these parameters; a 200's JSON. */
async function usage(params: Record<string, string> = {}): Promise<any> {
  const q = new URLSearchParams({ from: String(from), to: String(to), interval: 'minute', ...params });
  const r = await adminCall(`/usage?${q}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** What the traffic should sum to, for the calls `pick` selects. */
function expected(pick: (t: (typeof TRAFFIC)[number]) => boolean) {
  const calls = TRAFFIC.filter(pick);
  const ok = calls.filter((t) => !t.fail);
  return {
    requests: calls.length,
    errors: calls.length - ok.length,
    completion_tokens: ok.length * C,
    cost: ok.reduce((s, t) => s + costOf(t.route), 0),
  };
}

function assertTotals(got: any, want: ReturnType<typeof expected>, what: string): void {
  assert.equal(got.requests, want.requests, `${what}: requests`);
  assert.equal(got.errors, want.errors, `${what}: errors`);
  assert.equal(got.completion_tokens, want.completion_tokens, `${what}: completion_tokens`);
  // a failed call's prompt may be counted or estimated: prompts are exact where none failed
  if (want.errors === 0 && got.prompt_tokens !== undefined) assert.equal(got.prompt_tokens, want.requests * P, `${what}: prompt_tokens`);
  assert.ok(Math.abs(got.cost - want.cost) < 1e-12, `${what}: cost ${got.cost} != ${want.cost}`);
}

/** Sums of the series' points per group key (the traffic may straddle a minute). */
function byGroup(series: any[], dims: string[]): Map<string, { requests: number; errors: number; completion_tokens: number; cost: number; prompt_tokens?: number }> {
  const out = new Map();
  for (const p of series) {
    const key = dims.map((d) => p.group[d]).join('|');
    const s = out.get(key) ?? { requests: 0, errors: 0, completion_tokens: 0, cost: 0 };
    for (const k of ['requests', 'errors', 'completion_tokens', 'cost'] as const) s[k] += p[k];
    s.prompt_tokens = (s.prompt_tokens ?? 0) + p.prompt_tokens;
    out.set(key, s);
  }
  return out;
}

before(async () => {
  if (SKIP.skip) return;
  openai = await startMockProvider('openai', { delayMs: 1 });
  gw = await Gateway.start({ workers: 2, env: { MODELGATE_ADMIN_TOKEN: TOKEN } });
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  for (const route of ['chat', 'mini'] as const) {
    ids[route] = (await admin('POST', '/services/ai/routes', { name: route, paths: [`/${route}`] })).id;
    await admin('POST', `/routes/${route}/plugins`, {
      name: 'ai-proxy',
      config: {
        route_type: 'llm/v1/chat',
        auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' },
        model: { provider: 'openai', name: MODELS[route], options: { upstream_url: `${openai.url}/v1/chat/completions`, input_cost: PRICES[route][0], output_cost: PRICES[route][1] } },
      },
    });
    await admin('POST', `/routes/${route}/plugins`, { name: 'key-auth' });
  }
  for (const [username, key] of Object.entries(KEYS)) {
    ids[username] = (await admin('POST', '/consumers', { username })).id;
    await admin('POST', `/consumers/${username}/key-auth`, { key });
  }

  from = Date.now();
  for (const t of TRAFFIC) {
    if (t.fail) openai.nextResponse('5xx-json:500');
    const r = await gw.proxyRequest('POST', `/${t.route}`, { messages: USER }, { apikey: KEYS[t.consumer] });
    assert.equal(r.status >= 500, !!t.fail, `${t.consumer} → ${t.route}: ${r.status} ${r.text}`);
  }
  to = Date.now() + 1;

  // the rows reach the store off the hot path: wait (bounded) until all of them are there
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await adminCall(`/usage/requests?from=${from}&to=${to}&limit=1000`);
    if (r.status === 200 && r.json.data.length >= TRAFFIC.length) break;
    if (Date.now() > deadline) throw new Error(`spend rows did not arrive: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
});

after(async () => {
  await gw?.close();
  await openai?.close();
});

test('totals and series: exactly the traffic sent', SKIP, async () => {
  const u = await usage();
  assert.equal(u.interval, 'minute');
  assert.deepEqual(u.group_by, []);
  const all = expected(() => true);
  assertTotals(u.totals, all, 'totals');
  assert.equal(u.totals.prompt_tokens >= (TRAFFIC.length - 1) * P, true, 'every answered call counts its prompt');
  assert.equal(u.totals.unpriced_requests, 0);
  assert.ok(u.totals.latency_p50_ms > 0 && u.totals.latency_p95_ms >= u.totals.latency_p50_ms);
  // the series covers the same calls, one point per minute with traffic, aligned on the minute
  assert.ok(u.series.length >= 1 && u.series.length <= 2, `points: ${u.series.length}`);
  for (const p of u.series) {
    assert.equal(Date.parse(p.start) % 60_000, 0, p.start);
    assert.deepEqual(p.group, {});
  }
  assertTotals(byGroup(u.series, []).get('')!, all, 'series sum');

  // a whole-day view of the same calls: the same totals
  const day = await usage({ interval: 'day' });
  assertTotals(day.totals, all, 'by day');
});

test('group_by consumer,model: each pair, with consumer names', SKIP, async () => {
  const u = await usage({ group_by: 'consumer,model' });
  const groups = byGroup(u.series, ['consumer', 'model']);
  const pairs = [...new Set(TRAFFIC.map((t) => `${t.consumer}|${t.route}`))];
  assert.equal(groups.size, pairs.length, [...groups.keys()].join(', '));
  for (const pair of pairs) {
    const [consumer, route] = pair.split('|');
    const got = groups.get(`${ids[consumer]}|${MODELS[route as 'chat']}`);
    assert.ok(got, `no group for ${pair}`);
    assertTotals(got, expected((t) => t.consumer === consumer && t.route === route), pair);
  }
  for (const p of u.series) assert.equal(p.group.consumer_name, p.group.consumer === ids.alice ? 'alice' : 'bob');

  const byRoute = byGroup((await usage({ group_by: 'route' })).series, ['route']);
  assertTotals(byRoute.get(ids.chat)!, expected((t) => t.route === 'chat'), 'route chat');
  assertTotals(byRoute.get(ids.mini)!, expected((t) => t.route === 'mini'), 'route mini');
  const byProvider = byGroup((await usage({ group_by: 'provider' })).series, ['provider']);
  assert.deepEqual([...byProvider.keys()], ['openai']);
});

test('filters: consumer and route by name or id, model, provider', SKIP, async () => {
  for (const consumer of ['alice', ids.alice]) assertTotals((await usage({ consumer })).totals, expected((t) => t.consumer === 'alice'), `consumer=${consumer}`);
  for (const route of ['chat', ids.chat]) assertTotals((await usage({ route })).totals, expected((t) => t.route === 'chat'), `route=${route}`);
  assertTotals((await usage({ model: 'gpt-4o-mini' })).totals, expected((t) => t.route === 'mini'), 'model');
  assertTotals((await usage({ consumer: 'bob', route: 'mini' })).totals, expected((t) => t.consumer === 'bob' && t.route === 'mini'), 'bob on mini');
  assertTotals((await usage({ provider: 'openai' })).totals, expected(() => true), 'provider openai');
  const none = await usage({ provider: 'anthropic' });
  assert.equal(none.totals.requests, 0);
  assert.deepEqual(none.series, []);

  const unknown = await adminCall(`/usage?consumer=nobody`);
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.json.fields, { consumer: "no consumer with the id or username 'nobody'" });
  const bad = await adminCall('/usage?interval=week');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.message, 'schema violation (interval: expected one of: minute, hour, day)');
});

test('requests: newest first, page by page through next, no key anywhere', SKIP, async () => {
  const seen: any[] = [];
  let url: string | null = `/usage/requests?from=${from}&to=${to}&limit=3`;
  let pages = 0;
  while (url) {
    const r = await adminCall(url);
    assert.equal(r.status, 200, r.text);
    for (const key of Object.values(KEYS)) assert.ok(!r.text.includes(key), 'a key in the spend log');
    assert.ok(r.json.data.length <= 3);
    seen.push(...r.json.data);
    url = r.json.next;
    pages++;
    assert.ok(pages <= 3, 'more pages than rows allow');
  }
  assert.equal(pages, 3);
  assert.equal(seen.length, TRAFFIC.length);
  assert.equal(new Set(seen.map((r) => r.request_id)).size, TRAFFIC.length, 'no row twice across pages');
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].time >= seen[i].time, 'newest first');
  // the oldest row is the first call, the newest the last (the failing one)
  const last = seen[0];
  assert.equal(last.consumer_id, ids.bob);
  assert.equal(last.route_id, ids.mini);
  assert.ok(last.status >= 500 && last.error_class !== null, JSON.stringify(last));
  const first = seen[seen.length - 1];
  assert.deepEqual(
    { consumer_id: first.consumer_id, route_id: first.route_id, provider: first.provider, model_served: first.model_served, status: first.status, prompt_tokens: first.prompt_tokens, completion_tokens: first.completion_tokens, error_class: first.error_class, stream: first.stream },
    { consumer_id: ids.alice, route_id: ids.chat, provider: 'openai', model_served: 'gpt-4o', status: 200, prompt_tokens: P, completion_tokens: C, error_class: null, stream: false },
  );
  assert.ok(Math.abs(first.cost - costOf('chat')) < 1e-12);

  const alice = await adminCall(`/usage/requests?from=${from}&to=${to}&consumer=alice`);
  assert.equal(alice.json.data.length, expected((t) => t.consumer === 'alice').requests);
  assert.equal(alice.json.next, null);
});

test('requests: status (code or class), streamed and request_id filters', SKIP, async () => {
  const ids = async (params: string) => {
    const r = await adminCall(`/usage/requests?from=${from}&to=${to}&${params}`);
    assert.equal(r.status, 200, r.text);
    return r.json.data.map((row: any) => row.request_id);
  };
  const all = await ids('');
  const failed = await ids('status=5xx');
  assert.deepEqual(failed, [all[0]], 'the last call failed');
  assert.deepEqual(await ids('status=500'), failed);
  assert.deepEqual(await ids('status=2xx'), all.slice(1));
  assert.deepEqual(await ids('streamed=true'), [], 'nothing streamed');
  assert.deepEqual(await ids('streamed=false'), all);
  assert.deepEqual(await ids(`request_id=${all[3]}`), [all[3]]);
  assert.equal((await adminCall('/usage/requests?status=oops')).status, 400);
});

test('CSV on both endpoints', SKIP, async () => {
  const q = new URLSearchParams({ from: String(from), to: String(to), interval: 'minute', group_by: 'consumer' });
  const u = await adminCall(`/usage?${q}`, { accept: 'text/csv' });
  assert.equal(u.status, 200);
  assert.match(u.headers.get('content-type')!, /^text\/csv; charset=utf-8/);
  const lines = u.text.split('\r\n');
  assert.equal(lines.pop(), '', 'every line ends with CRLF');
  const header = lines[0].split(',');
  assert.deepEqual(header.slice(0, 4), ['start', 'consumer', 'consumer_name', 'requests']);
  const json = await usage({ group_by: 'consumer' });
  assert.equal(lines.length - 1, json.series.length, 'one row per point, no totals row');
  const rows = lines.slice(1).map((l) => l.split(','));
  const requests = (name: string) => rows.filter((r) => r[2] === name).reduce((s, r) => s + Number(r[3]), 0);
  assert.equal(requests('alice'), expected((t) => t.consumer === 'alice').requests);
  assert.equal(requests('bob'), expected((t) => t.consumer === 'bob').requests);

  const r = await adminCall(`/usage/requests?from=${from}&to=${to}`, { accept: 'text/csv' });
  assert.equal(r.status, 200);
  const rl = r.text.split('\r\n');
  assert.equal(rl[0].split(',')[0], 'time');
  assert.equal(rl.length, TRAFFIC.length + 2, 'header, a row per call, final CRLF');
  assert.equal(r.headers.get('link'), null, 'one page: no next link');
});

test('time to first token: the streamed calls\' alone, as their rows give it, in JSON and CSV; null without streams', SKIP, async () => {
  const plain = await usage();
  assert.deepEqual([plain.totals.ttft_p50_ms, plain.totals.ttft_p95_ms], [null, null], 'the first window streamed nothing');
  for (const p of plain.series) assert.deepEqual([p.ttft_p50_ms, p.ttft_p95_ms], [null, null]);

  // a window of its own: three streams and one plain call
  const start = Date.now();
  const calls: [keyof typeof KEYS, keyof typeof PRICES, boolean][] = [['alice', 'chat', true], ['bob', 'mini', true], ['alice', 'mini', true], ['alice', 'chat', false]];
  for (const [consumer, route, stream] of calls) {
    const r = await gw.proxyRequest('POST', `/${route}`, { messages: USER, ...(stream ? { stream: true } : {}) }, { apikey: KEYS[consumer] });
    assert.equal(r.status, 200, r.text);
  }
  const end = Date.now() + 1;
  let rows: any[] = [];
  for (const deadline = Date.now() + 15_000; rows.length < calls.length; await new Promise((res) => setTimeout(res, 50))) {
    if (Date.now() > deadline) throw new Error('spend rows did not arrive');
    rows = (await adminCall(`/usage/requests?from=${start}&to=${end}`)).json.data;
  }
  const streamed = rows.filter((r) => r.stream);
  assert.equal(streamed.length, 3);
  for (const r of streamed) assert.ok(typeof r.ttft_ms === 'number' && r.ttft_ms <= r.latency_ms, JSON.stringify(r));
  const histOf = (rs: any[]) => {
    const h: LatencyHistogram = {};
    for (const r of rs) if (r.stream && r.ttft_ms !== null) h[latencyIndex(r.ttft_ms)] = (h[latencyIndex(r.ttft_ms)] ?? 0) + 1;
    return h;
  };
  const want = (rs: any[]) => [percentileOf(histOf(rs), 0.5), percentileOf(histOf(rs), 0.95)];

  const q = new URLSearchParams({ from: String(start), to: String(end), interval: 'day', group_by: 'consumer' });
  const u = (await adminCall(`/usage?${q}`)).json;
  assert.deepEqual([u.totals.ttft_p50_ms, u.totals.ttft_p95_ms], want(rows), 'totals');
  for (const p of u.series) assert.deepEqual([p.ttft_p50_ms, p.ttft_p95_ms], want(rows.filter((r) => r.consumer_id === p.group.consumer)), p.group.consumer_name);
  const chat = (await adminCall(`/usage?${new URLSearchParams({ from: String(start), to: String(end), interval: 'day', route: 'chat', model: 'gpt-4o' })}`)).json;
  assert.deepEqual([chat.totals.ttft_p50_ms, chat.totals.ttft_p95_ms], want(rows.filter((r) => r.route_id === ids.chat)), 'one stream on chat');

  const csv = (await adminCall(`/usage?${q}`, { accept: 'text/csv' })).text.split('\r\n').filter(Boolean).map((l) => l.split(','));
  const [header, ...lines] = csv;
  assert.deepEqual(header.slice(-4), ['latency_p50_ms', 'latency_p95_ms', 'ttft_p50_ms', 'ttft_p95_ms']);
  assert.deepEqual(lines.map((l) => l.slice(-2).map(Number)), u.series.map((p: any) => [p.ttft_p50_ms, p.ttft_p95_ms]));
});

test('behind the Admin API guard, never on the proxy', SKIP, async () => {
  const anonymous = await gw.adminRequest('GET', '/usage');
  assert.equal(anonymous.status, 401);
  const proxied = await gw.proxyRequest('GET', '/usage', undefined, { 'kong-admin-token': TOKEN });
  assert.equal(proxied.status, 404);
  assert.ok(!('series' in (proxied.json ?? {})));
});

test('503 with the spend log off', SKIP, async () => {
  const off = await Gateway.start({ env: { MODELGATE_SPEND_LOG: 'off' } });
  try {
    for (const url of ['/usage', '/usage/requests']) {
      const r = await off.adminRequest('GET', url);
      assert.equal(r.status, 503, r.text);
      assert.match(r.json.message, /MODELGATE_SPEND_LOG=off/);
    }
  } finally {
    await off.close();
  }
});
