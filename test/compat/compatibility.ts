/**
 * `npm run compat`: probes every provider × feature through the real gateway in front of the
 * strict mocks (test/compat/matrix.ts) and writes docs/compatibility.md. `npm test` checks the
 * page is current (test/integration/clients-compat-matrix.test.ts); run this after a change that
 * moves a cell, and commit the page with the change.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderMatrix, runMatrix } from './matrix.ts';

export const PAGE = path.resolve(import.meta.dirname, '../../docs/compatibility.md');

const text = renderMatrix(await runMatrix());
writeFileSync(PAGE, text);
console.log(`wrote ${path.relative(process.cwd(), PAGE)}`);
