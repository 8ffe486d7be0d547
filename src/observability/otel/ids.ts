/**
 * Trace and span ids (issue 21): lower-case hex, 32 and 16 digits, from the operating system's
 * CSPRNG. Ids are made for every span of every traced request, so the random bytes come from a
 * pooled buffer refilled in one `randomFillSync` call per 256 ids rather than one call (and one
 * allocation) per id; the hex is a `toString('hex')` of a slice of it.
 *
 * An all-zero id is invalid in every propagation format and in OTLP (W3C Trace Context, "trace-id"
 * and "parent-id"): one is drawn again (a 2^-64 event for a span id, but never wrong).
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const start = offset;
    offset += bytes;
    let zero = true;
    for (let i = start; i < offset; i++) {
      if (pool[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (!zero) return pool.toString('hex', start, offset);
  }
}

/** A new trace id: 32 lower-case hex digits, never all zero. */
export function newTraceId(): string {
  return take(16);
}

/** A new span id: 16 lower-case hex digits, never all zero. */
export function newSpanId(): string {
  return take(8);
}
