/**
 * Trace and span ids (issue 21): lower-case hex, 32 and 16 digits, from the operating system's
 * CSPRNG. Ids are made for every span of every traced request, so the random bytes come from a
 * pooled buffer refilled in one `randomFillSync` call per 256 ids rather than one call (and one
 * allocation) per id; a span id's hex is made from a table of digits, a trace id's by Buffer.
 *
 * An all-zero id is invalid in every propagation format and in OTLP (W3C Trace Context, "trace-id"
 * and "parent-id"): one is drawn again (a 2^-64 event for a span id, but never wrong).
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** Lower-case hex digits by value, as char codes. */
const DIGITS = new Uint8Array(16);
for (let i = 0; i < 16; i++) DIGITS[i] = '0123456789abcdef'.charCodeAt(i);

/** The next `bytes` pool bytes that are not all zero (a new fill when the pool runs out); returns their offset. */
function take(bytes: number): number {
  for (;;) {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const start = offset;
    offset += bytes;
    for (let i = start; i < offset; i++) if (pool[i] !== 0) return start;
  }
}

/** Eight pool bytes as 16 hex digits: one fromCharCode call, about half of Buffer's toString('hex') for so few bytes. */
function hex8(o: number): string {
  const p = pool;
  const d = DIGITS;
  return String.fromCharCode(
    d[p[o] >> 4], d[p[o] & 15], d[p[o + 1] >> 4], d[p[o + 1] & 15], d[p[o + 2] >> 4], d[p[o + 2] & 15], d[p[o + 3] >> 4], d[p[o + 3] & 15],
    d[p[o + 4] >> 4], d[p[o + 4] & 15], d[p[o + 5] >> 4], d[p[o + 5] & 15], d[p[o + 6] >> 4], d[p[o + 6] & 15], d[p[o + 7] >> 4], d[p[o + 7] & 15],
  );
}

/**
 * A new trace id: 32 lower-case hex digits, never all zero. Buffer's own hex (as fast as
 * fromCharCode at 16 bytes) makes one flat string: `hex8(o) + hex8(o + 8)` was a ConsString, and
 * each read of a character of it (the OTLP encoder turns every span's trace id back into bytes)
 * took V8's slow path.
 */
export function newTraceId(): string {
  const o = take(16);
  return pool.toString('hex', o, o + 16);
}

/** A new span id: 16 lower-case hex digits, never all zero. */
export function newSpanId(): string {
  return hex8(take(8));
}
