/**
 * The compiled row ↔ column functions (src/spend/columns.ts) against the plain loops over
 * SPEND_ROW_FIELDS they replace: same columns, same rows, same SQLite values, for rows with every
 * field, with fields absent and with the JSON and boolean fields set.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { columnsOf, rowsOf, sqliteValuesWriter } from '../../src/spend/columns.ts';
import { SPEND_ROW_FIELDS, type SpendRow } from '../../src/spend/types.ts';
import { makeRow, rng } from '../../bench/spend-rows.ts';

const rand = rng(3);
const ROWS: SpendRow[] = [
  ...Array.from({ length: 5 }, (_, i) => makeRow(i, 1_700_000_000_000 + i * 1000, rand)),
  { ...makeRow(9, 1_700_000_009_000, rand), stream: true, cache_hit: false, attempts: [{ provider: 'openai', model: 'gpt-4o', status: 500, latency_ms: 12 }] as SpendRow['attempts'], payload: { request: '{"a":1}', response: '{}' } as SpendRow['payload'] },
];
// a row with optional fields left out entirely (not even undefined)
const sparse = { ...ROWS[0] } as Record<string, unknown>;
delete sparse.ttft_ms;
delete sparse.attempts;
delete sparse.payload;
ROWS.push(sparse as unknown as SpendRow);

test('rows to columns and back: the loops over the field list, compiled', () => {
  const columns = columnsOf(ROWS);
  assert.deepEqual(columns, SPEND_ROW_FIELDS.map((f) => ROWS.map((r) => r[f] ?? null)));
  const back = rowsOf(JSON.parse(JSON.stringify(columns)), ROWS.length);
  assert.deepEqual(back, ROWS.map((r) => Object.fromEntries(SPEND_ROW_FIELDS.map((f) => [f, JSON.parse(JSON.stringify(r[f] ?? null))]))));
  assert.deepEqual(columnsOf([]), SPEND_ROW_FIELDS.map(() => []));
});

test('SQLite values: booleans as 1/0, JSON fields as text, absent as null, in field order', () => {
  const json = ['attempts', 'payload'] as const;
  const push = sqliteValuesWriter(json);
  for (const r of ROWS) {
    const out: unknown[] = [];
    push(r, out);
    const expected = SPEND_ROW_FIELDS.map((f) => {
      const v = r[f];
      if ((json as readonly string[]).includes(f)) return v == null ? null : JSON.stringify(v);
      return typeof v === 'boolean' ? (v ? 1 : 0) : (v ?? null);
    });
    assert.deepEqual(out, expected);
  }
});
