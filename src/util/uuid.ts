/**
 * Random (version 4) UUIDs for the request path: a request id per request, a completion id per
 * translated answer. `crypto.randomUUID()` builds each id from about twenty string pieces (~600
 * bytes of garbage per id, measured with V8's sampling heap profiler); these are written as ASCII
 * into a buffer, a batch at a time from one `randomFillSync`, and each id is read out of it as one
 * flat string. (Not as `slice()`s of one batch string: V8 keeps such a slice as a view that holds
 * the whole 4.6 KB batch alive for as long as any of its ids is kept, in a log queue or a map.)
 */
import { randomFillSync } from 'node:crypto';

const BATCH = 128;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** A batch of ids as ASCII text, `width` bytes each: with dashes (36) or without (32). */
class UuidBatch {
  readonly #raw = Buffer.alloc(16 * BATCH);
  readonly #text: Buffer;
  readonly #width: number;
  readonly #dashes: boolean;
  #next = BATCH;

  constructor(dashes: boolean) {
    this.#dashes = dashes;
    this.#width = dashes ? 36 : 32;
    this.#text = Buffer.alloc(this.#width * BATCH);
  }

  take(): string {
    if (this.#next === BATCH) this.#refill();
    const at = this.#next++ * this.#width;
    return this.#text.toString('latin1', at, at + this.#width);
  }

  #refill(): void {
    const raw = randomFillSync(this.#raw);
    const text = this.#text;
    let p = 0;
    for (let i = 0; i < BATCH; i++) {
      const o = i * 16;
      raw[o + 6] = (raw[o + 6] & 0x0f) | 0x40; // version 4
      raw[o + 8] = (raw[o + 8] & 0x3f) | 0x80; // variant 10
      for (let b = 0; b < 16; b++) {
        if (this.#dashes && (b === 4 || b === 6 || b === 8 || b === 10)) text[p++] = 45; // '-'
        const v = raw[o + b];
        text[p++] = HEX[v >> 4];
        text[p++] = HEX[v & 15];
      }
    }
    this.#next = 0;
  }
}

const withDashes = new UuidBatch(true);
const bare = new UuidBatch(false);

/** A random UUID in its usual form (8-4-4-4-12 lower-case hex digits), as `crypto.randomUUID()` gives. */
export function uuid(): string {
  return withDashes.take();
}

/** A random UUID's 32 hex digits without dashes (completion and response ids). */
export function uuidHex(): string {
  return bare.take();
}
