import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { MemoryCounters } from '../../src/state/memory.ts';
import { MemoryCache } from '../../src/state/memory-cache.ts';
import { IpcState, serveCacheRequest, serveCounterRequest, type CacheRequest, type StateRequest } from '../../src/state/ipc.ts';
import { FailoverState, type SharedRemote } from '../../src/state/failover.ts';
import { OwnedCounters } from '../../src/state/owned.ts';
import { cacheStore, counterStore, installSharedState } from '../../src/state/index.ts';
import type { SharedState } from '../../src/state/types.ts';

test('memory counters add atomically and expire', () => {
  const c = new MemoryCounters();
  assert.deepEqual(c.increment([{ key: 'a', delta: 2, ttlMs: 1000 }], 0), [2]);
  assert.deepEqual(c.increment([{ key: 'a', delta: 3, ttlMs: 1000 }, { key: 'b', delta: 1, ttlMs: 10 }], 5), [5, 1]);
  assert.deepEqual(c.read(['a', 'b', 'c'], 20), [5, 0, 0]);
  assert.deepEqual(c.increment([{ key: 'a', delta: 1, ttlMs: 1000 }], 1000), [1], 'an expired window starts again');
  c.sweep(5000);
  assert.equal(c.size, 0);
  c.close();
});

test('memory cache: values expire, are replaced and deleted', () => {
  const c = new MemoryCache();
  c.set('a', 'one', 100, 0);
  assert.equal(c.get('a', 99), 'one');
  assert.equal(c.get('a', 100), null, 'expired at its time to live');
  assert.equal(c.size, 0, 'an expired entry found on access is dropped');
  c.set('a', 'one', 1000, 0);
  c.set('a', 'two', 1000, 0);
  assert.equal(c.get('a', 1), 'two');
  assert.equal(c.bytes, 2 * ('a'.length + 'two'.length), 'a replaced value is no longer counted');
  c.delete('a');
  c.delete('absent');
  assert.equal(c.get('a', 1), null);
  assert.equal(c.bytes, 0);
  c.set('z', 'v', 0, 0);
  assert.deepEqual([c.get('z', 0), c.get('z', 1)], ['v', null], 'a time to live is at least 1 ms, as with PX in Redis');
  c.set('s1', 'v', 10, 0);
  c.set('s2', 'v', 1000, 0);
  c.sweep(500);
  assert.equal(c.size, 1, 'the sweep drops what expired');
  c.close();
});

test('memory cache: bounded in entries, least recently used first', () => {
  const c = new MemoryCache({ maxEntries: 3 });
  for (const k of ['a', 'b', 'c']) c.set(k, k, 60_000, 0);
  assert.equal(c.get('a', 1), 'a', 'a hit makes a the most recently used');
  c.set('d', 'd', 60_000, 1);
  assert.equal(c.size, 3);
  assert.equal(c.get('b', 2), null, 'b was the least recently used');
  assert.deepEqual(['a', 'c', 'd'].map((k) => c.get(k, 2)), ['a', 'c', 'd']);
  c.close();
});

test('memory cache: bounded in bytes; a value bigger than the cache is not kept', () => {
  const c = new MemoryCache({ maxBytes: 100 });
  c.set('k1', 'x'.repeat(20), 60_000, 0); // 44 bytes
  c.set('k2', 'x'.repeat(20), 60_000, 0); // 88 in all
  c.set('k3', 'x'.repeat(20), 60_000, 0); // evicts k1
  assert.equal(c.get('k1', 1), null);
  assert.equal(c.size, 2);
  assert.ok(c.bytes <= 100, `${c.bytes} bytes`);
  c.set('k2', 'x'.repeat(100), 60_000, 1);
  assert.equal(c.get('k2', 1), null, 'too big: not stored, and the old value is gone (a write replaces)');
  assert.equal(c.get('k3', 1), 'x'.repeat(20), 'a rejected value evicts nothing');
  c.close();
});

/** A worker-side IpcState wired to primary-side stores, as the primary serves them. */
function ipcPair(): { client: IpcState; counters: MemoryCounters; cache: MemoryCache; sent: (StateRequest | CacheRequest)[] } {
  const counters = new MemoryCounters();
  const cache = new MemoryCache();
  const sent: (StateRequest | CacheRequest)[] = [];
  const client: IpcState = new IpcState((sentMsg) => {
    sent.push(sentMsg);
    const msg = JSON.parse(JSON.stringify(sentMsg)) as typeof sentMsg; // what crosses the channel is JSON
    const values =
      msg.t === 'cache' ? serveCacheRequest(cache, msg) : serveCounterRequest(counters, msg);
    setImmediate(() => client.onReply({ t: 'state-reply', id: msg.id, values }));
    return true;
  });
  return { client, counters, cache, sent };
}

test('IPC counters talk to a primary-side store', async () => {
  const { client, counters, cache } = ipcPair();
  const results = await Promise.all(Array.from({ length: 100 }, () => client.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }])));
  assert.deepEqual(results.map((r) => r[0]).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1), 'exact under concurrency');
  assert.deepEqual(await client.read(['k']), [100]);
  const dead = new IpcState(() => false);
  await assert.rejects(dead.read(['k']), /no IPC channel/);
  counters.close();
  cache.close();
});

test('memory counters: a dump of the live ones seeds another store, which keeps what it counted itself', () => {
  const a = new MemoryCounters();
  a.increment([{ key: 'x', delta: 3, ttlMs: 60_000 }, { key: 'old', delta: 1, ttlMs: 10 }, { key: 'y', delta: 2, ttlMs: 60_000 }], 1_000);
  const dump = a.dump(2_000);
  assert.deepEqual(dump, ['x', 3, 59_000, 'y', 2, 59_000], 'expired counters are left out');
  const b = new MemoryCounters();
  b.increment([{ key: 'y', delta: 7, ttlMs: 60_000 }], 2_000);
  b.seed([...dump, 'bad', 'not a number', 5, 'gone', 1, 0], 2_000);
  assert.deepEqual(b.read(['x', 'y', 'bad', 'gone'], 2_000), [3, 7, 0, 0]);
  assert.deepEqual(b.read(['x'], 61_000), [0], 'a seeded counter expires when its original would');
  a.close();
  b.close();
});

test("one worker's own counters: answered in the worker, started from the primary's copy, copied back summed per key", async () => {
  const { client, counters, cache, sent } = ipcPair();
  counters.increment([{ key: 'k', delta: 5, ttlMs: 60_000 }]);
  const failures: Error[] = [];
  const owned = new OwnedCounters(client, (e) => failures.push(e));
  // calls made before the primary's copy is in wait for it
  assert.deepEqual(await owned.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }]), [6]);
  const concurrent = await Promise.all(Array.from({ length: 10 }, () => owned.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }])));
  assert.deepEqual(concurrent.map((v) => v[0]), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 'exact, in order');
  await owned.add([{ key: 'tokens', delta: 40, ttlMs: 60_000 }]);
  assert.deepEqual(await owned.read(['k', 'tokens']), [16, 40]);
  assert.equal(sent.filter((m) => m.t === 'state').length, 1, 'only the dump has gone to the primary so far');
  assert.deepEqual(counters.read(['k', 'tokens']), [5, 0]);
  owned.flushHeldAdds(); // what the mirror's tick and a drain do
  const mirror = sent.at(-1) as StateRequest;
  assert.deepEqual({ id: mirror.id, op: mirror.op }, { id: 0, op: 'increment' }, 'sent without waiting for an answer');
  assert.equal((mirror as { items: unknown[] }).items.length, 2, 'one item per key');
  assert.deepEqual(counters.read(['k', 'tokens']), [16, 40], "the primary's copy caught up");
  await owned.set('c', 'v', 60_000);
  assert.equal(await owned.get('c'), 'v', 'the cache stays in the primary');
  assert.equal(cache.get('c'), 'v');
  assert.equal(failures.length, 0);

  // no primary to answer: the worker counts from zero and says so
  const alone = new OwnedCounters(new IpcState(() => false), (e) => failures.push(e));
  assert.deepEqual(await alone.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }]), [1]);
  assert.match(failures[0]?.message ?? '', /no IPC channel/);
  owned.close();
  alone.close();
  counters.close();
  cache.close();
});

test('IPC counter calls of one turn travel as one message, each caller getting its own values in order', async () => {
  const { client, counters, cache, sent } = ipcPair();
  const calls = [
    client.increment([{ key: 'a', delta: 2, ttlMs: 60_000 }]),
    client.read(['a', 'b']),
    client.increment([
      { key: 'a', delta: 1, ttlMs: 60_000 },
      { key: 'b', delta: 5, ttlMs: 60_000 },
    ]),
    client.read(['b']),
  ];
  assert.deepEqual(await Promise.all(calls), [[2], [2, 0], [3, 5], [5]], 'applied in the order they were made');
  assert.equal(sent.length, 1, 'one message for the turn');
  assert.equal(sent[0].t === 'state' && sent[0].op, 'batch');
  assert.deepEqual(sent[0].t === 'state' && sent[0].op === 'batch' && sent[0].keys, ['a', 'b'], 'each key written once for the whole turn');
  // a turn with one call sends it as it is
  assert.deepEqual(await client.read(['a']), [3]);
  assert.equal(sent.length, 2);
  assert.equal(sent[1].t === 'state' && sent[1].op, 'read');
  // a channel that is gone fails every caller of the turn
  const dead = new IpcState(() => false);
  const failed = await Promise.allSettled([dead.read(['a']), dead.increment([{ key: 'a', delta: 1, ttlMs: 1000 }])]);
  assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
  counters.close();
  cache.close();
});

test('IPC add: adds alone wait a moment for the next call that wants an answer and ride its message, first', async () => {
  const { client, counters, cache, sent } = ipcPair();
  const added = client.add([{ key: 'u', delta: 3, ttlMs: 60_000 }]);
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.length, 0, 'held, not sent on its own');
  const read = client.read(['u']);
  const [a, values] = await Promise.all([added, read]);
  assert.equal(a, undefined);
  assert.deepEqual(values, [3], 'the read that rode after it sees it: the held add went first');
  assert.equal(sent.length, 1, 'one message for both');
  assert.notEqual(sent[0].id, 0);
  // a drain sends what is held at once
  const late = client.add([{ key: 'u', delta: 1, ttlMs: 60_000 }]);
  await new Promise((r) => setImmediate(r));
  client.flushHeldAdds();
  await late;
  assert.equal(sent.length, 2);
  assert.equal(sent[1].id, 0);
  assert.equal(counters.read(['u'])[0], 4);
  counters.close();
  cache.close();
});

test('IPC cache talks to the primary-side cache, in its own messages', async () => {
  const { client, counters, cache, sent } = ipcPair();
  assert.equal(await client.get('k'), null);
  await client.set('k', 'v', 60_000);
  assert.equal(cache.get('k'), 'v', 'held by the primary: every worker of the node sees it');
  assert.equal(await client.get('k'), 'v');
  await client.delete('k');
  assert.equal(await client.get('k'), null);
  assert.ok(sent.every((m) => m.t === 'cache'), 'a primary that only serves counters ignores cache messages instead of misreading them');
  await assert.rejects(new IpcState(() => false).get('k'), /no IPC channel/);
  counters.close();
  cache.close();
});

test('IPC add: a turn of adds alone is sent without an answer; with other calls it rides their message', async () => {
  const { client, counters, cache, sent } = ipcPair();
  await Promise.all([client.add([{ key: 'u', delta: 3, ttlMs: 60_000 }]), client.add([{ key: 'u', delta: 4, ttlMs: 60_000 }])]);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].id, 0, 'no answer asked for');
  assert.deepEqual(await client.read(['u']), [7], 'a later read sees the adds (the primary serves a worker in order)');
  // in a turn with calls that want values, one message, answered, each caller getting its own
  const [added, values] = await Promise.all([client.add([{ key: 'u', delta: 1, ttlMs: 60_000 }]), client.increment([{ key: 'u', delta: 1, ttlMs: 60_000 }])]);
  assert.equal(added, undefined);
  assert.deepEqual(values, [9]);
  assert.notEqual(sent.at(-1)!.id, 0);
  await assert.rejects(new IpcState(() => false).add([{ key: 'u', delta: 1, ttlMs: 1000 }]), /no IPC channel/);
  counters.close();
  cache.close();
});

/** An in-process SharedState over memory stores (what the primary holds, without IPC). */
function memoryState(kind: 'local' | 'redis' = 'local'): SharedState & { counters: MemoryCounters; cache: MemoryCache } {
  const counters = new MemoryCounters();
  const cache = new MemoryCache();
  return {
    kind,
    counters,
    cache,
    increment: async (items) => counters.increment(items),
    add: async (items) => void counters.increment(items),
    read: async (keys) => counters.read(keys),
    get: async (key) => cache.get(key),
    set: async (key, value, ttlMs) => cache.set(key, value, ttlMs),
    delete: async (key) => cache.delete(key),
    setInRing: async (ring, max, key, value, ttlMs) => cache.setInRing(ring, max, key, value, ttlMs),
  };
}

test('caches are namespaced; the redis policy falls back to local when Redis is not configured', async () => {
  const local = memoryState();
  installSharedState({ local });
  const a = cacheStore('local', 'plugin-a');
  const b = cacheStore('redis', 'plugin-b');
  assert.equal(b.kind, 'local');
  await a.set('k', 'from a', 60_000);
  await b.set('k', 'from b', 60_000);
  assert.equal(await a.get('k'), 'from a');
  assert.equal(await b.get('k'), 'from b');
  assert.equal(local.cache.get('plugin-a:k'), 'from a');
  await a.delete('k');
  assert.equal(await b.get('k'), 'from b', 'a delete stays in its namespace');
  assert.throws(() => cacheStore('local', ''), /namespace/);
  assert.throws(() => cacheStore('local', 'a:b'), /namespace/);

  const redis = memoryState('redis');
  installSharedState({ local, redis });
  assert.equal(b.kind, 'redis', 'a cache asked for earlier follows a later install');
  assert.equal(counterStore('redis'), redis);
  for (const s of [local, redis]) {
    s.counters.close();
    s.cache.close();
  }
});

test('failover cache: Redis while it answers, local meanwhile, one warning; a write on Redis drops the local copy', async () => {
  const remote = Object.assign(memoryState('redis'), { ready: true, failing: false });
  for (const op of ['get', 'set', 'delete'] as const) {
    const real = remote[op] as (...a: unknown[]) => Promise<unknown>;
    (remote as any)[op] = (...a: unknown[]) => (remote.failing ? Promise.reject(new Error('connection lost')) : real(...a));
  }
  const local = memoryState();
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void out.push(s) });
  const state = new FailoverState(remote as SharedRemote, local, log);

  await state.set('k', 'shared', 60_000);
  assert.equal(remote.cache.get('k'), 'shared');
  assert.equal(local.cache.size, 0, 'Redis is used while it answers');

  remote.failing = true;
  assert.equal(await state.get('k'), null, 'a failed Redis call is answered by the local cache (a miss), not an error');
  await state.set('k', 'local', 60_000);
  assert.equal(await state.get('k'), 'local');
  assert.ok(state.degraded);
  remote.ready = false;
  assert.equal(await state.get('k'), 'local', 'not connected: the local cache, without trying Redis');
  const warnings = out.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
  assert.equal(warnings.length, 1, 'one warning for the outage, not one per call');

  remote.failing = false;
  remote.ready = true;
  assert.equal(await state.get('k'), 'shared', 'back on Redis');
  assert.ok(!state.degraded);
  await state.set('k', 'newer', 60_000);
  await new Promise((r) => setImmediate(r));
  assert.equal(local.cache.get('k'), null, 'the value cached during the outage cannot resurface in the next one');
  for (const s of [local, remote]) {
    s.counters.close();
    s.cache.close();
  }
});
