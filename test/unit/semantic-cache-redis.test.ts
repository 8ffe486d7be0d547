/**
 * The `redis` vector store (src/plugins/ai-semantic-cache/redis-store.ts) and its hashing
 * (redis-lsh.ts): recall against brute force at the default settings over synthetic clustered
 * vectors of 1536 dimensions (fixed seed; the bound is under what bench/semantic-recall.ts
 * measures, docs/performance.md), the same buckets on every node, and the store against a real
 * redis-server — exact distances, scopes apart, k and threshold, expiry, delete, buckets bounded
 * and expiring, a vector of the wrong size, and Redis down or hung rejecting instead of hanging.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import { dataset, measureRecall, benchThreshold } from '../../bench/semantic-recall.ts';
import { bucketCodes, FAMILY, layoutId, lshFamily, project, storeCodes, type LshParams } from '../../src/plugins/ai-semantic-cache/redis-lsh.ts';
import { LSH_DEFAULTS, MAX_BUCKET, RedisVectorStore } from '../../src/plugins/ai-semantic-cache/redis-store.ts';
import { cosineDistance, DimensionError, euclideanDistance } from '../../src/plugins/ai-semantic-cache/vector-store.ts';

describe('LSH recall against brute force (1536 dimensions, clustered, seed 7)', () => {
  for (const metric of ['cosine', 'euclidean'] as const) {
    test(`${metric}: recall@1 ≥ 0.95 at the default settings, a bounded number of candidates`, () => {
      const { threshold, cosine } = benchThreshold(metric);
      const r = measureRecall(dataset(7, 2000, 200, cosine), metric, threshold, LSH_DEFAULTS);
      assert.ok(r.answerable >= 140, `${r.answerable} queries brute force answers`);
      assert.ok(r.recall >= 0.95, `recall@1 ${r.recall}`);
      assert.ok(r.candidates <= LSH_DEFAULTS.max_candidates, `${r.candidates} candidates a query`);
    });
  }

  test('fewer tables and no probes find less: the bound above is not met by any index', () => {
    const { threshold, cosine } = benchThreshold('cosine');
    const r = measureRecall(dataset(7, 2000, 200, cosine), 'cosine', threshold, { ...LSH_DEFAULTS, tables: 1, bits: 16, probes: 0 });
    assert.ok(r.recall < 0.95, `recall@1 ${r.recall} with one table of 16 bits`);
  });
});

describe('LSH functions', () => {
  const params: LshParams = { metric: 'cosine', dimensions: 64, tables: 4, bits: 8, seed: 's', threshold: 0.1 };
  const v = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i + 1));

  test('deterministic: the same settings give the same buckets; another seed or shape another layout', () => {
    const a = storeCodes(lshFamily(params), v);
    assert.deepEqual(storeCodes(lshFamily({ ...params }), v), a);
    assert.equal(a.length, 4);
    assert.notEqual(layoutId({ ...params, seed: 't' }), layoutId(params));
    assert.notEqual(layoutId({ ...params, bits: 9 }), layoutId(params));
    assert.equal(layoutId({ ...params, threshold: 0.2 }), layoutId(params), 'hyperplanes do not depend on the threshold');
    assert.notEqual(layoutId({ ...params, metric: 'euclidean' }), layoutId({ ...params, metric: 'euclidean', threshold: 0.2 }), 'p-stable widths do');
  });

  test('pinned: these settings put this vector in these buckets (nodes and versions must agree; a change of functions bumps FAMILY)', () => {
    assert.deepEqual(storeCodes(lshFamily(params), v), ['3c', '25', 'dc', '3c']);
    assert.deepEqual(storeCodes(lshFamily({ ...params, metric: 'euclidean' }), v), ['2,8,9,-12,4,-31,3,-2', '-14,8,-10,-27,17,9,4,9', '-16,-2,10,-16,-3,6,-20,8', '13,25,0,-14,-8,4,1,-13']);
    assert.equal(FAMILY, 'hadamard-sparse1');
  });

  test('a randomised Hadamard transform then very sparse projections: ≈ √d components a function, each ±1', () => {
    const big = lshFamily({ ...params, dimensions: 1536, tables: 16, bits: 12 });
    assert.equal(big.scratch.length, 2048, 'padded to a power of two');
    let nonZero = 0;
    for (let j = 0; j < 192; j++) nonZero += big.start[j + 1] - big.start[j];
    assert.ok(Math.abs(nonZero / 192 - Math.sqrt(2048)) < 4, `${nonZero / 192} components a function`);
    // a·(H·D·v) computed the slow way: H's entries are (−1)^popcount(i & k)
    const f = lshFamily({ ...params, dimensions: 50 });
    const x = Float32Array.from({ length: 50 }, (_, i) => Math.cos(i * 0.37));
    const d = f.scratch.length;
    const u = Array.from({ length: d }, (_, i) => {
      let sum = 0;
      for (let k = 0; k < 50; k++) sum += (popcount(i & k) % 2 ? -1 : 1) * f.signs[k] * x[k];
      return sum;
    });
    const got = project(f, x);
    for (let j = 0; j < 32; j++) {
      let want = 0;
      for (let k = f.start[j]; k < f.mid[j]; k++) want += u[f.index[k]];
      for (let k = f.mid[j]; k < f.start[j + 1]; k++) want -= u[f.index[k]];
      assert.ok(Math.abs(got[j] - want * f.scale) < 1e-9, `function ${j}`);
    }
  });

  test('a vector with two non-zero components is spread: few functions read 0 (sparse projections alone: ~95%)', () => {
    const f = lshFamily({ ...params, dimensions: 1536, tables: 16, bits: 12 });
    const sparse = new Float32Array(1536);
    sparse[3] = 0.6;
    sparse[900] = 0.8;
    const x = project(f, sparse);
    const zeros = x.filter((xj) => xj === 0).length;
    assert.ok(zeros < 192 / 10, `${zeros} of 192 functions read 0`);
  });

  test('a query reads its own bucket first, then `probes` neighbours differing in one function', () => {
    const { codes } = bucketCodes(lshFamily(params), v, 3);
    const own = storeCodes(lshFamily(params), v);
    codes.forEach((table, t) => {
      assert.equal(table[0], own[t]);
      assert.equal(table.length, 4);
      for (const probe of table.slice(1)) {
        const diff = (parseInt(probe, 16) ^ parseInt(table[0], 16)).toString(2).replace(/0/g, '').length;
        assert.equal(diff, 1, 'one bit flipped');
      }
    });
  });
});

function popcount(n: number): number {
  let c = 0;
  for (; n; n &= n - 1) c++;
  return c;
}

describe('RedisVectorStore on a real redis-server', { skip: redisMissing ?? false }, () => {
  let server: RedisServer;
  let client: Redis;
  let other: Redis;
  const dims = 32;
  const lsh = { ...LSH_DEFAULTS, tables: 4, bits: 6 };
  const store = (c: () => Redis | null = () => client, metric: 'cosine' | 'euclidean' = 'cosine') =>
    new RedisVectorStore({ dimensions: dims, metric, threshold: 0.1, lsh, client: c, prefix: 'test:' });
  const vec = (seed: number) => Float32Array.from({ length: dims }, (_, i) => Math.sin(seed * 7.3 + i * 1.7));
  const near = (v: Float32Array, eps: number) => Float32Array.from(v, (x, i) => x + (i % 2 ? eps : -eps));
  const connect = async (url: string) => {
    const c = new Redis(url, { commandTimeout: 300, connectTimeout: 300, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    c.on('error', () => {});
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    return c;
  };

  before(async () => {
    server = await RedisServer.start();
    client = await connect(server.url);
    other = await connect(server.url);
  });
  after(async () => {
    client?.disconnect();
    other?.disconnect();
    await server?.close();
  });

  test('insert then search: exact distances, nearest first, within the threshold, at most k', async () => {
    const s = store();
    const a = vec(1);
    await s.insert('scope-1', 'a', a, 60_000);
    await s.insert('scope-1', 'a2', near(a, 0.01), 60_000);
    await s.insert('scope-1', 'b', vec(2), 60_000);
    const q = near(a, 0.002);
    const found = await s.search('scope-1', q, 3, 0.1);
    assert.deepEqual(found.map((m) => m.id), ['a', 'a2']);
    assert.ok(Math.abs(found[0].distance - cosineDistance(q, a)) < 1e-6);
    assert.ok(found[0].distance <= found[1].distance);
    assert.deepEqual((await s.search('scope-1', q, 1, 0.1)).map((m) => m.id), ['a']);
    assert.deepEqual(await s.search('scope-1', vec(3), 3, 0.1), [], 'a far vector is a miss');
  });

  test('another node (its own connection and store) finds what this one stored: the same buckets everywhere', async () => {
    const v = vec(10);
    await store().insert('shared', 'x', v, 60_000);
    const found = await store(() => other).search('shared', near(v, 0.003), 1, 0.1);
    assert.deepEqual(found.map((m) => m.id), ['x']);
  });

  test('scopes never meet', async () => {
    const v = vec(20);
    await store().insert('alice', 'secret', v, 60_000);
    assert.deepEqual(await store().search('bob', v, 3, 0.1), []);
    assert.equal((await store().search('alice', v, 3, 0.1))[0]?.id, 'secret');
  });

  test('euclidean distances', async () => {
    const s = store(() => client, 'euclidean');
    const v = vec(30);
    await s.insert('e', 'p', v, 60_000);
    const q = near(v, 0.01);
    const [m] = await s.search('e', q, 1, 0.1);
    assert.equal(m?.id, 'p');
    assert.ok(Math.abs(m.distance - euclideanDistance(q, v)) < 1e-6);
  });

  test('an entry expires with its ttl; delete forgets it and its bucket memberships', async () => {
    const s = store();
    const v = vec(40);
    await s.insert('ttl', 'short', v, 50);
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(await s.search('ttl', v, 3, 0.1), []);
    await s.insert('ttl', 'gone', v, 60_000);
    assert.equal((await s.search('ttl', v, 1, 0.1))[0]?.id, 'gone');
    await s.delete('ttl', 'gone');
    assert.deepEqual(await s.search('ttl', v, 3, 0.1), []);
    const keys = await client.keys('test:vec:*');
    for (const k of keys.filter((k) => k.includes(':b:'))) assert.equal(await client.zscore(k, 'gone'), null, `${k} still names it`);
    await s.delete('ttl', 'never-there');
  });

  test('buckets: every key expires, expired members are dropped on insert, at most MAX_BUCKET members', async () => {
    const s = store();
    const v = vec(50);
    await s.insert('bounded', 'old', v, 30);
    await new Promise((r) => setTimeout(r, 60));
    await s.insert('bounded', 'new', v, 60_000);
    const keys = (await client.keys('test:vec:*')).filter((k) => k.includes(':b:'));
    assert.ok(keys.length > 0);
    for (const k of keys) {
      const pttl = await client.pttl(k);
      assert.ok(pttl > 0, `${k} has an expiry (${pttl})`);
    }
    const prefix = (await client.keys('test:vec:*:v:new'))[0].replace(/v:new$/, 'b:');
    const buckets = keys.filter((k) => k.startsWith(prefix));
    assert.equal(buckets.length, lsh.tables);
    for (const b of buckets) assert.deepEqual(await client.zrange(b, '0', '-1'), ['new'], 'the expired member was dropped');
    // a hot bucket stays bounded: MAX_BUCKET + 5 inserts of the same vector
    const hot = vec(60);
    for (let i = 0; i < MAX_BUCKET + 5; i += 100) await Promise.all(Array.from({ length: Math.min(100, MAX_BUCKET + 5 - i) }, (_, j) => s.insert('hot', `h${i + j}`, hot, 60_000)));
    const hotPrefix = (await client.keys('test:vec:*:v:h0'))[0].replace(/v:h0$/, 'b:');
    for (const b of (await client.keys(`${hotPrefix}*`)).filter((k) => k.startsWith(hotPrefix))) assert.equal(await client.zcard(b), MAX_BUCKET);
  });

  test('a vector of the wrong size is refused', async () => {
    await assert.rejects(store().insert('x', 'y', new Float32Array(dims + 1), 1000), DimensionError);
    await assert.rejects(store().search('x', new Float32Array(dims - 1), 1, 0.1), DimensionError);
  });

  test('no connection yet: rejects at once', async () => {
    await assert.rejects(store(() => null).search('x', vec(1), 1, 0.1), /not connected/);
  });

  test('Redis hung (SIGSTOP): rejects once the command timeout passed; Redis down: rejects', async () => {
    const c = await connect(server.url);
    const s = store(() => c);
    await s.insert('hang', 'v', vec(70), 60_000);
    server.proc!.kill('SIGSTOP');
    try {
      await assert.rejects(s.search('hang', vec(70), 1, 0.1), /timed out|did not answer|not connected/i);
    } finally {
      server.proc!.kill('SIGCONT');
    }
    c.disconnect();
    await assert.rejects(s.search('hang', vec(70), 1, 0.1), /not connected|isn't writeable/);
  });
});
