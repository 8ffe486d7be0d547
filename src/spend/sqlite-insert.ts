/**
 * The SQLite spend store's multi-row INSERT, with a value that every row of a chunk shares bound
 * once. A chunk of one route's traffic repeats most of its 29 columns (route, service and plugin
 * ids, provider, models, status, flags, nulls), and node:sqlite binds a parameter at ~470
 * instructions (a V8 value checked, converted to UTF-8, copied under SQLite's mutex): 29 binds a
 * row were half of the insert's instructions. A shared column's value is the first row's
 * parameter, which every later row names (`?3`); only the columns that differ within the chunk
 * get one per row.
 *
 * Which columns a chunk shares, the values in the statement's parameter order, the statement's
 * text, and the bounded sets of shared columns a store makes statements for.
 */

/** Columns a chunk can share: one bit each in a 31-bit mask. */
const MAX_COLUMNS = 31;

/**
 * The columns every row of a chunk holds the same value in (`width` values per row, rows one after
 * another, as the insert writes them): bit k for column k. Values are compared with `Object.is`
 * (what would be stored: 0 and -0 apart as REAL would keep them).
 */
export function sharedColumns(flat: readonly unknown[], width: number): number {
  if (width > MAX_COLUMNS) throw new Error(`spend insert: ${width} columns, at most ${MAX_COLUMNS}`);
  let shared = 0;
  for (let k = 0; k < width; k++) {
    const first = flat[k];
    let same = true;
    for (let i = k + width; i < flat.length; i += width) {
      if (!Object.is(flat[i], first)) {
        same = false;
        break;
      }
    }
    if (same) shared |= 1 << k;
  }
  return shared;
}

/**
 * The values in the order of `insertSql`'s parameters for a statement sharing the columns of
 * `shared` (which every row must hold the same value in): the first row's values, then each later
 * row's values of the other columns.
 */
export function parameterValues(flat: readonly unknown[], width: number, shared: number): unknown[] {
  const values: unknown[] = flat.slice(0, width);
  for (let base = width; base < flat.length; base += width) {
    for (let k = 0; k < width; k++) if (!(shared & (1 << k))) values.push(flat[base + k]);
  }
  return values;
}

/**
 * The shared-column sets a store makes statements for: at most `max` besides none (0), the first
 * ones its chunks showed. A chunk uses its own set when it is known or there is room for it, else
 * the known set with the most columns among those it shares (none at worst). Bounded, so the
 * statements are too: node:sqlite has no way to finalize a statement, and one left to the garbage
 * collector keeps its native memory (~100 KB for 100 rows) until V8 happens to collect it, which
 * made a store whose chunks changed shape all the time grow by hundreds of MB.
 */
export class SharedColumnSets {
  readonly #max: number;
  readonly #known: number[] = [0];
  constructor(max: number) {
    this.#max = max;
  }
  /** The set a chunk sharing `shared` is written with: a subset of it. */
  choose(shared: number): number {
    let best = 0;
    let bestBits = 0;
    for (const m of this.#known) {
      if (m === shared) return m;
      if ((m & shared) === m && bitCount(m) > bestBits) {
        best = m;
        bestBits = bitCount(m);
      }
    }
    if (this.#known.length <= this.#max) {
      this.#known.push(shared);
      return shared;
    }
    return best;
  }
}

function bitCount(m: number): number {
  let n = 0;
  for (let x = m; x !== 0; x &= x - 1) n++;
  return n;
}

/**
 * `INSERT INTO <table> (<columns>) VALUES (…), (…) ON CONFLICT (<conflict>) DO NOTHING` for `n`
 * rows of the `shared` shape, parameters in `parameterValues`' order: the first row's are plain
 * `?` (numbered 1 to width in order), a later row names a shared column's as `?<k+1>` and has a
 * plain `?` (the next number) for each other column. Plain, not all numbered: node:sqlite asks
 * SQLite the name of each parameter it binds by position, which for a numbered one is a search of
 * the statement's list of numbered names, and 300 of them made binding quadratic.
 * `returning`: the columns the statement answers for each row it inserted.
 */
export function insertSql(table: string, columns: readonly string[], conflict: readonly string[], n: number, shared: number, returning?: readonly string[]): string {
  const first = `(${columns.map(() => '?').join(', ')})`;
  const later = `(${columns.map((_, k) => (shared & (1 << k) ? `?${k + 1}` : '?')).join(', ')})`;
  const tuples = n > 1 ? `${first}, ${Array(n - 1).fill(later).join(', ')}` : first;
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples} ON CONFLICT (${conflict.join(', ')}) DO NOTHING${returning ? ` RETURNING ${returning.join(', ')}` : ''}`;
}
