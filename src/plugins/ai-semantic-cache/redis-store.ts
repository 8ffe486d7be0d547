/**
 * The `redis` vector store (issue 22): the semantic cache shared by every worker and node, on the
 * node's Redis (`MODELGATE_REDIS_URL`, the connection src/state/redis.ts opens), plain Redis 7 with
 * no modules. Vectors are hashed into buckets (redis-lsh.ts: sparse random hyperplanes for cosine,
 * sparse p-stable projections for euclidean); a search reads the query's buckets, fetches the candidates'
 * vectors and computes their exact distances here, so a match is exactly as near as it says.
 *
 * Keys (prefix `modelgate:vec:<layout>:<scope hash>:`; the layout hashes the hash family's version,
 * the metric, dimensions, table shape, seed and, for euclidean, the bucket width, so a config change starts an empty index
 * instead of reading buckets hashed otherwise; the scope is hashed, so scopes never share a key):
 * - `v:<id>`: the vector, once, as little-endian Float32 bytes, with the entry's TTL (PX);
 * - `b:<table>:<code>`: a bucket, a sorted set of ids scored by their expiry (epoch ms). Each insert
 *   drops the bucket's expired members and, past MAX_BUCKET, its soonest-expiring ones, and keeps
 *   the key's own expiry at its newest member's: a bucket never outlives its entries nor grows
 *   without bound. A search reads live members only (score ≥ now), newest first.
 *
 * Per search: two round trips — one pipeline of bucket reads (`tables × (1 + probes)` ZRANGEs of
 * at most MAX_PER_BUCKET ids), one MGET of at most `max_candidates` vectors — and at most
 * `max_candidates` exact distances. A candidate whose vector is gone (deleted, evicted by Redis's
 * maxmemory policy) is removed from the bucket that named it.
 *
 * Failures: every call is bounded by the connection's command timeout (`MODELGATE_REDIS_TIMEOUT_MS`);
 * while Redis is not connected, calls reject at once (the connection never queues). The plugin
 * turns a rejection into `X-Cache-Status: Failed`. Unlike counters, there is no local fallback: a
 * per-node index would answer differently on every node (vector-store.ts).
 *
 * Native vector search (Redis 8 vector sets VADD/VSIM, RediSearch FT.SEARCH) is NOT used: the
 * machine this was built on has Redis 7.0 without modules, so that path could not be tested
 * (docs/plugins.md, docs/decisions.md).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { bucketCodes, lshFamily, LSH_DEFAULTS, MAX_PER_BUCKET, storeCodes, type LshFamily, type LshParams, type LshSettings } from './redis-lsh.ts';
import { checkDimensions, distance, type DistanceMetric, type VectorMatch, type VectorStore } from './vector-store.ts';
import { registerStrategy } from './stores.ts';
import { redisClient } from '../../state/index.ts';

/** A bucket holds at most this many ids: past it the soonest-expiring go (a hot bucket stays bounded). */
export const MAX_BUCKET = 1000;
export { LSH_DEFAULTS, MAX_PER_BUCKET, type LshSettings };

export interface RedisStoreOptions {
  dimensions: number;
  metric: DistanceMetric;
  threshold: number;
  lsh: LshSettings;
  /** The connection, asked for at each call (it is installed after the worker starts). */
  client: () => Redis | null;
  /** Bounds a call when the connection has no command timeout of its own (ms). */
  timeoutMs?: number;
  /** Key namespace (tests); `modelgate:` by default, as src/state/redis.ts. */
  prefix?: string;
}

if (os.endianness() !== 'LE') throw new Error('the redis vector store stores Float32 little-endian and runs on little-endian machines only');

export class RedisVectorStore implements VectorStore {
  readonly kind = 'redis' as const;
  readonly dimensions: number;
  readonly metric: DistanceMetric;
  readonly family: LshFamily;
  readonly #opts: RedisStoreOptions;
  readonly #base: string;

  constructor(opts: RedisStoreOptions) {
    this.dimensions = opts.dimensions;
    this.metric = opts.metric;
    this.#opts = opts;
    const params: LshParams = { metric: opts.metric, dimensions: opts.dimensions, threshold: opts.threshold, tables: opts.lsh.tables, bits: opts.lsh.bits, seed: opts.lsh.seed };
    this.family = lshFamily(params);
    this.#base = `${opts.prefix ?? 'modelgate:'}vec:${this.family.layout}:`;
  }

  #scope(scope: string): string {
    return this.#base + createHash('sha256').update(scope).digest('base64url').slice(0, 22) + ':';
  }

  #client(): Redis {
    const c = this.#opts.client();
    if (!c || c.status !== 'ready') throw new Error('Redis is not connected');
    return c;
  }

  /** The call, or a rejection once the connection's timeout passed (a pipeline must not outlast it either). */
  #bounded<T>(c: Redis, work: Promise<T>): Promise<T> {
    const ms = (c.options.commandTimeout as number | undefined) ?? this.#opts.timeoutMs ?? 1000;
    let timer: NodeJS.Timeout;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer in ${ms} ms`)), ms);
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }

  async insert(scope: string, id: string, vector: Float32Array, ttlMs: number): Promise<void> {
    checkDimensions(this, vector);
    const c = this.#client();
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const now = Date.now();
    const s = this.#scope(scope);
    const m = c.multi();
    m.set(`${s}v:${id}`, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), 'PX', ttl);
    storeCodes(this.family, vector).forEach((code, t) => {
      const bucket = `${s}b:${t}:${code}`;
      m.zadd(bucket, now + ttl, id);
      m.zremrangebyscore(bucket, '-inf', `(${now}`);
      m.zremrangebyrank(bucket, 0, -(MAX_BUCKET + 1));
      // NX sets an expiry on a new bucket, GT only ever lengthens it (GT alone skips keys without one)
      m.pexpire(bucket, ttl, 'NX');
      m.pexpire(bucket, ttl, 'GT');
    });
    const out = await this.#bounded(c, m.exec());
    const failed = out?.find(([e]) => e);
    if (failed) throw failed[0];
  }

  async search(scope: string, vector: Float32Array, k: number, threshold: number): Promise<VectorMatch[]> {
    checkDimensions(this, vector);
    if (k <= 0) return [];
    const c = this.#client();
    const s = this.#scope(scope);
    const now = Date.now();
    // own buckets of every table first, then the probes: the cap drops the least likely first
    const { codes } = bucketCodes(this.family, vector, this.#opts.lsh.probes);
    const buckets: string[] = [];
    const seen = new Set<string>();
    const depth = Math.max(...codes.map((t) => t.length));
    for (let p = 0; p < depth; p++) {
      codes.forEach((table, t) => {
        if (p >= table.length) return;
        const key = `${s}b:${t}:${table[p]}`;
        if (!seen.has(key)) seen.add(key), buckets.push(key);
      });
    }
    const pipe = c.pipeline();
    for (const b of buckets) pipe.zrevrangebyscore(b, '+inf', now, 'LIMIT', 0, MAX_PER_BUCKET);
    const read = await this.#bounded(c, pipe.exec());
    const from = new Map<string, string>(); // candidate id → a bucket that named it
    const cap = this.#opts.lsh.max_candidates;
    outer: for (let i = 0; i < buckets.length; i++) {
      const [err, ids] = read![i];
      if (err) throw err;
      for (const id of ids as string[]) {
        if (from.has(id)) continue;
        from.set(id, buckets[i]);
        if (from.size >= cap) break outer;
      }
    }
    if (from.size === 0) return [];
    const ids = [...from.keys()];
    const blobs = await this.#bounded(c, c.mgetBuffer(...ids.map((id) => `${s}v:${id}`)));
    const found: VectorMatch[] = [];
    const gone: [string, string][] = [];
    const v = new Float32Array(this.dimensions);
    const bytes = new Uint8Array(v.buffer);
    for (let i = 0; i < ids.length; i++) {
      const blob = blobs[i];
      if (!blob || blob.length !== v.byteLength) {
        if (!blob) gone.push([from.get(ids[i])!, ids[i]]);
        continue;
      }
      bytes.set(blob);
      const d = distance(this.metric, vector, v);
      if (d <= threshold) found.push({ id: ids[i], distance: d });
    }
    if (gone.length) {
      // best effort: the next search finds them gone again if this does not reach Redis
      const p = c.pipeline();
      for (const [bucket, id] of gone) p.zrem(bucket, id);
      p.exec().catch(() => {});
    }
    found.sort((a, b) => a.distance - b.distance);
    return found.slice(0, k);
  }

  async delete(scope: string, id: string): Promise<void> {
    const c = this.#client();
    const s = this.#scope(scope);
    const key = `${s}v:${id}`;
    const blob = await this.#bounded(c, c.getBuffer(key));
    const m = c.multi();
    if (blob && blob.length === this.dimensions * 4) {
      const v = new Float32Array(this.dimensions);
      new Uint8Array(v.buffer).set(blob);
      storeCodes(this.family, v).forEach((code, t) => m.zrem(`${s}b:${t}:${code}`, id));
    }
    m.del(key);
    await this.#bounded(c, m.exec());
  }
}

registerStrategy('redis', (opts, config) => {
  const lsh = { ...LSH_DEFAULTS, ...((config as { lsh?: Partial<LshSettings> | null }).lsh ?? {}) };
  return new RedisVectorStore({ ...opts, threshold: config.threshold, lsh, client: redisClient });
});
