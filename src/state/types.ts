/**
 * Shared state for plugins that count across requests (rate limits, token budgets) or cache
 * answers. Two implementations behind one interface:
 * - local: node-wide, held by the primary process and reached over IPC, so every worker of a node
 *   shares the same counters and cache (as Kong's `local` policy shares an nginx shared dict);
 * - redis: shared by every node (src/state/redis.ts), falling back to the local store with a
 *   warning while Redis is unreachable (src/state/failover.ts) — never failing the request.
 * Counters are plain numbers under string keys with a time to live; a fixed-window limiter puts
 * the window's start in the key. Cache entries are strings with a time to live; the local cache is
 * bounded (least recently used entries go first), Redis bounds itself (its `maxmemory`).
 */
export interface CounterIncrement {
  key: string;
  delta: number;
  /** Lifetime of the key if this increment creates it. */
  ttlMs: number;
}

export interface CounterStore {
  readonly kind: 'local' | 'redis';
  /** Adds each delta atomically; returns the values after the increments, in order. */
  increment(items: CounterIncrement[]): Promise<number[]>;
  /**
   * Adds each delta atomically, as `increment` does, without answering the new values: for counts
   * whose totals the caller does not read (usage added once the answer is out, a refund). Resolves
   * once the store has taken the call (`local`: once it is sent to the primary).
   */
  add(items: CounterIncrement[]): Promise<void>;
  /** Current values (0 for absent or expired keys), in order. */
  read(keys: string[]): Promise<number[]>;
}

/**
 * A cache of string values (callers serialise). A cache is an optimisation: callers treat a
 * rejected call as a miss, and a value may vanish before its time to live (evicted, or written to
 * the other store during a Redis outage).
 */
export interface CacheStore {
  readonly kind: 'local' | 'redis';
  /** The value, or null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Stores (or replaces) the value for ttlMs milliseconds (at least 1). */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Stores the value as `set` does and appends `key` to the ring `ring`, which keeps the last `max`
   * keys: the values of keys pushed out are deleted. One round trip, atomic on Redis. What a
   * store bounded by count per owner needs (the Responses store: at most N responses per consumer).
   */
  setInRing(ring: string, max: number, key: string, value: string, ttlMs: number): Promise<void>;
}

/** What a worker installs per policy: counters and cache share one store (and one Redis link). */
export interface SharedState extends CounterStore, CacheStore {}
