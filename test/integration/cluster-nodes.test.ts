/**
 * The node registry (src/server/cluster-nodes.ts, migration 003) with real gateway processes on
 * one real PostgreSQL, a short heartbeat (MODELGATE_CLUSTER_HEARTBEAT_MS): each node's
 * `GET /cluster/nodes` lists itself first and the other; after a write both rows carry the new
 * configuration version; a database outage costs the heartbeat, never a proxied request; a node
 * killed goes `unreachable`, a node stopped cleanly leaves the list, and rows a day old are
 * pruned. SQLite: this node only.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { Gateway } from '../helpers/gateway.ts';
import { PgServer, pgMissing } from '../helpers/postgres.ts';

if (pgMissing) process.stderr.write(`# skipped cluster-nodes tests: ${pgMissing}\n`);

const HEARTBEAT_MS = 300;

/** Polls `probe` (bounded) until it returns a value; the wait is a bound, not a measurement. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function nodes(gw: Gateway): Promise<any> {
  const r = await gw.adminRequest('GET', '/cluster/nodes');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** A plain upstream answering 200 "ok", for proxying through the nodes. */
async function upstream(): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

describe('the node registry on PostgreSQL', { skip: pgMissing ?? false }, () => {
  let pg: PgServer;
  let url: string;
  let up: http.Server;
  let a: Gateway;
  let b: Gateway;
  const env = () => ({ MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: url, MODELGATE_PG_TIMEOUT_MS: '2000', MODELGATE_CLUSTER_HEARTBEAT_MS: String(HEARTBEAT_MS) });

  before(async () => {
    pg = await PgServer.start();
    url = await pg.createDatabase('cluster_nodes');
    up = await upstream();
    a = await Gateway.start({ env: env() });
    b = await Gateway.start({ env: env(), workers: 2 });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    up?.close();
    await pg?.close();
  });

  test('each node lists itself first (self) and the other, as their own `/` and `/status` describe them', async () => {
    const [infoA, infoB] = [(await a.adminRequest('GET', '/')).json, (await b.adminRequest('GET', '/')).json];
    for (const [gw, me, peer] of [[a, infoA, infoB], [b, infoB, infoA]] as const) {
      // the peer's row was written before its Admin API answered: no wait needed
      const list = await nodes(gw);
      assert.equal(list.registry.kind, 'postgres');
      assert.equal(list.registry.heartbeat_ms, HEARTBEAT_MS);
      assert.equal(list.registry.reachable, true);
      assert.equal(list.next, null);
      assert.deepEqual(list.data.map((n: any) => [n.id, n.self]).sort(), [[me.node_id, true], [peer.node_id, false]].sort());
      assert.equal(list.data[0].id, me.node_id, 'this node first');
      const other = list.data.find((n: any) => n.id === peer.node_id);
      assert.equal(other.state, 'running');
      assert.equal(other.hostname, os.hostname());
      assert.equal(other.version, peer.version);
      assert.equal(other.pid, peer.pids.master);
      assert.equal(other.heartbeat_ms, HEARTBEAT_MS);
      assert.equal(other.workers, peer.pids.workers.length);
      assert.deepEqual(other.redis, { configured: false });
      assert.ok(other.memory.primary_rss_bytes > 0);
      assert.ok(Date.parse(other.started_at) <= Date.parse(other.last_seen));
      const status = (await gw.adminRequest('GET', '/status')).json;
      assert.equal(list.data[0].workers, status.server.workers);
      assert.equal(list.data[0].configuration_version, status.configuration.version);
    }
  });

  test('after a write on one node, both rows carry the new configuration version, the newest', async () => {
    const before = (await nodes(a)).configuration_version;
    const svc = await a.adminRequest('POST', '/services', { name: 'plain', url: `http://127.0.0.1:${(up.address() as AddressInfo).port}` });
    assert.equal(svc.status, 201, svc.text);
    const route = await a.adminRequest('POST', '/services/plain/routes', { name: 'plain', paths: ['/plain'] });
    assert.equal(route.status, 201, route.text);
    const version = (await a.adminRequest('GET', '/status')).json.configuration.version;
    assert.ok(version > before);
    for (const gw of [a, b]) {
      // B's row changes once B serves the version (the change feed, then its nudge): bounded wait
      const list = await until('both rows at the new version', async () => {
        const l = await nodes(gw);
        return l.data.length === 2 && l.data.every((n: any) => n.configuration_version === version && n.workers_ready === n.workers) && l;
      });
      assert.equal(list.configuration_version, version, 'the newest is the database\'s version');
    }
  });

  test('PostgreSQL down: both nodes keep proxying, the list is this node with the error; back up: heartbeats resume', async () => {
    const idB = (await b.adminRequest('GET', '/')).json.node_id;
    await pg.stop();
    try {
      for (const gw of [a, b]) {
        for (let i = 0; i < 10; i++) {
          const r = await gw.proxyRequest('GET', '/plain');
          assert.equal(r.status, 200);
          assert.equal(r.text, 'ok');
        }
      }
      const list = await nodes(a);
      assert.equal(list.registry.reachable, false);
      assert.ok(list.registry.error);
      assert.deepEqual(list.data.map((n: any) => n.self), [true]);
      // heartbeats failed meanwhile (several intervals): requests still answered
      await until('a heartbeat failure logged', async () => /node registry: cannot write this node's heartbeat/.test(a.stdout + a.stderr));
      assert.equal((await a.proxyRequest('GET', '/plain')).status, 200);
    } finally {
      await pg.start();
    }
    await until('B listed as running by A again', async () => {
      const l = await nodes(a);
      return l.registry.reachable && l.data.some((n: any) => n.id === idB && n.state === 'running');
    });
    // A's own heartbeat resumes on its next interval, which may come after B's: wait for it
    await until("A's heartbeat written again", async () => /node registry: heartbeat written again/.test(a.stdout + a.stderr));
  });

  test('a killed node goes unreachable; a node stopped cleanly leaves the list; rows a day old are pruned at a start', async () => {
    const idB = (await b.adminRequest('GET', '/')).json.node_id;
    await b.stop('SIGKILL');
    const unreachable = await until('B unreachable on A', async () => (await nodes(a)).data.find((n: any) => n.id === idB && n.state === 'unreachable'));
    assert.ok(unreachable.last_seen_age_ms > 3 * HEARTBEAT_MS);

    await pg.query(
      `INSERT INTO cluster_nodes VALUES ('stale-node', 'gone', '0.0.0', 1, now() - interval '3 days', now() - interval '2 days', 1000, 1, 1, 1, 1, 1, false, NULL)`,
      [],
      'cluster_nodes',
    );
    assert.ok((await nodes(a)).data.some((n: any) => n.id === 'stale-node' && n.state === 'unreachable'));
    const c = await Gateway.start({ env: env() });
    let idC: string;
    try {
      idC = (await c.adminRequest('GET', '/')).json.node_id;
      const list = await nodes(a);
      assert.ok(list.data.some((n: any) => n.id === idC && n.state === 'running'), 'C listed');
      assert.ok(!list.data.some((n: any) => n.id === 'stale-node'), 'the stale row pruned by C\'s first heartbeat');
      assert.ok(list.data.some((n: any) => n.id === idB), 'B, two seconds silent, stays (unreachable) until a day has passed');
    } finally {
      await c.close();
    }
    // the row is deleted before the process exits: no wait
    assert.ok(!(await nodes(a)).data.some((n: any) => n.id === idC));
  });
});

describe('the node list without a registry (SQLite)', () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start();
  });
  after(() => gw?.close());

  test('this node only, as its `/` and `/status` describe it', async () => {
    const info = (await gw.adminRequest('GET', '/')).json;
    const status = (await gw.adminRequest('GET', '/status')).json;
    const list = await nodes(gw);
    assert.deepEqual(list.registry, { kind: 'none' });
    assert.equal(list.data.length, 1);
    const [me] = list.data;
    assert.equal(me.id, info.node_id);
    assert.equal(me.self, true);
    assert.equal(me.state, 'running');
    assert.equal(me.pid, info.pids.master);
    assert.equal(me.last_seen, null);
    assert.equal(me.configuration_version, status.configuration.version);
    assert.equal(list.configuration_version, status.configuration.version);
  });
});
