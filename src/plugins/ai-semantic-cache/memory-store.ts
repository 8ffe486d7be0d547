/**
 * The `memory` vector store: vectors in this worker process, bounded in entries and in bytes with
 * least-recently-used eviction (a Map keeps insertion order; a match or a re-insert moves its
 * entry to the end).
 *
 * Per worker, not per node: a vector search cannot run over the primary's IPC cache without a new
 * message type and copying every vector across, so with N workers a paraphrase finds the entry only
 * when it lands on the worker that embedded the original (the exact lookup is node-wide: the
 * answers live in the primary's cache). The `redis` strategy is the one shared by every worker and
 * node.
 *
 * Search: a scope of at most `exactUpTo` vectors (by default `lsh.max_candidates`, 256) is searched
 * by brute force — no index can do fewer exact distances than its candidate cap, and brute force
 * never misses. A bigger scope is searched through the same locality-sensitive hashing as the
 * redis store (redis-lsh.ts: the same functions, own buckets then query-directed probes, at most
 * MAX_PER_BUCKET newest ids a bucket, at most `max_candidates` candidates), with exact distances
 * on the candidates: a match is exactly as near as it says; recall is the index's
 * (bench/semantic-recall.ts, docs/performance.md). Every vector is hashed when inserted (≈ 7,500
 * additions at 1,536 dimensions with the sparse projections), so a scope crossing the limit needs
 * no rebuild.
 *
 * Buckets are arrays in insertion order (newest last) of the items themselves; a removed item is
 * flagged and skipped, and a bucket is compacted once half of it is dead, so a removal costs
 * O(tables) amortised and a search walks no string keys. Cosine keeps each vector's squared norm,
 * so an exact distance is one multiply-add a component (the same arithmetic as
 * vector-store.ts's cosineDistance, in the same order: the same result).
 *
 * Memory: a vector's bytes (4 a component), its ids, and an estimate for its bucket memberships
 * count towards `max_bytes`.
 */
import { bucketCodes, lshFamily, LSH_DEFAULTS, MAX_PER_BUCKET, storeCodes, type LshFamily, type LshSettings } from './redis-lsh.ts';
import { checkDimensions, euclideanDistance, type DistanceMetric, type VectorMatch, type VectorStore } from './vector-store.ts';

interface Item {
  scope: string;
  id: string;
  key: string;
  vector: Float32Array;
  /** Σ vᵢ² (cosine). */
  norm2: number;
  expiresAt: number;
  bytes: number;
  buckets: Bucket[];
  removed: boolean;
}

interface Bucket {
  key: string;
  items: Item[];
  dead: number;
}

interface Scope {
  keys: Set<string>;
  buckets: Map<string, Bucket>;
}

export interface MemoryStoreOptions {
  dimensions: number;
  metric: DistanceMetric;
  maxEntries: number;
  maxBytes: number;
  /** `vectordb.threshold`: the euclidean family's bucket width (redis-lsh.ts); 0.1 (the schema's default) when not given. */
  threshold?: number;
  /** `vectordb.lsh`; LSH_DEFAULTS when not given. */
  lsh?: LshSettings;
  /** Scopes of at most this many vectors are searched by brute force (default `lsh.max_candidates`). */
  exactUpTo?: number;
  /** The clock (tests move it). */
  now?: () => number;
}

/** Fixed overhead counted per vector besides its components and ids (Map entry, object, typed array header). */
const ITEM_OVERHEAD = 160;
/** Counted per bucket membership (an array slot, its share of the bucket and its code). */
const MEMBERSHIP_BYTES = 48;

export class MemoryVectorStore implements VectorStore {
  readonly kind = 'memory' as const;
  readonly dimensions: number;
  readonly metric: DistanceMetric;
  readonly family: LshFamily;
  readonly lsh: LshSettings;
  readonly #exactUpTo: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  /** Every vector, least recently used first, by `scope \0 id`. */
  readonly #items = new Map<string, Item>();
  readonly #scopes = new Map<string, Scope>();
  #bytes = 0;

  constructor(opts: MemoryStoreOptions) {
    this.dimensions = opts.dimensions;
    this.metric = opts.metric;
    this.lsh = opts.lsh ?? LSH_DEFAULTS;
    this.family = lshFamily({ metric: opts.metric, dimensions: opts.dimensions, threshold: opts.threshold ?? 0.1, tables: this.lsh.tables, bits: this.lsh.bits, seed: this.lsh.seed });
    this.#exactUpTo = opts.exactUpTo ?? this.lsh.max_candidates;
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
    const tables = this.lsh.tables;
    const bytes = ITEM_OVERHEAD + vector.byteLength + 2 * (scope.length + id.length) * 2 + tables * MEMBERSHIP_BYTES;
    if (bytes > this.#maxBytes) return;
    while (this.#items.size >= this.#maxEntries || this.#bytes + bytes > this.#maxBytes) {
      const oldest = this.#items.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
    // a copy: the caller's array may be reused
    const copy = Float32Array.from(vector);
    let norm2 = 0;
    for (let i = 0; i < copy.length; i++) norm2 += copy[i] * copy[i];
    const item: Item = { scope, id, key, vector: copy, norm2, expiresAt: this.#now() + Math.max(1, ttlMs), bytes, buckets: [], removed: false };
    this.#items.set(key, item);
    let s = this.#scopes.get(scope);
    if (!s) this.#scopes.set(scope, (s = { keys: new Set(), buckets: new Map() }));
    s.keys.add(key);
    const codes = storeCodes(this.family, copy);
    for (let t = 0; t < codes.length; t++) {
      const bk = `${t}:${codes[t]}`;
      let b = s.buckets.get(bk);
      if (!b) s.buckets.set(bk, (b = { key: bk, items: [], dead: 0 }));
      b.items.push(item);
      item.buckets.push(b);
    }
    this.#bytes += bytes;
  }

  async search(scope: string, vector: Float32Array, k: number, threshold: number): Promise<VectorMatch[]> {
    checkDimensions(this, vector);
    const s = this.#scopes.get(scope);
    if (!s || k <= 0) return [];
    const now = this.#now();
    const candidates = s.keys.size <= this.#exactUpTo ? this.#all(s) : this.#fromBuckets(s, vector);
    let qn = 0;
    if (this.metric === 'cosine') for (let i = 0; i < vector.length; i++) qn += vector[i] * vector[i];
    const found: { item: Item; distance: number }[] = [];
    for (const item of candidates) {
      if (item.expiresAt <= now) {
        this.#remove(item.key);
        continue;
      }
      const d = this.metric === 'cosine' ? cosineWithNorms(vector, qn, item.vector, item.norm2) : euclideanDistance(vector, item.vector);
      if (d <= threshold) found.push({ item, distance: d });
    }
    found.sort((a, b) => a.distance - b.distance);
    const out = found.slice(0, k);
    // what matched was used: it goes last in the eviction order
    for (const { item } of out) {
      this.#items.delete(item.key);
      this.#items.set(item.key, item);
    }
    return out.map(({ item, distance }) => ({ id: item.id, distance }));
  }

  async delete(scope: string, id: string): Promise<void> {
    this.#remove(`${scope}\u0000${id}`);
  }

  /** Every live item of the scope (a copy: the search may remove expired ones while reading). */
  #all(s: Scope): Item[] {
    const out: Item[] = [];
    for (const key of s.keys) out.push(this.#items.get(key)!);
    return out;
  }

  /** The candidates the index names, read as redis-store.ts reads Redis: own buckets of every table, then the probes; newest first. */
  #fromBuckets(s: Scope, vector: Float32Array): Item[] {
    const { codes } = bucketCodes(this.family, vector, this.lsh.probes);
    const cap = this.lsh.max_candidates;
    const seen = new Set<Item>();
    const read = new Set<Bucket>();
    let depth = 0;
    for (const t of codes) depth = Math.max(depth, t.length);
    outer: for (let p = 0; p < depth; p++) {
      for (let t = 0; t < codes.length; t++) {
        if (p >= codes[t].length) continue;
        const b = s.buckets.get(`${t}:${codes[t][p]}`);
        if (!b || read.has(b)) continue;
        read.add(b);
        for (let i = b.items.length - 1, taken = 0; i >= 0 && taken < MAX_PER_BUCKET; i--) {
          const item = b.items[i];
          if (item.removed) continue;
          taken++;
          seen.add(item);
          if (seen.size >= cap) break outer;
        }
      }
    }
    return [...seen];
  }

  #remove(key: string): void {
    const item = this.#items.get(key);
    if (!item) return;
    this.#items.delete(key);
    this.#bytes -= item.bytes;
    item.removed = true;
    const s = this.#scopes.get(item.scope);
    if (!s) return;
    s.keys.delete(key);
    if (s.keys.size === 0) {
      this.#scopes.delete(item.scope);
      return;
    }
    for (const b of item.buckets) {
      b.dead++;
      if (b.dead * 2 > b.items.length) {
        b.items = b.items.filter((i) => !i.removed);
        b.dead = 0;
        if (b.items.length === 0) s.buckets.delete(b.key);
      }
    }
  }
}

/** vector-store.ts's cosineDistance with both squared norms known (same operations, same order). */
function cosineWithNorms(a: Float32Array, na: number, b: Float32Array, nb: number): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  if (na === 0 || nb === 0) return 1;
  const d = 1 - dot / Math.sqrt(na * nb);
  // rounding can take identical vectors a hair below 0
  return d < 0 ? 0 : d;
}
