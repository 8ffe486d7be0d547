/**
 * The PostgreSQL spend store against a real server (initdb'd for this file): two "nodes" (two
 * store instances) writing batches at once, rollups checked exactly against sums computed here
 * from the same rows, `/usage` answers by interval, group and filter (and identical to the SQLite
 * store's for the same rows), percentiles within a histogram bucket (time to first token: of the
 * streamed rows that have one, exact by the histogram's rules), newest-first pages, day
 * partitions made and dropped, costOf over unaligned ranges, and a write during an outage.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgServer, pgMissing } from '../helpers/postgres.ts';
import { PostgresStore, withTimeouts } from '../../src/store/postgres.ts';
import { PG_MIGRATIONS } from '../../src/store/migrations.ts';
import { StoreError } from '../../src/store/types.ts';
import { PostgresSpendStore, coverRange, rollupFor } from '../../src/spend/postgres.ts';
import { COMBINATIONS, DIMENSION_COLUMN, combinationTable } from '../../src/spend/rollups.ts';
import { SqliteSpendStore, bucketStart, latencyIndex, latencyRange, percentileOf, INTERVAL_MS, type LatencyHistogram } from '../../src/spend/sqlite.ts';
import type { RequestsQuery, SpendRow, UsageDimension, UsageInterval, UsageQuery, UsageSeriesPoint, UsageTotals } from '../../src/spend/types.ts';

if (pgMissing) process.stderr.write(`# skipping: PostgreSQL spend store tests: ${pgMissing}\n`);

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Day 0 of the rows (2025-06-10 UTC); the clock says day 2, so day 3 is "tomorrow". */
const BASE = Date.UTC(2025, 5, 10);
const NOW = BASE + 2 * DAY + 5 * HOUR;

// ---------------------------------------------------------------------------------------------
// Known rows: a seeded generator over a small key space, so the nodes' batches hit the same keys

function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Costs are whole micro-dollars, so an exact sum is known here: `micros / 1e6`. */
const micros = new Map<string, number>();

/** Latencies on the histogram's edges (powers of two are bucket bounds) as well as in between. */
const EDGE_LATENCIES = [0, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

function rows(node: string, n: number, seed: number): SpendRow[] {
  const rnd = prng(seed);
  const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const requested = pick(['gpt-4o', 'claude-sonnet', 'gemini']);
    const error = rnd() < 0.15;
    const priced = rnd() < 0.9;
    const m = Math.floor(rnd() * 50_000);
    const prompt = Math.floor(rnd() * 5000);
    const completion = Math.floor(rnd() * 2000);
    const request_id = `${node}-${String(i).padStart(5, '0')}`;
    if (priced) micros.set(request_id, m);
    const hit = rnd() < 0.1;
    return {
      time: BASE + Math.floor(rnd() * 3 * DAY),
      request_id,
      consumer_id: pick(['c1', 'c2', null]),
      credential_id: pick(['k1', null]),
      route_id: pick(['r1', 'r2']),
      service_id: 's1',
      plugin_id: 'p1',
      client_api: pick(['openai-chat', 'anthropic-messages']),
      provider: pick(['openai', 'anthropic']),
      model_requested: requested,
      model_served: rnd() < 0.5 ? `${requested}-2025` : null,
      status: error ? 502 : 200,
      prompt_tokens: prompt,
      completion_tokens: completion,
      cached_tokens: Math.floor(prompt / 3),
      cache_write_tokens: Math.floor(prompt / 7),
      reasoning_tokens: Math.floor(completion / 4),
      total_tokens: prompt + completion,
      cost: priced ? m / 1e6 : null,
      latency_ms: rnd() < 0.3 ? pick(EDGE_LATENCIES) : Math.round(rnd() * 20_000 * 1000) / 1000,
      ttft_ms: rnd() < 0.5 ? Math.floor(rnd() * 500) : null,
      stream: rnd() < 0.5,
      cache_hit: hit,
      // a semantic cache hit saved what the original answer used: whole micro-dollars, summed exactly
      saved_tokens: hit ? prompt + completion : 0,
      saved_cost: hit ? (priced ? ((prompt + completion) * 3) / 1e6 : null) : 0,
      estimated: rnd() < 0.1,
      error_class: error ? 'provider_error' : null,
      attempts: null,
      payload: null,
    };
  });
}

const NODE_A = rows('a', 2000, 1);
const NODE_B = rows('b', 2000, 2);
const ALL = [...NODE_A, ...NODE_B];

const batches = (rs: SpendRow[], size = 500) => Array.from({ length: Math.ceil(rs.length / size) }, (_, i) => rs.slice(i * size, (i + 1) * size));

// ---------------------------------------------------------------------------------------------
// What the answers must be, computed here from the rows

const modelOf = (r: SpendRow) => r.model_served ?? r.model_requested;
const DIMENSIONS: UsageDimension[] = ['route', 'consumer', 'provider', 'model'];
const DIM: Record<UsageDimension, (r: SpendRow) => string | null> = {
  consumer: (r) => r.consumer_id,
  route: (r) => r.route_id,
  provider: (r) => r.provider,
  model: modelOf,
};

interface Acc {
  n: Omit<UsageTotals, 'cost' | 'saved_cost' | 'latency_p50_ms' | 'latency_p95_ms' | 'ttft_p50_ms' | 'ttft_p95_ms'>;
  micros: number;
  savedMicros: number;
  hist: LatencyHistogram;
  latencies: number[];
  /** Time to first token of the streamed rows that have one (a non-streamed row's ttft_ms is not counted). */
  ttft: LatencyHistogram;
}

function acc(): Acc {
  return {
    n: { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, total_tokens: 0, unpriced_requests: 0, saved_tokens: 0 },
    micros: 0,
    savedMicros: 0,
    hist: {},
    latencies: [],
    ttft: {},
  };
}

function add(a: Acc, r: SpendRow): void {
  a.n.requests++;
  if (r.error_class !== null) a.n.errors++;
  for (const k of ['prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens', 'total_tokens'] as const) a.n[k] += r[k];
  if (r.cost === null) a.n.unpriced_requests++;
  else a.micros += micros.get(r.request_id)!;
  a.n.saved_tokens += r.saved_tokens;
  if (r.saved_cost) a.savedMicros += r.saved_tokens * 3;
  const li = String(latencyIndex(r.latency_ms));
  a.hist[li] = (a.hist[li] ?? 0) + 1;
  a.latencies.push(r.latency_ms);
  if (r.stream && r.ttft_ms !== null) {
    const ti = String(latencyIndex(r.ttft_ms));
    a.ttft[ti] = (a.ttft[ti] ?? 0) + 1;
  }
}

const totalsOf = (a: Acc): UsageTotals => ({
  ...a.n,
  cost: a.micros / 1e6,
  saved_cost: a.savedMicros / 1e6,
  latency_p50_ms: percentileOf(a.hist, 0.5),
  latency_p95_ms: percentileOf(a.hist, 0.95),
  ttft_p50_ms: percentileOf(a.ttft, 0.5),
  ttft_p95_ms: percentileOf(a.ttft, 0.95),
});

const matches = (q: Partial<UsageQuery>, r: SpendRow) =>
  (q.consumer === undefined || r.consumer_id === q.consumer) &&
  (q.route === undefined || r.route_id === q.route) &&
  (q.provider === undefined || r.provider === q.provider) &&
  (q.model === undefined || modelOf(r) === q.model);

/** The usage answer the rows give: buckets overlapping [from, to), ordered by bucket then group (byte order, null first). */
function expectedUsage(rs: SpendRow[], q: UsageQuery): { series: UsageSeriesPoint[]; totals: UsageTotals; all: Acc } {
  const from = bucketStart(q.from, q.interval);
  const groups = new Map<string, { start: number; group: Partial<Record<UsageDimension, string | null>>; a: Acc }>();
  const all = acc();
  for (const r of rs) {
    const start = bucketStart(r.time, q.interval);
    if (start < from || start >= q.to || !matches(q, r)) continue;
    const group: Partial<Record<UsageDimension, string | null>> = {};
    for (const d of q.group_by) group[d] = DIM[d](r);
    const key = JSON.stringify([start, ...q.group_by.map((d) => group[d] ?? '')]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { start, group, a: acc() }));
    add(g.a, r);
    add(all, r);
  }
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const sorted = [...groups.values()].sort((x, y) => x.start - y.start || q.group_by.reduce((c, d) => c || cmp(x.group[d] ?? '', y.group[d] ?? ''), 0));
  const series = sorted.map((g) => ({ start: new Date(g.start).toISOString(), group: g.group, ...totalsOf(g.a) }));
  return { series, totals: all.n.requests ? totalsOf(all) : totalsOf(acc()), all };
}

/** Within the histogram bucket holding the true rank-⌈p·n⌉ latency. */
function assertPercentile(reported: number | null, latencies: number[], p: number): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  const truth = sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
  const [lo, hi] = latencyRange(latencyIndex(truth));
  assert.ok(reported !== null && reported >= lo - 0.01 && reported <= hi + 0.01, `p${p * 100} ${reported} not in [${lo}, ${hi}) of the true ${truth}`);
}

// ---------------------------------------------------------------------------------------------

describe('PostgreSQL spend store', { skip: pgMissing ?? false }, () => {
  let server: PgServer;
  let url: string;
  let a: PostgresSpendStore;
  let b: PostgresSpendStore;
  let sqliteDir: string;
  let sqlite: SqliteSpendStore;

  const sql = <R extends Record<string, any> = any>(text: string, params: unknown[] = []) => server.query<R>(text, params, 'spend');
  const partitions = async () =>
    (await sql<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'spend_requests'::regclass ORDER BY 1`)).map((r) => r.name);
  // 10 s: the two nodes' batches at once update the same rollup keys and wait on each other's row
  // locks, which on a loaded machine adds up past a few seconds (a timeout fails the test, not a bound it checks)
  const store = () => new PostgresSpendStore(withTimeouts({ connectionString: url }, 10_000), { now: () => NOW });

  before(async () => {
    server = await PgServer.start();
    url = await server.createDatabase('spend');
    const config = new PostgresStore(withTimeouts({ connectionString: url }, 5000), { bootstrapIfEmpty: true });
    await config.init();
    await config.close();
    a = store();
    b = store();
    sqliteDir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-spend-'));
    sqlite = new SqliteSpendStore(path.join(sqliteDir, 'spend.db'));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await sqlite?.close();
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
    await server?.close();
  });

  test('the tables are migration 001_spend_log; opening makes today\'s and tomorrow\'s partitions, once across nodes', async () => {
    assert.deepEqual(
      (await sql('SELECT name FROM schema_migrations ORDER BY name')).map((r) => r.name),
      PG_MIGRATIONS.map((m) => m.name),
    );
    assert.ok(PG_MIGRATIONS.some((m) => m.name === '001_spend_log'));
    await Promise.all([a.open(), b.open(), a.open()]);
    assert.deepEqual(await partitions(), ['spend_requests_p20250612', 'spend_requests_p20250613']);
    const missing = new PostgresSpendStore(withTimeouts({ connectionString: await server.createDatabase('unmigrated') }, 3000));
    await assert.rejects(missing.open(), /run 'modelgate migrations up'/);
    await missing.close();
  });

  test('a database from before the spend log refuses to start until `migrations up` adds it; then rows keep attempts and payloads', async () => {
    const old = await server.createDatabase('upgrade');
    await server.query(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL); ${PG_MIGRATIONS[0].up}`, [], 'upgrade');
    await server.query(`INSERT INTO schema_migrations VALUES ('000_base', 1)`, [], 'upgrade');
    const config = new PostgresStore(withTimeouts({ connectionString: old }, 5000), { bootstrapIfEmpty: true });
    try {
      await assert.rejects(config.init(), /pending migration\(s\) \(001_spend_log, 002_spend_details_and_combinations, 003_cluster_nodes\); run 'modelgate migrations up'/);
      assert.deepEqual(await config.up(), ['001_spend_log', '002_spend_details_and_combinations', '003_cluster_nodes']);
      await config.init();
    } finally {
      await config.close();
    }
    const spend = new PostgresSpendStore(withTimeouts({ connectionString: old }, 3000), { now: () => NOW });
    await spend.open();
    await spend.write(NODE_A.slice(0, 3));
    assert.equal((await server.query('SELECT count(*)::int AS n FROM spend_requests', [], 'upgrade'))[0].n, 3);
    // 002's columns: a balanced request's attempts and a logged payload come back as JSON, a NUL in a body too
    const attempts = [
      { target: 0, provider: 'openai', model: 'gpt-4o', status: 500, latency_ms: 12 },
      { target: 1, provider: 'anthropic', model: 'claude-sonnet', error: 'ECONNREFUSED', latency_ms: 1 },
    ];
    const payload = { request: '{"messages":[{"role":"user","content":"a \\u0000 and a \\" quote"}]}', response: 'é\u0000"}' };
    const time = NOW + 1234;
    await spend.write([
      { ...NODE_A[0], request_id: 'details-1', time, attempts, payload },
      { ...NODE_A[0], request_id: 'details-2', time },
    ]);
    const page = await spend.requests({ from: time, to: time + 1, limit: 10 });
    const byId = new Map(page.data.map((r) => [r.request_id, r]));
    assert.deepEqual(byId.get('details-1')?.attempts, attempts);
    assert.deepEqual(byId.get('details-1')?.payload, payload);
    assert.equal(byId.get('details-2')?.attempts, null);
    assert.equal(byId.get('details-2')?.payload, null);
    await spend.close();
  });

  test('two nodes writing batches at once: every row once, rollups exact at every interval', async () => {
    await Promise.all([...batches(NODE_A).map((x) => a.write(x)), ...batches(NODE_B).map((x) => b.write(x)), sqlite.write(ALL)]);
    assert.equal((await sql('SELECT count(*)::int AS n FROM spend_requests'))[0].n, ALL.length);
    assert.deepEqual(await partitions(), ['spend_requests_p20250610', 'spend_requests_p20250611', 'spend_requests_p20250612', 'spend_requests_p20250613']);
    for (const interval of ['minute', 'hour', 'day'] as UsageInterval[]) {
      await assertRollups(interval);
      await assertDimensionRollups(interval);
      await assertCombinationRollups(interval);
    }
  });

  test('a batch written again (its acknowledgement lost) counts nothing twice', async () => {
    const before = await sql('SELECT * FROM spend_rollup_hour ORDER BY bucket, route_id, consumer_id, provider, model');
    await a.write(NODE_A.slice(0, 500));
    await b.write([...NODE_A.slice(500, 510), ...NODE_A.slice(500, 510)]);
    assert.equal((await sql('SELECT count(*)::int AS n FROM spend_requests'))[0].n, ALL.length);
    assert.deepEqual(await sql('SELECT * FROM spend_rollup_hour ORDER BY bucket, route_id, consumer_id, provider, model'), before);
    await assertRollups('minute');
    await assertDimensionRollups('minute');
  });

  test('usage by two dimensions reads a combination rollup (the full-key one moved aside), exact and as on SQLite', async () => {
    const PAIRS: UsageDimension[][] = [['consumer', 'model'], ['consumer', 'provider'], ['consumer', 'route'], ['model', 'provider'], ['model', 'route'], ['provider', 'route']];
    const queries: UsageQuery[] = [
      ...PAIRS.map((group_by, i) => ({ from: BASE + i * HOUR, to: BASE + 3 * DAY, interval: (['hour', 'day', 'minute'] as const)[i % 3], group_by })),
      { from: BASE, to: BASE + 3 * DAY, interval: 'hour', group_by: ['model'], consumer: 'c1' },
      { from: BASE, to: BASE + 3 * DAY, interval: 'day', group_by: ['route', 'model'], provider: 'openai' },
    ];
    const intervals = ['minute', 'hour', 'day'] as UsageInterval[];
    await sql(intervals.map((i) => `ALTER TABLE spend_rollup_${i} RENAME TO spend_rollup_${i}_aside`).join('; '));
    try {
      for (const q of queries) {
        const label = JSON.stringify(q);
        const got = await a.usage(q);
        const want = expectedUsage(ALL, q);
        assert.ok(want.series.length > 1, label);
        assert.deepEqual(got.series, want.series, label);
        assert.deepEqual(got.totals, want.totals, label);
        const costless = (x: typeof got) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'cost' || k === 'saved_cost' ? Math.round(v * 1e6) : v)));
        assert.deepEqual(costless(got), costless(await sqlite.usage(q)), `${label}: as on SQLite`);
      }
    } finally {
      await sql(intervals.map((i) => `ALTER TABLE spend_rollup_${i}_aside RENAME TO spend_rollup_${i}`).join('; '));
    }
  });

  test('migration 002 on a database with traffic fills the combination rollups as the writes make them', async () => {
    const url001 = await server.createDatabase('at001');
    const at001 = <R extends Record<string, any> = any>(text: string, params: unknown[] = []) => server.query<R>(text, params, 'at001');
    await at001(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL); ${PG_MIGRATIONS[0].up}; ${PG_MIGRATIONS[1].up}`);
    await at001(`INSERT INTO schema_migrations VALUES ('000_base', 1), ('001_spend_log', 1)`);
    // the full-key rollups a node at 001 kept for ALL (this database's, written batch by batch, less the ttft histogram 002 adds)
    for (const interval of ['minute', 'hour', 'day'] as UsageInterval[]) {
      const rows = (await sql(`SELECT * FROM spend_rollup_${interval}`)).map(({ ttft_hist: _, ...r }) => r);
      await at001(`INSERT INTO spend_rollup_${interval} SELECT * FROM json_populate_recordset(NULL::spend_rollup_${interval}, $1)`, [JSON.stringify(rows)]);
    }
    const config = new PostgresStore(withTimeouts({ connectionString: url001 }, 5000), { bootstrapIfEmpty: true });
    try {
      assert.deepEqual(await config.up(), ['002_spend_details_and_combinations', '003_cluster_nodes']);
    } finally {
      await config.close();
    }
    // 001 kept no time to first token: every rollup's ttft_hist is there, empty
    for (const interval of ['minute', 'hour', 'day'] as UsageInterval[]) {
      await assertCombinationRollups(interval, at001, false);
      for (const t of [`spend_rollup_${interval}`, ...DIMENSIONS.map((d) => `spend_rollup_${interval}_${d}`)]) {
        const [{ rows, counted }] = await at001(`SELECT count(*)::int AS rows, count(*) FILTER (WHERE ttft_hist <> '{}')::int AS counted FROM ${t}`);
        assert.equal(counted, 0, t);
        if (t === `spend_rollup_${interval}`) assert.ok(rows > 0, `${t}: 001's rows are there`);
      }
    }
    // and the same as the ones written with the rows, but for that
    const withoutTtft = (rows: Record<string, unknown>[]) => rows.map(({ ttft_hist: _, saved_tokens: _t, saved_cost: _c, ...r }) => r);
    for (const c of COMBINATIONS) {
      const order = ['bucket', ...c.map((d) => DIMENSION_COLUMN[d])].join(', ');
      const t = combinationTable('hour', c);
      assert.deepEqual(withoutTtft(await at001(`SELECT * FROM ${t} ORDER BY ${order}`)), withoutTtft(await sql(`SELECT * FROM ${t} ORDER BY ${order}`)), t);
    }
    // streams written after the migration count: the answer's ttft is theirs alone
    const spend = new PostgresSpendStore(withTimeouts({ connectionString: url001 }, 3000), { now: () => NOW });
    try {
      const hour = BASE + 3 * DAY + HOUR; // after ALL
      await spend.write([
        { ...NODE_A[0], request_id: 'ttft-1', time: hour + 1, stream: true, ttft_ms: 40, route_id: 'r1', consumer_id: 'c1' },
        { ...NODE_A[0], request_id: 'ttft-2', time: hour + 2, stream: true, ttft_ms: 100, route_id: 'r1', consumer_id: 'c1' },
      ]);
      const q: UsageQuery = { from: BASE, to: hour + HOUR, interval: 'day', group_by: [] };
      const both = await spend.usage({ ...q, group_by: ['route', 'consumer'] });
      // rank ⌈0.5·2⌉ = 1: 40 ms, index 22, [2^(21/4), 2^(22/4)): its geometric middle 2^(21.5/4); p95: 100 ms, index 27
      for (const totals of [both.totals, (await spend.usage(q)).totals]) {
        assert.deepEqual([totals.ttft_p50_ms, totals.ttft_p95_ms], [Math.round(2 ** (21.5 / 4) * 100) / 100, Math.round(2 ** (26.5 / 4) * 100) / 100]);
      }
    } finally {
      await spend.close();
    }
  });

  /**
   * Every combination rollup row of `interval` (in the database `query` reads) against the sums of
   * the rows; `ttft` false: rows summed before migration 002, whose time to first token and saved sums were not kept.
   */
  async function assertCombinationRollups(interval: UsageInterval, query: (text: string) => Promise<any[]> = sql, ttft = true): Promise<void> {
    for (const c of COMBINATIONS) {
      const want = new Map<string, Acc>();
      for (const r of ALL) {
        const key = [new Date(bucketStart(r.time, interval)).toISOString(), ...c.map((d) => DIM[d](r) ?? '')].join('|');
        let x = want.get(key);
        if (!x) want.set(key, (x = acc()));
        add(x, r);
      }
      const t = combinationTable(interval, c);
      const got = await query(`SELECT * FROM ${t}`);
      assert.equal(got.length, want.size, `${t}: one row per bucket and key`);
      for (const g of got) {
        const key = [g.bucket.toISOString(), ...c.map((d) => g[DIMENSION_COLUMN[d]])].join('|');
        const w = want.get(key);
        assert.ok(w, `${t}: unexpected key ${key}`);
        // 001 kept no saved sums either (issue 22): 0 for what it summed
        assert.deepEqual(Object.fromEntries(Object.keys(w.n).map((k) => [k, Number(g[k])])), ttft ? w.n : { ...w.n, saved_tokens: 0 }, `${t} ${key}`);
        assert.equal(Number(g.cost), w.micros / 1e6, `${t} ${key}: cost`);
        assert.deepEqual(g.latency_hist, w.hist, `${t} ${key}: histogram`);
        assert.deepEqual(g.ttft_hist, ttft ? w.ttft : {}, `${t} ${key}: ttft histogram`);
      }
    }
  }

  /** Every per-dimension rollup row of `interval` against the sums of the rows. */
  async function assertDimensionRollups(interval: UsageInterval): Promise<void> {
    for (const d of DIMENSIONS) {
      const want = new Map<string, Acc>();
      for (const r of ALL) {
        const key = `${new Date(bucketStart(r.time, interval)).toISOString()}|${DIM[d](r) ?? ''}`;
        let x = want.get(key);
        if (!x) want.set(key, (x = acc()));
        add(x, r);
      }
      const got = await sql(`SELECT * FROM spend_rollup_${interval}_${d}`);
      assert.equal(got.length, want.size, `${interval} ${d}: one row per bucket and value`);
      for (const g of got) {
        const key = `${g.bucket.toISOString()}|${g.value}`;
        const w = want.get(key);
        assert.ok(w, `${interval} ${d}: unexpected key ${key}`);
        assert.deepEqual(Object.fromEntries(Object.keys(w.n).map((k) => [k, Number(g[k])])), w.n, `${interval} ${d} ${key}`);
        assert.equal(Number(g.cost), w.micros / 1e6, `${interval} ${d} ${key}: cost`);
        assert.deepEqual(g.latency_hist, w.hist, `${interval} ${d} ${key}: histogram`);
        assert.deepEqual(g.ttft_hist, w.ttft, `${interval} ${d} ${key}: ttft histogram`);
      }
    }
  }

  /** Every rollup row of `interval` against the sums of the rows. */
  async function assertRollups(interval: UsageInterval): Promise<void> {
    const want = new Map<string, Acc>();
    for (const r of ALL) {
      const key = [new Date(bucketStart(r.time, interval)).toISOString(), r.route_id ?? '', r.consumer_id ?? '', r.provider ?? '', modelOf(r) ?? ''].join('|');
      let x = want.get(key);
      if (!x) want.set(key, (x = acc()));
      add(x, r);
    }
    const got = await sql(`SELECT * FROM spend_rollup_${interval}`);
    assert.equal(got.length, want.size, `${interval}: one rollup row per key`);
    for (const g of got) {
      const key = [g.bucket.toISOString(), g.route_id, g.consumer_id, g.provider, g.model].join('|');
      const w = want.get(key);
      assert.ok(w, `${interval}: unexpected key ${key}`);
      const n = Object.fromEntries(Object.keys(w.n).map((k) => [k, Number(g[k])]));
      assert.deepEqual(n, w.n, `${interval} ${key}`);
      assert.equal(Number(g.cost), w.micros / 1e6, `${interval} ${key}: cost`);
      assert.deepEqual(g.latency_hist, w.hist, `${interval} ${key}: histogram`);
      assert.deepEqual(g.ttft_hist, w.ttft, `${interval} ${key}: ttft histogram`);
    }
  }

  const QUERIES: UsageQuery[] = [
    { from: BASE, to: BASE + 3 * DAY, interval: 'day', group_by: [] },
    { from: BASE, to: BASE + 3 * DAY, interval: 'day', group_by: ['consumer', 'model', 'provider', 'route'] },
    { from: BASE + 6 * HOUR, to: BASE + 30 * HOUR, interval: 'hour', group_by: ['consumer', 'model'], provider: 'openai' },
    { from: BASE + DAY + 90 * MINUTE + 30_000, to: BASE + DAY + 7 * HOUR + 1, interval: 'hour', group_by: ['route'], consumer: 'c1' },
    { from: BASE + 2 * DAY, to: BASE + 2 * DAY + 2 * HOUR, interval: 'minute', group_by: [], consumer: 'c2', route: 'r1' },
    { from: BASE, to: BASE + 3 * DAY, interval: 'hour', group_by: ['model'], model: 'gemini-2025' },
    { from: BASE - DAY, to: BASE, interval: 'day', group_by: ['consumer'] },
  ];

  test('usage: series and totals exact for each interval, group and filter; the same answer as the SQLite store', async () => {
    for (const q of QUERIES) {
      const got = await a.usage(q);
      const want = expectedUsage(ALL, q);
      const label = JSON.stringify(q);
      assert.equal(got.from, new Date(bucketStart(q.from, q.interval)).toISOString(), label);
      assert.equal(got.to, new Date(Math.max(bucketStart(q.from, q.interval), bucketStart(q.to - 1, q.interval) + INTERVAL_MS[q.interval])).toISOString(), label);
      assert.deepEqual(got.series, want.series, label);
      assert.deepEqual(got.totals, want.totals, label);
      // SQLite sums cost in floating point: equal but for the last digits
      const lite = await sqlite.usage(q);
      const costless = (x: typeof got) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'cost' || k === 'saved_cost' ? Math.round(v * 1e6) : v)));
      assert.deepEqual(costless(got), costless(lite), `${label}: as on SQLite`);
    }
    const empty = await a.usage(QUERIES[QUERIES.length - 1]);
    assert.deepEqual([empty.series, empty.totals.requests, empty.totals.latency_p50_ms], [[], 0, null]);
  });

  test('usage grouped and filtered by one dimension reads that dimension\'s rollup (the full-key one moved aside), exact', async () => {
    const DIM_QUERIES: UsageQuery[] = [
      { from: BASE, to: BASE + 3 * DAY, interval: 'hour', group_by: ['consumer'], consumer: 'c1' },
      { from: BASE + 5 * HOUR + 1, to: BASE + 2 * DAY, interval: 'day', group_by: ['route'], route: 'r2' },
      { from: BASE + DAY, to: BASE + DAY + 3 * HOUR, interval: 'minute', group_by: ['model'], model: 'claude-sonnet' },
      { from: BASE, to: BASE + 3 * DAY, interval: 'hour', group_by: ['provider'] },
      { from: BASE, to: BASE + 3 * DAY, interval: 'day', group_by: [], consumer: 'c2' },
      { from: BASE + HOUR, to: BASE + 20 * HOUR, interval: 'minute', group_by: [] },
    ];
    assert.equal(rollupFor('hour', new Set(['consumer'])).table, 'spend_rollup_hour_consumer');
    assert.equal(rollupFor('day', new Set()).table, 'spend_rollup_day_provider');
    assert.equal(rollupFor('minute', new Set(['consumer', 'model'])).table, 'spend_rollup_minute_consumer_provider_model');
    assert.equal(rollupFor('minute', new Set(['consumer', 'route', 'model'])).table, 'spend_rollup_minute');
    const intervals = ['minute', 'hour', 'day'] as UsageInterval[];
    await sql(intervals.map((i) => `ALTER TABLE spend_rollup_${i} RENAME TO spend_rollup_${i}_aside`).join('; '));
    try {
      for (const q of DIM_QUERIES) {
        const got = await a.usage(q);
        const want = expectedUsage(ALL, q);
        assert.ok(want.totals.requests > 0, JSON.stringify(q));
        assert.deepEqual(got.series, want.series, JSON.stringify(q));
        assert.deepEqual(got.totals, want.totals, JSON.stringify(q));
      }
      // route, consumer and model together are in no combination: the full-key table, not there now
      await assert.rejects(a.usage({ ...DIM_QUERIES[0], group_by: ['route', 'model'] }), /spend_rollup_hour" does not exist/);
    } finally {
      await sql(intervals.map((i) => `ALTER TABLE spend_rollup_${i}_aside RENAME TO spend_rollup_${i}`).join('; '));
    }
  });

  test('usage: p50 and p95 within the histogram bucket of the true percentile', async () => {
    for (const q of QUERIES.slice(0, 5)) {
      const got = await b.usage(q);
      const { all } = expectedUsage(ALL, q);
      assertPercentile(got.totals.latency_p50_ms, all.latencies, 0.5);
      assertPercentile(got.totals.latency_p95_ms, all.latencies, 0.95);
    }
  });

  test('requests: newest first, paged by an opaque cursor, filters on the raw rows', async () => {
    const q = { from: BASE + 3 * HOUR, to: BASE + 2 * DAY + 11 * HOUR, consumer: 'c1', model: 'gpt-4o-2025' };
    const want = ALL.filter((r) => r.time >= q.from && r.time < q.to && matches(q, r)).sort((x, y) => y.time - x.time || (x.request_id < y.request_id ? 1 : -1));
    assert.ok(want.length > 100);
    const got: SpendRow[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await a.requests({ ...q, limit: 37, ...(cursor ? { cursor } : {}) });
      assert.ok(page.data.length <= 37);
      got.push(...page.data);
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, Math.ceil(want.length / 37));
    assert.deepEqual(got, want);
    const one = await b.requests({ from: BASE, to: BASE + 3 * DAY, limit: 1000, route: 'r2', provider: 'anthropic' });
    assert.deepEqual(one.data.map((r) => r.request_id), ALL.filter((r) => r.route_id === 'r2' && r.provider === 'anthropic').sort((x, y) => y.time - x.time || (x.request_id < y.request_id ? 1 : -1)).slice(0, 1000).map((r) => r.request_id));
    await assert.rejects(a.requests({ ...q, limit: 10, cursor: 'not-a-cursor' }), (e: Error & { statusCode?: number }) => e.statusCode === 400 && /invalid cursor/.test(e.message));
  });

  test('requests: status (code or class), streamed and request_id filters, the same on both stores', async () => {
    const newest = (xs: SpendRow[]) => xs.sort((x, y) => y.time - x.time || (x.request_id < y.request_id ? 1 : -1)).map((r) => r.request_id);
    const all = { from: BASE, to: BASE + 3 * DAY, limit: 1000, route: 'r1', provider: 'openai' };
    const id = ALL.filter((r) => r.route_id === 'r1' && r.provider === 'openai')[7].request_id;
    const cases: [Partial<RequestsQuery>, (r: SpendRow) => boolean][] = [
      [{ status: { min: 500, max: 599 } }, (r) => r.status >= 500],
      [{ status: { min: 200, max: 200 }, streamed: true }, (r) => r.status === 200 && r.stream],
      [{ streamed: false }, (r) => !r.stream],
      [{ request_id: id }, (r) => r.request_id === id],
    ];
    for (const [extra, pick] of cases) {
      const want = newest(ALL.filter((r) => r.route_id === 'r1' && r.provider === 'openai' && pick(r))).slice(0, 1000);
      assert.ok(want.length > 0, JSON.stringify(extra));
      for (const store of [a, sqlite]) assert.deepEqual((await store.requests({ ...all, ...extra })).data.map((r) => r.request_id), want, `${store.kind} ${JSON.stringify(extra)}`);
    }
  });

  test('costOf: rollups for whole buckets, raw rows for the partial minutes, exact', async () => {
    const ranges: [number, number][] = [
      [BASE, BASE + 3 * DAY],
      [BASE + 12_345, BASE + 2 * DAY + 3 * HOUR + 17_000],
      [BASE + DAY + 5 * MINUTE + 1, BASE + DAY + 5 * MINUTE + 59_999],
      [BASE + 7 * HOUR, BASE + 9 * HOUR + 30 * MINUTE],
      [BASE + DAY, BASE + DAY],
    ];
    for (const [from, to] of ranges) {
      for (const consumer of ['c1', 'c2', 'nobody']) {
        const m = ALL.filter((r) => r.consumer_id === consumer && r.time >= from && r.time < to && r.cost !== null).reduce((s, r) => s + micros.get(r.request_id)!, 0);
        assert.equal(await a.costOf(consumer, from, to), m / 1e6, `${consumer} [${from}, ${to})`);
      }
    }
    assert.deepEqual(
      coverRange(BASE - 30_000, BASE + DAY + HOUR + MINUTE + 5).map((p) => p.source),
      ['raw', 'day', 'hour', 'minute', 'raw'],
    );
  });

  test('prune drops the partitions of whole days past the cutoff and deletes a partial day by range', async () => {
    const cutoff = BASE + DAY + 6 * HOUR + 30_000;
    await a.prune(cutoff);
    assert.deepEqual(await partitions(), ['spend_requests_p20250611', 'spend_requests_p20250612', 'spend_requests_p20250613']);
    assert.equal((await sql(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'spend_requests_p20250610'`))[0].n, 0);
    const kept = ALL.filter((r) => r.time >= cutoff);
    assert.equal((await sql('SELECT count(*)::int AS n FROM spend_requests'))[0].n, kept.length);
    assert.equal((await sql('SELECT min(time) AS t FROM spend_requests'))[0].t.getTime(), Math.min(...kept.map((r) => r.time)));
    for (const interval of ['minute', 'hour', 'day'] as UsageInterval[]) {
      for (const t of [`spend_rollup_${interval}`, ...DIMENSIONS.map((d) => `spend_rollup_${interval}_${d}`)]) {
        const oldest = (await sql(`SELECT min(bucket) AS t FROM ${t}`))[0].t as Date | null;
        assert.ok(oldest, `${t}: rows after the cutoff are kept`);
        assert.ok(oldest.getTime() + INTERVAL_MS[interval] > cutoff, `${t}: rollups end after the cutoff`);
      }
    }
    const m = kept.filter((r) => r.consumer_id === 'c1' && r.cost !== null).reduce((s, r) => s + micros.get(r.request_id)!, 0);
    assert.equal(await b.costOf('c1', cutoff, BASE + 3 * DAY), m / 1e6);
    // a late row for a dropped day makes its partition again (b still believed it existed)
    const late = { ...NODE_B[0], request_id: 'late-1', time: BASE + HOUR };
    await b.write([late]);
    assert.ok((await partitions()).includes('spend_requests_p20250610'));
    await b.prune(cutoff);
    assert.ok(!(await partitions()).includes('spend_requests_p20250610'));
  });

  test('connections the server closed while idle (restart, failover, terminated backends) are replaced, not failed', async () => {
    await Promise.all([a.usage(QUERIES[0]), b.usage(QUERIES[1]), a.costOf('c1', BASE, NOW), b.costOf('c2', BASE, NOW)]);
    for (let i = 0; i < 5; i++) {
      await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'spend' AND pid <> pg_backend_pid()`);
      const [usage, , page] = await Promise.all([a.usage(QUERIES[0]), b.write([{ ...NODE_B[2], request_id: `stale-${i}`, time: NOW - 10_000 }]), a.requests({ from: NOW - 10_000, to: NOW - 9_999, limit: 10 })]);
      assert.equal(usage.totals.requests > 0, true);
      assert.ok(page.data.length <= i + 1);
    }
    assert.equal((await b.requests({ from: NOW - 10_000, to: NOW - 9_999, limit: 10 })).data.length, 5);
  });

  test('a write while PostgreSQL is stopped rejects as unavailable, and succeeds after the restart', async () => {
    const row: SpendRow = { ...NODE_A[1], request_id: 'outage-1', time: NOW };
    await server.stop();
    try {
      await assert.rejects(a.write([row]), (e: StoreError) => e instanceof StoreError && e.kind === 'unavailable');
      await assert.rejects(a.usage(QUERIES[0]), (e: StoreError) => e instanceof StoreError && e.kind === 'unavailable');
    } finally {
      await server.start();
    }
    await a.write([row]);
    const page = await b.requests({ from: NOW, to: NOW + 1, limit: 10 });
    assert.deepEqual(page.data, [row]);
  });
});
