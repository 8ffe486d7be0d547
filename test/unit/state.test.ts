import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryCounters } from '../../src/state/memory.ts';
import { IpcCounters, type StateRequest } from '../../src/state/ipc.ts';

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

test('IPC counters talk to a primary-side store', async () => {
  const primary = new MemoryCounters();
  let client: IpcCounters;
  const send = (msg: StateRequest) => {
    const values = msg.op === 'increment' ? primary.increment(msg.items) : primary.read(msg.keys);
    setImmediate(() => client.onReply({ t: 'state-reply', id: msg.id, values }));
    return true;
  };
  client = new IpcCounters(send);
  const results = await Promise.all(Array.from({ length: 100 }, () => client.increment([{ key: 'k', delta: 1, ttlMs: 60_000 }])));
  assert.deepEqual(results.map((r) => r[0]).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1), 'exact under concurrency');
  assert.deepEqual(await client.read(['k']), [100]);
  const dead = new IpcCounters(() => false);
  await assert.rejects(dead.read(['k']), /no IPC channel/);
  primary.close();
});
