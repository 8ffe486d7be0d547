/**
 * Recall of the vector stores' locality-sensitive hashing against brute force (issue 22),
 * over synthetic clustered vectors (1536 dimensions, the size of OpenAI's text-embedding-3-small):
 *
 * - data: CLUSTERS topic centres (random unit vectors), each stored vector a centre plus noise, at
 *   cosine distance ≈ 0.15 from its centre (≈ 0.28 from its neighbours: same topic, other questions,
 *   beyond the default threshold 0.1);
 * - queries: 3 in 4 a paraphrase of a stored vector at a distance drawn uniformly in (0, threshold]
 *   (the hits; uniform up to the threshold is harder than real paraphrases, which sit mostly near
 *   0), 1 in 4 a new question of a known topic (brute force finds nothing: those measure the
 *   candidates a miss reads);
 * - recall@1: among the queries brute force answers (its nearest within the threshold), the share
 *   the index answers with the same vector; candidates: distinct vectors whose exact distance the
 *   index computes; µs: hashing + choosing candidates + exact distances, per query, in memory (the
 *   Redis round trips are in `--redis` and in the cache benchmark: docs/performance.md).
 *
 * The index is simulated in memory exactly as redis-store.ts reads Redis (its functions from
 * redis-lsh.ts, buckets read own-code first then probes, each newest first up to MAX_PER_BUCKET,
 * at most max_candidates); with `--redis` the real store also runs against a throwaway
 * redis-server and its recall and per-search latency are reported.
 *
 * With `--memory` the memory store (memory-store.ts) runs on the same data, brute force and through
 * its index, and its recall and µs per search are reported. The first line is hashing alone.
 *
 *   node bench/semantic-recall.ts [--n 10000] [--queries 1000] [--sweep] [--redis] [--memory] [--metric cosine|euclidean]
 */
import { distance, type DistanceMetric } from '../src/plugins/ai-semantic-cache/vector-store.ts';
import { bucketCodes, lshFamily, storeCodes } from '../src/plugins/ai-semantic-cache/redis-lsh.ts';
import { LSH_DEFAULTS, MAX_PER_BUCKET, type LshSettings } from '../src/plugins/ai-semantic-cache/redis-lsh.ts';

export const DIMENSIONS = 1536;

/** xorshift32 uniform and Box–Muller Gaussian from one seed (the data, not the index, depend on it). */
export function rng(seed: number): { uniform: () => number; gauss: () => number } {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 2 ** 32;
  };
  return { uniform, gauss: () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

function randomUnit(r: ReturnType<typeof rng>, dims: number): Float32Array {
  const v = new Float32Array(dims);
  for (let i = 0; i < dims; i++) v[i] = r.gauss();
  return unit(v);
}

/** `base` moved to cosine distance `d` from itself (exactly, up to rounding): base·cos θ + u⊥·sin θ. */
function around(r: ReturnType<typeof rng>, base: Float32Array, d: number): Float32Array {
  const u = randomUnit(r, base.length);
  let dot = 0;
  for (let i = 0; i < u.length; i++) dot += u[i] * base[i];
  for (let i = 0; i < u.length; i++) u[i] -= dot * base[i];
  unit(u);
  const cos = 1 - d;
  const sin = Math.sqrt(1 - cos * cos);
  const out = new Float32Array(base.length);
  for (let i = 0; i < out.length; i++) out[i] = base[i] * cos + u[i] * sin;
  return unit(out);
}

export interface Dataset {
  stored: Float32Array[];
  queries: Float32Array[];
}

/**
 * `n` stored vectors in `clusters` topics and `queries` queries (3 in 4 paraphrases within
 * `cosineThreshold` of a stored one, 1 in 4 new questions of a topic). Unit vectors: for euclidean,
 * a cosine distance d is a euclidean one of √(2d).
 */
export function dataset(seed: number, n: number, queries: number, cosineThreshold: number, clusters = 100, dims = DIMENSIONS): Dataset {
  const r = rng(seed);
  const centres = Array.from({ length: clusters }, () => randomUnit(r, dims));
  const stored = Array.from({ length: n }, () => around(r, centres[Math.floor(r.uniform() * clusters)], 0.15));
  const qs: Float32Array[] = [];
  for (let i = 0; i < queries; i++) {
    if (i % 4 === 3) qs.push(around(r, centres[Math.floor(r.uniform() * clusters)], 0.15));
    else qs.push(around(r, stored[Math.floor(r.uniform() * n)], r.uniform() * cosineThreshold));
  }
  return { stored, queries: qs };
}

export interface RecallResult {
  /** Queries brute force answers. */
  answerable: number;
  recall: number;
  /** Mean distinct candidates per query (exact distances computed). */
  candidates: number;
  /** Mean µs per query, in memory. */
  usPerQuery: number;
}

/** The index in memory, read as redis-store.ts reads Redis; recall@1 against brute force. */
export function measureRecall(data: Dataset, metric: DistanceMetric, threshold: number, lsh: LshSettings = LSH_DEFAULTS): RecallResult {
  const dims = data.stored[0].length;
  const family = lshFamily({ metric, dimensions: dims, threshold, tables: lsh.tables, bits: lsh.bits, seed: lsh.seed });
  const buckets = new Map<string, number[]>();
  data.stored.forEach((v, id) => {
    storeCodes(family, v).forEach((code, t) => {
      const key = `${t}:${code}`;
      let b = buckets.get(key);
      if (!b) buckets.set(key, (b = []));
      b.push(id);
    });
  });
  let answerable = 0;
  let right = 0;
  let candidates = 0;
  let us = 0;
  for (const q of data.queries) {
    let best = -1;
    let bestD = Infinity;
    data.stored.forEach((v, id) => {
      const d = distance(metric, q, v);
      if (d <= threshold && d < bestD) (bestD = d), (best = id);
    });
    const started = performance.now();
    const { codes } = bucketCodes(family, q, lsh.probes);
    const seen = new Set<number>();
    const depth = Math.max(...codes.map((t) => t.length));
    outer: for (let p = 0; p < depth; p++) {
      for (let t = 0; t < codes.length; t++) {
        if (p >= codes[t].length) continue;
        const b = buckets.get(`${t}:${codes[t][p]}`) ?? [];
        // newest first, at most MAX_PER_BUCKET, as ZREVRANGEBYSCORE … LIMIT reads them
        for (let i = b.length - 1, read = 0; i >= 0 && read < MAX_PER_BUCKET; i--, read++) {
          seen.add(b[i]);
          if (seen.size >= lsh.max_candidates) break outer;
        }
      }
    }
    let got = -1;
    let gotD = Infinity;
    for (const id of seen) {
      const d = distance(metric, q, data.stored[id]);
      if (d <= threshold && d < gotD) (gotD = d), (got = id);
    }
    us += (performance.now() - started) * 1000;
    candidates += seen.size;
    if (best >= 0) {
      answerable++;
      if (got === best) right++;
    }
  }
  const nq = data.queries.length;
  return { answerable, recall: answerable ? right / answerable : 1, candidates: candidates / nq, usPerQuery: us / nq };
}

/** The threshold a metric is benchmarked at: cosine's default 0.1, and its euclidean equal on unit vectors. */
export function benchThreshold(metric: DistanceMetric): { threshold: number; cosine: number } {
  return metric === 'cosine' ? { threshold: 0.1, cosine: 0.1 } : { threshold: Math.sqrt(2 * 0.1), cosine: 0.1 };
}

/** The memory store itself (memory-store.ts: the same index past its brute-force limit): recall@1 and µs per search. */
async function memoryRun(data: Dataset, metric: DistanceMetric, threshold: number): Promise<void> {
  const { MemoryVectorStore } = await import('../src/plugins/ai-semantic-cache/memory-store.ts');
  const dims = data.stored[0].length;
  for (const [name, exactUpTo] of [['brute force', Infinity], ['LSH index (default)', undefined]] as const) {
    const store = new MemoryVectorStore({ dimensions: dims, metric, threshold, exactUpTo, maxEntries: 1e6, maxBytes: 2 ** 32 });
    for (let i = 0; i < data.stored.length; i++) await store.insert('bench', String(i), data.stored[i], 3_600_000);
    let answerable = 0;
    let right = 0;
    let us = 0;
    for (const q of data.queries) {
      let best = -1;
      let bestD = Infinity;
      data.stored.forEach((v, id) => {
        const d = distance(metric, q, v);
        if (d <= threshold && d < bestD) (bestD = d), (best = id);
      });
      const started = performance.now();
      const got = await store.search('bench', q, 3, threshold);
      us += (performance.now() - started) * 1000;
      if (best >= 0) {
        answerable++;
        if (got[0]?.id === String(best)) right++;
      }
    }
    console.log(`memory store, ${name}: recall@1 ${(right / answerable).toFixed(4)} of ${answerable}; ${(us / data.queries.length).toFixed(0)} µs/search`);
  }
}

async function redisRun(data: Dataset, metric: DistanceMetric, threshold: number): Promise<void> {
  const { RedisServer, redisMissing } = await import('../test/helpers/redis.ts');
  if (redisMissing) {
    console.log(`--redis: ${redisMissing}`);
    return;
  }
  const { Redis } = await import('ioredis');
  const { RedisVectorStore } = await import('../src/plugins/ai-semantic-cache/redis-store.ts');
  const server = await RedisServer.start();
  const client = new Redis(server.url, { commandTimeout: 5000, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  await new Promise((r) => client.once('ready', r));
  try {
    const store = new RedisVectorStore({ dimensions: data.stored[0].length, metric, threshold, lsh: LSH_DEFAULTS, client: () => client });
    let started = performance.now();
    for (let i = 0; i < data.stored.length; i += 100) await Promise.all(data.stored.slice(i, i + 100).map((v, j) => store.insert('bench', String(i + j), v, 3_600_000)));
    const insertUs = ((performance.now() - started) * 1000) / data.stored.length;
    let answerable = 0;
    let right = 0;
    const lat: number[] = [];
    for (const q of data.queries) {
      let best = -1;
      let bestD = Infinity;
      data.stored.forEach((v, id) => {
        const d = distance(metric, q, v);
        if (d <= threshold && d < bestD) (bestD = d), (best = id);
      });
      started = performance.now();
      const got = await store.search('bench', q, 1, threshold);
      lat.push((performance.now() - started) * 1000);
      if (best >= 0) {
        answerable++;
        if (got[0]?.id === String(best)) right++;
      }
    }
    lat.sort((a, b) => a - b);
    const info = await client.info('memory');
    const used = /used_memory:(\d+)/.exec(info)?.[1];
    console.log(
      `redis-server (real store, sequential): recall@1 ${(right / answerable).toFixed(4)} of ${answerable}; search p50 ${lat[Math.floor(lat.length / 2)].toFixed(0)} µs, p95 ${lat[Math.floor(lat.length * 0.95)].toFixed(0)} µs; insert ${insertUs.toFixed(0)} µs each (100 in flight); Redis memory ${(Number(used) / 2 ** 20).toFixed(1)} MiB for ${data.stored.length} vectors`,
    );
  } finally {
    client.disconnect();
    await server.close();
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const n = Number(opt('n', '10000'));
  const nq = Number(opt('queries', '1000'));
  const metric = opt('metric', 'cosine') as DistanceMetric;
  const { threshold, cosine } = benchThreshold(metric);
  const data = dataset(42, n, nq, cosine);
  console.log(`${metric}, threshold ${threshold.toFixed(3)}, ${n} stored vectors of ${DIMENSIONS} dims, ${nq} queries (seed 42)`);
  const shapes: LshSettings[] = args.includes('--sweep')
    ? [
        { ...LSH_DEFAULTS, tables: 8, bits: 12, probes: 0 },
        { ...LSH_DEFAULTS, tables: 16, bits: 12, probes: 0 },
        { ...LSH_DEFAULTS, tables: 8, bits: 12, probes: 2 },
        { ...LSH_DEFAULTS, tables: 16, bits: 12, probes: 2 },
        { ...LSH_DEFAULTS, tables: 16, bits: 14, probes: 3 },
        { ...LSH_DEFAULTS, tables: 24, bits: 12, probes: 2 },
        { ...LSH_DEFAULTS, tables: 16, bits: 10, probes: 1 },
      ]
    : [LSH_DEFAULTS];
  {
    // hashing alone (every search and insert pays it): the query's buckets with the default probes
    const family = lshFamily({ metric, dimensions: DIMENSIONS, threshold, tables: LSH_DEFAULTS.tables, bits: LSH_DEFAULTS.bits, seed: LSH_DEFAULTS.seed });
    for (const q of data.queries.slice(0, 100)) bucketCodes(family, q, LSH_DEFAULTS.probes);
    const started = performance.now();
    for (const q of data.queries) bucketCodes(family, q, LSH_DEFAULTS.probes);
    console.log(`hashing a query (${LSH_DEFAULTS.tables} × ${LSH_DEFAULTS.bits} functions, ${LSH_DEFAULTS.probes} probes): ${(((performance.now() - started) * 1000) / data.queries.length).toFixed(1)} µs`);
  }
  if (args.includes('--memory')) await memoryRun(data, metric, threshold);
  for (const lsh of shapes) {
    const r = measureRecall(data, metric, threshold, lsh);
    console.log(
      `tables ${lsh.tables} bits ${lsh.bits} probes ${lsh.probes} cap ${lsh.max_candidates}: recall@1 ${r.recall.toFixed(4)} (${r.answerable} answerable), ${r.candidates.toFixed(1)} candidates/query, ${r.usPerQuery.toFixed(0)} µs/query`,
    );
  }
  if (args.includes('--redis')) await redisRun(data, metric, threshold);
}
