/**
 * The PostgreSQL store against a real server (initdb'd for this file): migrations from the command
 * line, constraints enforced by the database, transactions, the change notification, injection
 * attempts stored as data, and an outage failing fast and healing without a restart.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PgServer, pgMissing } from '../helpers/postgres.ts';
import { CLI } from '../helpers/gateway.ts';
import { PostgresStore, withTimeouts, CHANGE_CHANNEL } from '../../src/store/postgres.ts';
import { StoreError, type Row } from '../../src/store/types.ts';

if (pgMissing) process.stderr.write(`# skipped PostgreSQL tests: ${pgMissing}\n`);

const service = (name: string, extra: Record<string, unknown> = {}): Row => ({ id: crypto.randomUUID(), created_at: 1, name, host: 'example.com', tags: null, ...extra });

describe('PostgreSQL store', { skip: pgMissing ?? false }, () => {
  let server: PgServer;
  let url: string;
  let store: PostgresStore;

  before(async () => {
    server = await PgServer.start();
    url = await server.createDatabase('store');
  });
  after(async () => {
    await store?.close();
    await server?.close();
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: url, ...env } });

  test('modelgate migrations list | bootstrap | up', () => {
    let r = cli(['migrations', 'list']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^pending {2}000_base$/m);
    r = cli(['migrations', 'bootstrap']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /applied {2}000_base\napplied {2}001_spend_log\napplied {2}002_spend_details_and_combinations\napplied {2}003_cluster_nodes\ndatabase bootstrapped/);
    r = cli(['migrations', 'bootstrap']);
    assert.match(r.stdout, /database already bootstrapped/);
    r = cli(['migrations', 'up']);
    assert.match(r.stdout, /database is up to date/);
    r = cli(['migrations', 'list']);
    assert.match(r.stdout, /^applied {2}000_base\napplied {2}001_spend_log\napplied {2}002_spend_details_and_combinations\napplied {2}003_cluster_nodes$/m);
    const unreachable = cli(['migrations', 'list'], { MODELGATE_PG_URL: 'postgres://nobody@127.0.0.1:1/none', MODELGATE_PG_TIMEOUT_MS: '500' });
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /^modelgate: migrations list: .*ECONNREFUSED/);
  });

  test('nodes starting together on an empty database create the schema once', async () => {
    const fresh = await server.createDatabase('race');
    const stores = Array.from({ length: 4 }, () => new PostgresStore(withTimeouts({ connectionString: fresh }, 5000), { bootstrapIfEmpty: true }));
    await Promise.all(stores.map((s) => s.init()));
    assert.deepEqual(await stores[0].migrations(), [{ name: '000_base', applied: true }, { name: '001_spend_log', applied: true }, { name: '002_spend_details_and_combinations', applied: true }, { name: '003_cluster_nodes', applied: true }]);
    await Promise.all(stores.map((s) => s.close()));
    const refuses = new PostgresStore(withTimeouts({ connectionString: await server.createDatabase('empty') }, 5000));
    await assert.rejects(refuses.init(), /the database is empty; run 'modelgate migrations bootstrap'/);
    await refuses.close();
  });

  test('constraints are the database\'s: unique names, plugin cache keys, foreign keys and cascades', async () => {
    store = new PostgresStore(withTimeouts({ connectionString: url }, 3000), { bootstrapIfEmpty: true });
    await store.init();
    const s = service('svc');
    await store.write('services', s, 'insert');
    await assert.rejects(store.write('services', service('svc'), 'insert'), (e: StoreError) => e.kind === 'unique' && e.detail.column === 'name');
    await assert.rejects(store.write('services', { ...s, name: 'other' }, 'insert'), (e: StoreError) => e.kind === 'unique' && e.detail.column === 'id');
    const route: Row = { id: crypto.randomUUID(), created_at: 2, name: 'r', paths: ['/r'], service: { id: s.id }, tags: ['a', 'b'] };
    await store.write('routes', route, 'insert');
    const plugin = (id: string): Row => ({ id, created_at: 3, name: 'request-termination', route: { id: route.id }, service: null, consumer: null, config: {} });
    await store.write('plugins', plugin(crypto.randomUUID()), 'insert');
    await assert.rejects(store.write('plugins', plugin(crypto.randomUUID()), 'insert'), (e: StoreError) => e.kind === 'unique' && e.detail.column === 'cache_key');
    await assert.rejects(store.delete('services', s.id), (e: StoreError) => e.kind === 'referenced', 'a service with routes is kept');
    await assert.rejects(store.write('routes', { ...route, name: 'r2', id: crypto.randomUUID(), service: { id: crypto.randomUUID() } }, 'insert'), (e: StoreError) => e.kind === 'referenced');
    await assert.rejects(store.write('services', service('ghost'), 'update'), (e: StoreError) => e.kind === 'not_found');
    assert.equal(await store.delete('routes', route.id), true);
    assert.equal(await store.count('plugins'), 0, "a route's plugins go with it");
    assert.equal(await store.delete('services', s.id), true);
    assert.equal(await store.delete('services', s.id), false);
  });

  test('pages, tags and lookups behave as on SQLite; injection attempts are plain data', async () => {
    const names = ["' OR '1'='1", "x'); DROP TABLE services; --", 'pg_sleep(5)', '%', '_', 'tab\there', 'ünïcödé'];
    for (const [i, name] of names.entries()) await store.write('services', service(name, { tags: i % 2 ? ['odd', 'all'] : ['even', 'all'] }), 'insert');
    for (const name of names) assert.equal((await store.findBy('services', 'name', name))?.name, name);
    assert.equal(await store.findBy('services', 'name', "' OR 1=1 --"), null);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.page('services', { size: 3, after, tags: ['all'] });
      if (!page.length) break;
      seen.push(...page.map((r) => r.id));
      after = page[page.length - 1].id;
    }
    assert.equal(seen.length, names.length);
    assert.deepEqual(seen, [...seen].sort(), 'ordered by id, byte-wise');
    assert.equal((await store.page('services', { size: 100, tags: ['odd', 'all'], tagsMode: 'and' })).length, 3);
    assert.equal((await store.page('services', { size: 100, tags: ['odd', 'even'], tagsMode: 'or' })).length, names.length);
    assert.equal((await store.page('services', { size: 100, tags: ["' OR '1'='1"] })).length, 0);
  });

  test('every write bumps the version and notifies it on commit; a failed write changes nothing', async () => {
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    const heard: number[] = [];
    listener.on('notification', (m) => heard.push(Number(m.payload)));
    await listener.query(`LISTEN ${CHANGE_CHANNEL}`);
    const v0 = await store.version();
    await store.write('services', service('notify-me'), 'insert');
    await assert.rejects(store.write('services', service('notify-me'), 'insert'));
    const before = await store.loadAll();
    // replaceAll is one transaction: a duplicate in the middle leaves everything as it was
    await assert.rejects(store.replaceAll({ services: [service('a'), service('b'), service('a')] }), (e: StoreError) => e.kind === 'unique');
    assert.deepEqual(await store.loadAll(), before);
    await store.replaceAll({ services: Array.from({ length: 1200 }, (_, i) => service(`bulk-${i}`)) });
    await new Promise((r) => setTimeout(r, 100));
    await listener.end();
    assert.equal(await store.version(), v0 + 2);
    assert.deepEqual(heard, [v0 + 1, v0 + 2]);
    const loaded = await store.loadVersioned();
    assert.equal(loaded.version, v0 + 2);
    assert.equal(loaded.data.services.length, 1200);
  });

  test('an outage fails fast as "unavailable", and the store heals by itself', async () => {
    await server.stop();
    try {
      const t0 = Date.now();
      await assert.rejects(store.get('services', crypto.randomUUID()), (e: StoreError) => e.kind === 'unavailable');
      await assert.rejects(store.write('services', service('down'), 'insert'), (e: StoreError) => e.kind === 'unavailable');
      assert.ok(Date.now() - t0 < 2000, `failed in ${Date.now() - t0} ms`);
      assert.equal((await store.health()).reachable, false);
    } finally {
      await server.start();
    }
    assert.equal((await store.health()).reachable, true);
    await store.write('services', service('back'), 'insert');
  });

  test('config db_import and db_export move a declarative file in and out of the database', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-import-'));
    try {
      const file = path.join(dir, 'kong.yml');
      writeFileSync(file, '_format_version: "3.0"\nservices:\n  - name: imported\n    url: http://example.com\n    routes:\n      - name: imported-route\n        paths: [/imported]\n');
      const imported = cli(['config', 'db_import', file]);
      assert.equal(imported.status, 0, imported.stderr);
      assert.match(imported.stdout, /imported 1 services, 1 routes/);
      const out = path.join(dir, 'export.yml');
      const exported = cli(['config', 'db_export', out]);
      assert.equal(exported.status, 0, exported.stderr);
      const text = readFileSync(out, 'utf8');
      assert.match(text, /name: imported-route/);
      assert.match(text, /name: back/, 'what was there stays (Kong semantics: an import adds and updates)');
      const again = cli(['config', 'db_import', file]);
      assert.equal(again.status, 0, 'importing the same file again updates the same entities (stable ids)');
      const clash = path.join(dir, 'clash.yml');
      writeFileSync(clash, '_format_version: "3.0"\nservices:\n  - id: 6d4a2b1e-7c3f-4a5b-9c8d-1e2f3a4b5c6d\n    name: back\n    host: example.com\n');
      const failed = cli(['config', 'db_import', clash]);
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /nothing was imported \(services: name 'back' already used by another entity in the database\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
