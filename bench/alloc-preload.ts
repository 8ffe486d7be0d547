/**
 * Loaded into a gateway's processes by bench/alloc-profile.ts (`--import`): in a worker, SIGUSR2
 * starts V8's sampling heap profiler with the objects garbage-collected since counted (so the
 * profile is what the worker allocated, not what it still holds), and the next SIGUSR2 stops it and
 * writes the profile to `$TMPDIR/alloc-<pid>.json`. Does nothing in the primary.
 */
import inspector from 'node:inspector';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cluster from 'node:cluster';

if (cluster.isWorker) {
  let sampling = false;
  const session = new inspector.Session();
  session.connect();
  process.on('SIGUSR2', () => {
    if (!sampling) {
      sampling = true;
      session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      return;
    }
    sampling = false;
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (!err) fs.writeFileSync(path.join(os.tmpdir(), `alloc-${process.pid}.json`), JSON.stringify(result.profile));
    });
  });
}
