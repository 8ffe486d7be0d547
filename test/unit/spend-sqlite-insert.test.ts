/**
 * The spend store's multi-row INSERT with shared columns bound once (src/spend/sqlite-insert.ts):
 * which columns a chunk shares, the parameters' order, the bounded sets of shared columns a store
 * makes statements for, and the statement run against a real SQLite table storing exactly the rows
 * it was given, whatever the mix of shared and differing columns, nulls and repeated keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { SharedColumnSets, insertSql, parameterValues, sharedColumns } from '../../src/spend/sqlite-insert.ts';

const COLUMNS = ['k', 'a', 'b', 'c'];

function table(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT)');
  return db;
}

/** Rows through chunkParameters + insertSql, read back in key order. */
function roundTrip(rows: unknown[][], returning = false, use?: number): { stored: unknown[][]; shared: number; answered?: unknown[] } {
  const db = table();
  const shared = use ?? sharedColumns(rows.flat(), COLUMNS.length);
  const values = parameterValues(rows.flat(), COLUMNS.length, shared);
  const stmt = db.prepare(insertSql('t', COLUMNS, ['k'], rows.length, shared, returning ? ['k'] : undefined));
  const answered = returning ? (stmt.all(...(values as never[])) as { k: number }[]).map((r) => r.k) : (stmt.run(...(values as never[])), undefined);
  const stored = (db.prepare('SELECT k, a, b, c FROM t ORDER BY k').all() as Record<string, unknown>[]).map((r) => [r.k, r.a, r.b, r.c]);
  db.close();
  return { stored, shared, answered };
}

test('a column every row holds the same value of is shared; the values are the first row, then the others by row', () => {
  const flat = [1, 'x', 0.5, null, 2, 'x', 0.25, null, 3, 'x', 0.5, null];
  assert.equal(sharedColumns(flat, 4), 0b1010, 'a and c shared, k and b not');
  assert.deepEqual(parameterValues(flat, 4, 0b1010), [1, 'x', 0.5, null, 2, 0.25, 3, 0.5]);
  assert.deepEqual(parameterValues(flat, 4, 0b0010), [1, 'x', 0.5, null, 2, 0.25, null, 3, 0.5, null], 'a subset of what it shares');
});

test('one row shares every column; no two rows alike share none', () => {
  assert.equal(sharedColumns([1, 'x', 0.5, null], 4), 0b1111);
  assert.equal(sharedColumns([1, 'x', 0.5, null, 2, 'y', 0.25, 'z'], 4), 0);
});

test('values are compared as stored: null is not undefined or 0, and 0 is not -0', () => {
  assert.equal(sharedColumns([1, null, 0, 'a', 2, 0, -0, 'a'], 4), 0b1000);
});

test('sets of shared columns: the first ones seen are kept; past the bound a chunk gets the largest known subset of its own, else none', () => {
  const sets = new SharedColumnSets(2);
  assert.equal(sets.choose(0b0110), 0b0110);
  assert.equal(sets.choose(0b0011), 0b0011);
  assert.equal(sets.choose(0b0110), 0b0110, 'known');
  assert.equal(sets.choose(0b0111), 0b0110, 'full: the larger of two known subsets (0b0110, 0b0011 have two columns each; the first found)');
  assert.equal(sets.choose(0b1011), 0b0011);
  assert.equal(sets.choose(0b1000), 0, 'no known subset: none shared');
  // whatever chunks come, at most 2 sets besides none
  const seen = new Set<number>();
  for (let m = 0; m < 1 << 10; m++) seen.add(sets.choose(m));
  assert.ok(seen.size <= 3, `${seen.size} sets`);
});

test('the statement numbers a later row\'s shared columns by the first row\'s parameters and the rest in order', () => {
  assert.equal(
    insertSql('t', COLUMNS, ['k'], 3, 0b0110),
    'INSERT INTO t (k, a, b, c) VALUES (?, ?, ?, ?), (?, ?2, ?3, ?), (?, ?2, ?3, ?) ON CONFLICT (k) DO NOTHING',
  );
  assert.equal(insertSql('t', COLUMNS, ['k'], 1, 0b1111, ['k']), 'INSERT INTO t (k, a, b, c) VALUES (?, ?, ?, ?) ON CONFLICT (k) DO NOTHING RETURNING k');
});

test('SQLite stores exactly the rows given, whatever columns they share', () => {
  const shapes: unknown[][][] = [
    [[1, 'x', 0.5, null]],
    [[1, 'x', 0.5, null], [2, 'x', 0.5, null], [3, 'x', 0.5, null]],
    [[1, 'x', 0.5, 'p'], [2, 'y', 0.5, null], [3, 'x', 1.5, 'p']],
    [[1, null, 0.5, 'p'], [2, 'y', null, 'q'], [3, null, 0.5, 'p'], [4, 'y', null, 'q']],
  ];
  for (const rows of shapes) assert.deepEqual(roundTrip(rows).stored, rows);
  // the chunk of 100 rows the store writes, a third of its columns differing
  const hundred = Array.from({ length: 100 }, (_, i) => [i + 1, 'route-a', i % 7 === 0 ? 2.5 : 1.5, i % 2 ? null : 'stream']);
  assert.deepEqual(roundTrip(hundred).stored, hundred);
});

test('a key given twice is inserted once and answered once', () => {
  const rows = [[1, 'x', 0.5, null], [1, 'x', 0.5, null], [2, 'x', 0.5, null]];
  const { stored, answered } = roundTrip(rows, true);
  assert.deepEqual(stored, [rows[0], rows[2]]);
  assert.deepEqual(answered, [1, 2]);
});

test('a statement sharing a subset of what the rows share stores them exactly too', () => {
  const rows = [[1, 'x', 0.5, null], [2, 'x', 0.5, null], [3, 'x', 0.5, null]];
  for (const use of [0, 0b0010, 0b0100, 0b1110]) assert.deepEqual(roundTrip(rows, false, use).stored, rows, `shared ${use.toString(2)}`);
});

test('more columns than the mask has bits is refused', () => {
  assert.throws(() => sharedColumns(Array(32).fill(0), 32), /at most 31/);
});
