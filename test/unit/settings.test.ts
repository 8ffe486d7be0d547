import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, publicSettings, SettingsError } from '../../src/settings.ts';

test('defaults follow Kong: proxy on 0.0.0.0:8000, Admin API on loopback', () => {
  const s = loadSettings({});
  assert.deepEqual(s.proxy_listen, [{ host: '0.0.0.0', port: 8000 }]);
  assert.deepEqual(s.admin_listen, [{ host: '127.0.0.1', port: 8001 }]);
  assert.equal(s.database, 'sqlite');
  assert.ok(s.workers >= 1);
  assert.equal(s.max_body_size, 20 * 1024 * 1024);
});

test('environment variables override the config file, which overrides defaults', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mg-settings-'));
  const file = path.join(dir, 'modelgate.yaml');
  writeFileSync(file, 'workers: 3\nlog_level: debug\nproxy_listen: 127.0.0.1:9000\n');
  const s = loadSettings({ MODELGATE_CONF: file, MODELGATE_WORKERS: '2' });
  assert.equal(s.workers, 2);
  assert.equal(s.log_level, 'debug');
  assert.deepEqual(s.proxy_listen, [{ host: '127.0.0.1', port: 9000 }]);
});

test('a bad value names the setting in one line', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ MODELGATE_WORKERS: 'many' }, /^MODELGATE_WORKERS: invalid value 'many'/],
    [{ MODELGATE_PROXY_LISTEN: '8000' }, /^MODELGATE_PROXY_LISTEN: invalid value '8000' \(expected host:port, or off\)/],
    [{ MODELGATE_ADMIN_LISTEN: '127.0.0.1:99999' }, /^MODELGATE_ADMIN_LISTEN:/],
    [{ MODELGATE_LOG_LEVEL: 'loud' }, /^MODELGATE_LOG_LEVEL: invalid value 'loud' \(expected one of/],
    [{ MODELGATE_MAX_BODY_SIZE: 'huge' }, /^MODELGATE_MAX_BODY_SIZE/],
  ];
  for (const [env, re] of cases) {
    assert.throws(() => loadSettings(env), (e: Error) => e instanceof SettingsError && re.test(e.message) && !e.message.includes('\n'));
  }
});

test('secrets are masked in the public view of the configuration', () => {
  const s = loadSettings({ MODELGATE_ADMIN_TOKEN: 'hunter2-token', MODELGATE_PG_URL: 'postgres://u:pw@h/db' });
  const pub = JSON.stringify(publicSettings(s));
  assert.ok(!pub.includes('hunter2-token'));
  assert.ok(!pub.includes('pw@h'));
});
