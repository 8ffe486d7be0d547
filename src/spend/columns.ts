/**
 * A spend row's fields in SPEND_ROW_FIELDS order, read and written by functions compiled once from
 * that list: the worker's batch by column (queue.ts encodeBatch), the primary's rows again
 * (decodeBatch), and the SQLite insert's values (sqlite.ts). Each is written out field by field.
 *
 * Why compiled: a loop over the field names reads `row[name]` with a different name each time,
 * which V8 serves through its megamorphic keyed-load path. Under callgrind that path was 13% of
 * the SQLite writer's instructions for one-route traffic, and it ran 29 times a row in the worker
 * (the batch), again in the primary (the rows) and again in the insert. A function with
 * `row.time`, `row.request_id` … reads each field at a site that only ever sees that name.
 *
 * The names are the constant list in types.ts, checked to be plain identifiers before any code
 * is made from them.
 */
import { SPEND_ROW_FIELDS, type SpendRow } from './types.ts';

for (const f of SPEND_ROW_FIELDS) if (!/^[a-z_]+$/.test(f)) throw new Error(`spend: field name ${f} cannot be compiled`);

const FIELDS: readonly string[] = SPEND_ROW_FIELDS;

/** Rows as columns: `columns[k][i]` is row i's field FIELDS[k], an absent value null. */
export const columnsOf = new Function(
  'rows',
  `const n = rows.length;
  ${FIELDS.map((_, k) => `const c${k} = new Array(n);`).join('\n')}
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    ${FIELDS.map((f, k) => `c${k}[i] = r.${f} ?? null;`).join('\n')}
  }
  return [${FIELDS.map((_, k) => `c${k}`).join(', ')}];`,
) as (rows: readonly SpendRow[]) => unknown[][];

/** Columns (as columnsOf makes them, of equal length n) as rows again, every row of one shape. */
export const rowsOf = new Function(
  'columns',
  'n',
  `${FIELDS.map((_, k) => `const c${k} = columns[${k}];`).join('\n')}
  const rows = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = { ${FIELDS.map((f, k) => `${f}: c${k}[i]`).join(', ')} };
  return rows;`,
) as (columns: unknown[][], n: number) => SpendRow[];

/**
 * Appends a row's SQLite values to `out`, in FIELDS order: booleans as 1/0, the JSON fields
 * (`json`) as JSON text, anything absent as null.
 */
export function sqliteValuesWriter(json: readonly string[]): (r: SpendRow, out: unknown[]) => void {
  const value = (f: string) => (json.includes(f) ? `r.${f} == null ? null : JSON.stringify(r.${f})` : `typeof r.${f} === 'boolean' ? (r.${f} ? 1 : 0) : (r.${f} ?? null)`);
  return new Function('r', 'out', `out.push(${FIELDS.map((f) => `\n    ${value(f)}`).join(',')});`) as (r: SpendRow, out: unknown[]) => void;
}
