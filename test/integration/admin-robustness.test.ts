/**
 * The control plane under bad luck and its own bugs (issue 16), against the real gateway process:
 * - the admin token: either header carrying it is enough, and a wrong one gets the same 401
 *   whichever header it was in;
 * - every 500 the Admin API answers is logged with its cause;
 * - `MODELGATE_LOG_LEVEL=debug` (or `log_level: debug` in a `--conf` file) gives debug lines from
 *   the primary and the proxy workers; `info` gives none;
 * - an unexpected exception in an Admin API handler, inside or outside the request's promise
 *   chain, is logged and answered 500 while the primary and its workers keep serving; a fatal one
 *   stops the gateway cleanly, workers drained, exit code 70. The bugs are planted by the
 *   test-only fault routes (`MODELGATE_TEST_FAULTS=1`, src/admin/test-faults.ts).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CLI, Gateway, freePort } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

interface LogLine {
  level: string;
  role?: string;
  msg: string;
  [k: string]: unknown;
}

function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial line at the end of the buffer
    }
  }
  return out;
}

async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('admin token: a valid token in either header is enough; a wrong one gets the same 401 whichever header holds it', async () => {
  const token = 'adm-' + crypto.randomUUID();
  const gw = await Gateway.start({ env: { MODELGATE_ADMIN_TOKEN: token } });
  try {
    const get = (headers: Record<string, string>) => gw.adminRequest('GET', '/services', undefined, headers);
    const bearer = (t: string) => `Bearer ${t}`;
    assert.equal((await get({ 'kong-admin-token': token, authorization: bearer(token) })).status, 200, 'both right');
    assert.equal((await get({ 'kong-admin-token': token, authorization: bearer('wrong-token') })).status, 200, 'Kong-Admin-Token right, Bearer wrong');
    assert.equal((await get({ 'kong-admin-token': 'wrong-token', authorization: bearer(token) })).status, 200, 'Kong-Admin-Token wrong, Bearer right');
    assert.equal((await get({ 'kong-admin-token': token, authorization: 'Basic dXNlcjpwYXNz' })).status, 200, 'another Authorization scheme beside a right token');

    const refusals = [
      await get({ 'kong-admin-token': 'wrong-token', authorization: bearer('wrong-token') }),
      await get({ 'kong-admin-token': 'wrong-token' }),
      await get({ authorization: bearer('wrong-token') }),
      await get({ 'kong-admin-token': 'wrong-token', authorization: 'Basic dXNlcjpwYXNz' }),
      await get({}),
    ];
    for (const r of refusals) {
      assert.equal(r.status, 401);
      assert.equal(r.text, refusals[0].text, 'the same answer whichever header was wrong');
      assert.equal(r.headers.get('content-type'), refusals[0].headers.get('content-type'));
    }
    assert.ok(!gw.logs.includes(token), 'the token is never logged');
  } finally {
    await gw.close();
  }
});

describe('Admin API errors', () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start();
  });
  after(async () => {
    await gw?.close();
  });

  test('a 500 is logged with its cause (a table the store needs is gone)', async () => {
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'svc', host: 'example.com' })).status, 201);
    // another process breaks the schema under the running gateway
    const db = new DatabaseSync(path.join(gw.prefix, 'modelgate.db'));
    db.exec('PRAGMA busy_timeout = 5000; ALTER TABLE services RENAME TO services_moved');
    try {
      const res = await gw.adminRequest('GET', '/services');
      assert.equal(res.status, 500, res.text);
      assert.deepEqual(res.json, { message: 'An unexpected error occurred' }, 'no internals in the answer');
      const line = await waitFor('the 500 in the log', () => logLines(gw.stdout).find((l) => l.level === 'error' && /no such table: services/.test(JSON.stringify(l))));
      assert.equal(line.status, 500);
      assert.equal(line.method, 'GET');
      assert.equal(line.path, '/services');
      assert.match(JSON.stringify(line), /"stack":"[^"]*no such table: services[^"]*\\n\s+at /, 'the cause comes with its stack');
    } finally {
      db.exec('ALTER TABLE services_moved RENAME TO services');
      db.close();
    }
    assert.equal((await gw.adminRequest('GET', '/services')).status, 200, 'the store works again');
  });

  test('the database locked by another process: writes get 503 with Retry-After, reads are served, and it heals', async () => {
    const db = new DatabaseSync(path.join(gw.prefix, 'modelgate.db'));
    // another process (`modelgate config db_import`, a backup tool) holds the write lock past the store's 5 s busy_timeout
    db.exec('BEGIN IMMEDIATE');
    try {
      const write = await gw.adminRequest('POST', '/services', { name: 'while-locked', host: 'example.com' });
      assert.equal(write.status, 503, write.text);
      assert.match(write.json.message, /^The database is unavailable/);
      assert.equal(write.headers.get('retry-after'), '5');
      assert.equal((await gw.adminRequest('GET', '/services/svc')).status, 200, 'WAL readers are not blocked by a writer');
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'after-lock', host: 'example.com' })).status, 201);
  });

  test('a repeated tags argument is read as Kong reads it (the first one), not a 500', async () => {
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'tagged', host: 'example.com', tags: ['a'] })).status, 201);
    const res = await gw.adminRequest('GET', '/services?tags=a&tags=b');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.json.data.map((s: { name: string }) => s.name),
      ['tagged'],
    );
    const consumers = await gw.adminRequest('GET', '/consumers?custom_id=x&custom_id=y');
    assert.equal(consumers.status, 200, consumers.text);
  });

  test('at the info level there are no debug lines', async () => {
    await gw.adminRequest('POST', '/services', { name: 'quiet', host: 'example.com' });
    assert.equal(logLines(gw.stdout).filter((l) => l.level === 'debug').length, 0);
  });
});

describe('debug logging', () => {
  let echo: EchoServer;
  before(async () => {
    echo = await EchoServer.start();
  });
  after(async () => {
    await echo?.close();
  });

  /** A configuration write and a proxied request: what an operator debugging a gateway looks at. */
  async function exercise(gw: Gateway): Promise<void> {
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'echo', url: echo.url })).status, 201);
    assert.equal((await gw.adminRequest('POST', '/services/echo/routes', { name: 'echo', paths: ['/echo'] })).status, 201);
    assert.equal((await gw.proxyRequest('GET', '/echo/hello')).status, 200);
  }

  function assertDebugLines(logs: string): void {
    const debug = logLines(logs).filter((l) => l.level === 'debug');
    const primary = debug.filter((l) => l.role === 'primary');
    const proxy = debug.filter((l) => l.role === 'proxy');
    assert.ok(primary.some((l) => l.msg === 'admin request' && l.method === 'POST' && l.path === '/services' && l.status === 201), 'Admin API requests');
    assert.ok(primary.some((l) => /configuration (loaded|published)/.test(l.msg) && typeof l.version === 'number'), 'snapshots built and published, with their version');
    assert.ok(proxy.some((l) => l.msg === 'configuration applied' && typeof l.version === 'number' && typeof l.compile_ms === 'number'), 'workers applying snapshots');
  }

  test('MODELGATE_LOG_LEVEL=debug gives debug lines from the primary and the workers', async () => {
    const gw = await Gateway.start({ env: { MODELGATE_LOG_LEVEL: 'debug' } });
    try {
      await exercise(gw);
      assertDebugLines(gw.stdout);
    } finally {
      await gw.close();
    }
  });

  test('log_level and proxy_listen from a --conf file reach the workers too', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-conf-'));
    const proxyPort = await freePort();
    const adminPort = await freePort();
    const conf = path.join(dir, 'modelgate.yaml');
    writeFileSync(conf, `proxy_listen: 127.0.0.1:${proxyPort}\nadmin_listen: 127.0.0.1:${adminPort}\nadmin_gui_listen: 'off'\nlog_level: debug\nworkers: 1\nprefix: ${path.join(dir, 'prefix')}\n`);
    // only the file: none of the settings it holds may come from the environment
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELGATE_')));
    const proc = spawn(process.execPath, [CLI, 'start', '--conf', conf], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    let exitCode: number | null = null;
    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve((exitCode = code))));
    const gw = new Gateway(proxyPort, adminPort, dir, true);
    try {
      await waitFor('the Admin API', () => {
        if (exitCode !== null) throw new Error(`the gateway exited with ${exitCode}: ${out}`);
        return fetch(`http://127.0.0.1:${adminPort}/status`).then((r) => r.ok, () => false);
      }, 20_000).catch((e: Error) => assert.fail(`${e.message}\n${out.slice(-3000)}`));
      await exercise(gw);
      assertDebugLines(out);
    } finally {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the primary survives its own bugs', () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start({ workers: 2, env: { MODELGATE_TEST_FAULTS: '1' } });
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'rt', url: 'http://127.0.0.1:9' })).status, 201);
    assert.equal((await gw.adminRequest('POST', '/services/rt/routes', { name: 'rt', paths: ['/rt'] })).status, 201);
    assert.equal((await gw.adminRequest('POST', '/routes/rt/plugins', { name: 'request-termination', config: { status_code: 200, message: 'served' } })).status, 201);
  });
  after(async () => {
    await gw?.close();
  });

  /** The primary answers its Admin API, the same workers serve the proxy, and writes reach them. */
  async function assertServing(pids: { master: number; workers: number[] }, name: string): Promise<void> {
    assert.equal(gw.exitCode, null, 'the primary is running');
    const info = await gw.adminRequest('GET', '/');
    assert.equal(info.status, 200);
    assert.deepEqual(info.json.pids, pids, 'same primary, same workers');
    const write = await gw.adminRequest('POST', '/services', { name, host: 'example.com' });
    assert.equal(write.status, 201, write.text);
    for (let i = 0; i < 4; i++) assert.equal((await gw.proxyRequest('GET', '/rt')).status, 200);
  }

  for (const [kind, what] of [
    ['throw', 'a handler throwing'],
    ['reject', 'a handler rejecting'],
    ['uncaught', 'an event emitter throwing outside the request\'s promise chain'],
    ['unhandled', 'a promise rejected with nobody listening'],
  ] as const) {
    test(`${what}: the request gets a 500 JSON answer, the error is logged, everything keeps serving`, async () => {
      const pids = (await gw.adminRequest('GET', '/')).json.pids;
      const res = await gw.adminRequest('POST', `/__test/faults/${kind}`);
      assert.equal(res.status, 500, res.text);
      assert.deepEqual(res.json, { message: 'An unexpected error occurred' });
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const line = await waitFor('the log line', () => logLines(gw.stdout).find((l) => l.level === 'error' && JSON.stringify(l).includes(`test fault: ${kind}`)));
      assert.match(JSON.stringify(line), /\\n\s+at /, 'with its stack');
      assert.ok(JSON.stringify(line).includes(`"path":"/__test/faults/${kind}"`), 'and the request it happened in');
      await assertServing(pids, `after-${kind}`);
    });
  }

  test('a fatal error stops the gateway cleanly: workers drained, exit code 70', async () => {
    const pids: number[] = (await gw.adminRequest('GET', '/')).json.pids.workers;
    await gw.adminRequest('POST', '/__test/faults/fatal').catch(() => undefined);
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000).unref());
    assert.equal(await Promise.race([gw.waitExit(), timeout]), 70);
    const lines = logLines(gw.stdout);
    assert.ok(lines.some((l) => l.level === 'fatal' && JSON.stringify(l).includes('test fault: fatal')), 'the cause is logged');
    assert.ok(lines.some((l) => l.msg === 'stopped'), 'shut down through the normal drain');
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'worker gone');
  });
});
