/**
 * Epoch milliseconds of performance.now() readings, on the wall clock as it is now.
 *
 * The request path reads performance.now() (monotonic, sub-millisecond). `performance.timeOrigin
 * + t` turns such a reading into the wall clock as it was when the process started, carried
 * forward on the monotonic clock: when the wall clock is stepped or slewed afterwards (NTP on a
 * VM just booted, a leap smear, a host resumed from suspend), a long-lived worker's times drift
 * away from every other process's. Spend rows then fall outside the window a client asks for by
 * its own clock, and spans line up with no one else's.
 *
 * So the offset between the two clocks is read again from Date.now() whenever a reading is more
 * than a second past the last anchor: times follow the wall clock within a second of its moves,
 * to within half a millisecond (Date.now()'s resolution), for one comparison a call.
 */

/** How long an anchor is used before Date.now() is read again. */
const ANCHOR_MS = 1000;

let offset = 0;
let anchoredAt = Number.NEGATIVE_INFINITY;

/** What to add to a performance.now() reading taken around now to make it epoch milliseconds. */
export function wallClockOffset(t: number): number {
  if (t - anchoredAt > ANCHOR_MS) {
    const now = performance.now();
    // Date.now() is the wall clock rounded down to the millisecond: +0.5 centres the error
    offset = Date.now() + 0.5 - now;
    anchoredAt = now;
  }
  return offset;
}

/** Epoch milliseconds (fractional) of a performance.now() reading taken around now. */
export function epochMsOf(t: number): number {
  return t + wallClockOffset(t);
}
