/**
 * Workers start from Node's compile cache, filled once by the primary (src/server/compile-cache.ts):
 * the cache is filled when the sources have no marker yet, and a second start does not fill it again.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileCacheDir, prepareWorkerCompileCache } from '../../src/server/compile-cache.ts';

const WORKER = path.resolve(import.meta.dirname, '../../src/server/worker.ts');

test('the cache directory: the operator’s NODE_COMPILE_CACHE, none when disabled, else a per-user temp dir', () => {
  assert.equal(compileCacheDir({ NODE_COMPILE_CACHE: '/var/cache/mg' }), '/var/cache/mg');
  assert.equal(compileCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1', NODE_COMPILE_CACHE: '/x' }), null);
  assert.ok(compileCacheDir({})!.startsWith(os.tmpdir()));
  assert.deepEqual(prepareWorkerCompileCache(WORKER, { NODE_DISABLE_COMPILE_CACHE: '1' }), {});
});

test('the primary fills the cache with the worker’s modules once, then reuses it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-compile-cache-'));
  try {
    const env = { ...process.env, NODE_COMPILE_CACHE: dir };
    assert.deepEqual(prepareWorkerCompileCache(WORKER, env), { NODE_COMPILE_CACHE: dir });
    const markers = fs.readdirSync(dir).filter((f) => f.endsWith('.ready'));
    assert.equal(markers.length, 1, 'a marker for these sources');
    const cached = fs.readdirSync(dir).filter((f) => !f.endsWith('.ready'));
    assert.ok(cached.length > 0, 'Node wrote its cache');
    const size = (d: string): number => fs.readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? size(path.join(d, e.name)) : fs.statSync(path.join(d, e.name)).size), 0);
    assert.ok(size(dir) > 100_000, 'the worker’s module graph is in it');
    const markedAt = fs.statSync(path.join(dir, markers[0])).mtimeMs;
    // a restart with the same sources finds the marker and starts no filling process
    assert.deepEqual(prepareWorkerCompileCache(WORKER, env), { NODE_COMPILE_CACHE: dir });
    assert.equal(fs.statSync(path.join(dir, markers[0])).mtimeMs, markedAt);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.ready')), markers);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
