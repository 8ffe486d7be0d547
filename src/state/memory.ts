/**
 * Counters in memory with expiry. Lives in the primary (one per node); workers reach it through
 * src/state/ipc.ts, except a node's only worker, which holds its own (src/state/owned.ts). Expired
 * keys are swept lazily on access and by a periodic sweep bounded in work, so memory follows the
 * number of live windows.
 */
import type { CounterIncrement } from './types.ts';

interface Entry {
  value: number;
  expiresAt: number;
}

export class MemoryCounters {
  readonly #entries = new Map<string, Entry>();
  readonly #timer: NodeJS.Timeout;

  constructor(sweepEveryMs = 10_000) {
    this.#timer = setInterval(() => this.sweep(), sweepEveryMs);
    this.#timer.unref();
  }

  increment(items: CounterIncrement[], now = Date.now()): number[] {
    return items.map(({ key, delta, ttlMs }) => {
      let e = this.#entries.get(key);
      if (!e || e.expiresAt <= now) {
        e = { value: 0, expiresAt: now + ttlMs };
        this.#entries.set(key, e);
      }
      e.value += delta;
      return e.value;
    });
  }

  read(keys: string[], now = Date.now()): number[] {
    return keys.map((key) => {
      const e = this.#entries.get(key);
      return e && e.expiresAt > now ? e.value : 0;
    });
  }

  /** The live counters as flat (key, value, ms left to live) triples: what a worker that owns the counters starts from (src/state/owned.ts). */
  dump(now = Date.now()): (string | number)[] {
    const out: (string | number)[] = [];
    for (const [key, e] of this.#entries) if (e.expiresAt > now) out.push(key, e.value, e.expiresAt - now);
    return out;
  }

  /** Takes in a dump's triples (a key already here keeps its own value: it was counted since). */
  seed(triples: readonly unknown[], now = Date.now()): void {
    for (let i = 0; i + 2 < triples.length; i += 3) {
      const key = triples[i];
      const value = triples[i + 1];
      const left = triples[i + 2];
      if (typeof key !== 'string' || typeof value !== 'number' || typeof left !== 'number' || !(left > 0)) continue;
      if (!this.#entries.has(key)) this.#entries.set(key, { value, expiresAt: now + left });
    }
  }

  sweep(now = Date.now(), budget = 100_000): void {
    for (const [key, e] of this.#entries) {
      if (budget-- <= 0) return;
      if (e.expiresAt <= now) this.#entries.delete(key);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
