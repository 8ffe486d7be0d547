/**
 * Sparse latency histograms as the text SQLite's spend store keeps them (sqlite.ts), written and
 * merged without objects:
 * - `countedPairs`, `histogramText`: a batch's folded rollup row holds (index, count) pairs,
 *   written as text once, for its upsert;
 * - `mergeHistogramText`: `merge_hist`, when an upsert's key is already in its bucket (with
 *   spread traffic, most upserts), adds the stored text and the new one.
 * Parsing both into objects, adding them key by key and writing the result back was about a
 * sixth of the writer's CPU with spread traffic, and adding folded rows' objects a tenth more
 * (docs/performance.md, "What the writer pays"). Here digits are read into one dense array.
 *
 * The text is what JSON.stringify writes for a histogram object: `{"3":1,"12":4}`, integer keys
 * (the bucket indexes, 0 to MAX_INDEX) ascending, integer counts. Anything else (spaces, another
 * key) is not read here: `mergeHistogramText` answers null and the caller merges it the general way.
 */

/** The highest histogram index, latency and time to first token alike (sqlite.ts MAX_LATENCY_INDEX is this). */
export const MAX_INDEX = 100;

/** Counts by index while merging (the writer is synchronous: one merge at a time). */
const sums = new Float64Array(MAX_INDEX + 1);

const QUOTE = 34; // "
const COLON = 58; // :
const COMMA = 44; // ,
const OPEN = 123; // {
const CLOSE = 125; // }
const ZERO = 48;

/** Adds a histogram's counts into `sums`; false when the text is not in the expected form. */
function addInto(text: string): boolean {
  const n = text.length;
  if (n < 2 || text.charCodeAt(0) !== OPEN || text.charCodeAt(n - 1) !== CLOSE) return false;
  if (n === 2) return true; // {}
  let i = 1;
  for (;;) {
    if (text.charCodeAt(i++) !== QUOTE) return false;
    let key = 0;
    let digits = 0;
    for (let c = text.charCodeAt(i) - ZERO; c >= 0 && c <= 9; c = text.charCodeAt(++i) - ZERO) {
      key = key * 10 + c;
      digits++;
    }
    if (digits === 0 || digits > 3 || key > MAX_INDEX) return false;
    if (text.charCodeAt(i++) !== QUOTE || text.charCodeAt(i++) !== COLON) return false;
    let count = 0;
    digits = 0;
    for (let c = text.charCodeAt(i) - ZERO; c >= 0 && c <= 9; c = text.charCodeAt(++i) - ZERO) {
      count = count * 10 + c;
      digits++;
    }
    if (digits === 0 || digits > 15) return false; // counts beyond 10^15 go the general way (exact doubles)
    sums[key] += count;
    const next = text.charCodeAt(i++);
    if (next === CLOSE) return i === n;
    if (next !== COMMA) return false;
  }
}

/**
 * The sum of two histograms stored as JSON text, as the same text JSON.stringify would write for
 * the merged object (keys ascending); null when either text is not in that form.
 */
export function mergeHistogramText(a: string, b: string): string | null {
  sums.fill(0);
  if (!addInto(a) || !addInto(b)) return null;
  return written();
}

/**
 * Bucket indexes (one per row) as a counted histogram: (index, count) pairs in one flat list,
 * indexes ascending. A batch's rows are counted once per full rollup key; every coarser rollup
 * then appends pairs (a handful per key), not rows.
 */
export function countedPairs(indexes: readonly number[]): number[] {
  const n = indexes.length;
  if (n === 0) return [];
  if (n === 1) return [indexes[0], 1];
  sums.fill(0);
  for (let i = 0; i < n; i++) sums[indexes[i]]++;
  const out: number[] = [];
  for (let k = 0; k <= MAX_INDEX; k++) if (sums[k] !== 0) out.push(k, sums[k]);
  return out;
}

/** The stored text of a histogram given as (index, count) pairs (an index may come more than once). */
export function histogramText(pairs: readonly number[]): string {
  if (pairs.length === 0) return '{}';
  sums.fill(0);
  for (let i = 0; i < pairs.length; i += 2) sums[pairs[i]] += pairs[i + 1];
  return written();
}

/** `sums` as JSON.stringify writes a histogram object: keys ascending, zero counts left out. */
function written(): string {
  let out = '{';
  for (let k = 0; k <= MAX_INDEX; k++) {
    const v = sums[k];
    if (v === 0) continue;
    out += out.length === 1 ? `"${k}":${v}` : `,"${k}":${v}`;
  }
  return out + '}';
}
