/**
 * Locality-sensitive hashing for the vector stores (redis-store.ts always; memory-store.ts once a
 * scope holds more vectors than a brute-force pass is worth): which buckets a vector goes in, and
 * which buckets a query reads. Pure: no Redis here, so the recall benchmark
 * (bench/semantic-recall.ts) and the unit tests measure exactly what the stores do.
 *
 * Families (one per metric):
 * - `cosine`: random hyperplanes (Charikar 2002). A function is the sign of a·v; two vectors at
 *   angle θ agree on it with probability 1 − θ/π (exactly for a Gaussian `a`, closely for the
 *   sparse `a` below). A table's code is `bits` signs.
 * - `euclidean`: p-stable projections (Datar et al. 2004, E2LSH): ⌊(a·v + b) / w⌋ with `b` uniform
 *   in [0, w). The width `w` is WIDTH_FACTOR × `threshold`, so the functions are tuned to the
 *   distance that must still match (a change of threshold is a new layout: see layoutId).
 *   Normalising and using hyperplanes would be right only for unit vectors; p-stable hashing is
 *   right for any.
 *
 * The projections are a Fast Johnson–Lindenstrauss transform (Ailon & Chazelle 2006): the vector is
 * first spread by a randomised Hadamard transform u = H·D·v (D: random signs; H: the Walsh–Hadamard
 * matrix, zero-padded to a power of two d, scaled to be orthonormal, so angles and distances are
 * kept exactly), then projected by VERY SPARSE random projections a (Achlioptas 2003; Li, Hastie &
 * Church 2006): each component +√s or −√s with probability 1/(2s) each and 0 otherwise, s = √d,
 * kept as two index lists (plus, minus). At 1,536 dimensions (d = 2,048) that is ≈ 22,500
 * additions for the transform and ≈ 45 a function, ≈ 31,000 in all instead of 192 × 1,536 =
 * 295,000 multiply-adds for dense Gaussian planes (docs/performance.md). Why the transform: a sparse
 * projection alone sees only ≈ √d of the components, so a vector with few non-zero components
 * (short texts under a bag-of-words embedder) reads 0 in most functions and every such vector
 * falls in the same buckets; after H·D every vector is dense, and a·u is close to Gaussian (central
 * limit theorem) with the variance of a Gaussian projection, ‖v‖², so the p-stable widths keep
 * their meaning. Exact distances on the candidates keep every match exact whatever the hashing;
 * only recall depends on it.
 *
 * Multi-probe (Lv et al. 2007, query-directed): besides its own bucket, a query reads, per table,
 * the buckets one function away, for the `probes` functions whose value it was least sure of (the
 * smallest |a·v| for hyperplanes; nearest a slot boundary for p-stable). That buys the recall of
 * many more tables for a few more bucket reads and no more memory.
 *
 * Determinism: every node must put a vector in the same buckets, so the functions come from a
 * seeded generator (xoshiro128**) whose seed is a hash of the family's
 * version (FAMILY), the metric, dimensions, table shape and the plugin's `vectordb.lsh.seed`: same
 * config and version, same functions, everywhere, across restarts and versions of Node. FAMILY is
 * in the layout too: an index hashed by another version (the dense Gaussian planes before
 * `hadamard-sparse1`) lives under other keys and is never read with these functions.
 */
import { createHash } from 'node:crypto';
import type { DistanceMetric } from './vector-store.ts';

export interface LshParams {
  metric: DistanceMetric;
  dimensions: number;
  /** Number of hash tables (L). */
  tables: number;
  /** Functions per table (k): a table's code is their values together. */
  bits: number;
  /** `vectordb.lsh.seed`. */
  seed: string;
  /** `vectordb.threshold`: sets the bucket width of the euclidean family. */
  threshold: number;
}

/** `vectordb.lsh`: the index shape (the schema's defaults are LSH_DEFAULTS). */
export interface LshSettings {
  tables: number;
  bits: number;
  probes: number;
  max_candidates: number;
  seed: string;
}

/** The defaults of `vectordb.lsh` (measured: bench/semantic-recall.ts, docs/performance.md). */
export const LSH_DEFAULTS: LshSettings = { tables: 16, bits: 12, probes: 2, max_candidates: 256, seed: 'modelgate' };

/** Ids read from one bucket per search (the newest), by every store. */
export const MAX_PER_BUCKET = 64;

/** w = WIDTH_FACTOR × threshold (euclidean): measured in bench/semantic-recall.ts (docs/performance.md). */
export const WIDTH_FACTOR = 4;

/**
 * The hash family's version, part of the seed and of the layout. Bump it whenever the functions
 * drawn from a seed change, so no store mixes buckets of two families.
 */
export const FAMILY = 'hadamard-sparse1';

/** The functions of one layout: `tables × bits` sparse projections. */
export interface LshFamily {
  readonly params: LshParams;
  /** A short id of everything that decides the buckets: stores of different layouts never share keys. */
  readonly layout: string;
  /** The randomised Hadamard transform's signs, one per input component. */
  readonly signs: Float64Array;
  /** Its working buffer (a power of two long): `project` is synchronous, so one per family serves every call. */
  readonly scratch: Float64Array;
  /**
   * Function j's +1 components are index[start[j] .. mid[j]), its −1 components
   * index[mid[j] .. start[j + 1]).
   */
  readonly index: Uint32Array;
  readonly start: Uint32Array;
  readonly mid: Uint32Array;
  /**
   * √s / √d: √s makes a·u's variance ‖u‖², as a Gaussian projection's (it matters for the
   * p-stable widths); 1/√d makes the Hadamard transform orthonormal (‖u‖ = ‖v‖).
   */
  readonly scale: number;
  /** p-stable offsets, one per function (euclidean). */
  readonly offsets: Float32Array;
  readonly width: number;
}

/** The buckets of a query, per table: its own code first, then the probes. */
export interface BucketCodes {
  /** codes[t][0] is table t's own bucket. */
  codes: string[][];
}

function seedWords(text: string): Uint32Array {
  const h = createHash('sha256').update(text).digest();
  return new Uint32Array([h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)]);
}

/** xoshiro128** (Blackman & Vigna): small, fast, and the same on every platform. */
function xoshiro(s: Uint32Array): () => number {
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 4294967296;
  };
}

export function layoutId(p: LshParams): string {
  const width = p.metric === 'euclidean' ? `:w${widthOf(p)}` : '';
  return createHash('sha256').update(`${FAMILY}:${p.metric}:${p.dimensions}:${p.tables}x${p.bits}:${p.seed}${width}`).digest('base64url').slice(0, 12);
}

function widthOf(p: LshParams): number {
  return Math.max(p.threshold, 1e-6) * WIDTH_FACTOR;
}

/** Families built, by layout (a snapshot builds a new store; the functions of its layout are reused). */
const families = new Map<string, LshFamily>();
const MAX_FAMILIES = 32;

export function lshFamily(params: LshParams): LshFamily {
  const layout = layoutId(params);
  const held = families.get(layout);
  if (held) return held;
  const n = params.tables * params.bits;
  const rand = xoshiro(seedWords(`modelgate-lsh:${FAMILY}:${params.metric}:${params.dimensions}:${params.tables}x${params.bits}:${params.seed}`));
  // the randomised Hadamard transform's length (a power of two) and signs
  let d = 1;
  while (d < params.dimensions) d *= 2;
  const signs = new Float64Array(params.dimensions);
  for (let i = 0; i < signs.length; i++) signs[i] = rand() < 0.5 ? -1 : 1;
  // s = √d: a component is non-zero with probability 1/s (at least 1/2 for tiny d)
  const s = Math.max(2, Math.sqrt(d));
  const p = 1 / s;
  const index: number[] = [];
  const start = new Uint32Array(n + 1);
  const mid = new Uint32Array(n);
  const minus: number[] = [];
  for (let j = 0; j < n; j++) {
    start[j] = index.length;
    minus.length = 0;
    for (let i = 0; i < d; i++) {
      const u = rand();
      if (u < p / 2) index.push(i);
      else if (u < p) minus.push(i);
    }
    // an empty function would read 0 for every vector: give it one component
    if (index.length === start[j] && minus.length === 0) index.push(Math.floor(rand() * d));
    mid[j] = index.length;
    for (const i of minus) index.push(i);
  }
  start[n] = index.length;
  const width = widthOf(params);
  const offsets = new Float32Array(n);
  for (let i = 0; i < n; i++) offsets[i] = rand() * width;
  const family: LshFamily = { params, layout, signs, scratch: new Float64Array(d), index: Uint32Array.from(index), start, mid, scale: Math.sqrt(s) / Math.sqrt(d), offsets, width };
  if (families.size >= MAX_FAMILIES) families.delete(families.keys().next().value!);
  families.set(layout, family);
  return family;
}

/** Every function's raw value for `v`: a·u (cosine) or (a·u + b) / w (euclidean), u = H·D·v (see the header). */
export function project(f: LshFamily, v: Float32Array): Float64Array {
  const n = f.params.tables * f.params.bits;
  const out = new Float64Array(n);
  const { index, start, mid, scale, signs } = f;
  const u = f.scratch;
  const len = u.length;
  for (let i = 0; i < signs.length; i++) u[i] = signs[i] * v[i];
  u.fill(0, signs.length);
  // fast Walsh–Hadamard transform, in place (unnormalised: `scale` holds the 1/√d)
  for (let h = 1; h < len; h *= 2) {
    for (let i = 0; i < len; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = u[j];
        const b = u[j + h];
        u[j] = a + b;
        u[j + h] = a - b;
      }
    }
  }
  const cosine = f.params.metric === 'cosine';
  for (let j = 0; j < n; j++) {
    let plus = 0;
    let minus = 0;
    const m = mid[j];
    const e = start[j + 1];
    for (let k = start[j]; k < m; k++) plus += u[index[k]];
    for (let k = m; k < e; k++) minus += u[index[k]];
    const x = (plus - minus) * scale;
    out[j] = cosine ? x : (x + f.offsets[j]) / f.width;
  }
  return out;
}

/** The buckets `v` is stored in: one a table. */
export function storeCodes(f: LshFamily, v: Float32Array): string[] {
  return bucketCodes(f, v, 0).codes.map((c) => c[0]);
}

/**
 * The buckets a query reads: its own per table, then up to `probes` neighbours per table, each one
 * function's value changed to its nearest other value, least sure function first (the smallest
 * margin: |a·v| for a sign, the distance to the slot's nearer edge for p-stable; ties: the lower
 * function first). Written without per-function objects: this runs on every search and insert.
 */
export function bucketCodes(f: LshFamily, v: Float32Array, probes: number): BucketCodes {
  const { tables, bits, metric } = f.params;
  const x = project(f, v);
  const cosine = metric === 'cosine';
  const codes: string[][] = new Array(tables);
  const values: number[] = new Array(bits);
  const other = new Float64Array(bits);
  const margin = new Float64Array(bits);
  const p = Math.min(probes, bits);
  // the p least sure functions of the table, by margin then index
  const pick: number[] = [];
  for (let t = 0; t < tables; t++) {
    const base = t * bits;
    let code = 0;
    for (let j = 0; j < bits; j++) {
      const xj = x[base + j];
      if (cosine) {
        // up to 32 bits a table: one number (exact: below 2^53), written in hex
        code = code * 2 + (xj >= 0 ? 1 : 0);
        margin[j] = Math.abs(xj);
      } else {
        const slot = Math.floor(xj);
        const frac = xj - slot;
        values[j] = slot;
        if (frac < 0.5) (other[j] = slot - 1), (margin[j] = frac);
        else (other[j] = slot + 1), (margin[j] = 1 - frac);
      }
    }
    const table = [cosine ? code.toString(16) : values.join(',')];
    if (p > 0) {
      pick.length = 0;
      for (let j = 0; j < bits; j++) {
        const m = margin[j];
        if (pick.length === p && m >= margin[pick[p - 1]]) continue;
        let at = pick.length === p ? p - 1 : pick.length;
        // after every picked one with a margin ≤ m: ties keep the lower function first
        while (at > 0 && margin[pick[at - 1]] > m) {
          if (at < p) pick[at] = pick[at - 1];
          at--;
        }
        pick[at] = j;
      }
      for (const j of pick) {
        if (cosine) {
          const w = 2 ** (bits - 1 - j);
          const set = Math.floor(code / w) % 2 === 1;
          table.push((set ? code - w : code + w).toString(16));
        } else {
          const own = values[j];
          values[j] = other[j];
          table.push(values.join(','));
          values[j] = own;
        }
      }
    }
    codes[t] = table;
  }
  return { codes };
}
