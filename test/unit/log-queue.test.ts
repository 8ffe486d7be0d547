/** The log plugins' queue: batches, retries with back-off, bounded memory with counted drops. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogQueue, type QueueParams } from '../../src/plugins/shared/log-queue.ts';
import { BoundedLabel, OTHER } from '../../src/observability/metrics.ts';
import { validateEntity } from '../../src/entities/index.ts';

const params = (p: Partial<QueueParams> = {}): QueueParams => ({
  max_batch_size: 1,
  max_coalescing_delay: 0.01,
  max_entries: 10_000,
  max_bytes: null,
  max_retry_time: 60,
  initial_retry_delay: 0.001,
  max_retry_delay: 0.01,
  ...p,
});

const until = async (cond: () => boolean) => {
  const deadline = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('entries leave in batches of max_batch_size, in order', async () => {
  const batches: string[][] = [];
  const q = new LogQueue('t1', 'http-log', params({ max_batch_size: 3, max_coalescing_delay: 0.02 }), async (b) => void batches.push(b));
  for (let i = 0; i < 7; i++) q.enqueue(`e${i}`);
  await until(() => q.sent === 7);
  assert.deepEqual(batches.flat(), ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  assert.ok(batches.every((b) => b.length <= 3));
  assert.ok(batches.length >= 3);
});

test('a failing batch is retried until it gets through', async () => {
  let failures = 2;
  const got: string[] = [];
  const q = new LogQueue('t2', 'http-log', params(), async (b) => {
    if (failures-- > 0) throw new Error('503');
    got.push(...b);
  });
  q.enqueue('x');
  await until(() => got.length === 1);
  assert.equal(q.dropped, 0);
});

test('retries stop after max_retry_time: the batch is dropped and counted', async () => {
  const q = new LogQueue('t3', 'http-log', params({ max_retry_time: 0.03 }), async () => {
    throw new Error('down');
  });
  q.enqueue('x');
  await until(() => q.dropped === 1);
  q.close();
});

test('a full queue drops its oldest entries, bounded in entries and in bytes', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const got: string[] = [];
  const q = new LogQueue('t4', 'http-log', params({ max_entries: 5 }), async (b) => {
    await gate;
    got.push(...b);
  });
  for (let i = 0; i < 20; i++) q.enqueue(`e${i}`);
  assert.ok(q.length <= 5);
  assert.equal(q.dropped, 15, 'five kept, the oldest dropped');
  release();
  await until(() => q.length === 0 && got.length === 5);
  assert.deepEqual(got, ['e15', 'e16', 'e17', 'e18', 'e19']);

  const small = new LogQueue('t5', 'http-log', params({ max_bytes: 10 }), () => new Promise(() => {}));
  small.enqueue('123456'); // in flight
  small.enqueue('abcdef');
  small.enqueue('ghijkl');
  assert.ok(small.bytes <= 10);
  assert.equal(small.enqueue('x'.repeat(11)), false, 'an entry larger than the queue is dropped');
  small.close();
});

test('metric labels are bounded', () => {
  const l = new BoundedLabel(2);
  assert.deepEqual(['a', 'b', 'c', 'a', 'x'.repeat(500)].map((v) => l.value(v)), ['a', 'b', OTHER, 'a', OTHER]);
  assert.equal(new BoundedLabel(5).value('y'.repeat(500)).length, 128);
});

test('log plugin schemas: Kong fields; no code from configuration', () => {
  const http = validateEntity('plugins', { name: 'http-log', config: { http_endpoint: 'http://user:pw@logs.example/x' } });
  assert.equal(http.errors, undefined);
  const c = http.value.config as any;
  assert.deepEqual([c.method, c.content_type, c.timeout, c.keepalive, c.queue.max_batch_size, c.queue.max_entries, c.queue.max_retry_time], ['POST', 'application/json', 10000, 60000, 1, 10000, 60]);
  const both = validateEntity('plugins', { name: 'http-log', config: { http_endpoint: 'http://user:pw@logs.example/x', headers: { Authorization: 'x' } } });
  assert.deepEqual((both.errors as any).config['@entity'], ["specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed"]);
  const host = validateEntity('plugins', { name: 'http-log', config: { http_endpoint: 'http://logs.example', headers: { Host: 'x' } } });
  assert.deepEqual((host.errors as any).config.headers, { Host: "cannot contain 'Host' header" });
  const lua = validateEntity('plugins', { name: 'file-log', config: { path: '/tmp/x.log', custom_fields_by_lua: { a: 'return 1' } } });
  assert.match((lua.errors as any).config.custom_fields_by_lua.a, /no code from configuration/);
  const badPath = validateEntity('plugins', { name: 'file-log', config: { path: '/tmp/*.log' } });
  assert.equal((badPath.errors as any).config.path, 'not a valid filename');
  const key = validateEntity('plugins', { name: 'key-auth', config: {} });
  assert.deepEqual(key.value.config, { key_names: ['apikey'], hide_credentials: false, anonymous: null, key_in_header: true, key_in_query: true, key_in_body: false, run_on_preflight: true, realm: null });
  const prom = validateEntity('plugins', { name: 'prometheus', config: {} });
  assert.deepEqual(prom.value.config, { per_consumer: false, status_code_metrics: false, ai_metrics: false, latency_metrics: false, bandwidth_metrics: false, upstream_health_metrics: false, wasm_metrics: false });
});
