/**
 * The Admin GUI dashboard's first render over a large spend log (issue 20: ≤ 1 s with 100,000
 * spend rows). Seeds 100,000 rows spread over the last 30 days into a fresh prefix's spend.db
 * (a SqliteSpendStore, through `write()` in batches, as the primary's writer does), starts the
 * gateway on that prefix, and opens the dashboard in headless Chromium (a fresh browser context
 * each load: nothing cached) for each range; the time is from navigation to the page's
 * `performance.mark('dashboard-rendered')` (set once every chart of the first answers has drawn:
 * src/gui/app/pages/dashboard.ts). Median of 5 loads per range, printed against the target; never
 * asserted (a report, not a test).
 *
 *   npm run bench:gui                   100,000 rows, 5 loads per range
 *   node bench/gui-render.ts --rows 1000000 --loads 3
 *   node bench/gui-render.ts --keep     leaves the seeded prefix for a look afterwards
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteSpendStore } from '../src/spend/sqlite.ts';
import { SPEND_DB_FILE } from '../src/spend/store.ts';
import type { SpendRow } from '../src/spend/types.ts';
import { Gateway } from '../test/helpers/gateway.ts';
import { browser, browserMissing, closeBrowser } from '../test/helpers/browser.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    loads: { type: 'string', default: '5' },
    /** Leave the seeded prefix in place (printed) to look at it afterwards. */
    keep: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const LOADS = Number(args.loads);
const TARGET_MS = 1000;
const DAYS = 30;
const DAY = 86_400_000;
const BATCH = 5000;
/** `#/` is the last day; the others are the range picker's presets. */
const RANGES = ['day', 'hour', 'week', 'month'] as const;

// The row shape and spread of bench/usage-query.ts (50 consumers, 20 routes, 10 models over 5
// providers), copied small: that file exports nothing and is another bench's to change.
const uuid = (kind: number, i: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const CONSUMERS = Array.from({ length: 50 }, (_, i) => uuid(1, i));
const ROUTES = Array.from({ length: 20 }, (_, i) => uuid(2, i));
const MODELS = [
  ['openai', 'gpt-4o'], ['openai', 'gpt-4o-mini'], ['openai', 'o3-mini'], ['openai', 'text-embedding-3-small'],
  ['anthropic', 'claude-sonnet-4-5'], ['anthropic', 'claude-haiku-4-5'], ['gemini', 'gemini-2.5-pro'],
  ['gemini', 'gemini-2.5-flash'], ['bedrock', 'us.anthropic.claude-3-7-sonnet'], ['mistral', 'mistral-large-latest'],
] as const;

/** Deterministic (mulberry32): runs compare. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function row(i: number, time: number, rand: () => number): SpendRow {
  const [provider, model] = MODELS[Math.floor(rand() * MODELS.length)];
  const prompt = 20 + Math.floor(rand() * 2000);
  const completion = Math.floor(rand() * 800);
  const failed = rand() < 0.02;
  const stream = rand() < 0.5;
  const latency = 50 + Math.floor(rand() * rand() * 8000);
  return {
    time, request_id: `req-${i.toString(36).padStart(8, '0')}`,
    consumer_id: CONSUMERS[Math.floor(rand() * CONSUMERS.length)], credential_id: null,
    route_id: ROUTES[Math.floor(rand() * ROUTES.length)], service_id: null, plugin_id: null, client_api: 'openai-chat',
    provider, model_requested: model, model_served: model, status: failed ? 502 : 200,
    prompt_tokens: prompt, completion_tokens: failed ? 0 : completion, cached_tokens: Math.floor(prompt * rand() * 0.3),
    cache_write_tokens: 0, reasoning_tokens: model === 'o3-mini' ? Math.floor(completion / 2) : 0,
    total_tokens: prompt + (failed ? 0 : completion),
    cost: model === 'mistral-large-latest' ? null : (prompt * 2.5 + completion * 10) / 1e6,
    latency_ms: latency, ttft_ms: stream ? Math.floor(latency / 4) : null, stream, cache_hit: false, estimated: false,
    error_class: failed ? 'provider_error' : null,
    // fields the spend log is gaining (attempts, payload): none for these rows
    attempts: null, payload: null,
  } as SpendRow;
}

async function seed(prefix: string, now: number): Promise<void> {
  const store = new SqliteSpendStore(path.join(prefix, SPEND_DB_FILE));
  const rand = rng(20);
  const start = now - DAYS * DAY;
  const step = (DAYS * DAY) / ROWS;
  try {
    for (let i = 0; i < ROWS; i += BATCH) {
      const rows: SpendRow[] = [];
      for (let j = i; j < Math.min(ROWS, i + BATCH); j++) rows.push(row(j, Math.floor(start + j * step), rand));
      await store.write(rows);
    }
  } finally {
    await store.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function renderMs(gui: string, range: string): Promise<number> {
  const b = await browser();
  const context = await b.newContext({ viewport: { width: 1366, height: 768 } });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(range === 'day' ? `${gui}/#/` : `${gui}/#/?range=${range}`);
    await page.locator('.dashboard[data-rendered="true"]').waitFor({ timeout: 60_000 });
    if (errors.length) throw new Error(`the page failed: ${errors.join('; ')}`);
    // ms from the navigation's start (the page's time origin) to the mark
    return await page.evaluate(() => (globalThis as unknown as { performance: { getEntriesByName(n: string): { startTime: number }[] } }).performance.getEntriesByName('dashboard-rendered')[0].startTime);
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  if (browserMissing) {
    console.log(`skipped: ${browserMissing}`);
    return;
  }
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-bench-gui-'));
  let gw: Gateway | null = null;
  try {
    const t0 = performance.now();
    await seed(prefix, Date.now());
    console.log(`seeded ${ROWS.toLocaleString('en-US')} spend rows over ${DAYS} days in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    gw = await Gateway.start({ prefix });
    await renderMs(gw.gui, 'day'); // warm-up: the gateway's first compressions of the GUI's files
    console.log(`dashboard first render (navigation → 'dashboard-rendered'), median of ${LOADS} cold loads, target ≤ ${TARGET_MS} ms:`);
    for (const range of RANGES) {
      const times: number[] = [];
      for (let i = 0; i < LOADS; i++) times.push(await renderMs(gw.gui, range));
      const m = median(times);
      console.log(`  ${range.padEnd(6)} ${m.toFixed(0).padStart(5)} ms  ${m <= TARGET_MS ? 'ok' : 'OVER'}  (loads: ${times.map((t) => t.toFixed(0)).join(', ')})`);
    }
  } finally {
    await closeBrowser();
    await gw?.close();
    if (args.keep) console.log(`kept ${prefix}`);
    else fs.rmSync(prefix, { recursive: true, force: true });
  }
}

await main();
