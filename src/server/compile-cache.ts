/**
 * Workers run from Node's compile cache (`NODE_COMPILE_CACHE`), so they never load the TypeScript
 * stripper: Node strips types with a WebAssembly build of swc that stays in memory once loaded,
 * about 16 MB of RSS per process, and costs start-up time. With the cache, a worker gets each
 * module's stripped and compiled code from disk instead.
 *
 * The primary fills the cache before forking: a short-lived child loads the worker's module graph
 * (src/server/worker.ts with MODELGATE_WARM_COMPILE_CACHE set) and writes it out. It runs only
 * when the sources or Node changed since the last fill (a marker keyed on both), so a restart
 * costs nothing. Any failure here only means workers strip types themselves, as without a cache.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';

export const WARM_ENV = 'MODELGATE_WARM_COMPILE_CACHE';

const SRC = path.resolve(import.meta.dirname, '..');

/** Where the cache lives: `NODE_COMPILE_CACHE` if the operator set one, else a per-user temp dir. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.NODE_DISABLE_COMPILE_CACHE) return null;
  if (env.NODE_COMPILE_CACHE) return env.NODE_COMPILE_CACHE;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return path.join(os.tmpdir(), `modelgate-compile-cache-${uid}`);
}

/** Every source file's path, size and mtime, the Node version and the flags: what the cache depends on. */
function sourcesKey(execArgv: string[]): string {
  const hash = crypto.createHash('sha256').update(`${process.version}\0${execArgv.join(' ')}\n`);
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const st = fs.statSync(full);
        hash.update(`${full}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  walk(SRC);
  return hash.digest('hex').slice(0, 32);
}

/**
 * Makes sure the cache holds the worker's modules (loaded with the workers' `execArgv`), then
 * returns the environment workers need to use it (empty when there is no cache to use).
 */
export function prepareWorkerCompileCache(workerEntry: string, env: NodeJS.ProcessEnv = process.env, execArgv: string[] = []): Record<string, string> {
  const dir = compileCacheDir(env);
  if (!dir) return {};
  try {
    fs.mkdirSync(dir, { recursive: true });
    const marker = path.join(dir, `modelgate-${sourcesKey(execArgv)}.ready`);
    if (!fs.existsSync(marker)) {
      // the workers' own flags: V8 checks them before it uses cached code
      const r = spawnSync(process.execPath, [...execArgv, workerEntry], {
        env: { ...env, NODE_COMPILE_CACHE: dir, [WARM_ENV]: '1', NODE_OPTIONS: '' },
        stdio: 'ignore',
        timeout: 60_000,
      });
      if (r.status !== 0) return { NODE_COMPILE_CACHE: dir }; // workers still fill it as they load
      fs.writeFileSync(marker, new Date().toISOString());
    }
    return { NODE_COMPILE_CACHE: dir };
  } catch {
    return {};
  }
}
