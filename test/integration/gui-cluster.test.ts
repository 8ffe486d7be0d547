/**
 * The Admin GUI's cluster page (issue 20) in a real headless Chromium: it shows what the node's
 * `GET /status`, `GET /` and `GET /cluster/nodes` say — the nodes (this node first; on
 * PostgreSQL, a second gateway on the same database, then that gateway killed: unreachable, and
 * behind after a write), configuration version and each worker's applied version, the database,
 * its change feed and Redis, the workers' memory, uptime — and refreshes by itself. The page is
 * compared with the answers it received (memory, uptime and ages change between two answers):
 * what it shows must be exactly one of them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import type { Response } from 'playwright-core';
import { Gateway } from '../helpers/gateway.ts';
import { PgServer, pgMissing } from '../helpers/postgres.ts';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import { browserMissing, closeBrowser, openGui, screenshot, type GuiSession } from '../helpers/browser.ts';
import { bytes } from '../../src/gui/app/lib/format.ts';
import { ago, uptime } from '../../src/gui/app/pages/cluster/status.ts';

after(() => closeBrowser());

/** Polls `/status` (bounded) until `ok` holds: workers report memory and Redis every 5 s. */
async function statusWhen(gw: Gateway, ok: (s: any) => boolean): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await gw.adminRequest('GET', '/status');
    if (r.status === 200 && ok(r.json)) return r.json;
    if (Date.now() > deadline) throw new Error(`/status never got there: ${r.text}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** What the page must show for one `/status` answer (and the node's `/`). */
function expected(status: any, info: any): Record<string, unknown> {
  const db = status.database;
  const out: Record<string, unknown> = {
    hostname: info.hostname,
    node_id: info.node_id,
    version: info.version,
    uptime: uptime(status.server.uptime_seconds),
    master_pid: `pid ${info.pids.master}, ${bytes(status.memory.primary_rss_bytes)} RSS`,
    config_version: String(status.configuration.version),
    workers_ready: `${status.server.workers_ready} of ${status.server.workers}`,
    db_kind: db.kind,
    db_reachable: db.reachable ? 'reachable' : 'unreachable',
    redis: status.redis.configured ? `${status.redis.workers_connected} of ${status.server.workers}` : undefined,
    workers: status.configuration.applied_versions.map((v: number, i: number) => {
      const pid = info.pids.workers[i];
      const m = status.memory.workers.find((w: any) => w.pid === pid);
      return [String(i + 1), String(pid), `${v} ${v >= status.configuration.version ? 'current' : 'behind'}`, bytes(m.rss_bytes), bytes(m.heap_used_bytes), bytes(m.heap_total_bytes)];
    }),
  };
  if (db.change_feed !== undefined) out.change_feed = db.change_feed;
  return out;
}

/** What the node table must show for one `/cluster/nodes` answer: each row's id and cells. */
function expectedNodes(list: any): [string, string[]][] {
  return list.data.map((n: any) => [
    n.id,
    [
      n.hostname + (n.self ? ' this node' : ''),
      n.id.slice(0, 8),
      n.version,
      `${n.configuration_version}${n.configuration_version < list.configuration_version ? ' behind' : ''}`,
      `${n.workers_ready} of ${n.workers}`,
      bytes(n.memory.primary_rss_bytes),
      bytes(n.memory.workers_rss_bytes),
      n.last_seen === null ? '—' : ago(n.last_seen_age_ms),
      n.state,
    ],
  ]);
}

async function shownNodes(s: GuiSession): Promise<[string, string[]][]> {
  const rows = s.page.locator('table.cl-nodes tbody tr');
  const out: [string, string[]][] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    out.push([(await row.getAttribute('data-id'))!, (await row.locator('td').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim())]);
  }
  return out;
}

/** What the page shows, in the same shape. */
async function shown(s: GuiSession, keys: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    if (k === 'workers') continue;
    const cell = s.page.locator(`dd[data-field="${k}"], p[data-field="${k}"]`);
    out[k] = (await cell.count()) ? (await cell.textContent())!.trim() : undefined;
  }
  if (out.redis !== undefined && !/ of /.test(out.redis as string)) out.redis = undefined; // "not configured"
  const rows = s.page.locator('table.cl-workers tbody tr');
  out.workers = [];
  for (let i = 0; i < (await rows.count()); i++) (out.workers as string[][]).push((await rows.nth(i).locator('td').allTextContents()).map((t) => t.trim()));
  return out;
}

/**
 * Opens the cluster page and checks it shows exactly one of the `/status` answers it received,
 * then that it asks again by itself (the 5 s refresh) and shows that answer too.
 */
async function checkPage(gw: Gateway, scheme: 'light' | 'dark', shot: string | null): Promise<{ status: any; nodes: any }> {
  const s = await openGui(gw.gui, { colorScheme: scheme });
  try {
    const answers: any[] = [];
    const nodeAnswers: any[] = [];
    const seen = (r: Response) => new URL(r.url()).pathname === '/api/status' && r.status() === 200;
    s.page.on('response', (r) => {
      if (seen(r)) void r.json().then((j) => answers.push(j), () => {});
      if (new URL(r.url()).pathname === '/api/cluster/nodes' && r.status() === 200) void r.json().then((j) => nodeAnswers.push(j), () => {});
    });
    const info = (await gw.adminRequest('GET', '/')).json;
    const matches = async () => {
      await s.page.locator('dd[data-field="config_version"]').waitFor();
      const page = await shown(s, Object.keys(expected(answers[0], info)));
      const nodes = await shownNodes(s);
      const ok = answers.some((a) => isDeepStrictEqual(expected(a, info), page)) && nodeAnswers.some((l) => isDeepStrictEqual(expectedNodes(l), nodes));
      return { ok, page: { ...page, nodes } };
    };
    const first = s.page.waitForResponse(seen);
    await s.page.goto(gw.gui + '/#/cluster');
    await first;
    await s.page.getByRole('heading', { name: 'Cluster' }).waitFor();
    let check = await matches();
    assert.ok(check.ok, `the page shows what /status and /cluster/nodes said:\n${JSON.stringify(check.page)}\n${answers.map((a) => JSON.stringify(expected(a, info))).join('\n')}\n${nodeAnswers.map((l) => JSON.stringify(expectedNodes(l))).join('\n')}`);
    if (shot) await screenshot(s.page, shot, scheme);

    // no click: the page asks again within its 5 s period (bounded wait, generous)
    const before = answers.length;
    await s.page.waitForResponse(seen, { timeout: 15_000 });
    // its body is read by the listener above: wait (bounded) until it is in `answers`
    for (const until = Date.now() + 5000; answers.length === before && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
    assert.ok(answers.length > before, 'a second /status answer');
    check = await matches();
    assert.ok(check.ok, 'after the refresh too');
    assert.deepEqual(s.problems(), []);
    return { status: answers.at(-1), nodes: nodeAnswers.at(-1) };
  } finally {
    await s.close();
  }
}

describe('cluster page on SQLite', { skip: browserMissing ?? false }, () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start({ workers: 2 });
    await gw.adminRequest('POST', '/services', { name: 'one', url: 'http://127.0.0.1:9' });
    await statusWhen(gw, (s) => s.memory.workers.length === 2 && s.server.workers_ready === 2);
  });
  after(() => gw?.close());

  test('this node, its configuration, database, workers and memory as /status says; refreshed by itself', async () => {
    const { status: last, nodes } = await checkPage(gw, 'light', 'cluster');
    assert.equal(last.database.kind, 'sqlite');
    assert.deepEqual(last.redis, { configured: false });
    assert.equal(last.configuration.applied_versions.length, 2);
    assert.deepEqual(nodes.registry, { kind: 'none' });
    assert.deepEqual(nodes.data.map((n: any) => n.self), [true], 'this node only');
    await checkPage(gw, 'dark', 'cluster');
  });
});

describe('cluster page on PostgreSQL with Redis, two nodes', { skip: browserMissing ?? pgMissing ?? redisMissing ?? false }, () => {
  let pg: PgServer;
  let redis: RedisServer;
  let gw: Gateway;
  let peer: Gateway;
  before(async () => {
    pg = await PgServer.start();
    redis = await RedisServer.start();
    // a short heartbeat (MODELGATE_CLUSTER_HEARTBEAT_MS) so a killed node is unreachable within a second
    const env = { MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: await pg.createDatabase('gui_cluster'), MODELGATE_REDIS_URL: redis.url, MODELGATE_CLUSTER_HEARTBEAT_MS: '300' };
    [gw, peer] = await Gateway.startAll([{ workers: 2, env }, { workers: 1, env }]);
    await statusWhen(gw, (s) => s.memory.workers.length === 2 && s.redis.workers_connected === 2 && s.database.change_feed === 'listening');
  });
  after(async () => {
    await Promise.all([gw?.close(), peer?.close()]);
    await redis?.close();
    await pg?.close();
  });

  test('both nodes listed (this one first); the peer killed: unreachable, and behind after a write', async () => {
    const peerId = (await peer.adminRequest('GET', '/')).json.node_id;
    const first = await checkPage(gw, 'light', null);
    assert.equal(first.status.database.kind, 'postgres');
    assert.equal(first.status.redis.workers_connected, 2);
    assert.equal(first.nodes.data[0].self, true);
    assert.deepEqual(first.nodes.data.slice(1).map((n: any) => [n.id, n.state]), [[peerId, 'running']]);

    // the peer dies without a word (its row stays), then a write it never serves
    await peer.stop('SIGKILL');
    assert.equal((await gw.adminRequest('POST', '/services', { name: 'after-peer', url: 'http://127.0.0.1:9' })).status, 201);
    const version = (await gw.adminRequest('GET', '/status')).json.configuration.version;
    const s = await openGui(gw.gui);
    try {
      await s.page.goto(gw.gui + '/#/cluster');
      const row = s.page.locator(`table.cl-nodes tr[data-id="${peerId}"]`);
      await row.getByText('unreachable').waitFor({ timeout: 15_000 });
      await row.getByText('behind').waitFor();
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
    for (const scheme of ['light', 'dark'] as const) {
      const { nodes } = await checkPage(gw, scheme, 'cluster-postgres');
      assert.equal(nodes.configuration_version, version);
      assert.deepEqual(nodes.data.map((n: any) => [n.self, n.state, n.configuration_version < version]), [[true, 'running', false], [false, 'unreachable', true]]);
    }
  });

  test('the change feed and each worker\'s Redis connection as /status says', async () => {
    // Redis away: the workers report it (every 5 s) and so does the page
    await redis.stop();
    const away = await statusWhen(gw, (s) => s.redis.workers_connected === 0);
    assert.equal(away.redis.configured, true);
    const s = await openGui(gw.gui);
    try {
      await s.page.goto(gw.gui + '/#/cluster');
      await s.page.locator('dd[data-field="redis"]').getByText('0 of 2').waitFor();
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });
});
