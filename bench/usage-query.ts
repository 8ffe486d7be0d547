/**
 * Usage API query time over a large spend log (issue 19: `/usage` answers within 200 ms over
 * 1,000,000 rows). Seeds rows into a SQLite SpendStore in a temporary directory through `write()`
 * in batches (as the primary's writer does: rows and rollups in one transaction), spread evenly
 * over 30 days and written oldest first, as traffic arrives (each batch then touches few rollup
 * keys, which is most of the seeding time), over 50 consumers, 20 routes and 10 models (5
 * providers); the seeding's rows per second of wall and of CPU time are the writer's throughput (a
 * busy machine slows the first, hardly the second; `--batch 500` is the primary's batch size).
 * Then times `/usage`-shaped queries, one and two dimensions (the two-dimension ones read the
 * combination rollups of src/spend/rollups.ts), and three (the full-key rollup), including one just under
 * MAX_SERIES_POINTS, and the first page of `/usage/requests`: each against the store alone, and
 * through the Admin API's handler (parameter parsing, name lookups, JSON or CSV serialisation;
 * Fastify's inject, no socket). A query over the points cap is timed as the refusal it gets.
 * Medians of several runs, printed against the target; never asserted (a report, not a test).
 *
 *   npm run bench:usage                      1,000,000 rows
 *   node bench/usage-query.ts --rows 100000  a quick run
 *   node bench/usage-query.ts --rows 300000 --batch 500 --days 0.05 --runs 1
 *                                            the writer on busy traffic (~70 rows/s for 72 minutes)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { SqliteSpendStore } from '../src/spend/sqlite.ts';
import { MAX_SERIES_POINTS, UsageTooLargeError, type UsageAnswer, type UsageQuery } from '../src/spend/types.ts';
import { registerUsageRoutes } from '../src/admin/usage-routes.ts';
import type { SpendRow, SpendStore } from '../src/spend/types.ts';
import { CONSUMERS, ROUTES, makeRow, rng } from './spend-rows.ts';
import type { Row } from '../src/store/types.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '7' },
    keep: { type: 'boolean', default: false },
    // the rows' span in days: 30 spreads them thin (every row a new minute key: the writer's worst
    // case); less packs them as busy traffic does (a batch's rows share their minute's keys)
    days: { type: 'string', default: '30' },
  },
});
const ROWS = Number(args.rows);
const BATCH = Number(args.batch);
const RUNS = Number(args.runs);
const TARGET_MS = 200;
const DAYS = 30;
const SPAN_DAYS = Number(args.days);
const DAY = 86_400_000;
const HOUR = 3_600_000;

async function seed(store: SpendStore, now: number): Promise<{ ms: number; cpuMs: number }> {
  const rand = rng(19);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const first = now - SPAN_DAYS * DAY;
  const step = (SPAN_DAYS * DAY) / ROWS;
  for (let i = 0; i < ROWS; i += BATCH) {
    const rows: SpendRow[] = [];
    // row j somewhere in its own slot of the 30 days: uniform over the range, in time order
    for (let j = i; j < Math.min(ROWS, i + BATCH); j++) rows.push(makeRow(j, Math.floor(first + (j + rand()) * step), rand));
    await store.write(rows);
    if ((i / BATCH) % 40 === 0) process.stderr.write(`\rseeding ${i.toLocaleString('en-US')} / ${ROWS.toLocaleString('en-US')}`);
  }
  process.stderr.write('\r\x1b[K');
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** What a run answered: a store's points, an HTTP body's size, or the refusal past the points cap. */
function describeAnswer(v: unknown): string {
  if (v instanceof UsageTooLargeError) return `refused: over ${MAX_SERIES_POINTS.toLocaleString('en-US')} points`;
  if (typeof v === 'string') return `${(v.length / 1024).toFixed(0)} KB`;
  if (v && typeof v === 'object' && 'series' in v) return `${(v as UsageAnswer).series.length.toLocaleString('en-US')} points`;
  if (v && typeof v === 'object' && 'data' in v) return `${(v as { data: unknown[] }).data.length} rows`;
  return '';
}

/** A refusal is an answer too (the Admin API's 400): it is timed like one. */
async function settle(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof UsageTooLargeError) return e;
    throw e;
  }
}

/** Wall time, and CPU time (the process's: queries run on this thread), which a busy machine hardly changes. */
async function time(run: () => Promise<unknown>): Promise<{ median: number; max: number; cpu: number; answer: string }> {
  const answer = describeAnswer(await settle(run)); // warm: statements prepared, pages cached
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await settle(run);
    const used = process.cpuUsage(c);
    ms.push(performance.now() - t);
    cpuMs.push((used.user + used.system) / 1000);
  }
  return { median: median(ms), max: Math.max(...ms), cpu: median(cpuMs), answer };
}

/**
 * The longest range, in whole hours back from `now`, whose `group_by` by hour stays within
 * MAX_SERIES_POINTS: the largest answer `/usage` gives for those dimensions.
 */
async function justUnderCap(store: SpendStore, now: number, group_by: UsageQuery['group_by']): Promise<number> {
  for (let hours = 48; hours > 1; hours--) {
    const answer = await settle(() => store.usage({ from: now - hours * HOUR, to: now, interval: 'hour', group_by }));
    if (!(answer instanceof UsageTooLargeError)) return hours;
  }
  return 1;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-bench-usage-'));
  const store = new SqliteSpendStore(path.join(dir, 'spend.db'));
  const now = Date.now();
  try {
    const seeded = await seed(store, now);
    const size = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    const perS = (ms: number) => Math.round(ROWS / (ms / 1000)).toLocaleString('en-US');
    console.log(
      `seeded ${ROWS.toLocaleString('en-US')} rows in ${(seeded.ms / 1000).toFixed(1)} s, ${(seeded.cpuMs / 1000).toFixed(1)} s of CPU (${perS(seeded.ms)} rows/s, ${perS(seeded.cpuMs)} rows per CPU-second, batches of ${BATCH}); files ${(size / 1e6).toFixed(0)} MB`,
    );

    // the Admin API's handler over the same store; names come from a table, as the dao would give them
    const names = new Map<string, Row>([...CONSUMERS.map((id, i) => [id, { id, created_at: 0, username: `consumer-${i}` }] as const), ...ROUTES.map((id, i) => [id, { id, created_at: 0, name: `route-${i}` }] as const)]);
    const byName = new Map([...names.values()].map((r) => [(r.username ?? r.name) as string, r]));
    const app = Fastify();
    registerUsageRoutes(app, { store: () => store, disabled: () => false, find: async (_e, key) => names.get(key) ?? byName.get(key) ?? null, now: () => now });
    await app.ready();
    const http = (url: string, accept = 'application/json') => async () => {
      const r = await app.inject({ url, headers: { accept } });
      if (r.statusCode === 400 && r.body.includes('points')) return new UsageTooLargeError(r.body);
      if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
      return r.body;
    };

    const iso = (t: number) => new Date(t).toISOString();
    const last24h = { from: now - DAY, to: now };
    const last30d = { from: now - DAYS * DAY, to: now };
    const one = CONSUMERS[7];
    const hours = await justUnderCap(store, now, ['consumer', 'model']);
    const underCap = { from: now - hours * HOUR, to: now };
    const cases: [string, () => Promise<unknown>][] = [
      ['store: usage 24 h by hour, group_by model', () => store.usage({ ...last24h, interval: 'hour', group_by: ['model'] })],
      ['store: usage 30 d by day, group_by consumer', () => store.usage({ ...last30d, interval: 'day', group_by: ['consumer'] })],
      ['store: usage 30 d by day, one consumer', () => store.usage({ ...last30d, interval: 'day', group_by: [], consumer: one })],
      ['store: usage 24 h by hour, group_by consumer,model', () => store.usage({ ...last24h, interval: 'hour', group_by: ['consumer', 'model'] })],
      ['store: usage 24 h by hour, group_by route,provider', () => store.usage({ ...last24h, interval: 'hour', group_by: ['route', 'provider'] })],
      [`store: usage ${hours} h by hour, group_by consumer,model`, () => store.usage({ ...underCap, interval: 'hour', group_by: ['consumer', 'model'] })],
      ['store: usage 30 d by day, group_by route,model', () => store.usage({ ...last30d, interval: 'day', group_by: ['route', 'model'] })],
      ['store: usage 30 d by day, group_by consumer,route', () => store.usage({ ...last30d, interval: 'day', group_by: ['consumer', 'route'] })],
      ['store: usage 30 d by day, group_by consumer,provider', () => store.usage({ ...last30d, interval: 'day', group_by: ['consumer', 'provider'] })],
      ['store: usage 30 d by day, group_by model,provider', () => store.usage({ ...last30d, interval: 'day', group_by: ['model', 'provider'] })],
      ['store: usage 7 d by day, group_by route,consumer,model (full key)', () => store.usage({ from: now - 7 * DAY, to: now, interval: 'day', group_by: ['route', 'consumer', 'model'] })],
      ['store: usage 24 h by hour, one consumer by model', () => store.usage({ ...last24h, interval: 'hour', group_by: ['model'], consumer: one })],
      ['store: requests first page (100)', () => store.requests({ ...last30d, limit: 100 })],
      ['store: requests first page (1000), one consumer', () => store.requests({ ...last30d, limit: 1000, consumer: one })],
      ['GET /usage?interval=hour&group_by=model', http('/usage?interval=hour&group_by=model')],
      [`GET /usage?from=-30d&interval=day&group_by=consumer`, http(`/usage?from=${iso(last30d.from)}&interval=day&group_by=consumer`)],
      ['GET /usage?from=-30d&interval=day&consumer=<name>', http(`/usage?from=${iso(last30d.from)}&interval=day&consumer=consumer-7`)],
      ['GET /usage?from=-30d&…group_by=consumer (CSV)', http(`/usage?from=${iso(last30d.from)}&interval=day&group_by=consumer`, 'text/csv')],
      ['GET /usage?interval=hour&group_by=consumer,model', http('/usage?interval=hour&group_by=consumer,model')],
      ['GET /usage?interval=hour&group_by=route,provider', http('/usage?interval=hour&group_by=route,provider')],
      [`GET /usage?from=-${hours}h&interval=hour&group_by=consumer,model`, http(`/usage?from=${iso(underCap.from)}&to=${iso(now)}&interval=hour&group_by=consumer,model`)],
      [`GET /usage?from=-${hours}h&…group_by=consumer,model (CSV)`, http(`/usage?from=${iso(underCap.from)}&to=${iso(now)}&interval=hour&group_by=consumer,model`, 'text/csv')],
      ['GET /usage?from=-30d&interval=day&group_by=route,model', http(`/usage?from=${iso(last30d.from)}&interval=day&group_by=route,model`)],
      ['GET /usage/requests?from=-30d', http(`/usage/requests?from=${iso(last30d.from)}`)],
      ['GET /usage/requests?from=-30d&limit=1000 (CSV)', http(`/usage/requests?from=${iso(last30d.from)}&limit=1000`, 'text/csv')],
    ];
    console.log(`\n${'query'.padEnd(66)} ${'median'.padStart(9)} ${'max'.padStart(9)} ${'cpu'.padStart(9)}  target ${TARGET_MS} ms (${RUNS} runs)  answer`);
    for (const [name, run] of cases) {
      const t = await time(run);
      const verdict = t.median <= TARGET_MS ? 'ok  ' : 'OVER';
      console.log(`${name.padEnd(66)} ${t.median.toFixed(1).padStart(6)} ms ${t.max.toFixed(1).padStart(6)} ms ${t.cpu.toFixed(1).padStart(6)} ms  ${verdict}  ${t.answer}`);
    }
    await app.close();
  } finally {
    await store.close();
    if (!args.keep) fs.rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

await main();
