/**
 * The spend store's multi-row INSERT with shared columns bound once (src/spend/sqlite-insert.ts):
 * which columns a chunk shares, the parameters' order, and the statement run against a real
 * SQLite table storing exactly the rows it was given, whatever the mix of shared and differing
 * columns, nulls and repeated keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { chunkParameters, insertSql } from '../../src/spend/sqlite-insert.ts';

const COLUMNS = ['k', 'a', 'b', 'c'];

function table(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT)');
  return db;
}

/** Rows through chunkParameters + insertSql, read back in key order. */
function roundTrip(rows: unknown[][], returning = false): { stored: unknown[][]; shared: number; answered?: unknown[] } {
  const db = table();
  const { shared, values } = chunkParameters(rows.flat(), COLUMNS.length);
  const stmt = db.prepare(insertSql('t', COLUMNS, ['k'], rows.length, shared, returning ? ['k'] : undefined));
  const answered = returning ? (stmt.all(...(values as never[])) as { k: number }[]).map((r) => r.k) : (stmt.run(...(values as never[])), undefined);
  const stored = (db.prepare('SELECT k, a, b, c FROM t ORDER BY k').all() as Record<string, unknown>[]).map((r) => [r.k, r.a, r.b, r.c]);
  db.close();
  return { stored, shared, answered };
}

test('a column every row holds the same value of is shared; the values are the first row, then the others by row', () => {
  const flat = [1, 'x', 0.5, null, 2, 'x', 0.25, null, 3, 'x', 0.5, null];
  const { shared, values } = chunkParameters(flat, 4);
  assert.equal(shared, 0b1010, 'a and c shared, k and b not');
  assert.deepEqual(values, [1, 'x', 0.5, null, 2, 0.25, 3, 0.5]);
});

test('one row shares every column; no two rows alike share none', () => {
  assert.equal(chunkParameters([1, 'x', 0.5, null], 4).shared, 0b1111);
  assert.equal(chunkParameters([1, 'x', 0.5, null, 2, 'y', 0.25, 'z'], 4).shared, 0);
});

test('values are compared as stored: null is not undefined or 0, and 0 is not -0', () => {
  assert.equal(chunkParameters([1, null, 0, 'a', 2, 0, -0, 'a'], 4).shared, 0b1000);
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

test('more columns than the mask has bits is refused', () => {
  assert.throws(() => chunkParameters(Array(32).fill(0), 32), /at most 31/);
});
