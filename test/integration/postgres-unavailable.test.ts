/**
 * The Admin API when PostgreSQL refuses work (issue 16): whatever the reason — the database does
 * not accept connections (SQLSTATE 55000), the server is down (ECONNREFUSED), or it is read-only
 * (a standby: 25006) — reads and writes get a 503 JSON answer with `Retry-After`, as
 * docs/cluster.md promises, never a 500; the reason is logged; the proxy keeps serving; and the
 * Admin API heals without a restart. A real 500 (a table gone) is logged with its cause.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PgServer, pgMissing } from '../helpers/postgres.ts';
import { Gateway } from '../helpers/gateway.ts';

if (pgMissing) process.stderr.write(`# skipped PostgreSQL tests: ${pgMissing}\n`);

const DB = 'unavailable';

describe('Admin API with PostgreSQL refusing work', { skip: pgMissing ?? false }, () => {
  let server: PgServer;
  let gw: Gateway;

  before(async () => {
    server = await PgServer.start();
    const url = await server.createDatabase(DB);
    gw = await Gateway.start({ env: { MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: url, MODELGATE_PG_TIMEOUT_MS: '2000' } });
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'svc', url: 'http://127.0.0.1:9' })).status, 201);
    assert.equal((await gw.adminRequest('POST', '/services/svc/routes', { name: 'rt', paths: ['/rt'] })).status, 201);
    assert.equal((await gw.adminRequest('POST', '/routes/rt/plugins', { name: 'request-termination', config: { status_code: 200, message: 'served' } })).status, 201);
  });
  after(async () => {
    await gw?.close();
    await server?.close();
  });

  /** The first log line that `match` accepts, waiting a little for it. */
  async function logged(match: (line: string) => boolean): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const line = gw.stdout.split('\n').find(match);
      if (line) return line;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('expected log line not found');
  }

  /** Drops the gateway's open connections, so its next query must open a new one. */
  const dropConnections = () => server.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [DB]);

  /** Reads and writes of every kind the Admin API does, each a 503 JSON answer with Retry-After. */
  async function assertRefused(what: string, requests: [string, string, unknown?][]): Promise<void> {
    for (const [method, path, body] of requests) {
      const res = await gw.adminRequest(method, path, body);
      assert.equal(res.status, 503, `${what}: ${method} ${path}: ${res.text}`);
      assert.match(res.json?.message ?? '', /^The database is unavailable/, `${method} ${path}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
    }
    assert.equal((await gw.proxyRequest('GET', '/rt')).status, 200, 'the proxy keeps serving');
  }

  const READS: [string, string][] = [
    ['GET', '/routes'],
    ['GET', '/services/svc'],
    ['GET', '/services/svc/routes'],
    ['GET', '/consumers?custom_id=nobody'],
  ];
  const WRITES: [string, string, unknown][] = [
    ['POST', '/services', { name: 'new', host: 'example.com' }],
    ['PATCH', '/services/svc', { retries: 3 }],
    ['PUT', '/consumers/alice', {}],
    ['DELETE', '/routes/rt', undefined],
  ];

  test('the database does not accept connections (55000): reads and writes get 503, and heal', async () => {
    await server.query(`ALTER DATABASE "${DB}" ALLOW_CONNECTIONS false`);
    try {
      await dropConnections();
      await assertRefused('ALLOW_CONNECTIONS false', [...READS, ...WRITES]);
      await logged((l) => /"level":"warn".*not currently accepting connections/.test(l));
    } finally {
      await server.query(`ALTER DATABASE "${DB}" ALLOW_CONNECTIONS true`);
    }
    const write = await gw.adminRequest('POST', '/services', { name: 'after-55000', host: 'example.com' });
    assert.equal(write.status, 201, write.text);
  });

  test('the server is down (ECONNREFUSED): reads and writes get 503, and heal', async () => {
    await server.stop();
    try {
      await assertRefused('server stopped', [...READS, ...WRITES]);
    } finally {
      await server.start();
    }
    const write = await gw.adminRequest('POST', '/services', { name: 'after-restart', host: 'example.com' });
    assert.equal(write.status, 201, write.text);
  });

  test('a read-only database (a standby, 25006): writes get 503, reads still work', async () => {
    await server.query(`ALTER DATABASE "${DB}" SET default_transaction_read_only = on`);
    try {
      await dropConnections();
      await assertRefused('read-only', WRITES);
      assert.equal((await gw.adminRequest('GET', '/routes')).status, 200, 'reads are served');
    } finally {
      await server.query(`ALTER DATABASE "${DB}" RESET default_transaction_read_only`);
      await dropConnections();
    }
    const write = await gw.adminRequest('POST', '/services', { name: 'after-read-only', host: 'example.com' });
    assert.equal(write.status, 201, write.text);
  });

  test('a 500 (a table is gone) is logged with the database\'s error and its stack', async () => {
    await server.query('ALTER TABLE consumers RENAME TO consumers_moved', [], DB);
    try {
      const res = await gw.adminRequest('GET', '/consumers');
      assert.equal(res.status, 500, res.text);
      assert.deepEqual(res.json, { message: 'An unexpected error occurred' });
      // the log reaches this process through a pipe, a moment after the answer
      const line = await logged((l) => l.includes('"level":"error"') && l.includes('relation \\"consumers\\" does not exist'));
      assert.match(line, /"code":"42P01"/);
      assert.match(line, /"stack":"[^"]*\\n\s+at /);
    } finally {
      await server.query('ALTER TABLE consumers_moved RENAME TO consumers', [], DB);
    }
  });
});
