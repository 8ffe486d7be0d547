/**
 * The `modelgate` command. `config parse` checks a declarative file without a running gateway, as
 * Kong's `kong config parse` does: a good file is summarised, a bad one lists every error with its
 * path and exits 1, a missing file is one clear line. `help`, `--help` and `-h` print the usage.
 * However it is invoked (the package's `bin`, `./src/cli.ts`, a symlink on PATH), it runs on the
 * project's Node 24 even when an older `node` comes first on PATH, and signals reach the gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, Gateway } from '../helpers/gateway.ts';
import { OLD_NODE, oldNodeMissing } from '../helpers/old-node.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAUNCHER = path.join(ROOT, 'bin/modelgate.cjs');
const USAGE = /^Usage: modelgate <command> \[options\]\n/;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a file as the shell would (its shebang decides), with only the older Node's directory and the system's on PATH. */
function runAsCommand(file: string, args: string[], cwd = os.tmpdir()) {
  const PATH = [path.dirname(OLD_NODE ?? '/usr/bin/node'), '/usr/bin', '/bin'].join(path.delimiter);
  const r = spawnSync(file, args, { encoding: 'utf8', cwd, env: { ...process.env, PATH } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

test('config parse: a good file is summarised, a bad one lists every error with its path and exits 1', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-cli-'));
  try {
    const good = path.join(dir, 'kong.yml');
    writeFileSync(
      good,
      [
        '_format_version: "3.0"',
        'services:',
        '  - name: ai',
        '    url: http://localhost:32000',
        '    routes:',
        '      - name: openai-chat',
        '        paths: ["~/openai-chat$"]',
        '        plugins:',
        '          - name: ai-proxy',
        '            config:',
        '              route_type: llm/v1/chat',
        '              auth: { header_name: Authorization, header_value: "Bearer {vault://env/OPENAI_KEY}" }',
        '              model: { provider: openai, name: gpt-4 }',
      ].join('\n'),
    );
    const ok = cli('config', 'parse', good);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^parse successful: .*1 service.*1 route.*1 plugin/);

    const bad = path.join(dir, 'bad.yml');
    writeFileSync(bad, ['_format_version: "3.0"', 'services:', '  - name: x', '    port: 99999', '    routes:', '      - name: r', '        paths: ["no-slash"]'].join('\n'));
    const no = cli('config', 'parse', bad);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /is invalid \(\d+ errors?\)/);
    assert.match(no.stderr, /services\[0\]/);
    assert.match(no.stderr, /routes\[0\]/);

    const missing = cli('config', 'parse', path.join(dir, 'nope.yml'));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /cannot read .*nope\.yml.*ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('help, --help and -h print the usage and exit 0, as does no command; an unknown one exits 2 with it', () => {
  for (const args of [['help'], ['--help'], ['-h'], []]) {
    const r = cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, USAGE, args.join(' '));
    assert.match(r.stdout, /help, --help, -h/);
  }
  const unknown = cli('--version-of-nothing');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command '--version-of-nothing'\nUsage: modelgate/);
});

test('the command is bin/modelgate.cjs; it and src/cli.ts are executable, in git too (npm would otherwise chmod the checkout)', (t) => {
  assert.deepEqual(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin, { modelgate: 'bin/modelgate.cjs' });
  for (const file of [LAUNCHER, CLI]) accessSync(file, constants.X_OK);
  const git = spawnSync('git', ['ls-files', '-s', 'bin/modelgate.cjs', 'src/cli.ts'], { cwd: ROOT, encoding: 'utf8' });
  if (git.status !== 0 || !git.stdout) return t.skip('not a git checkout');
  assert.deepEqual(git.stdout.trim().split('\n').map((line) => line.split(/\s+/)[0]), ['100755', '100755']);
});

test('with an older node on PATH, every way of invoking the command runs it on Node 24', { skip: oldNodeMissing ?? false }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-bin-'));
  try {
    // a global `npm link` makes such a symlink to the bin; one to src/cli.ts is what older checkouts linked
    symlinkSync(LAUNCHER, path.join(dir, 'modelgate'));
    symlinkSync(CLI, path.join(dir, 'modelgate-cli'));
    const ways: [string, string[]][] = [
      [OLD_NODE!, [LAUNCHER, '--help']],
      [LAUNCHER, ['-h']],
      [CLI, ['help']],
      [path.join(dir, 'modelgate'), ['--help']],
      [path.join(dir, 'modelgate-cli'), ['--help']],
    ];
    for (const [file, args] of ways) {
      const r = runAsCommand(file, args);
      const what = `${path.relative(ROOT, file)} ${args.join(' ')}`;
      assert.equal(r.code, 0, `${what}: ${r.error?.message ?? r.stderr}`);
      assert.match(r.stdout, USAGE, what); // the usage is in src/cli.ts, which only Node 24 can run
    }
    // the whole module graph, not only the usage
    writeFileSync(path.join(dir, 'kong.yml'), '_format_version: "3.0"\nservices: [{ name: ai, url: "http://localhost:32000" }]\n');
    const parsed = runAsCommand(path.join(dir, 'modelgate'), ['config', 'parse', path.join(dir, 'kong.yml')]);
    assert.equal(parsed.code, 0, parsed.stderr);
    assert.match(parsed.stdout, /^parse successful: 1 service/);
    const failed = runAsCommand(OLD_NODE!, [LAUNCHER, 'config', 'parse', path.join(dir, 'nope.yml')]);
    assert.equal(failed.code, 1, 'the exit status comes back through the launcher');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('started through the launcher on an older node: SIGTERM to it, or Ctrl-C to the group, stops the gateway gracefully', { skip: oldNodeMissing ?? false }, async () => {
  const termed = await Gateway.start({ command: [OLD_NODE!, LAUNCHER] });
  try {
    assert.equal((await termed.adminRequest('GET', '/status')).status, 200);
    assert.equal(await termed.stop('SIGTERM'), 0, termed.logs);
    await assert.rejects(fetch(termed.admin + '/status'), 'the gateway itself stopped, not only the launcher');
  } finally {
    await termed.close();
  }
  // a terminal's Ctrl-C reaches the launcher and the gateway; the launcher forwards it too
  const interrupted = await Gateway.start({ command: [OLD_NODE!, LAUNCHER], detached: true });
  try {
    process.kill(-interrupted.proc!.pid!, 'SIGINT');
    assert.equal(await interrupted.waitExit(), 0, interrupted.logs);
    assert.doesNotMatch(interrupted.logs, /second SIGINT/, 'one keypress is one signal');
    await assert.rejects(fetch(interrupted.admin + '/status'));
  } finally {
    await interrupted.close();
  }
});
