/** One sweep per timeout length instead of a timer per request body (src/util/idle-watch.ts). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchIdle } from '../../src/util/idle-watch.ts';

test('a wait with no progress fires once, after its timeout', async () => {
  let fired = 0;
  const started = performance.now();
  watchIdle(80, () => fired++);
  await sleep(40);
  assert.equal(fired, 0, 'not before the timeout');
  await sleep(200);
  assert.equal(fired, 1);
  assert.ok(performance.now() - started >= 80);
  await sleep(100);
  assert.equal(fired, 1, 'only once');
});

test('progress restarts the idle clock; a stopped wait never fires', async () => {
  let busy = 0;
  let stopped = 0;
  const a = watchIdle(400, () => busy++);
  const b = watchIdle(400, () => stopped++);
  b.stop();
  for (let i = 0; i < 6; i++) {
    await sleep(50);
    a.touch();
  }
  assert.equal(busy, 0, 'touched every 50 ms: never idle for 400 ms');
  await sleep(1000);
  assert.equal(busy, 1, 'fires once progress stops');
  assert.equal(stopped, 0);
});
