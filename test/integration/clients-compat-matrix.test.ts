/**
 * docs/compatibility.md is what the probes find today: every cell of the provider × feature
 * matrix is re-decided by requests through the real gateway to the strict mocks
 * (test/compat/matrix.ts), and the page must match. When a change moves a cell, run
 * `npm run compat` and commit the page with the change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderMatrix, runMatrix, FEATURES, MATRIX_PROVIDERS } from '../compat/matrix.ts';
import { MESSAGES_FEATURES, RESPONSES_FEATURES } from '../compat/client-apis.ts';

const PAGE = path.resolve(import.meta.dirname, '../../docs/compatibility.md');

test('docs/compatibility.md is current (else: npm run compat)', async () => {
  const matrix = await runMatrix();
  const tables = [
    [matrix.chat, FEATURES],
    [matrix.responses, RESPONSES_FEATURES],
    [matrix.messages, MESSAGES_FEATURES],
  ] as const;
  for (const [rows, features] of tables) {
    assert.deepEqual(Object.keys(rows), [...MATRIX_PROVIDERS]);
    for (const row of Object.values(rows)) assert.deepEqual(Object.keys(row).sort(), [...features].sort());
  }
  // every provider at least chats; a broken stack would otherwise write a page of "no"
  for (const [name, row] of Object.entries(matrix.chat)) assert.equal(row.chat.value, 'yes', `${name} chat: ${row.chat.note}`);
  const expected = renderMatrix(matrix);
  let actual = '';
  try {
    actual = readFileSync(PAGE, 'utf8');
  } catch {
    assert.fail('docs/compatibility.md is missing: run npm run compat');
  }
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const diff: string[] = [];
    for (let i = 0; i < Math.max(a.length, e.length) && diff.length < 40; i++) {
      if (a[i] !== e[i]) diff.push(`line ${i + 1}:\n  page:   ${a[i] ?? '(none)'}\n  probes: ${e[i] ?? '(none)'}`);
    }
    assert.fail(`docs/compatibility.md is not current: run npm run compat and commit it.\n${diff.join('\n')}`);
  }
});
