/**
 * Profiles the `otel` scenario's gateway (docs/performance.md, "OpenTelemetry"): modelgate with a
 * global opentelemetry plugin at sampling_rate 1.0 exporting traces and GenAI metrics to the
 * bench's OTLP sink (bench/otlp-sink.ts), its worker under `--cpu-prof`, loaded with the small
 * chat request; prints the profile's summary (bench/profile-summary.ts) per request. `--off` profiles
 * the same gateway without the plugin, for the difference. A report, not a test.
 *
 *   taskset -c 1 node bench/otel-profile.ts [--seconds 10] [--connections 64] [--off] [--top 40]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuUs, killStarted } from './procs.ts';
import { startMock, startModelgate, type Target } from './targets.ts';
import { smallBody } from './workload.ts';
import { formatSummary, summarise } from './profile-summary.ts';
import { startOtlpSink } from './otlp-sink.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    off: { type: 'boolean', default: false },
    top: { type: 'string', default: '40' },
  },
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-otel-profile-'));
// as the bench pins them: the gateway on CPU 0, the mock on CPU 1 (run this script under `taskset -c 1` for the load generator)
const mock = await startMock(os.cpus().length > 1 ? '1' : '', 20, 20);
const sink = await startOtlpSink();
let t: Target | null = null;
try {
  t = await startModelgate(os.cpus().length > 1 ? '0' : '', {
    name: args.off ? 'modelgate-profile' : 'modelgate-otel-profile',
    mock,
    extraRoutes: 0,
    nodeOptions: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=250`,
    otelSink: args.off ? undefined : sink.url,
  });
  const run = (s: number) =>
    autocannon({ url: `http://127.0.0.1:${t!.port}${t!.path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: smallBody(), connections: Number(args.connections), duration: s, pipelining: 1, sampleInt: 100 });
  await run(3); // warm-up
  const workers = t.processes().filter((p) => p.role === 'worker').map((p) => p.pid);
  const cpu0 = cpuUs(workers);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r = await run(Number(args.seconds));
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const done = r['2xx'] + r.non2xx;
  const cpu = cpuUs(workers) - cpu0;
  await t.stop();
  t = null;
  const file = fs.readdirSync(dir).find((f) => workers.some((pid) => f.includes(`.${pid}.`)));
  if (!file) throw new Error('no worker profile written');
  const kept = path.join(os.tmpdir(), `otel-profile-${args.off ? 'off' : 'on'}-${Date.now()}.cpuprofile`);
  fs.copyFileSync(path.join(dir, file), kept);
  console.log(`${done} requests (${r.non2xx} non-2xx), ${(r['2xx'] / r.duration).toFixed(0)} req/s, worker ${(cpu / done).toFixed(1)} µs CPU/req (profiled); sink: ${JSON.stringify(sink.counts())}; profile ${kept}`);
  console.log(formatSummary(summarise(kept, Number(args.top), { fromUs, toUs }, done), Number(args.top)));
} finally {
  if (t) await t.stop();
  await sink.stop();
  await mock.stop();
  killStarted();
  fs.rmSync(dir, { recursive: true, force: true });
}
