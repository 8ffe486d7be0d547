/**
 * The OTLP exporter (src/observability/otel/exporter.ts) against a real OTLP/HTTP receiver
 * (test/helpers/otlp-receiver.ts): batching by size and by delay, the bounded queue and its exact
 * drop count, OTLP's retry rules (503 and 429 retried, 400 not), partial success, a slow
 * collector never holding add() up, stop() within its deadline, and the shared registry.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpExporter, exporterFor, otelDropped, stopExporters, type RetryTuning } from '../../src/observability/otel/exporter.ts';
import { encodeTraces } from '../../src/observability/otel/otlp.ts';
import type { ExporterOptions, SpanRecord } from '../../src/observability/otel/types.ts';
import { OtlpReceiver } from '../helpers/otlp-receiver.ts';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

let receiver: OtlpReceiver;
before(async () => {
  receiver = await OtlpReceiver.start();
});
after(async () => {
  await stopExporters(1000);
  await receiver.close();
});

/** Short back-off so that retries happen within a test; never a bound on how long anything takes. */
const FAST_RETRY: RetryTuning = { initialDelayMs: 5, maxDelayMs: 20, maxRetryTimeMs: 60_000 };

let nextId = 1;
function span(name = 'kong'): SpanRecord {
  const id = (nextId++).toString(16).padStart(16, '0');
  return { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: id, parentSpanId: null, name, kind: 2, startMs: 1712345678901.5, endMs: 1712345678902.5, attributes: { n: nextId } };
}

function options(over: Partial<ExporterOptions> = {}, endpoint: Partial<ExporterOptions['endpoint']> = {}): ExporterOptions {
  return {
    endpoint: { url: `${receiver.url}/v1/traces`, headers: {}, connectTimeoutMs: 1000, sendTimeoutMs: 5000, readTimeoutMs: 5000, encoding: 'protobuf', ...endpoint },
    resource: { 'service.name': 'modelgate-test' },
    maxBatch: 5,
    flushDelayMs: 60_000,
    maxQueue: 100,
    ...over,
  };
}

function exporter(opts: ExporterOptions, retry = FAST_RETRY): OtlpExporter<SpanRecord> {
  return new OtlpExporter<SpanRecord>('traces', opts, (spans) => encodeTraces(spans, opts.resource, { name: 'test' }), retry);
}

async function dropped(reason?: string): Promise<number> {
  const { values } = await otelDropped.get();
  return values.filter((v) => v.labels.signal === 'traces' && (!reason || v.labels.reason === reason)).reduce((sum, v) => sum + v.value, 0);
}

/** Polls until `pred()` holds (for the exporter's own state, which no receiver event marks). */
async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 2));
}

/** The receiver's state is shared by the tests: each starts from a clean one. */
function reset(): void {
  receiver.requests.length = 0;
  receiver.arrived = 0;
  receiver.slow(0).partial(null);
  receiver.fail(200, 0);
}

test('batches of maxBatch go as soon as they are full; the remainder waits for its delay or stop()', async () => {
  reset();
  const e = exporter(options({ maxBatch: 5, flushDelayMs: 60_000 }));
  const sent = Array.from({ length: 12 }, () => span());
  for (const s of sent) e.add(s);
  await receiver.waitFor(() => receiver.spans().length === 10);
  assert.deepEqual(receiver.accepted().map((r) => (r.body!.resourceSpans as { scopeSpans: { spans: unknown[] }[] }[])[0].scopeSpans[0].spans.length), [5, 5]);
  await until(() => e.held === 2); // the second answer is being read
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(e.held, 2, 'two spans wait for their batch to fill');
  assert.equal(receiver.requests.length, 2, 'and are not sent on their own');
  await e.stop(5000);
  assert.deepEqual(receiver.spans().map((s) => s.spanId), sent.map((s) => s.spanId), 'every span once, in order');
  assert.equal(receiver.requests.length, 3);
});

test('a batch that does not fill goes after flushDelayMs', async () => {
  reset();
  const e = exporter(options({ maxBatch: 100, flushDelayMs: 30 }));
  e.add(span());
  e.add(span());
  e.add(span());
  await receiver.waitFor(() => receiver.spans().length === 3);
  assert.equal(receiver.requests.length, 1, 'one request for the three');
  await e.stop(1000);
});

test('a collector that is down: the queue holds maxQueue, the rest is dropped and counted exactly', async () => {
  reset();
  await receiver.down();
  try {
    const before = await dropped();
    const beforeFull = await dropped('queue_full');
    const e = exporter(options({ maxBatch: 5, maxQueue: 10, flushDelayMs: 10 }));
    for (let i = 0; i < 25; i++) e.add(span());
    assert.equal((await dropped('queue_full')) - beforeFull, 15, 'exactly the 15 beyond maxQueue');
    assert.equal(e.held, 10);
    // it keeps retrying (connection refused) while new items keep being dropped
    for (let i = 0; i < 5; i++) e.add(span());
    assert.equal((await dropped('queue_full')) - beforeFull, 20);
    await e.stop(50);
    assert.equal((await dropped()) - before, 30, 'nothing delivered, every span counted once');
    assert.equal(e.held, 0);
  } finally {
    await receiver.up();
  }
});

test('503 is retried until the collector accepts; nothing is lost or counted', async () => {
  reset();
  const before = await dropped();
  receiver.fail(503, 2);
  const e = exporter(options({ maxBatch: 3 }));
  const sent = [span(), span(), span()];
  for (const s of sent) e.add(s);
  await receiver.waitFor(() => receiver.spans().length === 3);
  assert.deepEqual(receiver.requests.map((r) => r.status), [503, 503, 200]);
  assert.deepEqual(receiver.spans().map((s) => s.spanId), sent.map((s) => s.spanId));
  assert.equal(await dropped(), before);
  await e.stop(1000);
});

test('429 with Retry-After is retried (its delay honoured when small)', async () => {
  reset();
  receiver.fail(429, 1, '0');
  const e = exporter(options({ maxBatch: 1 }));
  e.add(span());
  await receiver.waitFor(() => receiver.spans().length === 1);
  assert.deepEqual(receiver.requests.map((r) => r.status), [429, 200]);
  await e.stop(1000);
});

test('400 is not retried: the batch is counted as rejected and the next batch goes', async () => {
  reset();
  const rejected = await dropped('rejected');
  receiver.fail(400, 1);
  const e = exporter(options({ maxBatch: 2 }));
  e.add(span());
  e.add(span());
  const second = [span(), span()];
  for (const s of second) e.add(s);
  await receiver.waitFor(() => receiver.spans().length === 2);
  // one request at a time: the second batch was sent only once the first was given up
  assert.deepEqual(receiver.requests.map((r) => r.status), [400, 200]);
  assert.deepEqual(receiver.spans().map((s) => s.spanId), second.map((s) => s.spanId));
  assert.equal((await dropped('rejected')) - rejected, 2);
  await e.stop(1000);
});

test('a partial success is not retried; its rejected count is counted', async () => {
  reset();
  const rejected = await dropped('rejected');
  receiver.partial(1, 'one span had no name');
  const e = exporter(options({ maxBatch: 3 }));
  for (let i = 0; i < 3; i++) e.add(span());
  await receiver.waitFor(() => receiver.requests.length === 1);
  await e.stop(1000);
  assert.equal(receiver.requests.length, 1);
  assert.equal((await dropped('rejected')) - rejected, 1);
});

test('a collector slower than read_timeout: the attempt fails, retries end at maxRetryTimeMs, the batch is counted', async () => {
  reset();
  const exhausted = await dropped('retries_exhausted');
  receiver.slow(3000);
  const e = exporter(options({ maxBatch: 2 }, { readTimeoutMs: 100, sendTimeoutMs: 100 }), { initialDelayMs: 5, maxDelayMs: 5, maxRetryTimeMs: 0 });
  e.add(span());
  e.add(span());
  await e.stop(10_000); // returns once the batch is settled
  assert.equal((await dropped('retries_exhausted')) - exhausted, 2);
  assert.equal(receiver.spans().length, 0);
});

test('an answer over 4 MiB is not read to its end nor retried: the batch is counted as rejected', async () => {
  // OTLP/HTTP: clients limit what they read of an answer
  const rejected = await dropped('rejected');
  let requests = 0;
  const big = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 5 * 1024 * 1024 });
      res.end(Buffer.alloc(5 * 1024 * 1024));
    });
  });
  await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
  try {
    const e = exporter(options({ maxBatch: 2 }, { url: `http://127.0.0.1:${(big.address() as AddressInfo).port}/v1/traces` }));
    e.add(span());
    e.add(span());
    await e.stop(10_000);
    assert.equal(requests, 1, 'not retried');
    assert.equal((await dropped('rejected')) - rejected, 2);
  } finally {
    big.closeAllConnections();
    await new Promise((r) => big.close(r));
  }
});

test('a collector that stops reading the body: the write waits past send_timeout, the attempt fails and the batch is counted', async () => {
  // a TCP server that accepts and never reads: the batch (several MB) fills the socket's buffers
  const exhausted = await dropped('retries_exhausted');
  const sockets: net.Socket[] = [];
  const deaf = net.createServer((socket) => {
    socket.pause();
    sockets.push(socket);
  });
  await new Promise<void>((r) => deaf.listen(0, '127.0.0.1', r));
  try {
    const e = new OtlpExporter<SpanRecord>(
      'traces',
      options({ maxBatch: 1 }, { url: `http://127.0.0.1:${(deaf.address() as AddressInfo).port}/v1/traces`, sendTimeoutMs: 200, readTimeoutMs: 60_000 }),
      () => new Uint8Array(32 * 1024 * 1024),
      { initialDelayMs: 5, maxDelayMs: 5, maxRetryTimeMs: 0 },
    );
    e.add(span());
    await e.stop(30_000); // returns once the batch is settled
    // failed by send_timeout and given up: neither the read timeout (60 s) nor stop()'s deadline
    // (which would count it as `shutdown`) came first
    assert.equal((await dropped('retries_exhausted')) - exhausted, 1);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => deaf.close(r));
  }
});

test('a slow collector never holds add() up; stop() gives up at its deadline and counts what is left', async () => {
  reset();
  const shutdown = await dropped('shutdown');
  receiver.slow(5000);
  const e = exporter(options({ maxBatch: 2, maxQueue: 6 }));
  e.add(span());
  e.add(span());
  await receiver.waitFor(() => receiver.arrived === 1); // the first batch is with the collector, unanswered
  for (let i = 0; i < 4; i++) e.add(span()); // add() is synchronous: these returned before any answer
  assert.equal(receiver.requests.length, 0, 'the collector has answered nothing yet');
  assert.equal(e.held, 6);
  await e.stop(50);
  assert.equal((await dropped('shutdown')) - shutdown, 6, 'the batch in flight and the four queued');
  e.add(span());
  assert.equal((await dropped('shutdown')) - shutdown, 7, 'after stop(), add() drops and counts');
});

test('headers and JSON encoding: the configured headers reach the collector, the body is OTLP/JSON', async () => {
  reset();
  const e = exporterFor('traces', options({ maxBatch: 1 }, { encoding: 'json', headers: { Authorization: 'Bearer collector-token-123', 'X-Tenant': 't1' } }));
  e.add(span('json span'));
  await receiver.waitFor(() => receiver.spans().length === 1);
  const [req] = receiver.requests;
  assert.equal(req.contentType, 'application/json');
  assert.equal(req.headers.authorization, 'Bearer collector-token-123');
  assert.equal(req.headers['x-tenant'], 't1');
  assert.equal(receiver.spans()[0].name, 'json span');
  assert.equal(receiver.spans()[0].resource['service.name'], 'modelgate-test');
  assert.equal(receiver.spans()[0].scope.name, 'modelgate');
});

test('exporterFor: one exporter per distinct options, shared by equal ones', async () => {
  const a = exporterFor('traces', options({}, { headers: { a: '1', b: '2' } }));
  const b = exporterFor('traces', options({}, { headers: { b: '2', a: '1' } }));
  const c = exporterFor('traces', options({}, { headers: { a: '1', b: '3' } }));
  const d = exporterFor('logs', options({}, { headers: { a: '1', b: '2' } }));
  assert.equal(a, b, 'the same options in another order: the same exporter');
  assert.notEqual(a, c);
  assert.notEqual(a as unknown, d as unknown);
  await stopExporters(1000);
  assert.notEqual(exporterFor('traces', options({}, { headers: { a: '1', b: '2' } })), a, 'stopped exporters are forgotten');
});
