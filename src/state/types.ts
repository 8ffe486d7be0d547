/**
 * Shared state for plugins that count across requests (rate limits, token budgets) and, later,
 * caches. Two implementations behind one interface:
 * - local: node-wide, held by the primary process and reached over IPC, so every worker of a node
 *   shares the same counters (as Kong's `local` policy shares an nginx shared dict);
 * - redis: shared by every node (src/state/redis.ts), falling back to local counting with a
 *   warning while Redis is unreachable — never failing the request.
 * Counters are plain numbers under string keys with a time to live; a fixed-window limiter puts
 * the window's start in the key.
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
  /** Current values (0 for absent or expired keys), in order. */
  read(keys: string[]): Promise<number[]>;
}
