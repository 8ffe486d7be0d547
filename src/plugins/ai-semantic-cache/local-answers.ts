/**
 * A worker-local copy of recently served answers, in front of the node's cache in the primary
 * (the `memory` strategy's key-value store, read over IPC). Reading an answer from the primary
 * costs a message each way and the primary's own work: measured, an exact hit cost ~120% of a
 * direct call to an instant upstream (docs/performance.md, "Cache and guardrails"); from this copy
 * it is a Map lookup and a JSON parse.
 *
 * Consistency (what a worker may serve):
 * - a copy is an answer the node's cache held (read from it) or this worker stored (a Miss or a
 *   Refresh on this worker replaces its copy at once), kept with the entry's own expiry: no copy is
 *   ever served past its entry's TTL, and `Age` / `X-Cache-Ttl` are computed from the entry itself,
 *   so a client's `max-age` is judged against the answer it actually gets;
 * - another worker's Refresh or store reaches this worker's copy only when the copy expires or is
 *   evicted: until then this worker may serve the older answer — one that was itself a valid cached
 *   answer within its TTL. Keying copies by entry version would need the primary's version on every
 *   read, the round trip this copy exists to save. Nothing deletes an answer before its TTL
 *   (no purge endpoint), so no deleted answer can linger;
 * - a lookup the copy cannot answer goes to the primary as before; absences are not remembered.
 *
 * Bounded per worker by entries and bytes (least recently used first); answers bigger than
 * MAX_COPY are not copied (rare, and their rendering outweighs the IPC). One copy serves every
 * plugin instance of the worker: keys are the exact keys (key.ts), which name instance, route,
 * consumer and everything the answer depends on.
 */
import { decodeEntry, type Entry } from './entry.ts';

export interface LocalAnswersOptions {
  maxEntries: number;
  maxBytes: number;
  /** The clock (tests move it). */
  now?: () => number;
}

interface Copy {
  text: string;
  expiresAt: number;
  bytes: number;
}

/** Counted per copy besides its text and key (Map entry, object). */
const COPY_OVERHEAD = 96;
/** Answers bigger than this (as JSON text) are not copied. */
export const MAX_COPY = 256 * 1024;

export class LocalAnswers {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  /** Least recently used first. */
  readonly #copies = new Map<string, Copy>();
  #bytes = 0;

  constructor(opts: LocalAnswersOptions) {
    this.#maxEntries = Math.max(1, opts.maxEntries);
    this.#maxBytes = opts.maxBytes;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#copies.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The entry copied under `key`, if any and not expired (an expired copy is dropped). */
  get(key: string): Entry | null {
    const copy = this.#copies.get(key);
    if (!copy) return null;
    if (copy.expiresAt <= this.#now()) {
      this.#drop(key, copy);
      return null;
    }
    this.#copies.delete(key);
    this.#copies.set(key, copy);
    return decodeEntry(copy.text);
  }

  /** Copies `text` (the encoded `entry`) under `key`, replacing any copy; an expired or oversized one is only a removal. */
  put(key: string, entry: Entry, text: string): void {
    const held = this.#copies.get(key);
    if (held) this.#drop(key, held);
    const expiresAt = entry.createdAt + entry.ttlMs;
    const bytes = COPY_OVERHEAD + 2 * (key.length + text.length);
    if (text.length > MAX_COPY || bytes > this.#maxBytes || expiresAt <= this.#now()) return;
    while (this.#copies.size >= this.#maxEntries || this.#bytes + bytes > this.#maxBytes) {
      const oldest = this.#copies.entries().next().value;
      if (!oldest) break;
      this.#drop(oldest[0], oldest[1]);
    }
    this.#copies.set(key, { text, expiresAt, bytes });
    this.#bytes += bytes;
  }

  #drop(key: string, copy: Copy): void {
    this.#copies.delete(key);
    this.#bytes -= copy.bytes;
  }
}

/** This worker's copies (module state: they outlive snapshots, as the answers in the primary do). */
export const localAnswers = new LocalAnswers({ maxEntries: 1024, maxBytes: 16 * 1024 * 1024 });
