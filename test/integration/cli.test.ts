/**
 * `modelgate config parse`: checks a declarative file without a running gateway, as Kong's
 * `kong config parse` does: a good file is summarised, a bad one lists every error with its path
 * and exits 1, a missing file is one clear line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../helpers/gateway.ts';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
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
