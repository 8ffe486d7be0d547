/**
 * The `local` counters of a node that runs one proxy worker: the worker holds them itself.
 *
 * With several workers the counters live in the primary, so that every worker counts against the
 * same numbers (src/state/ipc.ts). With one worker that round trip buys nothing: no other process
 * counts. It was most of a rate-limited route's cost: each message woke the primary on the
 * worker's core with cold caches, and the requests resumed only in the turns after the reply
 * (key-auth + rate-limiting + ai-rate-limiting-advanced at ~1.4× the chat route's CPU, ~1.2×
 * without the round trips: docs/performance.md, "What limits it now"). So here every call is
 * answered from a MemoryCounters in the worker, without a turn of the event loop.
 *
 * The primary still keeps a copy, so that a worker's crash loses no more than the last moment of
 * counting: the increments go to it without an answer, summed per key, every MIRROR_MS (and when
 * the worker drains). A worker starts from that copy (`dump`): calls made before it arrives wait
 * for it. If the primary cannot answer, the worker counts from zero and says so in the log.
 *
 * The cache (get, set, rings) stays in the primary: the Responses store reads what an earlier
 * worker wrote, and a cache miss costs a provider call, not a limit.
 */
import { MemoryCounters } from './memory.ts';
import type { IpcState } from './ipc.ts';
import type { CounterIncrement, SharedState } from './types.ts';

/** How often the worker's increments go to the primary's copy: what a crash can lose at most. */
const MIRROR_MS = 250;

export class OwnedCounters implements SharedState {
  readonly kind = 'local' as const;
  readonly #counters = new MemoryCounters();
  readonly #ipc: IpcState;
  /** Increments not yet sent to the primary, summed per key (with the ttl of the first). */
  #unsent = new Map<string, CounterIncrement>();
  #timer: NodeJS.Timeout | null = null;
  /** Until the primary's copy is in: what calls wait for. */
  #seeding: Promise<void> | null;

  constructor(ipc: IpcState, onSeedFailed: (e: Error) => void) {
    this.#ipc = ipc;
    this.#seeding = ipc.dump().then(
      (triples) => {
        this.#counters.seed(triples);
        this.#seeding = null;
      },
      (e: Error) => {
        onSeedFailed(e);
        this.#seeding = null;
      },
    );
  }

  increment(items: CounterIncrement[]): Promise<number[]> {
    if (this.#seeding) return this.#seeding.then(() => this.#increment(items));
    return Promise.resolve(this.#increment(items));
  }

  add(items: CounterIncrement[]): Promise<void> {
    if (this.#seeding) return this.#seeding.then(() => void this.#increment(items));
    this.#increment(items);
    return Promise.resolve();
  }

  read(keys: string[]): Promise<number[]> {
    if (this.#seeding) return this.#seeding.then(() => this.#counters.read(keys));
    return Promise.resolve(this.#counters.read(keys));
  }

  #increment(items: CounterIncrement[]): number[] {
    const values = this.#counters.increment(items);
    for (const it of items) {
      const unsent = this.#unsent.get(it.key);
      if (unsent) unsent.delta += it.delta;
      else this.#unsent.set(it.key, { key: it.key, delta: it.delta, ttlMs: it.ttlMs });
    }
    this.#timer ??= setTimeout(() => this.flushHeldAdds(), MIRROR_MS).unref();
    return values;
  }

  /** Sends the increments not yet in the primary's copy (the mirror's tick, a worker's drain). */
  flushHeldAdds(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#unsent.size === 0) return;
    const items = [...this.#unsent.values()];
    this.#unsent = new Map();
    this.#ipc.mirror(items);
  }

  get(key: string): Promise<string | null> {
    return this.#ipc.get(key);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#ipc.set(key, value, ttlMs);
  }

  delete(key: string): Promise<void> {
    return this.#ipc.delete(key);
  }

  setInRing(ring: string, max: number, key: string, value: string, ttlMs: number): Promise<void> {
    return this.#ipc.setInRing(ring, max, key, value, ttlMs);
  }

  close(): void {
    this.#counters.close();
  }
}
