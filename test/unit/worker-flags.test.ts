/** Workers get 32 MB semi-spaces unless the operator chose a size (src/server/workers.ts). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { workerExecArgv } from '../../src/server/workers.ts';

test('workers run with larger semi-spaces by default, keeping the primary’s other flags', () => {
  assert.deepEqual(workerExecArgv([], undefined), ['--max-semi-space-size=32']);
  assert.deepEqual(workerExecArgv(['--enable-source-maps'], ''), ['--enable-source-maps', '--max-semi-space-size=32']);
});

test('an operator’s own semi-space size, in argv or NODE_OPTIONS, wins', () => {
  assert.deepEqual(workerExecArgv(['--max-semi-space-size=8'], undefined), ['--max-semi-space-size=8']);
  assert.deepEqual(workerExecArgv([], '--trace-warnings --max-semi-space-size=64'), []);
});
