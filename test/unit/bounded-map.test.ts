/** BoundedMap (src/util/bounded-map.ts): the memo behind header names, provider origins and span names. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMap } from '../../src/util/bounded-map.ts';

test('a BoundedMap holds at most max entries: a new key when full starts it over, a known key is updated in place', () => {
  const m = new BoundedMap<string, number>(3);
  for (const [i, k] of ['a', 'b', 'c'].entries()) m.set(k, i);
  assert.deepEqual([...m], [['a', 0], ['b', 1], ['c', 2]]);
  m.set('b', 10);
  assert.deepEqual([...m], [['a', 0], ['b', 10], ['c', 2]], 'updating a key it holds forgets nothing');
  m.set('d', 3);
  assert.deepEqual([...m], [['d', 3]], 'a fourth key: everything else forgotten');
  for (let i = 0; i < 1000; i++) m.set(`k${i}`, i);
  assert.ok(m.size <= 3);
  assert.equal(m.get('k999'), 999, 'the last key set is always there');
});
