/**
 * Shared state in a real Redis (started for this file): counters atomic across clients (nodes),
 * the window's expiry set once; cache values shared across clients with their time to live, in
 * their own key namespace; and the failover wrapper: an outage falls back to the local store with
 * one warning and no failed call, and Redis is used again once it is back. A gateway configured
 * with Redis serves with Redis up and down.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import { Gateway } from '../helpers/gateway.ts';
import { RedisState } from '../../src/state/redis.ts';
import { FailoverState } from '../../src/state/failover.ts';
import { MemoryCounters } from '../../src/state/memory.ts';
import { MemoryCache } from '../../src/state/memory-cache.ts';
import type { SharedState } from '../../src/state/types.ts';

if (redisMissing) process.stderr.write(`# skipped Redis tests: ${redisMissing}\n`);

/** The node's local store as a worker sees it, without the IPC hop. */
function localStore(): SharedState & { mem: MemoryCounters; cache: MemoryCache; close(): void } {
  const mem = new MemoryCounters();
  const cache = new MemoryCache();
  return {
    kind: 'local',
    mem,
    cache,
    increment: async (items) => mem.increment(items),
    add: async (items) => void mem.increment(items),
    read: async (keys) => mem.read(keys),
    get: async (key) => cache.get(key),
    set: async (key, value, ttlMs) => cache.set(key, value, ttlMs),
    delete: async (key) => cache.delete(key),
    setInRing: async (ring, max, key, value, ttlMs) => cache.setInRing(ring, max, key, value, ttlMs),
    close: () => {
      mem.close();
      cache.close();
    },
  };
}

function capturingLogger(): { log: pino.Logger; lines: () => any[] } {
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l)) };
}

async function until(probe: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!probe()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Redis shared state', { skip: redisMissing ?? false }, () => {
  let server: RedisServer;
  const clients: RedisState[] = [];
  const client = (prefix?: string) => {
    const c = new RedisState(server.url, { timeoutMs: 300, prefix });
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server?.close();
  });

  test('increments are atomic across nodes; the expiry is set by the first increment only', async () => {
    const [n1, n2] = [client(), client()];
    await until(() => n1.ready && n2.ready, 2000, 'clients ready');
    const calls = Array.from({ length: 200 }, (_, i) => (i % 2 ? n1 : n2).increment([{ key: 'hits', delta: 1, ttlMs: 60_000 }, { key: 'tokens', delta: 5, ttlMs: 60_000 }]));
    const results = await Promise.all(calls);
    assert.deepEqual(results.map((r) => r[0]).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1), 'every value seen exactly once');
    assert.deepEqual(await n1.read(['hits', 'tokens', 'absent']), [200, 1000, 0]);
    await n1.increment([{ key: 'window', delta: 1, ttlMs: 3000 }]);
    await new Promise((r) => setTimeout(r, 300));
    await n2.increment([{ key: 'window', delta: 1, ttlMs: 3000 }]);
    const ttl = await n1.client.pttl('modelgate:counter:window');
    assert.ok(ttl > 0 && ttl <= 2800, `a later hit does not extend the window (pttl ${ttl})`);
    await n1.increment([{ key: 'short', delta: 1, ttlMs: 100 }]);
    await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(await n2.read(['short']), [0], 'the window expired');
  });

  test('cache values are shared across nodes with their time to live, in their own namespace', async () => {
    const [n1, n2] = [client(), client()];
    await until(() => n1.ready && n2.ready, 2000, 'clients ready');
    assert.equal(await n1.get('answer'), null);
    await n1.set('answer', '{"text":"2"}', 60_000);
    assert.equal(await n2.get('answer'), '{"text":"2"}', 'seen by the other node');
    const ttl = await n1.client.pttl('modelgate:cache:answer');
    assert.ok(ttl > 59_000 && ttl <= 60_000, `SET PX sets the time to live (pttl ${ttl})`);
    await n2.set('answer', 'replaced', 60_000);
    assert.equal(await n1.get('answer'), 'replaced');
    await n1.increment([{ key: 'answer', delta: 1, ttlMs: 60_000 }]);
    assert.equal(await n2.get('answer'), 'replaced', 'a counter with the same key is another key');
    await n2.delete('answer');
    assert.equal(await n1.get('answer'), null);
    await n1.delete('never-set');
    await n1.set('short', 'v', 100);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await n2.get('short'), null, 'expired');
    const other = client('other-gateway:');
    await until(() => other.ready, 2000, 'client ready');
    await n1.set('mine', 'v', 60_000);
    assert.equal(await other.get('mine'), null, 'a gateway with another prefix does not see it');
    await other.set('mine', 'theirs', 60_000);
    assert.equal(await n1.get('mine'), 'v');
    assert.equal(await n1.client.get('other-gateway:cache:mine'), 'theirs');
  });

  test('an outage falls back to local counting with one warning, never a failed call; recovery goes back to Redis', async () => {
    const shared = client();
    await until(() => shared.ready, 2000, 'client ready');
    const local = localStore();
    const { log, lines } = capturingLogger();
    const counters = new FailoverState(shared, local, log);
    assert.deepEqual(await counters.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }]), [1]);
    assert.equal(local.mem.size, 0, 'Redis is used while it answers');

    await server.stop();
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) await counters.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }]);
    const perCall = (Date.now() - t0) / 50;
    assert.ok(perCall < 50, `an outage costs ${perCall} ms per call`);
    assert.ok(counters.degraded);
    assert.deepEqual(await counters.read(['k']), [50], 'counted locally meanwhile');
    const warnings = lines().filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, 'one warning, not one per call');
    assert.match(warnings[0].msg, /Redis is unreachable: counting locally/);
    // the cache fails over with the counters, under the same warning
    assert.equal(await counters.get('c'), null, 'a miss, not an error');
    await counters.set('c', 'cached meanwhile', 60_000);
    assert.equal(await counters.get('c'), 'cached meanwhile');
    await counters.delete('c');
    assert.equal(await counters.get('c'), null);
    await counters.set('c', 'cached meanwhile', 60_000);
    assert.equal(local.cache.get('c'), 'cached meanwhile', 'held by the local cache');
    assert.equal(lines().filter((l) => l.level === 40).length, 1, 'still one warning');

    await server.start();
    await until(() => shared.ready, 5000, 'reconnected');
    // this Redis restarted empty (no persistence), so the shared count starts again
    assert.deepEqual(await counters.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }]), [1], 'back on the shared counter');
    assert.deepEqual(local.mem.read(['k']), [50], 'the local store is no longer written');
    assert.equal(await counters.get('c'), null, 'the cache is read from Redis again (which restarted empty)');
    await counters.set('c', 'shared again', 60_000);
    assert.equal(await shared.get('c'), 'shared again');
    await until(() => local.cache.get('c') === null, 1000, 'a write on Redis drops the local copy');
    assert.ok(!counters.degraded);
    assert.ok(lines().some((l) => l.level === 30 && /reachable again/.test(l.msg)));
    local.close();
  });

  test('a gateway configured with Redis serves whether Redis is up or down', async () => {
    const gw = await Gateway.start({ env: { MODELGATE_REDIS_URL: server.url, MODELGATE_REDIS_TIMEOUT_MS: '200' } });
    try {
      await gw.adminRequest('POST', '/services', { name: 's', url: 'http://127.0.0.1:1' });
      await gw.adminRequest('POST', '/services/s/routes', { name: 'r', paths: ['/r'] });
      await gw.adminRequest('POST', '/routes/r/plugins', { name: 'request-termination', config: { status_code: 418 } });
      assert.equal((await gw.proxyRequest('GET', '/r')).status, 418);
      await server.stop();
      assert.equal((await gw.proxyRequest('GET', '/r')).status, 418);
      await server.start();
    } finally {
      await gw.close();
    }
    assert.ok(!/uncaught|unhandled/i.test(gw.logs), gw.logs);
  });
});
