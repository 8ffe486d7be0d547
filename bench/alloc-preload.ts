/**
 * Loaded into a gateway's processes by bench/alloc-profile.ts (`--import`): in a worker, SIGUSR2
 * starts V8's sampling heap profiler with the objects garbage-collected since counted (so the
 * profile is what the worker allocated, not what it still holds), and the next SIGUSR2 stops it and
 * writes the profile to `$TMPDIR/alloc-<pid>.json`, with the main thread's GC pauses in between
 * (`gc`: scavenges and mark-compacts, count and ms, from `gc` performance entries). Only the first
 * window runs the profiler; later ones count GC pauses alone (the profiler slows collections).
 * Does nothing in the primary.
 */
import inspector from 'node:inspector';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cluster from 'node:cluster';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

if (cluster.isWorker) {
  let sampling = false;
  // the main thread's GC pauses while sampling, by kind (scavenges: minor; mark-compact: major)
  const gc = { minorMs: 0, minor: 0, majorMs: 0, major: 0, otherMs: 0 };
  const observer = new PerformanceObserver((list) => {
    if (!sampling) return;
    for (const e of list.getEntries()) {
      const kind = ((e as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) (gc.minorMs += e.duration), gc.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) (gc.majorMs += e.duration), gc.major++;
      else gc.otherMs += e.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  // the sampling heap profiler slows every collection several times over: only the first window
  // profiles, and GC pauses are read from a later one, without it
  let windows = 0;
  let heapProfile = true;
  const session = new inspector.Session();
  session.connect();
  const write = (profile: object) => fs.writeFileSync(path.join(os.tmpdir(), `alloc-${process.pid}.json`), JSON.stringify({ ...profile, gc }));
  process.on('SIGUSR2', () => {
    if (!sampling) {
      sampling = true;
      heapProfile = windows++ === 0;
      for (const k in gc) gc[k as keyof typeof gc] = 0;
      if (heapProfile) session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      return;
    }
    sampling = false;
    if (!heapProfile) return write({ head: { callFrame: { functionName: '', url: '', lineNumber: 0 }, selfSize: 0 } });
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (!err) write(result.profile);
    });
  });
}
