/** Request-path UUIDs (src/util/uuid.ts): the form of version 4 UUIDs, and no repeats across batches. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { uuid, uuidHex } from '../../src/util/uuid.ts';

test('uuid(): version 4, RFC 9562 variant, lower-case, unique over many batches', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = uuid();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 5000);
});

test('uuidHex(): the same 32 digits without dashes, unique', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = uuidHex();
    assert.match(id, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 5000);
});
