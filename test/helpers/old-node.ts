/**
 * A Node.js older than the project's 24, to check that the `modelgate` command still runs on 24
 * when an older `node` is the one on PATH (what many machines have). `MODELGATE_TEST_OLD_NODE`
 * names one; else the system's, when it is older.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function find(): string | null {
  for (const file of [process.env.MODELGATE_TEST_OLD_NODE, '/usr/bin/node', '/usr/local/bin/node']) {
    if (!file || !existsSync(file)) continue;
    const r = spawnSync(file, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0 && Number(r.stdout.split('.')[0]) < 24) return file;
  }
  return null;
}

export const OLD_NODE: string | null = find();

export const oldNodeMissing: string | null = OLD_NODE
  ? null
  : 'no Node.js older than 24 found (/usr/bin/node, /usr/local/bin/node, MODELGATE_TEST_OLD_NODE): the command is not tested under an older node on PATH';
