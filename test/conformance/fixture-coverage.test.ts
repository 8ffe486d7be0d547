/**
 * Every Kong fixture file is used by a conformance case or listed as unused with a reason, and
 * README.md lists every unused one (and every deliberate difference).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UNIT_CASES, unitFiles } from './cases-unit.ts';
import { EMBEDDINGS_CASES, REQUEST_CASES, RESPONSE_CASES } from './cases-integration.ts';
import { FRAME_CASES, FRAMING_CASES, RECORDED_STREAM_CASES, framingFiles } from './cases-streams.ts';
import { UNUSED_FIXTURES } from './exceptions.ts';
import { FIXTURES, kongFixturesMissing } from './support.ts';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [path.relative(FIXTURES, full).split(path.sep).join('/')];
  });
}

function usedFixtures(): Set<string> {
  const used = new Set<string>();
  for (const c of UNIT_CASES) for (const file of Object.values(unitFiles(c))) used.add(file);
  for (const c of [...REQUEST_CASES, ...RESPONSE_CASES, ...EMBEDDINGS_CASES, ...FRAME_CASES]) used.add(c.file);
  for (const c of FRAMING_CASES) for (const file of Object.values(framingFiles(c))) used.add(file);
  for (const c of RECORDED_STREAM_CASES) for (const file of c.files) used.add(file);
  return used;
}

describe('fixture coverage', { skip: kongFixturesMissing ?? false }, () => {
  const all = walk(FIXTURES).sort();
  const used = usedFixtures();
  const readme = readFileSync(path.join(import.meta.dirname, 'README.md'), 'utf8');

  it('every fixture file is used or listed as unused with a reason', () => {
    const missing = all.filter((file) => !used.has(file) && !Object.hasOwn(UNUSED_FIXTURES, file));
    assert.deepEqual(missing, []);
  });

  it('no case names a file that does not exist, and nothing is both used and unused', () => {
    const present = new Set(all);
    assert.deepEqual([...used].filter((file) => !present.has(file)), []);
    assert.deepEqual(Object.keys(UNUSED_FIXTURES).filter((file) => !present.has(file) || used.has(file)), []);
  });

  it('README.md lists every unused fixture and every deliberate difference', () => {
    assert.deepEqual(Object.keys(UNUSED_FIXTURES).filter((file) => !readme.includes(file)), []);
    const differing = UNIT_CASES.flatMap((c) => [...(c.request ? [unitFiles(c).expectedRequest] : []), ...(c.response ? [unitFiles(c).expectedResponse] : [])]);
    assert.deepEqual(differing.filter((file) => !readme.includes(file)), []);
  });
});
