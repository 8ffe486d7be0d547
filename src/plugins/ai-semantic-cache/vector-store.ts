/**
 * The contract between the semantic cache and where its vectors live (issue 22). Two strategies
 * implement it, chosen by `config.vectordb.strategy`:
 * - `memory` (memory-store.ts): in the worker process, bounded in entries and bytes (least recently
 *   used first), searched by brute force up to `vectordb.lsh.max_candidates` vectors a scope and
 *   through the same locality-sensitive hashing as `redis` above that (exact distances on the
 *   candidates);
 * - `redis` (redis-store.ts): shared by every node through the node's Redis (`MODELGATE_REDIS_URL`),
 *   plain Redis commands only (locality-sensitive-hash buckets in sorted sets, exact distances on
 *   the candidates). A server's own vector search (Redis 8 vector sets, RediSearch) is not used: it
 *   could not be tested here, and is not shipped (docs/decisions.md).
 *
 * What is stored where:
 * - the cached ANSWER (an Entry: entry.ts) lives in the key-value cache of src/state/
 *   (`cacheStore(policy, 'ai-semantic-cache')`: `local` for the memory strategy, the node-wide
 *   cache in the primary; `redis` for the redis strategy), under the exact key of the request
 *   (key.ts). That is also the exact-match lookup (`exact_caching`);
 * - the VECTOR of the request's prompt text lives in a VectorStore under the same id (the exact key),
 *   so a semantic match names the entry to read. A vector whose entry is gone (expired, evicted)
 *   is a miss, and the caller deletes the vector.
 *
 * Scopes: every call names a scope, an opaque string the caller builds from the plugin instance,
 * the route, the consumer (unless the cache is shared), the model and the client API (key.ts).
 * A search only ever sees vectors inserted under the same scope: that is what keeps one consumer's
 * answers from another. Implementations may hash or prefix it; they must not let two scopes meet.
 *
 * Distances (smaller is closer), the same in every strategy (`distance` below is the reference):
 * - `cosine`: 1 − cos(a, b), in [0, 2]; a zero vector is at distance 1 from everything;
 * - `euclidean`: the L2 distance √Σ(aᵢ − bᵢ)².
 * `threshold` is Kong's `vectordb.threshold`: the largest distance that still matches.
 *
 * Failures: a store that cannot answer (Redis down, a timeout) THROWS (rejects). It never hangs:
 * implementations bound every call by their own timeout. The plugin turns a rejection into
 * `X-Cache-Status: Failed` and lets the request through to the provider, or answers 500 when
 * `stop_on_failure` is set. A failed insert is only logged: the answer was already served.
 */

export type DistanceMetric = 'cosine' | 'euclidean';

export type VectorStrategy = 'memory' | 'redis';

/** One neighbour found by a search. */
export interface VectorMatch {
  /** The id it was inserted under (the entry's exact key). */
  id: string;
  /** Its distance to the query vector under the store's metric. */
  distance: number;
}

/** What every strategy is built from (the plugin's `vectordb` config). */
export interface VectorStoreOptions {
  /** `vectordb.dimensions`: every vector inserted or searched has exactly this many components. */
  dimensions: number;
  /** `vectordb.distance_metric`. */
  metric: DistanceMetric;
}

export interface VectorStore {
  readonly kind: VectorStrategy;
  readonly dimensions: number;
  readonly metric: DistanceMetric;
  /**
   * Adds the vector under `id` in `scope` (replacing one already there), forgotten after `ttlMs`
   * milliseconds (at least 1). A vector of the wrong length is a programming error: it throws.
   */
  insert(scope: string, id: string, vector: Float32Array, ttlMs: number): Promise<void>;
  /**
   * At most `k` vectors of `scope` within `threshold` of `vector` (distance ≤ threshold), nearest
   * first; ties keep no particular order. Expired vectors are never returned. An empty array is a
   * miss; a rejection is a failure (see above).
   */
  search(scope: string, vector: Float32Array, k: number, threshold: number): Promise<VectorMatch[]>;
  /** Forgets `id` in `scope` (no error when absent). */
  delete(scope: string, id: string): Promise<void>;
  /** Releases what the store holds (timers, connections); called when a snapshot drops the plugin. */
  close?(): void;
}

/** The distance between two vectors of the same length under `metric` (the reference every strategy keeps to). */
export function distance(metric: DistanceMetric, a: Float32Array, b: Float32Array): number {
  return metric === 'cosine' ? cosineDistance(a, b) : euclideanDistance(a, b);
}

export function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 1;
  const d = 1 - dot / Math.sqrt(na * nb);
  // rounding can take identical vectors a hair below 0
  return d < 0 ? 0 : d;
}

export function euclideanDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Thrown by a store for a vector whose length is not the configured `dimensions`. */
export class DimensionError extends Error {
  constructor(expected: number, got: number) {
    super(`the vector has ${got} dimensions, the vector database is configured for ${expected}`);
  }
}

export function checkDimensions(store: { dimensions: number }, vector: Float32Array): void {
  if (vector.length !== store.dimensions) throw new DimensionError(store.dimensions, vector.length);
}
