/**
 * The `redis` shared state as plugins get it: Redis while it answers, the node's local store
 * while it does not (limits then hold per node instead of cluster-wide; the cache is per node),
 * with one warning when Redis goes away, a reminder at most every 30 s while it stays away, and a
 * note when it is back. A plugin never fails a request because Redis is down.
 *
 * The cache keeps the local store from serving what a later write replaced: a write or delete
 * that reaches Redis drops the node's local copy too (best effort), so a value cached locally
 * during one outage cannot resurface in the next. A delete made during an outage reaches only the
 * local store: Redis may serve the old value after it is back, until its time to live ends.
 */
import type { Logger } from 'pino';
import type { CounterIncrement, SharedState } from './types.ts';

/** What the wrapper needs from the shared store. */
export interface SharedRemote extends SharedState {
  readonly ready: boolean;
}

export class FailoverState implements SharedState {
  readonly kind = 'redis' as const;
  readonly #shared: SharedRemote;
  readonly #local: SharedState;
  readonly #log: Logger;
  readonly #remindEveryMs: number;
  #downSince: number | null = null;
  #lastWarning = 0;

  constructor(shared: SharedRemote, local: SharedState, log: Logger, remindEveryMs = 30_000) {
    this.#shared = shared;
    this.#local = local;
    this.#log = log;
    this.#remindEveryMs = remindEveryMs;
  }

  /** Whether calls currently go to the local store. */
  get degraded(): boolean {
    return this.#downSince !== null;
  }

  increment(items: CounterIncrement[]): Promise<number[]> {
    return this.#call((s) => s.increment(items));
  }

  add(items: CounterIncrement[]): Promise<void> {
    return this.#call((s) => s.add(items));
  }

  read(keys: string[]): Promise<number[]> {
    return this.#call((s) => s.read(keys));
  }

  get(key: string): Promise<string | null> {
    return this.#call((s) => s.get(key));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#call(
      (s) => s.set(key, value, ttlMs),
      () => this.#dropLocal(key),
    );
  }

  delete(key: string): Promise<void> {
    return this.#call(
      (s) => s.delete(key),
      () => this.#dropLocal(key),
    );
  }

  setInRing(ring: string, max: number, key: string, value: string, ttlMs: number): Promise<void> {
    return this.#call(
      (s) => s.setInRing(ring, max, key, value, ttlMs),
      () => this.#dropLocal(key),
    );
  }

  /** Runs op on Redis if it answers, else on the local store; afterShared runs once Redis took it. */
  async #call<T>(op: (s: SharedState) => Promise<T>, afterShared?: () => void): Promise<T> {
    if (this.#shared.ready) {
      try {
        const out = await op(this.#shared);
        this.#up();
        afterShared?.();
        return out;
      } catch (e) {
        this.#down((e as Error).message);
      }
    } else this.#down('not connected');
    return op(this.#local);
  }

  #dropLocal(key: string): void {
    this.#local.delete(key).catch(() => {});
  }

  #down(reason: string): void {
    const now = Date.now();
    if (this.#downSince === null) {
      this.#downSince = now;
      this.#lastWarning = now;
      this.#log.warn({ err: reason }, 'Redis is unreachable: counting locally on this node (limits hold per node) and caching locally until it is back');
    } else if (now - this.#lastWarning >= this.#remindEveryMs) {
      this.#lastWarning = now;
      this.#log.warn({ err: reason, down_ms: now - this.#downSince }, 'Redis still unreachable: counting and caching locally');
    }
  }

  #up(): void {
    if (this.#downSince === null) return;
    this.#log.info({ down_ms: Date.now() - this.#downSince }, 'Redis is reachable again: counters and cache are shared across nodes again');
    this.#downSince = null;
  }
}
