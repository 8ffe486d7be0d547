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
import { makeRow, rng } from './spend-rows.ts';
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

async function seed(prefix: string, now: number): Promise<void> {
  const store = new SqliteSpendStore(path.join(prefix, SPEND_DB_FILE));
  const rand = rng(20);
  const start = now - DAYS * DAY;
  const step = (DAYS * DAY) / ROWS;
  try {
    for (let i = 0; i < ROWS; i += BATCH) {
      const rows: SpendRow[] = [];
      for (let j = i; j < Math.min(ROWS, i + BATCH); j++) rows.push(makeRow(j, Math.floor(start + j * step), rand));
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
