/**
 * The `memory` vector store: vectors in this worker process, searched by brute force, bounded in
 * entries and in bytes with least-recently-used eviction (a Map keeps insertion order; a match or
 * a re-insert moves its entry to the end).
 *
 * Per worker, not per node: a vector search cannot run over the primary's IPC cache without a new
 * message type and copying every vector across, so with N workers a paraphrase finds the entry only
 * when it lands on the worker that embedded the original (the exact lookup is node-wide: the
 * answers live in the primary's cache). The `redis` strategy is the one shared by every worker and
 * node.
 *
 * Search cost: one pass over the scope's vectors, `dimensions` multiply-adds each. At the default
 * bound (10,000 vectors) of 1,536 dimensions that is ~15 M multiply-adds, a few milliseconds; a
 * scope holds one consumer's requests for one model and parameter set, usually far fewer. Vectors
 * are Float32Array (4 bytes a component); a vector's bytes count towards `max_bytes` with its ids.
 */
import { checkDimensions, distance, type DistanceMetric, type VectorMatch, type VectorStore } from './vector-store.ts';

interface Item {
  scope: string;
  id: string;
  vector: Float32Array;
  expiresAt: number;
  bytes: number;
}

export interface MemoryStoreOptions {
  dimensions: number;
  metric: DistanceMetric;
  maxEntries: number;
  maxBytes: number;
  /** The clock (tests move it). */
  now?: () => number;
}

/** Fixed overhead counted per vector besides its components and ids (Map entry, object, typed array header). */
const ITEM_OVERHEAD = 160;

export class MemoryVectorStore implements VectorStore {
  readonly kind = 'memory' as const;
  readonly dimensions: number;
  readonly metric: DistanceMetric;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  /** Every vector, least recently used first, by `scope \0 id`. */
  readonly #items = new Map<string, Item>();
  /** The keys of each scope's vectors, so a search reads only its scope. */
  readonly #scopes = new Map<string, Set<string>>();
  #bytes = 0;

  constructor(opts: MemoryStoreOptions) {
    this.dimensions = opts.dimensions;
    this.metric = opts.metric;
    this.#maxEntries = Math.max(1, opts.maxEntries);
    this.#maxBytes = opts.maxBytes;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#items.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async insert(scope: string, id: string, vector: Float32Array, ttlMs: number): Promise<void> {
    checkDimensions(this, vector);
    const key = `${scope}\u0000${id}`;
    this.#remove(key);
    const bytes = ITEM_OVERHEAD + vector.byteLength + 2 * (scope.length + id.length) * 2;
    if (bytes > this.#maxBytes) return;
    while (this.#items.size >= this.#maxEntries || this.#bytes + bytes > this.#maxBytes) {
      const oldest = this.#items.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
    // a copy: the caller's array may be reused
    this.#items.set(key, { scope, id, vector: Float32Array.from(vector), expiresAt: this.#now() + Math.max(1, ttlMs), bytes });
    let set = this.#scopes.get(scope);
    if (!set) this.#scopes.set(scope, (set = new Set()));
    set.add(key);
    this.#bytes += bytes;
  }

  async search(scope: string, vector: Float32Array, k: number, threshold: number): Promise<VectorMatch[]> {
    checkDimensions(this, vector);
    const keys = this.#scopes.get(scope);
    if (!keys) return [];
    const now = this.#now();
    const found: (VectorMatch & { key: string })[] = [];
    for (const key of keys) {
      const item = this.#items.get(key)!;
      if (item.expiresAt <= now) {
        this.#remove(key);
        continue;
      }
      const d = distance(this.metric, vector, item.vector);
      if (d <= threshold) found.push({ id: item.id, distance: d, key });
    }
    found.sort((a, b) => a.distance - b.distance);
    const out = found.slice(0, Math.max(0, k));
    // what matched was used: it goes last in the eviction order
    for (const m of out) {
      const item = this.#items.get(m.key)!;
      this.#items.delete(m.key);
      this.#items.set(m.key, item);
    }
    return out.map(({ id, distance }) => ({ id, distance }));
  }

  async delete(scope: string, id: string): Promise<void> {
    this.#remove(`${scope}\u0000${id}`);
  }

  #remove(key: string): void {
    const item = this.#items.get(key);
    if (!item) return;
    this.#items.delete(key);
    this.#bytes -= item.bytes;
    const set = this.#scopes.get(item.scope);
    if (set) {
      set.delete(key);
      if (set.size === 0) this.#scopes.delete(item.scope);
    }
  }
}
