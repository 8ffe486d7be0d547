/**
 * `npm test`: type-check, then every test file under test/ with node:test.
 * Unit and conformance suites are pure and run in parallel; integration suites start real
 * gateway processes on free loopback ports, so they run a couple at a time.
 * `npm test -- <filter>` runs only the files whose path contains the filter.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { pgMissing } from './helpers/postgres.ts';
import { redisMissing } from './helpers/redis.ts';
import { guideTextMissing, kongFixturesMissing } from './helpers/shared.ts';
import { oldNodeMissing } from './helpers/old-node.ts';
import { browserMissing } from './helpers/browser.ts';
import { firefoxMissing } from './helpers/firefox.ts';

const root = path.resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...files(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

/**
 * How long one suite may take: a file whose failed set-up left a server open never exits, and
 * held a run for 17 minutes before it was noticed. (Not `--test-force-exit`: it ends a file once
 * the tests it knows of are done, and 20 unit tests registered after an await never ran.)
 */
const SUITE_LIMIT_MS = 40 * 60_000;

/** A command's exit status; null when it was stopped at `timeoutMs`. */
function run(cmd: string, args: string[], timeoutMs?: number): number | null {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env, timeout: timeoutMs, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return null;
  return r.status ?? 1;
}

if (filters.length === 0) {
  console.log('# tsc --noEmit');
  if (run(path.join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', root]) !== 0) process.exit(1);
  // the Admin GUI's browser code, with the DOM's types (src/gui/app/tsconfig.json)
  if (run(path.join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', path.join(root, 'src/gui/app')]) !== 0) process.exit(1);
}

const selected = (suite: string) => files(path.join(root, 'test', suite)).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
const suites: [string, number][] = [
  ['unit', os.availableParallelism()],
  ['conformance', os.availableParallelism()],
  ['integration', 2],
];
/**
 * What cannot run here, and why: each reason with the name a test file guards on. The dot
 * reporter hides skips, so a reason is said once, up front, when a selected file uses it.
 */
const missing: [reason: string | null, guard: string][] = [
  [pgMissing, 'pgMissing'],
  [redisMissing, 'redisMissing'],
  [kongFixturesMissing, 'kongFixturesMissing'],
  [guideTextMissing, 'guideTextMissing'],
  [oldNodeMissing, 'oldNodeMissing'],
  [browserMissing, 'browserMissing'],
  [firefoxMissing, 'firefoxMissing'],
];
const said = new Set<string>();
function sayWhatSkips(list: string[]): void {
  for (const [reason, guard] of missing) {
    if (!reason || said.has(reason) || !list.some((f) => readFileSync(f, 'utf8').includes(guard))) continue;
    said.add(reason);
    console.log(`# skipping: ${reason}`);
  }
}

let failed = false;
const totals = { pass: 0, fail: 0, skip: 0 };
const tapDir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-tap-'));
for (const [suite, concurrency] of suites) {
  const list = selected(suite);
  if (!list.length) continue;
  console.log(`# ${suite}: ${list.length} files`);
  sayWhatSkips(list);
  // dots on the terminal; a TAP copy in a file, only for the counts of the closing line
  const tap = path.join(tapDir, `${suite}.tap`);
  const reporters = ['--test-reporter=dot', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`];
  const code = run(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...reporters, ...list], SUITE_LIMIT_MS);
  if (code === null) console.log(`# ${suite}: not finished after ${SUITE_LIMIT_MS / 60_000} minutes, stopped (a test file holding an open handle?)`);
  if (code !== 0) failed = true; // a stopped suite (null) fails too
  const counts = tapCounts(tap);
  totals.pass += counts.pass;
  totals.fail += counts.fail;
  totals.skip += counts.skip;
}
rmSync(tapDir, { recursive: true, force: true });
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skip} skipped`);
process.exit(failed ? 1 : 0);

/** The run's totals from the TAP summary (`# pass N`, `# fail N`, `# skipped N`). */
function tapCounts(file: string): { pass: number; fail: number; skip: number } {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { pass: 0, fail: 1, skip: 0 }; // the runner died before reporting: count it as a failure
  }
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  // `# skipped` counts tests only; a skipped describe() (a whole suite) is one `# SKIP` line too
  const skip = text.match(/^\s*ok \d+ - .*# SKIP\b/gm)?.length ?? 0;
  return { pass: count('pass'), fail: count('fail') + count('cancelled'), skip };
}
