/**
 * merge_hist's text merge (src/spend/hist-text.ts): for any two histograms as the writer stores
 * them, the same text as parsing, adding and writing them back; null (the general way) for text
 * in another form.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { countedPairs, histogramText, mergeHistogramText } from '../../src/spend/hist-text.ts';
import { mergeHistogram, MAX_LATENCY_INDEX } from '../../src/spend/sqlite.ts';

const histogram = fc.dictionary(fc.integer({ min: 0, max: MAX_LATENCY_INDEX }).map(String), fc.integer({ min: 1, max: 2 ** 40 }), { maxKeys: 30 });

test('two stored histograms merge to the text JSON.stringify writes for their sum', () => {
  fc.assert(
    fc.property(histogram, histogram, (a, b) => {
      const expected = JSON.stringify(mergeHistogram({ ...a }, b));
      assert.equal(mergeHistogramText(JSON.stringify(a), JSON.stringify(b)), expected);
    }),
    { numRuns: 500 },
  );
  assert.equal(mergeHistogramText('{}', '{}'), '{}');
  assert.equal(mergeHistogramText('{"0":1,"100":2}', '{"3":4,"100":1}'), '{"0":1,"3":4,"100":3}');
});

test('text in another form is left to the general merge', () => {
  for (const odd of ['', '{', '{ "1":2}', '{"1": 2}', '{"x":1}', '{"101":1}', '{"1":1.5}', '{"1":-1}', '{"1":1,}', '{"1":1}x', '[1]', '{"1":1234567890123456}']) {
    assert.equal(mergeHistogramText(odd, '{"1":1}'), null, odd);
    assert.equal(mergeHistogramText('{"1":1}', odd), null, odd);
  }
  // the merge after a refused text starts from zero again
  assert.equal(mergeHistogramText('{"5":1}', '{"5":2}'), '{"5":3}');
});

test('bucket indexes counted into pairs, and pairs written, as the histogram object counting them would be', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.integer({ min: 0, max: MAX_LATENCY_INDEX }), { maxLength: 60 }), { maxLength: 5 }), (batches) => {
      const counted: Record<string, number> = {};
      for (const b of batches) for (const i of b) counted[i] = (counted[i] ?? 0) + 1;
      // each batch counted alone, its pairs appended (as the writer folds full keys into coarser ones)
      const pairs = batches.flatMap((b) => countedPairs(b));
      for (let i = 2; i < pairs.length; i += 2) if (pairs[i - 2] >= pairs[i]) assert.ok(batches.length > 1, 'one batch: indexes ascending, each once');
      assert.equal(histogramText(pairs), JSON.stringify(counted));
    }),
  );
});
