/**
 * Golden client streams (issue 18): a provider recording fed through its wire format's stream
 * translator, the client frames compared with a golden file, and the same frames required however
 * the provider's bytes are cut (every single cut, and one byte at a time), as for chat streams.
 *
 * Goldens are compared by default; `UPDATE_GOLDENS=1 npm test -- <file>` rewrites them from the
 * current output (review the diff before keeping it). A missing golden is a failure, never written
 * in silence.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RECORDINGS as CONFORMANCE_RECORDINGS, UPDATE_GOLDENS, runStream, type StreamRun } from '../conformance/support.ts';
import type { ExchangeContext } from '../../src/exchange/context.ts';

export { UPDATE_GOLDENS };

/** test/unit/golden: `<api>/<name>.txt` goldens, and `recordings/` written for these tests. */
export const GOLDEN_ROOT = path.resolve(import.meta.dirname, '../unit/golden');
const UNIT_RECORDINGS = path.join(GOLDEN_ROOT, 'recordings');

/** A provider recording: the unit goldens' own first, else the conformance suite's (shared with the chat goldens). */
export function providerRecording(name: string): Uint8Array {
  const own = path.join(UNIT_RECORDINGS, name);
  return new Uint8Array(readFileSync(existsSync(own) ? own : path.join(CONFORMANCE_RECORDINGS, name)));
}

/** `actual` equals `<dir>/<name>.txt`; under UPDATE_GOLDENS=1 it is written first. */
export function assertGolden(dir: string, name: string, actual: string): void {
  const file = path.join(dir, `${name}.txt`);
  if (UPDATE_GOLDENS) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, actual);
  }
  if (!existsSync(file)) assert.fail(`no golden ${path.relative(process.cwd(), file)}: run with UPDATE_GOLDENS=1 and review it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `golden ${name}`);
}

/**
 * The recording through the context's driver (decoder + translator), whole; then the same output
 * required with the bytes cut once at every offset, and fed one byte at a time. A fresh context per
 * run: translators and sinks keep state.
 */
export function runEverySplit(context: () => ExchangeContext, bytes: Uint8Array): StreamRun {
  const whole = runStream(context(), bytes);
  for (let cut = 0; cut <= bytes.length; cut++) assert.equal(runStream(context(), bytes, [cut]).output, whole.output, `cut at byte ${cut}`);
  const everyByte = Array.from({ length: bytes.length }, (_, i) => i + 1);
  assert.equal(runStream(context(), bytes, everyByte).output, whole.output, 'one byte at a time');
  return whole;
}
