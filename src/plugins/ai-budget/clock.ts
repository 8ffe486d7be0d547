/**
 * The budget's clock. Date.now(), except in tests: TEST-ONLY, and inert unless the process has
 * `MODELGATE_TEST_FAULTS=1` (as src/admin/test-faults.ts), the clock is shifted by
 *   MODELGATE_TEST_CLOCK_OFFSET_MS  a fixed offset (ms), read once at start;
 *   MODELGATE_TEST_CLOCK_FILE       a file holding an offset (ms), read at every call, so a test
 *                                   can move the clock of a running gateway (a period boundary).
 * Neither is a setting; never set them on a real gateway. Only this plugin reads this clock
 * (period boundaries and resets); counters expire on the primary's own clock, by durations.
 */
import { readFileSync } from 'node:fs';

const env = process.env;
const testing = env.MODELGATE_TEST_FAULTS === '1';
const fixedOffset = testing ? Number(env.MODELGATE_TEST_CLOCK_OFFSET_MS ?? 0) || 0 : 0;
const offsetFile = testing ? (env.MODELGATE_TEST_CLOCK_FILE ?? null) : null;

function fileOffset(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export const budgetNow: () => number = offsetFile !== null ? () => Date.now() + fixedOffset + fileOffset(offsetFile) : fixedOffset !== 0 ? () => Date.now() + fixedOffset : Date.now;
