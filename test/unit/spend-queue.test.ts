/**
 * The spend pipeline's two queues: the worker's (src/spend/queue.ts) batches rows for the IPC
 * channel, bounded by rows, bytes and batches in flight, and reports its drops with the next batch;
 * the primary's writer (src/spend/writer.ts) writes batches in order, keeps them while the store
 * refuses writes, retries, and drops beyond its bound with a count. No timing thresholds: timers
 * are short and the tests wait for outcomes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpendQueue, decodeBatch, encodeBatch, rowBytes, type SpendBatchMessage } from '../../src/spend/queue.ts';
import { SpendWriter } from '../../src/spend/writer.ts';
import { errorClassOf } from '../../src/spend/row.ts';
import { SPEND_ROW_FIELDS, type SpendRow, type SpendStore } from '../../src/spend/types.ts';

function row(i: number): SpendRow {
  return {
    time: 1_700_000_000_000 + i, request_id: `r${i}`, consumer_id: 'c', credential_id: null, route_id: 'route', service_id: null, plugin_id: 'p',
    client_api: 'openai-chat', provider: 'openai', model_requested: 'm', model_served: 'm', status: 200, prompt_tokens: 1, completion_tokens: 1,
    cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, total_tokens: 2, cost: 0, latency_ms: 1, ttft_ms: null, stream: false,
    cache_hit: false, saved_tokens: 0, saved_cost: 0, estimated: false, error_class: null, attempts: null, payload: null,
  };
}

const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition reached');
}

test('worker queue: a full batch goes out after the current turn, the rest on the timer, in order', async () => {
  const sent: SpendBatchMessage[] = [];
  const q = new SpendQueue({ send: (m, done) => (sent.push(m), setImmediate(done), true), batchRows: 100, flushMs: 500 });
  for (let i = 0; i < 250; i++) q.push(row(i));
  assert.equal(sent.length, 0, 'nothing is sent inside the request path');
  await tick();
  assert.deepEqual(sent.map((m) => decodeBatch(m.batch).length), [100, 100, 50], 'batches of at most batchRows, the rest with them');
  q.push(row(250));
  await tick();
  assert.equal(sent.length, 3, 'a partial batch waits for the timer');
  await until(() => sent.length === 4);
  assert.deepEqual(decodeBatch(sent[3].batch).map((r) => r.request_id), ['r250']);
  assert.deepEqual(sent.flatMap((m) => decodeBatch(m.batch).map((r) => r.request_id)), Array.from({ length: 251 }, (_, i) => `r${i}`));
  assert.ok(sent.every((m) => m.t === 'spend' && m.dropped === 0));
  q.close();
});

test('worker queue: bounded by rows; drops are counted and reported with the next message', async () => {
  let channelOpen = false;
  const sent: SpendBatchMessage[] = [];
  const q = new SpendQueue({ send: (m, done) => (channelOpen ? (sent.push(m), setImmediate(done), true) : false), maxRows: 10, batchRows: 500, flushMs: 10 });
  for (let i = 0; i < 25; i++) q.push(row(i));
  assert.equal(q.size, 10);
  assert.equal(q.dropped, 15);
  await new Promise((r) => setTimeout(r, 30)); // a flush tried while the channel was closed: rows kept
  assert.equal(q.size, 10);
  channelOpen = true;
  await until(() => sent.length === 1);
  assert.equal(decodeBatch(sent[0].batch).length, 10);
  assert.equal(sent[0].dropped, 15, 'the drop count rides on the next batch');
  q.push(row(99));
  await until(() => sent.length === 2);
  assert.equal(sent[1].dropped, 0, 'reported once');
  q.close();
});

test('worker queue: bounded by bytes', () => {
  const size = rowBytes(row(0));
  const q = new SpendQueue({ send: () => true, maxBytes: size * 3 + 1, flushMs: 1000 });
  for (let i = 0; i < 5; i++) q.push(row(i));
  assert.equal(q.size, 3);
  assert.equal(q.dropped, 2);
  assert.ok(q.bytes <= size * 3 + 1);
  q.close();
});

test('worker queue: a channel that does not write holds at most maxInFlight batches; the queue fills, then drops', async () => {
  const pending: (() => void)[] = [];
  const sent: SpendBatchMessage[] = [];
  const q = new SpendQueue({ send: (m, done) => (sent.push(m), pending.push(done), true), batchRows: 10, maxInFlight: 2, maxRows: 30, flushMs: 5 });
  for (let i = 0; i < 100; i++) q.push(row(i));
  assert.equal(q.size, 30, 'the queue keeps its bound');
  assert.equal(q.dropped, 70);
  await tick();
  assert.equal(sent.length, 2, 'two batches in flight, no more');
  assert.equal(q.size, 10, 'the rest waits');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(sent.length, 2, 'still two: the timer does not add to the channel');
  const idle = q.sent(5000);
  for (const done of pending.splice(0)) done();
  assert.equal(sent.length, 3, 'a written batch makes room for the next');
  assert.equal(q.size, 0);
  for (const done of pending.splice(0)) done();
  await idle;
  q.close();
});

function fakeStore(): SpendStore & { rows: SpendRow[]; failing: boolean; writes: number } {
  return {
    kind: 'sqlite',
    rows: [],
    failing: false,
    writes: 0,
    async write(rows) {
      this.writes++;
      if (this.failing) throw new Error('database away');
      this.rows.push(...rows);
    },
    usage: async () => { throw new Error('unused'); },
    requests: async () => { throw new Error('unused'); },
    costOf: async () => 0,
    prune: async () => {},
    close: async () => {},
  };
}

const quiet = { warn: () => {}, info: () => {}, error: () => {} } as any;

test('writer: batches in order, of at most batchRows; worker drops counted as such', async () => {
  const store = fakeStore();
  const drops: [string, number][] = [];
  const writer = new SpendWriter({ store, log: quiet, retentionDays: 30, batchRows: 4, pruneEveryMs: 0, onDropped: (w, n) => drops.push([w, n]) });
  writer.accept([row(0), row(1), row(2), row(3), row(4), row(5)], 7);
  writer.accept([row(6)]);
  await until(() => store.rows.length === 7);
  assert.deepEqual(store.rows.map((r) => r.request_id), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
  assert.deepEqual(drops, [['worker', 7]]);
  assert.equal(writer.pending, 0);
  await writer.stop();
});

test('writer: while the store is away rows wait (bounded), beyond the bound they are dropped and counted; all queued rows go in once it is back', async () => {
  const store = fakeStore();
  store.failing = true;
  let dropped = 0;
  const writer = new SpendWriter({ store, log: quiet, retentionDays: 30, batchRows: 5, maxRows: 20, retryMinMs: 2, retryMaxMs: 10, pruneEveryMs: 0, onDropped: (w, n) => (assert.equal(w, 'primary'), (dropped += n)) });
  for (let i = 0; i < 30; i++) writer.accept([row(i)]);
  await until(() => store.writes >= 3);
  assert.equal(writer.pending, 20);
  assert.equal(dropped, 10);
  assert.equal(store.rows.length, 0);
  store.failing = false;
  await until(() => store.rows.length === 20);
  assert.deepEqual(store.rows.map((r) => r.request_id), Array.from({ length: 20 }, (_, i) => `r${i}`), 'the rows that fit, in order, once each');
  assert.equal(writer.written, 20);
  await writer.stop();
});

test('writer: stop with the store still away gives up after its timeout and counts what it held', async () => {
  const store = fakeStore();
  store.failing = true;
  let dropped = 0;
  const writer = new SpendWriter({ store, log: quiet, retentionDays: 30, retryMinMs: 60_000, pruneEveryMs: 0, onDropped: (_w, n) => (dropped += n) });
  writer.accept([row(1), row(2)]);
  await until(() => store.writes >= 1);
  await writer.stop(50);
  assert.equal(dropped, 2);
  writer.accept([row(3)]);
  assert.equal(dropped, 3, 'nothing is queued after stop');
});

test('writer: retention prunes rows older than the period', async () => {
  const store = fakeStore();
  const cuts: number[] = [];
  store.prune = async (before) => void cuts.push(before);
  const now = 1_700_000_000_000;
  const writer = new SpendWriter({ store, log: quiet, retentionDays: 2, pruneEveryMs: 3_600_000, now: () => now });
  await until(() => cuts.length === 1); // at start
  assert.equal(cuts[0], now - 2 * 86_400_000);
  await writer.stop();
});

test('error classes: by ctx.error code, by status otherwise', () => {
  assert.equal(errorClassOf(200, null), null);
  assert.equal(errorClassOf(200, null, true), 'client_closed');
  assert.equal(errorClassOf(401, null), 'unauthorized');
  assert.equal(errorClassOf(429, null), 'rate_limited');
  assert.equal(errorClassOf(400, { status: 400, code: 'client', message: '' }), 'client_error');
  assert.equal(errorClassOf(500, { status: 500, code: 'provider_error', message: '' }), 'provider_error');
  assert.equal(errorClassOf(429, { status: 429, code: 'provider_error', message: '' }), 'rate_limited');
  assert.equal(errorClassOf(502, { status: 502, code: 'ECONNREFUSED', message: '' }), 'upstream_unavailable');
  assert.equal(errorClassOf(504, { status: 504, code: 'UND_ERR_HEADERS_TIMEOUT', message: '' }), 'timeout');
  assert.equal(errorClassOf(500, { status: 500, code: 'internal', message: '' }), 'gateway_error');
  assert.equal(errorClassOf(503, null), 'upstream_unavailable');
});

test('a batch travels by column and comes back as the same rows', () => {
  const rows = [0, 1, 2].map((i) => ({ ...row(i), consumer_id: i === 1 ? null : `c${i}`, cost: i === 2 ? null : 0.5 * i, stream: i === 0 }));
  assert.deepEqual(decodeBatch(encodeBatch(rows)), rows);
  assert.deepEqual(decodeBatch(encodeBatch([rows[0]])), [rows[0]], 'one row');
  assert.deepEqual(decodeBatch(encodeBatch([])), [], 'no rows');
  const n = SPEND_ROW_FIELDS.length;
  for (const bad of ['', '{', '[]', '{"a":1}', JSON.stringify([[1]]), JSON.stringify(Array(n).fill([])), JSON.stringify({ n: -1, columns: Array(n).fill([]) }), JSON.stringify({ n: 1, columns: Array(n).fill({ other: 1 }) }), JSON.stringify({ n: 1, columns: Array(n - 1).fill([1]) })]) {
    assert.deepEqual(decodeBatch(bad), [], `a malformed batch gives no rows: ${bad}`);
  }
  const batch = JSON.parse(encodeBatch(rows)) as { n: number; columns: unknown[] };
  const at = SPEND_ROW_FIELDS.indexOf('consumer_id');
  batch.columns[at] = (batch.columns[at] as unknown[]).slice(1);
  assert.deepEqual(decodeBatch(JSON.stringify(batch)), [], 'columns of different lengths give no rows');
});

test('a column whose rows all hold one value travels once', () => {
  const rows = Array.from({ length: 50 }, (_, i) => ({ ...row(i), route_id: 'a-route-id-of-36-characters-0000000000', latency_ms: i % 7 }));
  const batch = JSON.parse(encodeBatch(rows)) as { n: number; columns: unknown[] };
  assert.equal(batch.n, 50);
  assert.deepEqual(batch.columns[SPEND_ROW_FIELDS.indexOf('route_id')], { same: 'a-route-id-of-36-characters-0000000000' });
  assert.deepEqual(batch.columns[SPEND_ROW_FIELDS.indexOf('ttft_ms')], { same: null });
  assert.ok(Array.isArray(batch.columns[SPEND_ROW_FIELDS.indexOf('request_id')]), 'ids differ row by row');
  assert.ok(Array.isArray(batch.columns[SPEND_ROW_FIELDS.indexOf('latency_ms')]));
  assert.deepEqual(decodeBatch(JSON.stringify(batch)), rows);
  // one route's traffic: well under the bytes of every value written out
  assert.ok(encodeBatch(rows).length < JSON.stringify(rows.map((r) => Object.values(r))).length / 2);
});
