/**
 * The gateway's own upstream timers (src/proxy/upstream-timers.ts), without a network: when the
 * read timer starts, what restarts it, that a pause of the gateway's own making does not count,
 * that nothing stays armed once an attempt ended; the connect deadline; body steps.
 * (test/integration/timeout-precision.test.ts measures all three timeouts through the gateway.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { ReadTimer, connectWithin, writeSteps, type RequestHandler } from '../../src/proxy/upstream-timers.ts';

const MS = 60;
/** Lenient upper slack: unit suites run in parallel on small machines. */
const SLACK = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** undici's side of one attempt: the handler under test, the abort it was given, and what reached the inner handler. */
function attempt(ms = MS) {
  const seen: string[] = [];
  let more = true;
  let resume: () => void = () => {};
  const inner: RequestHandler = {
    onConnect() {},
    onHeaders(_s, _h, r) {
      resume = r;
      return more;
    },
    onData() {
      return more;
    },
    onComplete() {
      seen.push('complete');
    },
    onError(err) {
      seen.push((err as Error & { code: string }).code);
    },
  };
  const timer = new ReadTimer(inner, ms);
  let abortedAt: number | null = null;
  const started = performance.now();
  timer.onConnect((err) => {
    abortedAt = performance.now();
    timer.onError(err!); // what undici does with an abort: the request fails with that error
  });
  return {
    timer,
    seen,
    hold: (h: boolean) => (more = !h),
    resume: () => resume(),
    /** ms from `from` to the abort, or null when there was none. */
    abortedAfter: (from = started) => (abortedAt === null ? null : abortedAt - from),
  };
}

test('read_timeout starts when the request is sent and ends in a headers timeout', async () => {
  const a = attempt();
  await sleep(MS * 2); // connected, still writing: not the upstream's turn to answer
  assert.equal(a.abortedAfter(), null);
  const sent = performance.now();
  a.timer.onRequestSent();
  await sleep(MS + SLACK);
  const after = a.abortedAfter(sent)!;
  assert.ok(after >= MS - 1 && after < MS + SLACK, `fired after ${after} ms`);
  assert.deepEqual(a.seen, ['UND_ERR_HEADERS_TIMEOUT']);
});

test('the headers and each chunk restart the wait; after the headers it is a body timeout', async () => {
  const a = attempt();
  a.timer.onRequestSent();
  await sleep(MS * 0.6);
  a.timer.onHeaders(200, [], () => {}, 'OK');
  for (let i = 0; i < 3; i++) {
    await sleep(MS * 0.6);
    assert.equal(a.abortedAfter(), null, `chunk ${i} came in time`);
    a.timer.onData(Buffer.from('x'));
  }
  const last = performance.now();
  await sleep(MS + SLACK);
  const after = a.abortedAfter(last)!;
  assert.ok(after >= MS - 1 && after < MS + SLACK, `fired after ${after} ms`);
  assert.deepEqual(a.seen, ['UND_ERR_BODY_TIMEOUT']);
});

test('while the gateway holds the answer back (a slow reader) the timer does not count; resuming restarts it', async () => {
  const a = attempt();
  a.timer.onRequestSent();
  a.timer.onHeaders(200, [], () => {}, 'OK');
  a.hold(true);
  a.timer.onData(Buffer.from('x')); // the reader's buffer is full: undici pauses
  await sleep(MS * 3);
  assert.equal(a.abortedAfter(), null, 'a pause of our making is not the upstream being slow');
  a.hold(false);
  const resumed = performance.now();
  a.resume();
  await sleep(MS + SLACK);
  const after = a.abortedAfter(resumed)!;
  assert.ok(after >= MS - 1 && after < MS + SLACK, `fired after ${after} ms`);
  assert.deepEqual(a.seen, ['UND_ERR_BODY_TIMEOUT']);
});

test('a resume that ends no pause does not restart the wait', async () => {
  const a = attempt();
  a.timer.onRequestSent();
  a.timer.onHeaders(200, [], () => {}, 'OK');
  const last = performance.now();
  await sleep(MS * 0.6);
  a.resume(); // a stream asking for more, as it does after every chunk
  await sleep(MS + SLACK);
  const after = a.abortedAfter(last)!;
  assert.ok(after >= MS - 1 && after < MS * 0.6 + 10 + SLACK / 2, `fired after ${after} ms, counted from the last read`);
});

test('no timer outlives the attempt: complete, error or abort clears it', async () => {
  const done = attempt();
  done.timer.onRequestSent();
  done.timer.onHeaders(200, [], () => {}, 'OK');
  done.timer.onComplete(null);
  const failed = attempt();
  failed.timer.onRequestSent();
  failed.timer.onError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
  await sleep(MS * 2);
  assert.equal(done.abortedAfter(), null);
  assert.deepEqual(done.seen, ['complete']);
  assert.equal(failed.abortedAfter(), null);
  assert.deepEqual(failed.seen, ['ECONNRESET']);
});

/** A stand-in for undici's connector: it returns a socket that never connects unless told to. */
function fakeConnector() {
  const socket = Object.assign(new EventEmitter(), { destroyed: false, destroy() { this.destroyed = true; return this; } });
  let cb: ((...args: [Error, null] | [null, net.Socket]) => void) | null = null;
  const connect = ((_opts: unknown, callback: typeof cb) => {
    cb = callback;
    return socket;
  }) as unknown as Parameters<typeof connectWithin>[0];
  return { connect, socket, connected: () => cb!(null, socket as unknown as net.Socket) };
}

test('connect_timeout: a connection not established in time fails with undici’s code and its socket is destroyed', async () => {
  const f = fakeConnector();
  const started = performance.now();
  const result = await new Promise<{ err: Error | null; at: number }>((resolve) => connectWithin(f.connect, MS)({ hostname: '127.0.0.1', protocol: 'http:', port: '1' }, (...[err]) => resolve({ err, at: performance.now() })));
  const after = result.at - started;
  assert.ok(after >= MS - 1 && after < MS + SLACK, `fired after ${after} ms`);
  assert.equal((result.err as Error & { code: string }).code, 'UND_ERR_CONNECT_TIMEOUT');
  assert.equal(f.socket.destroyed, true);
  f.connected(); // too late: ignored (and closed), never a second callback
});

test('connect_timeout: a connection established in time clears the deadline', async () => {
  const f = fakeConnector();
  const calls: (Error | null)[] = [];
  connectWithin(f.connect, MS)({ hostname: '127.0.0.1', protocol: 'http:', port: '1' }, (...[err]) => void calls.push(err));
  f.connected();
  await sleep(MS * 2);
  assert.deepEqual(calls, [null]);
  assert.equal(f.socket.destroyed, false);
});

test('large bodies are written in 64 KiB steps (write_timeout is per write), small ones whole', () => {
  const small = Buffer.alloc(64 * 1024, 1);
  assert.equal(writeSteps(small), small);
  assert.equal(writeSteps('text'), 'text');
  assert.equal(writeSteps(null), null);
  const big = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
  const parts = [...(writeSteps(big) as Iterable<Buffer>)];
  assert.deepEqual(parts.map((p) => p.length), [65536, 65536, 65536, 3392]);
  assert.ok(Buffer.concat(parts).equals(big));
});
