/**
 * The SQLite spend store (src/spend/sqlite.ts): rows and rollups written together, `/usage` answers
 * from the rollups by interval, group and filter (exact sums; percentiles from merged histograms,
 * within one bucket's width; time to first token from the streamed rows only), newest-first pages
 * with an opaque cursor, a consumer's cost over a window, retention, older files brought up to
 * date at open, and a 100k-row sanity run (correctness only, no timing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteSpendStore, latencyIndex, latencyRange, percentileOf, bucketStart } from '../../src/spend/sqlite.ts';
import type { SpendRow } from '../../src/spend/types.ts';

const T0 = Date.UTC(2025, 0, 15, 10, 0, 0); // a Wednesday, 10:00 UTC
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

function row(over: Partial<SpendRow> & { request_id: string; time: number }): SpendRow {
  return {
    consumer_id: 'alice',
    credential_id: 'cred-1',
    route_id: 'route-a',
    service_id: 'svc',
    plugin_id: 'plug',
    client_api: 'openai-chat',
    provider: 'openai',
    model_requested: 'gpt-4o',
    model_served: 'gpt-4o-2024-08-06',
    status: 200,
    prompt_tokens: 10,
    completion_tokens: 5,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    total_tokens: 15,
    cost: 0.001,
    latency_ms: 100,
    ttft_ms: null,
    stream: false,
    cache_hit: false,
    saved_tokens: 0,
    saved_cost: 0,
    estimated: false,
    error_class: null,
    attempts: null,
    payload: null,
    ...over,
  };
}

function withStore(fn: (store: SqliteSpendStore, file: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spend-sqlite-'));
    const file = path.join(dir, 'spend.db');
    const store = new SqliteSpendStore(file);
    try {
      await fn(store, file);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

test('a batch writes its rows at once and its minute, hour and day rollups when they are due (or read); a batch written twice counts once', withStore(async (store, file) => {
  const rows = [
    row({ request_id: 'r1', time: T0 + 1000, cached_tokens: 4, reasoning_tokens: 2, cache_write_tokens: 1 }),
    row({ request_id: 'r2', time: T0 + 2000, cost: null, model_served: 'mystery' }),
    row({ request_id: 'r3', time: T0 + MIN + 5, status: 502, error_class: 'provider_error', prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0, model_served: null }),
  ];
  await store.write(rows);
  await store.write(rows); // a retried batch
  // partly there already: a row seen before, a new one, and the new one again within the batch
  const r4 = row({ request_id: 'r4', time: T0 + 3000, prompt_tokens: 7 });
  await store.write([rows[0], r4, r4]);
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM spend_requests').get() as any).n, 4);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM spend_rollup_minute').get() as any).n, 0, 'the rollup sums wait in memory for their second');
    store.flushRollups();
    const minute = db.prepare('SELECT * FROM spend_rollup_minute ORDER BY bucket, model').all() as any[];
    assert.deepEqual(
      minute.map((r) => [r.bucket, r.model, r.requests, r.errors, r.unpriced_requests]),
      [
        [T0, 'gpt-4o-2024-08-06', 2, 0, 0],
        [T0, 'mystery', 1, 0, 1],
        [T0 + MIN, 'gpt-4o', 1, 1, 0], // a failed request counts under the model asked for
      ],
    );
    const hour = db.prepare('SELECT SUM(requests) AS n, SUM(cached_tokens) AS c, SUM(cache_write_tokens) AS w, SUM(reasoning_tokens) AS rt FROM spend_rollup_hour').get() as any;
    assert.deepEqual({ ...hour }, { n: 4, c: 4, w: 1, rt: 2 });
    const day = db.prepare('SELECT bucket, SUM(requests) AS n FROM spend_rollup_day GROUP BY bucket').all() as any[];
    assert.deepEqual(day.map((r) => [r.bucket, r.n]), [[bucketStart(T0, 'day'), 4]]);
  } finally {
    db.close();
  }
}));

test('a write that fails leaves neither rows nor rollups', withStore(async (store, file) => {
  const bad = row({ request_id: 'bad', time: T0 }) as any;
  bad.status = null; // NOT NULL: the insert fails inside the transaction
  await assert.rejects(store.write([row({ request_id: 'ok', time: T0 }), bad]));
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM spend_requests').get() as any).n, 0);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM spend_rollup_minute').get() as any).n, 0);
  } finally {
    db.close();
  }
}));

test('held rollup sums: batches of a second go in together; the timer writes a quiet node\'s last ones; a failed batch adds nothing to them', withStore(async (store, file) => {
  const rollupRequests = () => {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      return (db.prepare('SELECT COALESCE(SUM(requests), 0) AS n FROM spend_rollup_day').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  await store.write([row({ request_id: 'a', time: T0 })]);
  const bad = row({ request_id: 'bad', time: T0 + 2 }) as any;
  bad.status = null;
  await assert.rejects(store.write([row({ request_id: 'b', time: T0 + 1 }), bad]), 'a batch whose insert fails');
  await store.write([row({ request_id: 'c', time: T0 + 3 }), row({ request_id: 'd', time: T0 + MIN })]);
  assert.equal(rollupRequests(), 0, 'held, not yet written');
  const t0 = performance.now();
  while (rollupRequests() === 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  assert.equal(rollupRequests(), 3, 'written by the timer, without another batch: a, c and d, not the failed batch\'s b');
  const all = await store.usage({ from: T0 - DAY, to: T0 + DAY, interval: 'minute', group_by: [] });
  assert.deepEqual(all.series.map((p) => p.requests), [2, 1]);
}));

test('held rollup sums past their bound go in with the next batch, in its transaction', withStore(async (store, file) => {
  // 1,700 routes × 3 intervals: 5,100 sums held, past ROLLUP_PENDING_MAX (5,000) once anything comes
  await store.write(Array.from({ length: 1700 }, (_, i) => row({ request_id: `r${i}`, time: T0 + i, route_id: `route-${i}` })));
  await store.write([row({ request_id: 'next', time: T0 + 5000 })]);
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    assert.equal((db.prepare('SELECT SUM(requests) AS n FROM spend_rollup_hour').get() as { n: number }).n, 1701);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM spend_rollup_minute_route').get() as { n: number }).n, 1701);
  } finally {
    db.close();
  }
}));

test('close writes the rollup sums it holds; a prune writes them before it cuts', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spend-sqlite-'));
  const file = path.join(dir, 'spend.db');
  try {
    const store = new SqliteSpendStore(file);
    await store.write([row({ request_id: 'old', time: T0 - 10 * DAY }), row({ request_id: 'new', time: T0 })]);
    await store.prune(T0 - DAY);
    await store.write([row({ request_id: 'newer', time: T0 + 1 })]);
    await store.close();
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const days = db.prepare('SELECT bucket, requests FROM spend_rollup_day ORDER BY bucket').all() as { bucket: number; requests: number }[];
      assert.deepEqual(days.map((d) => [d.bucket, d.requests]), [[bucketStart(T0, 'day'), 2]], 'the old row\'s sums were written, then pruned with it; the rest written at close');
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage: series per interval start then group, totals, filters', withStore(async (store) => {
  await store.write([
    row({ request_id: 'a1', time: T0 + 10, consumer_id: 'alice', route_id: 'r1', cost: 0.5, prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 }),
    row({ request_id: 'a2', time: T0 + MIN + 10, consumer_id: 'alice', route_id: 'r1', cost: 0.25, prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 }),
    row({ request_id: 'b1', time: T0 + 20, consumer_id: 'bob', route_id: 'r2', provider: 'anthropic', model_served: 'claude', cost: 1, prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 }),
    row({ request_id: 'n1', time: T0 + 30, consumer_id: null, route_id: 'r2', status: 401, error_class: 'unauthorized', cost: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }),
    row({ request_id: 'late', time: T0 + HOUR + 5, consumer_id: 'alice', route_id: 'r1', cost: null }),
  ]);
  const minute = await store.usage({ from: T0, to: T0 + HOUR, interval: 'minute', group_by: ['consumer'] });
  assert.equal(minute.from, new Date(T0).toISOString());
  assert.deepEqual(
    minute.series.map((p) => [p.start, p.group.consumer, p.requests, p.errors, p.cost, p.prompt_tokens]),
    [
      [new Date(T0).toISOString(), null, 1, 1, 0, 0],
      [new Date(T0).toISOString(), 'alice', 1, 0, 0.5, 100],
      [new Date(T0).toISOString(), 'bob', 1, 0, 1, 7],
      [new Date(T0 + MIN).toISOString(), 'alice', 1, 0, 0.25, 50],
    ],
  );
  assert.equal(minute.totals.requests, 4);
  assert.equal(minute.totals.errors, 1);
  assert.ok(near(minute.totals.cost, 1.75));
  assert.equal(minute.totals.prompt_tokens, 157);
  assert.equal(minute.totals.unpriced_requests, 0);

  const hour = await store.usage({ from: T0, to: T0 + 2 * HOUR, interval: 'hour', group_by: [] });
  assert.deepEqual(hour.series.map((p) => [p.start, p.requests, p.unpriced_requests, p.group]), [
    [new Date(T0).toISOString(), 4, 0, {}],
    [new Date(T0 + HOUR).toISOString(), 1, 1, {}],
  ]);
  assert.equal(hour.totals.unpriced_requests, 1);

  const day = await store.usage({ from: T0, to: T0 + DAY, interval: 'day', group_by: ['provider', 'model'] });
  assert.deepEqual(day.series.map((p) => [p.group.provider, p.group.model, p.requests]), [
    ['anthropic', 'claude', 1],
    ['openai', 'gpt-4o-2024-08-06', 4],
  ]);
  assert.equal(day.from, new Date(bucketStart(T0, 'day')).toISOString(), 'from: the start of its interval');

  const alice = await store.usage({ from: T0, to: T0 + DAY, interval: 'hour', group_by: ['route'], consumer: 'alice' });
  assert.deepEqual(alice.series.map((p) => [p.group.route, p.requests]), [['r1', 2], ['r1', 1]]);
  const r2claude = await store.usage({ from: T0, to: T0 + DAY, interval: 'day', group_by: [], route: 'r2', model: 'claude' });
  assert.equal(r2claude.totals.requests, 1);
  assert.equal(r2claude.totals.total_tokens, 10);
  const anthropic = await store.usage({ from: T0, to: T0 + DAY, interval: 'day', group_by: [], provider: 'anthropic' });
  assert.equal(anthropic.totals.requests, 1);
  const none = await store.usage({ from: T0 + 2 * HOUR, to: T0 + 3 * HOUR, interval: 'minute', group_by: [] });
  assert.deepEqual(none.series, []);
  assert.equal(none.totals.requests, 0);
  assert.equal(none.totals.latency_p50_ms, null);
}));

test('percentiles come from merged histograms, within the width of the true value\'s bucket', withStore(async (store) => {
  // 200 requests over 4 minutes and 2 routes: the hour's p50/p95 merge 8 rollup rows' histograms
  const latencies: number[] = [];
  const rows: SpendRow[] = [];
  for (let i = 0; i < 200; i++) {
    const latency = 5 + ((i * 37) % 200) * 7.3; // 5 .. ~1460 ms, spread
    latencies.push(latency);
    rows.push(row({ request_id: `p${i}`, time: T0 + (i % 4) * MIN + i, route_id: i % 2 ? 'r1' : 'r2', latency_ms: latency }));
  }
  await store.write(rows);
  const sorted = [...latencies].sort((a, b) => a - b);
  const truth = (p: number) => sorted[Math.ceil(p * sorted.length) - 1];
  const answer = await store.usage({ from: T0, to: T0 + HOUR, interval: 'hour', group_by: [] });
  for (const [p, got] of [[0.5, answer.totals.latency_p50_ms], [0.95, answer.totals.latency_p95_ms]] as const) {
    const [lo, hi] = latencyRange(latencyIndex(truth(p)));
    assert.ok(got !== null && got >= lo && got < hi, `p${p * 100}: ${got} in [${lo}, ${hi}) around ${truth(p)}`);
  }
  assert.equal(percentileOf({}, 0.5), null);
  assert.equal(percentileOf({ 0: 3 }, 0.95), 0.5, 'sub-millisecond latencies');
}));

test('time to first token: streamed rows only, percentiles exact by the histogram\'s rules, from every rollup; null without streams', withStore(async (store) => {
  // a percentile is the geometric middle of the bucket holding rank ⌈p·n⌉: 10 ms is in bucket 14,
  // [2^(13/4), 2^(14/4)), read as 2^(13.5/4) = 10.37; 20 → 20.75, 30 → 29.34, 40 → 41.5, 1000 → 939.01
  await store.write([
    row({ request_id: 's1', time: T0 + 1, stream: true, ttft_ms: 10, latency_ms: 500 }),
    row({ request_id: 's2', time: T0 + 2, stream: true, ttft_ms: 20, latency_ms: 500 }),
    row({ request_id: 's3', time: T0 + 3, stream: true, ttft_ms: 30, latency_ms: 500, consumer_id: 'bob' }),
    row({ request_id: 's4', time: T0 + MIN, stream: true, ttft_ms: 40, latency_ms: 2000, route_id: 'route-b' }),
    row({ request_id: 's5', time: T0 + MIN + 1, stream: true, ttft_ms: 1000, latency_ms: 2000, route_id: 'route-b' }),
    // not counted: a non-streamed answer (its first token is its latency), a stream without a first token
    row({ request_id: 'n1', time: T0 + 4, stream: false, ttft_ms: 5 }),
    row({ request_id: 'n2', time: T0 + 5, stream: true, ttft_ms: null, error_class: 'provider_error', status: 502 }),
    row({ request_id: 'n3', time: T0 + HOUR, stream: false, ttft_ms: null, route_id: 'route-c' }),
  ]);
  const range = { from: T0, to: T0 + 2 * HOUR };
  // every table answers the same: the provider's (no dimension), a dimension's, a combination's, the full key's
  for (const group_by of [[], ['route'], ['route', 'consumer'], ['route', 'consumer', 'model']] as const) {
    const a = await store.usage({ ...range, interval: 'day', group_by: [...group_by] });
    assert.deepEqual([a.totals.ttft_p50_ms, a.totals.ttft_p95_ms], [29.34, 939.01], `totals by ${group_by}`);
    assert.deepEqual([a.totals.latency_p50_ms, a.totals.requests], [percentileOf({ [latencyIndex(100)]: 3, [latencyIndex(500)]: 3, [latencyIndex(2000)]: 2 }, 0.5), 8], 'latency counts every row');
  }
  const byRoute = await store.usage({ ...range, interval: 'hour', group_by: ['route'] });
  assert.deepEqual(
    byRoute.series.map((p) => [p.start, p.group.route, p.ttft_p50_ms, p.ttft_p95_ms]),
    [
      [new Date(T0).toISOString(), 'route-a', 20.75, 29.34], // s1..s3 (n1's 5 ms would make p50 10.37)
      [new Date(T0).toISOString(), 'route-b', 41.5, 939.01],
      [new Date(T0 + HOUR).toISOString(), 'route-c', null, null], // no stream in the bucket
    ],
  );
  const byMinute = await store.usage({ ...range, interval: 'minute', group_by: [] });
  assert.deepEqual(byMinute.series.map((p) => [p.requests, p.ttft_p50_ms, p.ttft_p95_ms]), [[5, 20.75, 29.34], [2, 41.5, 939.01], [1, null, null]]);
  const none = await store.usage({ from: T0 + HOUR, to: T0 + 2 * HOUR, interval: 'hour', group_by: [] });
  assert.deepEqual([none.totals.requests, none.totals.ttft_p50_ms, none.totals.ttft_p95_ms], [1, null, null]);
}));

test('a file from before time to first token gets ttft_hist on every rollup at open: what it summed counts none, new streams do', async () => {
  const { rollupTables } = await import('../../src/spend/rollups.ts');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spend-sqlite-'));
  const file = path.join(dir, 'spend.db');
  const q = { from: T0, to: T0 + 10 * DAY, interval: 'day' as const, group_by: ['consumer' as const] };
  const tables = (['minute', 'hour', 'day'] as const).flatMap((i) => rollupTables(i));
  try {
    const first = new SqliteSpendStore(file);
    await first.write(spreadRows());
    const before = await first.usage(q);
    await first.close();
    const db = new DatabaseSync(file);
    for (const t of tables) db.exec(`ALTER TABLE ${t} DROP COLUMN ttft_hist`);
    db.close();

    const again = new SqliteSpendStore(file);
    try {
      const check = new DatabaseSync(file, { readOnly: true });
      for (const t of tables) assert.deepEqual((check.prepare(`SELECT DISTINCT ttft_hist FROM ${t}`).all() as object[]).map((r) => ({ ...r })), [{ ttft_hist: '{}' }], t);
      check.close();
      const old = await again.usage(q);
      const strip = (a: typeof old) => ({ ...a, totals: { ...a.totals, ttft_p50_ms: null, ttft_p95_ms: null }, series: a.series.map((p) => ({ ...p, ttft_p50_ms: null, ttft_p95_ms: null })) });
      assert.deepEqual(old, strip(before), 'the same answer, without time to first token');
      assert.equal(old.totals.ttft_p50_ms, null);
      await again.write([row({ request_id: 'later', time: T0 + 9 * DAY, stream: true, ttft_ms: 30 })]);
      const later = await again.usage(q);
      assert.deepEqual([later.totals.ttft_p50_ms, later.totals.ttft_p95_ms], [29.34, 29.34]);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('requests: newest first, paged with an opaque cursor, filtered', withStore(async (store) => {
  const rows: SpendRow[] = [];
  for (let i = 0; i < 25; i++) rows.push(row({ request_id: `q${String(i).padStart(2, '0')}`, time: T0 + Math.floor(i / 2) * 1000, consumer_id: i % 5 === 0 ? 'bob' : 'alice', stream: i % 2 === 0 }));
  await store.write(rows);
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.requests({ from: T0, to: T0 + HOUR, limit: 10, cursor });
    pages++;
    seen.push(...page.data.map((r) => r.request_id));
    cursor = page.next_cursor ?? undefined;
    if (cursor) assert.match(cursor, /^[A-Za-z0-9_-]+$/, 'base64url');
  } while (cursor);
  assert.equal(pages, 3);
  const expected = rows.map((r) => r.request_id).sort((a, b) => {
    const ta = rows.find((r) => r.request_id === a)!.time;
    const tb = rows.find((r) => r.request_id === b)!.time;
    return tb - ta || (a < b ? 1 : -1);
  });
  assert.deepEqual(seen, expected, 'every row once, newest first (ties by request id)');
  const first = await store.requests({ from: T0, to: T0 + HOUR, limit: 1 });
  assert.deepEqual(first.data[0], rows[24], 'a row reads back as written (booleans included)');
  const bob = await store.requests({ from: T0, to: T0 + HOUR, limit: 100, consumer: 'bob' });
  assert.deepEqual(bob.data.map((r) => r.request_id), ['q20', 'q15', 'q10', 'q05', 'q00']);
  assert.equal(bob.next_cursor, null);
  const byModel = await store.requests({ from: T0, to: T0 + HOUR, limit: 100, model: 'gpt-4o-2024-08-06' });
  assert.equal(byModel.data.length, 25);
  await assert.rejects(store.requests({ from: T0, to: T0 + HOUR, limit: 10, cursor: 'not-a-cursor' }), /invalid cursor/);
}));

test('costOf: a consumer\'s priced cost over [from, to)', withStore(async (store) => {
  await store.write([
    row({ request_id: 'c1', time: T0, cost: 0.5 }),
    row({ request_id: 'c2', time: T0 + 10, cost: null }),
    row({ request_id: 'c3', time: T0 + 20, cost: 0.25 }),
    row({ request_id: 'c4', time: T0 + 30, cost: 4, consumer_id: 'bob' }),
    row({ request_id: 'c5', time: T0 + DAY, cost: 8 }),
  ]);
  assert.ok(near(await store.costOf('alice', T0, T0 + DAY), 0.75));
  assert.ok(near(await store.costOf('alice', T0 + 1, T0 + DAY + 1), 8.25));
  assert.equal(await store.costOf('carol', T0, T0 + DAY), 0);
}));

test('prune drops rows older than the cut and rollups whose whole interval is older', withStore(async (store, file) => {
  await store.write([
    row({ request_id: 'old', time: T0 - 3 * DAY }),
    row({ request_id: 'older', time: T0 - 10 * DAY }),
    row({ request_id: 'new', time: T0 + 5 }),
  ]);
  await store.prune(T0 - DAY);
  const left = await store.requests({ from: 0, to: T0 + DAY, limit: 100 });
  assert.deepEqual(left.data.map((r) => r.request_id), ['new']);
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    for (const i of ['minute', 'hour', 'day']) assert.equal((db.prepare(`SELECT COUNT(*) AS n FROM spend_rollup_${i}`).get() as any).n, 1, i);
  } finally {
    db.close();
  }
}));

test('runs of one key in a batch: a run crossing a minute, another key between, the first key again — each minute counts its own rows', withStore(async (store) => {
  const at = (s: number) => T0 + s * 1000;
  const batch = [
    row({ request_id: 'k1', time: at(50), latency_ms: 10 }),
    row({ request_id: 'k2', time: at(55), latency_ms: 20 }),
    row({ request_id: 'k3', time: at(65), latency_ms: 40 }), // the next minute, same key
    row({ request_id: 'k4', time: at(66), route_id: 'route-b' }),
    row({ request_id: 'k5', time: at(70), latency_ms: 80, prompt_tokens: 100, total_tokens: 105 }), // route-a again
    row({ request_id: 'k6', time: at(3600 + 5) }), // the next hour
  ];
  await store.write(batch);
  const byMinute = await store.usage({ from: T0, to: T0 + 2 * HOUR, interval: 'minute', group_by: ['route'] });
  const counts = byMinute.series.map((p) => [p.start.slice(11, 16), p.group.route, p.requests, p.prompt_tokens]);
  assert.deepEqual(counts, [
    ['10:00', 'route-a', 2, 20],
    ['10:01', 'route-a', 2, 110],
    ['10:01', 'route-b', 1, 10],
    ['11:00', 'route-a', 1, 10],
  ]);
  const byHour = await store.usage({ from: T0, to: T0 + 2 * HOUR, interval: 'hour', group_by: ['route', 'consumer'] });
  assert.deepEqual(byHour.series.map((p) => [p.start.slice(11, 16), p.group.route, p.requests]), [
    ['10:00', 'route-a', 4],
    ['10:00', 'route-b', 1],
    ['11:00', 'route-a', 1],
  ]);
  // the minute 10:01 of route-a holds latencies 40 and 80: its p95 is in 80's bucket, its p50 in 40's
  const [lo, hi] = [latencyRange(latencyIndex(40)), latencyRange(latencyIndex(80))];
  const m = byMinute.series[1];
  assert.ok(m.latency_p50_ms! >= lo[0] && m.latency_p50_ms! < lo[1], `p50 ${m.latency_p50_ms}`);
  assert.ok(m.latency_p95_ms! >= hi[0] && m.latency_p95_ms! < hi[1], `p95 ${m.latency_p95_ms}`);
}));

test('a batch starting with rows that have no route, consumer, provider or model: they count under the empty key, apart from the next key', withStore(async (store) => {
  const none = { route_id: null, consumer_id: null, provider: null, model_requested: null, model_served: null };
  await store.write([row({ request_id: 'e1', time: T0, ...none }), row({ request_id: 'e2', time: T0 + 1000, ...none }), row({ request_id: 'e3', time: T0 + 2000 })]);
  const full = await store.usage({ from: T0, to: T0 + HOUR, interval: 'minute', group_by: ['route', 'consumer', 'model', 'provider'] });
  assert.deepEqual(full.series.map((p) => [p.group, p.requests]), [
    [{ route: null, consumer: null, model: null, provider: null }, 2],
    [{ route: 'route-a', consumer: 'alice', model: 'gpt-4o-2024-08-06', provider: 'openai' }, 1],
  ]);
}));

test('100k rows: written in batches, every query consistent with what was written', withStore(async (store) => {
  const N = 100_000;
  const consumers = ['c0', 'c1', 'c2', 'c3', 'c4', null];
  let cost = 0;
  let c1cost = 0;
  let batch: SpendRow[] = [];
  for (let i = 0; i < N; i++) {
    const r = row({
      request_id: `big-${i}`,
      time: T0 + i * 1700, // ~47 hours
      consumer_id: consumers[i % consumers.length],
      route_id: `route-${i % 7}`,
      model_served: `model-${i % 3}`,
      cost: i % 11 === 0 ? null : 0.001,
      latency_ms: 10 + (i % 1000),
      error_class: i % 13 === 0 ? 'provider_error' : null,
    });
    if (r.cost !== null) cost += r.cost;
    if (r.consumer_id === 'c1' && r.cost !== null) c1cost += r.cost;
    batch.push(r);
    if (batch.length === 500) {
      await store.write(batch);
      batch = [];
    }
  }
  await store.write(batch);
  const all = await store.usage({ from: T0, to: T0 + 3 * DAY, interval: 'hour', group_by: ['consumer', 'route', 'model', 'provider'] });
  assert.equal(all.totals.requests, N);
  assert.equal(all.totals.unpriced_requests, Math.ceil(N / 11));
  assert.equal(all.totals.errors, Math.ceil(N / 13));
  assert.ok(Math.abs(all.totals.cost - cost) < 1e-6);
  const perDay = await store.usage({ from: T0, to: T0 + 3 * DAY, interval: 'day', group_by: [] });
  assert.equal(perDay.series.reduce((n, p) => n + p.requests, 0), N);
  assert.ok(Math.abs((await store.costOf('c1', T0, T0 + 3 * DAY)) - c1cost) < 1e-6);
  const page = await store.requests({ from: T0, to: T0 + 3 * DAY, limit: 1000, consumer: 'c2' });
  assert.equal(page.data.length, 1000);
  assert.equal(page.data[0].request_id, `big-${N - 2}`, 'newest of c2 first');
  const p50 = all.totals.latency_p50_ms!;
  assert.ok(p50 > 400 && p50 < 620, `p50 ${p50} around 509`);
}));

test('a query touching one dimension reads that dimension\'s rollup, with the same answer as the full key\'s', withStore(async (store, file) => {
  const routes = ['r1', 'r2', 'r3'];
  const consumers = ['c1', 'c2', null];
  const models = ['m1', 'm2'];
  const rows: SpendRow[] = [];
  for (let i = 0; i < 600; i++) {
    rows.push(row({
      request_id: `q${i}`,
      time: T0 + i * 7 * MIN,
      route_id: routes[i % 3],
      consumer_id: consumers[(i >> 1) % 3],
      model_served: models[(i >> 2) % 2],
      latency_ms: 10 + (i % 50) * 13,
      cost: i % 7 === 0 ? null : 0.001 * (i % 5),
      error_class: i % 11 === 0 ? 'provider_error' : null,
    }));
  }
  for (let i = 0; i < rows.length; i += 100) await store.write(rows.slice(i, i + 100));
  store.flushRollups();
  const db = new DatabaseSync(file, { readOnly: true });
  const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  assert.ok(count('spend_rollup_hour_consumer') < count('spend_rollup_hour'), 'the per-dimension rollup has fewer rows');
  db.close();
  const from = T0;
  const to = T0 + 3 * DAY;
  // the reference: every row counted by hand
  const byConsumer = new Map<string | null, { requests: number; errors: number; cost: number; unpriced: number }>();
  for (const r of rows) {
    const t = byConsumer.get(r.consumer_id) ?? { requests: 0, errors: 0, cost: 0, unpriced: 0 };
    t.requests++;
    if (r.error_class) t.errors++;
    if (r.cost === null) t.unpriced++;
    else t.cost += r.cost;
    byConsumer.set(r.consumer_id, t);
  }
  const grouped = await store.usage({ from, to, interval: 'day', group_by: ['consumer'] });
  for (const [consumer, t] of byConsumer) {
    const points = grouped.series.filter((p) => p.group.consumer === consumer);
    assert.equal(points.reduce((n, p) => n + p.requests, 0), t.requests, `requests of ${consumer}`);
    assert.equal(points.reduce((n, p) => n + p.errors, 0), t.errors);
    assert.equal(points.reduce((n, p) => n + p.unpriced_requests, 0), t.unpriced);
    assert.ok(near(points.reduce((n, p) => n + p.cost, 0), t.cost));
  }
  // one filter, and no dimension at all: the same totals as a two-dimension query over the full key
  for (const q of [{ consumer: 'c1' }, {}] as const) {
    const one = await store.usage({ from, to, interval: 'hour', group_by: [], ...q });
    const full = await store.usage({ from, to, interval: 'hour', group_by: ['route', 'model'], ...q });
    assert.equal(one.totals.requests, full.totals.requests);
    assert.ok(near(one.totals.cost, full.totals.cost));
    assert.equal(one.totals.latency_p50_ms, full.totals.latency_p50_ms);
    assert.equal(one.totals.latency_p95_ms, full.totals.latency_p95_ms);
  }
}));

/**
 * 600 rows over 3 routes, 3 consumers (one null), 2 providers and 3 models, spread over days, some
 * failed and unpriced; three in four streamed, most with a time to first token (and some
 * non-streamed rows with one too, which must not count).
 */
function spreadRows(): SpendRow[] {
  return Array.from({ length: 600 }, (_, i) =>
    row({
      request_id: `p${i}`,
      time: T0 + i * 7 * MIN,
      route_id: ['r1', 'r2', 'r3'][i % 3],
      consumer_id: ['c1', 'c2', null][(i >> 1) % 3],
      provider: i % 5 === 0 ? 'anthropic' : 'openai',
      model_served: ['m1', 'm2', 'm3'][(i >> 2) % 3],
      latency_ms: 10 + (i % 50) * 13,
      cost: i % 7 === 0 ? null : 0.001 * (i % 5),
      error_class: i % 11 === 0 ? 'provider_error' : null,
      prompt_tokens: i % 13,
      stream: i % 4 !== 0,
      ttft_ms: i % 6 === 0 ? null : 3 + (i % 40) * 11,
    }),
  );
}

test('a query by two dimensions reads a combination rollup, answering as the rows counted by hand', withStore(async (store, file) => {
  const { combinationTable, rollupFor } = await import('../../src/spend/rollups.ts');
  const rows = spreadRows();
  for (let i = 0; i < rows.length; i += 100) await store.write(rows.slice(i, i + 100));
  const value: Record<string, (r: SpendRow) => string | null> = { route: (r) => r.route_id, consumer: (r) => r.consumer_id, provider: (r) => r.provider, model: (r) => r.model_served ?? r.model_requested };
  const pairs = [['consumer', 'model'], ['consumer', 'provider'], ['consumer', 'route'], ['model', 'provider'], ['model', 'route'], ['provider', 'route']] as const;
  const from = T0;
  const to = T0 + 3 * DAY;
  for (const [i, pair] of pairs.entries()) {
    const interval = (['hour', 'day'] as const)[i % 2];
    const q = { from, to, interval, group_by: [...pair] };
    assert.notEqual(rollupFor(interval, new Set(pair)).table, `spend_rollup_${interval}`, `${pair} has a combination`);
    // the reference: each (bucket, group) summed from the rows, its percentiles off its own histogram
    const want = new Map<string, { requests: number; errors: number; cost: number; unpriced: number; prompt: number; hist: Record<string, number>; ttft: Record<string, number> }>();
    for (const r of rows) {
      const key = JSON.stringify([new Date(bucketStart(r.time, interval)).toISOString(), ...pair.map((d) => value[d](r))]);
      const w = want.get(key) ?? { requests: 0, errors: 0, cost: 0, unpriced: 0, prompt: 0, hist: {}, ttft: {} };
      w.requests++;
      if (r.error_class) w.errors++;
      if (r.cost === null) w.unpriced++;
      else w.cost += r.cost;
      w.prompt += r.prompt_tokens;
      const li = String(latencyIndex(r.latency_ms));
      w.hist[li] = (w.hist[li] ?? 0) + 1;
      if (r.stream && r.ttft_ms !== null) {
        const ti = String(latencyIndex(r.ttft_ms));
        w.ttft[ti] = (w.ttft[ti] ?? 0) + 1;
      }
      want.set(key, w);
    }
    const got = await store.usage(q);
    assert.equal(got.series.length, want.size, `${pair}: one point per bucket and group`);
    for (const p of got.series) {
      const key = JSON.stringify([p.start, ...pair.map((d) => p.group[d])]);
      const w = want.get(key);
      assert.ok(w, `${pair}: unexpected point ${key}`);
      assert.deepEqual([p.requests, p.errors, p.unpriced_requests, p.prompt_tokens], [w.requests, w.errors, w.unpriced, w.prompt], key);
      assert.ok(near(p.cost, w.cost), key);
      assert.deepEqual([p.latency_p50_ms, p.latency_p95_ms], [percentileOf(w.hist, 0.5), percentileOf(w.hist, 0.95)], key);
      assert.deepEqual([p.ttft_p50_ms, p.ttft_p95_ms], [percentileOf(w.ttft, 0.5), percentileOf(w.ttft, 0.95)], key);
    }
    // three dimensions across combinations read the full key: the same totals
    const full = await store.usage({ from, to, interval, group_by: ['route', 'consumer', 'model'] });
    assert.deepEqual({ ...got.totals, cost: 0 }, { ...full.totals, cost: 0 });
    assert.ok(near(got.totals.cost, full.totals.cost));
  }
  // and it is the combination table that answered: moved aside, the same query fails
  const db = new DatabaseSync(file);
  const t = combinationTable('hour', ['consumer', 'provider', 'model']);
  db.exec(`ALTER TABLE ${t} RENAME TO aside`);
  try {
    await assert.rejects(store.usage({ from, to, interval: 'hour', group_by: ['consumer', 'model'] }), /no such table|aside|spend_rollup/);
  } finally {
    db.exec(`ALTER TABLE aside RENAME TO ${t}`);
    db.close();
  }
}));

test('a file from before attempts, payloads and combination rollups gets them at open, its rollups folded as the writes would have', async () => {
  const { COMBINATIONS, combinationTable } = await import('../../src/spend/rollups.ts');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spend-sqlite-'));
  const file = path.join(dir, 'spend.db');
  try {
    const first = new SqliteSpendStore(file);
    const rows = spreadRows();
    for (let i = 0; i < rows.length; i += 100) await first.write(rows.slice(i, i + 100));
    await first.close();
    const tables = (['minute', 'hour', 'day'] as const).flatMap((i) => COMBINATIONS.map((c) => combinationTable(i, c)));
    // cost is summed in floating point, in another order when folded at open: equal but for the last digits
    const snapshot = (db: DatabaseSync) =>
      tables.map((t) =>
        (db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3, 4`).all() as Record<string, unknown>[]).map((r) => ({ ...r, cost: Math.round((r.cost as number) * 1e9), latency_hist: JSON.parse(r.latency_hist as string), ttft_hist: JSON.parse(r.ttft_hist as string) })),
      );
    // the file as the previous version left it: no combination tables, no attempts or payload,
    // version 2 (its full-key rollups have ttft histograms: a file that version wrote to after this one)
    const db = new DatabaseSync(file);
    const written = snapshot(db);
    assert.ok(written.flat().some((r) => Object.keys(r.ttft_hist as object).length > 0), 'streams were counted');
    for (const t of tables) db.exec(`DROP TABLE ${t}`);
    db.exec('ALTER TABLE spend_requests DROP COLUMN attempts; ALTER TABLE spend_requests DROP COLUMN payload; PRAGMA user_version = 2;');
    // and its consumer index over every row (version 4 makes it partial)
    db.exec('DROP INDEX spend_requests_consumer; CREATE INDEX spend_requests_consumer ON spend_requests (consumer_id, time, request_id);');
    db.close();

    const again = new SqliteSpendStore(file);
    try {
      const check = new DatabaseSync(file, { readOnly: true });
      assert.deepEqual(snapshot(check), written, 'the combination rollups, folded from the full key');
      assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 4);
      const index = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'spend_requests_consumer'").get() as { sql: string };
      assert.match(index.sql, /WHERE consumer_id IS NOT NULL$/);
      const plan = check.prepare('EXPLAIN QUERY PLAN SELECT TOTAL(cost) FROM spend_requests WHERE consumer_id = ? AND time >= ? AND time < ?').all('c1', T0, T0 + DAY) as { detail: string }[];
      assert.match(plan.map((p) => p.detail).join('\n'), /USING INDEX spend_requests_consumer/, 'a consumer lookup still reads the index');
      check.close();
      const page = await again.requests({ from: T0, to: T0 + 10 * DAY, limit: 2 });
      assert.deepEqual(page.data.map((r) => [r.attempts, r.payload]), [[null, null], [null, null]], 'old rows: null');
      const attempts = [{ target: 0, provider: 'openai', model: 'm1', error: 'ECONNREFUSED', latency_ms: 2 }, { target: 1, provider: 'openai', model: 'm2', status: 200, latency_ms: 9 }];
      await again.write([row({ request_id: 'new', time: T0 + 5 * DAY, attempts, payload: { request: '{"a":1}', response: 'ok' } })]);
      const [fresh] = (await again.requests({ from: T0 + 5 * DAY, to: T0 + 5 * DAY + 1, limit: 1 })).data;
      assert.deepEqual([fresh.attempts, fresh.payload], [attempts, { request: '{"a":1}', response: 'ok' }]);
    } finally {
      await again.close();
    }
    // opening again changes nothing (the columns and tables are there)
    const third = new SqliteSpendStore(file);
    await third.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the query thread answers as the store does, from the same file, and keeps a bad cursor a cursor error', withStore(async (store, file) => {
  const { SqliteReadThread, withReadThread } = await import('../../src/spend/sqlite-reads.ts');
  const { SpendCursorError } = await import('../../src/spend/sqlite.ts');
  const rows = Array.from({ length: 50 }, (_, i) => row({ request_id: `t${i}`, time: T0 + i * MIN, consumer_id: i % 2 ? 'a' : 'b', latency_ms: 5 + i }));
  await store.write(rows);
  const threaded = withReadThread(store, new SqliteReadThread(file));
  const q = { from: T0, to: T0 + DAY, interval: 'hour' as const, group_by: ['consumer' as const] };
  assert.deepEqual(await threaded.usage(q), await store.usage(q));
  const page = await threaded.requests({ from: T0, to: T0 + DAY, limit: 10 });
  assert.deepEqual(page, await store.requests({ from: T0, to: T0 + DAY, limit: 10 }));
  await assert.rejects(threaded.requests({ from: T0, to: T0 + DAY, limit: 10, cursor: 'not-a-cursor' }), (e: unknown) => e instanceof SpendCursorError);
  await threaded.close(); // closes the thread and the store (withStore's close after it is a no-op)
}));

test('an answer past MAX_SERIES_POINTS is refused before anything is merged', withStore(async (store) => {
  const { MAX_SERIES_POINTS, UsageTooLargeError } = await import('../../src/spend/types.ts');
  // more (minute, route, model) points than the cap, in one batch
  const n = MAX_SERIES_POINTS + 10;
  const rows = Array.from({ length: n }, (_, i) => row({ request_id: `x${i}`, time: T0 + (i % 60) * MIN, route_id: `r${i % 200}`, model_served: `m${Math.floor(i / 200)}` }));
  for (let i = 0; i < rows.length; i += 2000) await store.write(rows.slice(i, i + 2000));
  await assert.rejects(store.usage({ from: T0, to: T0 + HOUR, interval: 'minute', group_by: ['route', 'model'] }), (e: unknown) => e instanceof UsageTooLargeError);
  const fine = await store.usage({ from: T0, to: T0 + HOUR, interval: 'hour', group_by: ['route'] });
  assert.equal(fine.totals.requests, n);
}));

test('rows that share some columns and differ in others read back as written, in chunks of every shape', withStore(async (store) => {
  // 250 rows (chunks of 100, 100 and 50): each column differs within some chunks and is shared in others
  const rows: SpendRow[] = [];
  for (let i = 0; i < 250; i++) {
    const varied = i >= 100 && i < 200; // the middle chunk differs in nearly everything
    rows.push(row({
      request_id: `m${String(i).padStart(3, '0')}`,
      time: T0 + i,
      consumer_id: varied && i % 3 === 0 ? null : 'alice',
      route_id: varied ? `route-${i % 4}` : 'route-a',
      model_served: varied && i % 5 === 0 ? null : 'gpt-4o-2024-08-06',
      status: varied && i % 7 === 0 ? 502 : 200,
      error_class: varied && i % 7 === 0 ? 'provider_error' : null,
      prompt_tokens: varied ? i : 10,
      cost: varied && i % 2 ? null : 0.001,
      ttft_ms: i >= 200 ? 12.5 : null,
      stream: i >= 200,
      cache_hit: varied && i % 9 === 0,
      attempts: varied && i % 11 === 0 ? [{ target: 0, provider: 'openai', model: 'gpt-4o', status: 500, latency_ms: 3 }] : null,
    }));
  }
  await store.write(rows);
  const page = await store.requests({ from: T0, to: T0 + HOUR, limit: 1000 });
  assert.equal(page.data.length, 250);
  const byId = new Map(page.data.map((r) => [r.request_id, r]));
  for (const r of rows) assert.deepEqual(byId.get(r.request_id), r, r.request_id);
}));

test('a new file has 16 KiB pages; a file made with 4 KiB ones keeps them and takes writes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spend-sqlite-'));
  try {
    const fresh = new SqliteSpendStore(path.join(dir, 'new.db'));
    await fresh.write([row({ request_id: 'p1', time: T0 })]);
    await fresh.close();
    const old = path.join(dir, 'old.db');
    const made = new DatabaseSync(old);
    made.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE before_pages (x)');
    made.close();
    const store = new SqliteSpendStore(old);
    await store.write([row({ request_id: 'p2', time: T0 })]);
    assert.deepEqual((await store.requests({ from: T0, to: T0 + 1, limit: 10 })).data.map((r) => r.request_id), ['p2']);
    await store.close();
    const pageSize = (file: string) => {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        return (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
      } finally {
        db.close();
      }
    };
    assert.equal(pageSize(path.join(dir, 'new.db')), 16384);
    assert.equal(pageSize(old), 4096);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
