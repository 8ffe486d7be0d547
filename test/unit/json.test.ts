/**
 * Strict JSON for untrusted bodies: the nesting scan agrees with the parsed value's real depth
 * whatever the strings hold (quotes, backslashes, brackets), and refuses deep input early.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonBodyError, jsonDepth, parseJsonText } from '../../src/util/json.ts';

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === 'object' && value !== null) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

// strings full of what could fool a scanner: quotes, runs of backslashes, brackets
const tricky = fc.stringMatching(/^[\\"[\]{}a ]{0,12}$/);
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(tricky, tie('value'), { maxKeys: 4 })),
})).value;

test('the depth scan agrees with the parsed value, whatever the strings hold', () => {
  fc.assert(
    fc.property(json, (value) => {
      const text = JSON.stringify(value);
      assert.equal(jsonDepth(text), depthOf(value), text);
    }),
    { seed: 424242, numRuns: 2000 },
  );
});

test('deep nesting is refused before JSON.parse builds it; strings do not count', () => {
  assert.throws(() => parseJsonText('['.repeat(1_000_000)), (e: unknown) => e instanceof JsonBodyError && e.reason === 'depth');
  assert.equal(jsonDepth('['.repeat(1_000_000), 64), 65, 'the scan stops right past the limit');
  const deepInString = JSON.stringify({ prompt: '['.repeat(10_000) + '\\"' + '{'.repeat(10_000) });
  assert.deepEqual(Object.keys(parseJsonText(deepInString) as object), ['prompt']);
  assert.throws(() => parseJsonText('{"a": "unterminated'), (e: unknown) => e instanceof JsonBodyError && e.reason === 'syntax');
});
