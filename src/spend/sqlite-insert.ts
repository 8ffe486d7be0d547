/**
 * The SQLite spend store's multi-row INSERT, with a value that every row of a chunk shares bound
 * once. A chunk of one route's traffic repeats most of its 29 columns (route, service and plugin
 * ids, provider, models, status, flags, nulls), and node:sqlite binds a parameter at ~470
 * instructions (a V8 value checked, converted to UTF-8, copied under SQLite's mutex): 29 binds a
 * row were half of the insert's instructions. A shared column is one numbered parameter (`?3`)
 * that every row's tuple names; only the columns that differ within the chunk get one per row.
 *
 * Pure: which columns a chunk shares, the values in the statement's parameter order, and the
 * statement's text. The store caches statements by shape (row count, shared columns, RETURNING).
 */

/** Columns a chunk can share: one bit each in a 31-bit mask. */
const MAX_COLUMNS = 31;

export interface ChunkParameters {
  /** Bit k set: every row holds column k's value of the first row, bound once. */
  shared: number;
  /** The first row's values, then each later row's values of the columns not shared. */
  values: unknown[];
}

/**
 * Splits a chunk's values (`width` per row, rows one after another, as the insert writes them)
 * into the shared columns and the rest. Values are compared with `Object.is` (what would be
 * stored: 0 and -0 apart as REAL would keep them).
 */
export function chunkParameters(flat: readonly unknown[], width: number): ChunkParameters {
  if (width > MAX_COLUMNS) throw new Error(`spend insert: ${width} columns, at most ${MAX_COLUMNS}`);
  const n = flat.length / width;
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
  const values: unknown[] = flat.slice(0, width);
  for (let row = 1; row < n; row++) {
    const base = row * width;
    for (let k = 0; k < width; k++) if (!(shared & (1 << k))) values.push(flat[base + k]);
  }
  return { shared, values };
}

/**
 * `INSERT INTO <table> (<columns>) VALUES (…), (…) ON CONFLICT (<conflict>) DO NOTHING` for `n`
 * rows of the `shared` shape, parameters in `chunkParameters`' order: the first row's are plain
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
