/**
 * Two gateway nodes on one PostgreSQL (started together on an empty database): a write on
 * either node's Admin API reaches the other node's proxy within a second; concurrent writes on
 * both nodes keep one winner per name; during a database outage both nodes keep proxying and
 * refuse writes with 503, and afterwards they catch up without a restart.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { GUIDE_CHAT_BODY as GUIDE_BODY, guidePluginCall, guideRouteCall, guideServiceCall } from '../helpers/kong-guide.ts';
import { PgServer, pgMissing } from '../helpers/postgres.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

if (pgMissing) process.stderr.write(`# skipped cluster tests: ${pgMissing}\n`);

/** Polls `probe` until it returns true; resolves with the time it took. */
async function within(ms: number, probe: () => Promise<boolean>, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('two nodes on one PostgreSQL', { skip: pgMissing ?? false }, () => {
  let server: PgServer;
  let a: Gateway;
  let b: Gateway;
  let openai: MockProvider;

  before(async () => {
    server = await PgServer.start();
    const url = await server.createDatabase('cluster');
    openai = await startMockProvider('openai');
    const env = { MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: url, MODELGATE_PG_TIMEOUT_MS: '2000', MG_CLUSTER_OPENAI_AUTH: 'Bearer sk-test' };
    [a, b] = await Gateway.startAll([{ env }, { env }]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await openai?.close();
    await server?.close();
  });

  test("the guide's route and plugin created on node A serve through node B within a second", async () => {
    const svc = await a.adminForm('POST', '/services', guideServiceCall());
    assert.equal(svc.status, 201, svc.text);
    const route = await a.adminForm('POST', '/services/ai-proxy/routes', guideRouteCall('openai-chat'));
    assert.equal(route.status, 201, route.text);
    const plugin = guidePluginCall('openai-chat')
      .map(([k, v]): [string, string] => (k === 'config.auth.header_value' ? [k, '{vault://env/mg-cluster-openai-auth}'] : [k, v]))
      .concat([['config.model.options.upstream_url', `${openai.url}/v1/chat/completions`]]);
    const created = await a.adminForm('POST', '/routes/openai-chat/plugins', plugin);
    assert.equal(created.status, 201, created.text);
    const ms = await within(1000, async () => (await b.proxyRequest('POST', '/openai-chat', GUIDE_BODY)).status === 200, 'node B serving the new route');
    console.log(`METRIC cluster_propagation_ms=${ms}`);
    const res = await b.proxyRequest('POST', '/openai-chat', GUIDE_BODY);
    assert.equal(res.json.object, 'chat.completion');
    assert.equal(openai.requests[openai.requests.length - 1].headers.authorization, 'Bearer sk-test');
    assert.equal((await b.adminRequest('GET', '/routes/openai-chat')).status, 200, "node B's Admin API reads the same database");
  });

  test('the database holds the vault reference, never the key (T68)', async () => {
    const rows = await server.query('SELECT data::text AS data FROM plugins', [], 'cluster');
    assert.equal(rows.length, 1);
    assert.ok(rows[0].data.includes('{vault://env/mg-cluster-openai-auth}'));
    assert.ok(!rows[0].data.includes('sk-test'));
  });

  test('concurrent writes on both nodes: one winner per name, no 5xx, both nodes agree', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    const attempts = names.flatMap((name) => [a, b, a, b].map((node) => node.adminRequest('POST', '/services', { name, url: 'http://127.0.0.1:1' })));
    const results = await Promise.all(attempts);
    for (const r of results) assert.ok(r.status === 201 || r.status === 409, `${r.status} ${r.text}`);
    assert.equal(results.filter((r) => r.status === 201).length, names.length);
    const routeOnB = await b.adminRequest('POST', '/services/race-0/routes', { name: 'race-route', paths: ['/race'] });
    assert.equal(routeOnB.status, 201);
    const ms = await within(1000, async () => (await a.proxyRequest('GET', '/race')).status === 502, 'node A serving the route made on B');
    assert.ok(ms < 1000);
    const [la, lb] = await Promise.all([a.adminRequest('GET', '/services?size=1000'), b.adminRequest('GET', '/services?size=1000')]);
    assert.deepEqual(la.json.data, lb.json.data);
  });

  test('PostgreSQL down: both nodes keep proxying, writes get 503; back up: they catch up without a restart', async () => {
    await server.stop();
    let t0 = Date.now();
    try {
      for (const node of [a, b]) {
        for (let i = 0; i < 5; i++) assert.equal((await node.proxyRequest('POST', '/openai-chat', GUIDE_BODY)).status, 200);
      }
      t0 = Date.now();
      const write = await a.adminRequest('POST', '/services', { name: 'during-outage', host: 'example.com' });
      const writeMs = Date.now() - t0;
      assert.equal(write.status, 503, write.text);
      assert.match(write.json.message, /database is unavailable/);
      console.log(`METRIC cluster_admin_503_ms=${writeMs}`);
      assert.ok(writeMs < 5000);
      const status = await b.adminRequest('GET', '/status');
      assert.equal(status.status, 200);
      assert.equal(status.json.database.reachable, false);
    } finally {
      await server.start();
    }
    t0 = Date.now();
    // the first write after the restart: accepted as soon as node B reconnects
    await within(10_000, async () => (await b.adminRequest('POST', '/services/race-1/routes', { name: 'after-outage', paths: ['/after'] })).status === 201, 'a write accepted again');
    const writeBack = Date.now() - t0;
    const seen = await within(1000, async () => (await a.proxyRequest('GET', '/after')).status === 502, 'node A serving the write made after the outage');
    console.log(`METRIC cluster_write_accepted_after_restart_ms=${writeBack} cluster_propagation_after_outage_ms=${seen}`);
    assert.equal((await a.adminRequest('GET', '/status')).json.database.change_feed, 'listening');
  });
});
