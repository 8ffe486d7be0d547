/**
 * Where tracing's CPU goes, by thread (docs/performance.md, "Fourteenth look"): the bench's
 * untraced gateway and its `otel` gateway (a global opentelemetry plugin at sampling 1.0, traces
 * and GenAI metrics to an OTLP sink in this process), both pinned to CPU 0, loaded in turn A B B A
 * with the small chat request at 64 connections. Prints CPU per request of each process's threads
 * by name (`worker:MainThread`, `worker:V8Worker` — V8's compiler and GC helpers —, the primary's),
 * from /proc/<pid>/task/<tid>/schedstat, summed over `--rounds`. The bench and `bench/otel-cost.ts
 * --callgrind --main-thread` count the main thread's work; this shows what the helpers add.
 *
 *   taskset -c 1 node bench/otel-threads.ts [--rounds 4] [--seconds 3]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startMock, startModelgate, type Target } from './targets.ts';
import { killStarted, sleep } from './procs.ts';
import { startOtlpSink } from './otlp-sink.ts';
import { smallBody } from './workload.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '4' }, seconds: { type: 'string', default: '3' } } });
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const body = smallBody();
const mock = await startMock('1', 50, 0);
const sink = await startOtlpSink();
const plain = await startModelgate('0', { name: 'modelgate', mock, extraRoutes: 9 });
const traced = await startModelgate('0', { name: 'modelgate-otel', mock, extraRoutes: 9, otelSink: sink.url });

/** µs of CPU so far by `<role>:<thread name>` over a target's processes (threads that ended are not counted). */
function threadCpu(t: Target): Map<string, number> {
  const byName = new Map<string, number>();
  for (const p of t.processes()) {
    for (const tid of fs.readdirSync(`/proc/${p.pid}/task`)) {
      try {
        const name = `${p.role}:${fs.readFileSync(`/proc/${p.pid}/task/${tid}/comm`, 'utf8').trim()}`;
        const ns = Number(fs.readFileSync(`/proc/${p.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        byName.set(name, (byName.get(name) ?? 0) + ns / 1000);
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }
  return byName;
}

const totals = new Map<Target, { requests: number; us: Map<string, number> }>([
  [plain, { requests: 0, us: new Map() }],
  [traced, { requests: 0, us: new Map() }],
]);

async function load(t: Target, seconds: number, counted: boolean): Promise<void> {
  const before = threadCpu(t);
  const r = await autocannon({ url: `http://127.0.0.1:${t.port}${t.path}`, method: 'POST', headers: { ...t.headers, 'content-type': 'application/json' }, body, connections: 64, duration: seconds, pipelining: 1, timeout: 10, sampleInt: 100 });
  if (r.non2xx || r.errors) throw new Error(`${t.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  if (!counted) return;
  const after = threadCpu(t);
  const total = totals.get(t)!;
  total.requests += r['2xx'];
  for (const [name, us] of after) total.us.set(name, (total.us.get(name) ?? 0) + us - (before.get(name) ?? 0));
}

try {
  for (const t of [plain, traced]) await load(t, 3, false);
  for (let round = 0; round < ROUNDS; round++) for (const t of round % 2 ? [traced, plain, plain, traced] : [plain, traced, traced, plain]) await load(t, SECONDS, true);
  const off = totals.get(plain)!;
  const on = totals.get(traced)!;
  const perRequest = (x: { requests: number; us: Map<string, number> }, name: string) => (x.us.get(name) ?? 0) / x.requests;
  let sumOff = 0;
  let sumOn = 0;
  console.log('thread                           off µs/req   on µs/req   on − off');
  for (const name of [...new Set([...off.us.keys(), ...on.us.keys()])].sort()) {
    const [a, b] = [perRequest(off, name), perRequest(on, name)];
    sumOff += a;
    sumOn += b;
    if (a > 0.05 || b > 0.05) console.log(`${name.padEnd(32)} ${a.toFixed(2).padStart(10)} ${b.toFixed(2).padStart(11)} ${(b - a).toFixed(2).padStart(10)}`);
  }
  console.log(`${'all'.padEnd(32)} ${sumOff.toFixed(2).padStart(10)} ${sumOn.toFixed(2).padStart(11)} ${(sumOn - sumOff).toFixed(2).padStart(10)}   on ÷ off ${(sumOn / sumOff).toFixed(3)}×`);
} finally {
  await plain.stop();
  await traced.stop();
  await mock.stop();
  await sink.stop();
  killStarted();
  await sleep(100);
}
process.exit(0);
