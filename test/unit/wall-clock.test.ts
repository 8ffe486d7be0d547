/**
 * performance.now() readings made epoch milliseconds on the wall clock as it is now: within a
 * millisecond of Date.now(), and following the wall clock when it is stepped (NTP on a VM just
 * booted), which `performance.timeOrigin + t` does not.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { epochMsOf, wallClockOffset } from '../../src/util/wall-clock.ts';

const realNow = Date.now;
afterEach(() => {
  Date.now = realNow;
});

test('a reading taken now is the wall clock now, to the millisecond', () => {
  for (let i = 0; i < 50; i++) {
    const before = Date.now();
    const t = epochMsOf(performance.now());
    const after = Date.now();
    // Date.now() rounds down: the reading lies in [before, after + 1)
    assert.ok(t >= before - 0.5 && t < after + 1.5, `${t} outside [${before}, ${after}]`);
  }
});

test('the wall clock stepped by a minute: readings more than a second past the anchor follow it', () => {
  const t0 = performance.now();
  const offset = wallClockOffset(t0);
  const step = 60_000;
  Date.now = () => realNow() + step;
  // within the anchor's second: the same offset (one comparison, no clock read)
  assert.equal(wallClockOffset(t0), offset);
  // a reading past it anchors again on the stepped clock
  const later = t0 + 1_001;
  const moved = wallClockOffset(later) - offset;
  assert.ok(Math.abs(moved - step) < 2, `moved ${moved} ms, not ${step}`);
  const wall = epochMsOf(performance.now() + 2_002) - 2_002;
  assert.ok(Math.abs(wall - Date.now()) < 2, `${wall} against the stepped ${Date.now()}`);
  // what the time origin gives stays on the clock as it was at start-up
  assert.ok(Math.abs(performance.timeOrigin + performance.now() - Date.now() + step) < 50);
});
