/**
 * Preloaded into a gateway (`NODE_OPTIONS=--import <this file>`, MODULE_LOG_DIR set): each worker
 * process appends the file URL of every module it loads, ES modules and CommonJS alike, to
 * `<MODULE_LOG_DIR>/<pid>.txt`. What a worker loads is what it holds in memory for as long as it
 * runs (test/integration/worker-modules.test.ts).
 */
import { registerHooks } from 'node:module';
import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';

const dir = process.env.MODULE_LOG_DIR;
if (dir && cluster.isWorker) {
  const file = path.join(dir, `${process.pid}.txt`);
  registerHooks({
    load(url, context, next) {
      const loaded = next(url, context);
      if (url.startsWith('file:')) fs.appendFileSync(file, `${url}\n`);
      return loaded;
    },
  });
}
