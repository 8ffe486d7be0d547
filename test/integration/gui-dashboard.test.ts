/**
 * The Admin GUI's dashboard in a real headless Chromium against the real gateway: known traffic
 * (three consumers, two models, a stream, a provider failure) through ai-proxy routes to the
 * OpenAI mock; the dashboard's totals (requests, errors, tokens by kind, cost, latency, time to
 * first token) equal
 * `/usage`'s totals for the range the page asked, and every chart's series — read from
 * `window.__modelgate_charts`, the arrays the page handed to uPlot — equal `/usage`'s series (zero
 * where an interval had no traffic, latency null there, time to first token null where nothing
 * streamed); the breakdown follows the group-by
 * selector; a budget near its limit is shown, the others with the toggle. Screenshots light and dark.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { Gateway } from '../helpers/gateway.ts';
import { browserMissing, closeBrowser, openGui, screenshot } from '../helpers/browser.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';

const SKIP = { skip: browserMissing ?? false };
const QUESTION = 'What is 1+1?';
const T = countTokens(QUESTION) + countTokens(DEFAULT_TEXT);
/** Dollars per million tokens, input and output alike. */
const PRICE = { chat: 1_000_000, mini: 500_000 } as const;
const MODEL = { chat: 'gpt-4o', mini: 'gpt-4o-mini' } as const;
const KEYS = { alice: 'dash-alice-5e1b7c', bob: 'dash-bob-9a04d2', carol: 'dash-carol-2c7f33' } as const;
type Who = keyof typeof KEYS;
const TRAFFIC: [route: 'chat' | 'mini', who: Who, opts?: { stream?: true; fail?: true }][] = [
  ['chat', 'alice'],
  ['chat', 'alice'],
  ['mini', 'alice', { stream: true }],
  ['chat', 'alice'],
  ['chat', 'bob'],
  ['mini', 'bob', { fail: true }],
  ['mini', 'carol'],
];

let gw: Gateway;
let openai: MockProvider;
let from = 0;
let to = 0;

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

before(async () => {
  if (SKIP.skip) return;
  openai = await startMockProvider('openai', { models: '*' });
  gw = await Gateway.start();
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  for (const route of ['chat', 'mini'] as const) {
    await admin('POST', '/services/ai/routes', { name: route, paths: [`/${route}`] });
    await admin('POST', `/routes/${route}/plugins`, {
      name: 'ai-proxy',
      config: {
        route_type: 'llm/v1/chat',
        auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' },
        model: { provider: 'openai', name: MODEL[route], options: { upstream_url: `${openai.url}/v1/chat/completions`, input_cost: PRICE[route], output_cost: PRICE[route] } },
      },
    });
    await admin('POST', `/routes/${route}/plugins`, { name: 'key-auth' });
  }
  for (const [username, key] of Object.entries(KEYS)) {
    await admin('POST', '/consumers', { username });
    await admin('POST', `/consumers/${username}/key-auth`, { key });
  }
  // alice spends 3.5 T of 4 T (87.5%): near the limit; bob (25%) and carol (12.5%) are not
  await admin('POST', '/plugins', { name: 'ai-budget', config: { budgets: [{ amount: 4 * T, period: 'day', window: 'rolling' }] } });

  from = Date.now();
  for (const [route, who, opts] of TRAFFIC) {
    if (opts?.fail) openai.nextResponse('5xx-json:500');
    const r = await gw.proxyRequest('POST', `/${route}`, { messages: [{ role: 'user', content: QUESTION }], ...(opts?.stream ? { stream: true } : {}) }, { apikey: KEYS[who] });
    assert.equal(r.status, opts?.fail ? 500 : 200, `${who} → ${route}: ${r.text}`);
  }
  to = Date.now() + 1;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await gw.adminRequest('GET', `/usage?from=${from}&to=${to}&interval=minute`);
    if (r.status === 200 && r.json.totals.requests >= TRAFFIC.length) break;
    if (Date.now() > deadline) throw new Error(`spend rows did not arrive: ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
});

after(async () => {
  await closeBrowser();
  await gw?.close();
  await openai?.close();
});

interface Drawn {
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

async function charts(page: Page): Promise<Record<string, Drawn>> {
  return page.evaluate(() => (globalThis as unknown as { __modelgate_charts: Record<string, Drawn> }).__modelgate_charts);
}

/** What a chart must hold for a metric: /usage's value at each point's interval, `empty` elsewhere. */
function expectedColumn(answer: any, points: any[], pick: (p: any) => number | null, empty: 0 | null): { x: number[]; values: (number | null)[] } {
  const step = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[answer.interval as 'minute'];
  const x: number[] = [];
  for (let t = Date.parse(answer.from); t < Date.parse(answer.to); t += step) x.push(t / 1000);
  const values = x.map((s) => {
    const p = points.find((q) => Date.parse(q.start) / 1000 === s);
    return p ? pick(p) : empty;
  });
  return { x, values };
}

/** The range the page asked for, and `/usage`'s answer to the same question. */
async function usageOfPage(page: Page, groupBy?: string): Promise<any> {
  const query = await page.locator('.dashboard').getAttribute(groupBy ? 'data-group-query' : 'data-usage-query');
  assert.ok(query, 'the page says which /usage it drew');
  const r = await gw.adminRequest('GET', `/usage?${query}${groupBy ? `&group_by=${groupBy}` : ''}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function waitRendered(page: Page): Promise<void> {
  await page.locator('.dashboard[data-rendered="true"]').waitFor();
}

async function assertTotals(page: Page, u: any): Promise<void> {
  for (const metric of ['requests', 'errors', 'prompt_tokens', 'cached_tokens', 'cache_write_tokens', 'completion_tokens', 'reasoning_tokens', 'total_tokens', 'cost', 'latency_p50_ms', 'latency_p95_ms', 'ttft_p50_ms', 'ttft_p95_ms']) {
    const v = await page.locator(`.tile[data-metric="${metric}"]`).getAttribute('data-value');
    assert.equal(v, u.totals[metric] === null ? '' : String(u.totals[metric]), `tile ${metric}`);
  }
}

async function assertMainCharts(page: Page, u: any): Promise<void> {
  const drawn = await charts(page);
  const want: Record<string, [string, (p: any) => number | null, 0 | null][]> = {
    traffic: [['Requests', (p) => p.requests, 0], ['Errors', (p) => p.errors, 0]],
    latency: [
      ['p50', (p) => p.latency_p50_ms, null],
      ['p95', (p) => p.latency_p95_ms, null],
      ['First token p50', (p) => p.ttft_p50_ms, null],
      ['First token p95', (p) => p.ttft_p95_ms, null],
    ],
    tokens: [['Input', (p) => p.prompt_tokens, 0], ['Cached read', (p) => p.cached_tokens, 0], ['Cache write', (p) => p.cache_write_tokens, 0], ['Output', (p) => p.completion_tokens, 0], ['Reasoning', (p) => p.reasoning_tokens, 0]],
    cost: [['Cost', (p) => p.cost, 0]],
  };
  for (const [id, series] of Object.entries(want)) {
    assert.deepEqual(drawn[id].series.map((s) => s.label), series.map((s) => s[0]), `${id}: labels`);
    series.forEach(([label, pick, empty], i) => {
      const e = expectedColumn(u, u.series, pick, empty);
      assert.deepEqual(drawn[id].x, e.x, `${id}: time axis`);
      assert.deepEqual(drawn[id].series[i].values, e.values, `${id} ${label}`);
    });
  }
}

/** The breakdown chart and table against `/usage` grouped by `dim`. */
async function assertBreakdown(page: Page, dim: string, labelOf: (group: any) => string): Promise<void> {
  const g = await usageOfPage(page, dim);
  const groups = new Map<string, any[]>();
  for (const p of g.series) groups.set(p.group[dim], [...(groups.get(p.group[dim]) ?? []), p]);
  const drawn = (await charts(page)).breakdown;
  assert.equal(drawn.series.length, groups.size, 'one series per group');
  for (const [value, points] of groups) {
    const s = drawn.series.find((d) => d.label === labelOf(points[0].group));
    assert.ok(s, `a series for ${value}`);
    assert.deepEqual(s.values, expectedColumn(g, points, (p) => p.cost, 0).values, `breakdown ${dim}=${value}`);
    const row = page.locator(`.group-table tr[data-group="${value}"]`);
    const sum = (k: string) => points.reduce((a, p) => a + p[k], 0);
    assert.equal(await row.getAttribute('data-requests'), String(sum('requests')));
    assert.equal(await row.getAttribute('data-errors'), String(sum('errors')));
    assert.equal(await row.getAttribute('data-cost'), String(sum('cost')));
  }
}

test('in Chromium: totals and every chart equal /usage; the breakdown follows the group-by; a budget near its limit', SKIP, async () => {
  const s = await openGui(gw.gui, { colorScheme: 'light' });
  try {
    const q = new URLSearchParams({ range: 'custom', from: new Date(from - 120_000).toISOString(), to: new Date(to + 120_000).toISOString(), refresh: 'off' });
    await s.page.goto(`${gw.gui}/#/?${q}`);
    await waitRendered(s.page);
    const u = await usageOfPage(s.page);
    assert.equal(u.interval, 'minute', 'a few minutes are drawn by the minute');
    assert.equal(u.totals.requests, TRAFFIC.length);
    assert.equal(u.totals.errors, 1);
    assert.equal(u.totals.cost, 3 * T + 0.5 * T + T + 0.5 * T);
    // one call streamed: its time to first token is the range's, p50 and p95 alike
    assert.equal(typeof u.totals.ttft_p50_ms, 'number');
    assert.equal(u.totals.ttft_p95_ms, u.totals.ttft_p50_ms);
    await assertTotals(s.page, u);
    const ttftTile = s.page.locator('.tile[data-metric="ttft_p50_ms"]');
    assert.equal(await ttftTile.locator('.tile-label').textContent(), 'Time to first token p50');
    assert.match((await ttftTile.locator('.tile-value').textContent())!, /^[\d.,]+ (ms|s)$/);
    await assertMainCharts(s.page, u);
    assert.equal(await s.page.locator('.tile[data-metric="requests"] .tile-value').textContent(), String(TRAFFIC.length));

    // the breakdown: by model first (the default), then by consumer through the selector
    await assertBreakdown(s.page, 'model', (g) => g.model);
    await s.page.getByLabel('Group by').selectOption('consumer');
    await s.page.getByRole('heading', { name: 'Breakdown by consumer' }).waitFor();
    assert.match(s.page.url(), /group=consumer/);
    await s.page.waitForFunction(() => (globalThis as unknown as { __modelgate_charts: Record<string, Drawn> }).__modelgate_charts.breakdown.series.some((x) => x.label === 'alice'));
    await assertBreakdown(s.page, 'consumer', (g) => g.consumer_name);
    const top = s.page.locator('table[data-top="consumer"] tbody th');
    assert.deepEqual(await top.allTextContents(), ['alice', 'bob', 'carol'], 'top consumers by spend');
    assert.deepEqual(await s.page.locator('table[data-top="model"] tbody th').allTextContents(), ['gpt-4o', 'gpt-4o-mini']);

    // budgets: alice at 87.5% shown; bob and carol only with the toggle
    const budgets = s.page.getByRole('region', { name: 'Budgets close to their limit' });
    await budgets.locator('tbody tr').first().waitFor();
    assert.deepEqual(await budgets.locator('tbody td:first-child').allTextContents(), ['alice']);
    assert.match((await budgets.locator('tbody tr').first().textContent())!, /87\.5%/);
    await screenshot(s.page, 'dashboard', 'light');
    await budgets.getByLabel('Show all budgets').check();
    assert.deepEqual(await budgets.locator('tbody td:first-child').allTextContents(), ['alice', 'bob', 'carol']);

    // a preset range: the URL says it, and the last hour holds all the traffic
    await s.page.getByRole('button', { name: 'Last hour' }).click();
    await s.page.waitForFunction(() => (globalThis as unknown as { location: { hash: string } }).location.hash.includes('range=hour'));
    await s.page.locator('.dashboard[data-usage-query*="interval=minute"]').waitFor();
    await s.page.locator('.tile[data-metric="requests"][data-value="7"]').waitFor();
    const hour = await usageOfPage(s.page);
    await assertTotals(s.page, hour);
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});

test('in Chromium, dark: the same figures, the charts in the dark palette', SKIP, async () => {
  const s = await openGui(gw.gui, { colorScheme: 'dark' });
  try {
    const q = new URLSearchParams({ range: 'custom', from: new Date(from - 120_000).toISOString(), to: new Date(to + 120_000).toISOString(), refresh: 'off' });
    await s.page.goto(`${gw.gui}/#/?${q}`);
    await waitRendered(s.page);
    await assertTotals(s.page, await usageOfPage(s.page));
    const stroke = await s.page.evaluate(() => { const g = globalThis as any; return g.getComputedStyle(g.document.documentElement).getPropertyValue('--series-1').trim() as string; });
    assert.equal(stroke, '#748ffc', 'the dark theme is in effect');
    await screenshot(s.page, 'dashboard', 'dark');
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});
