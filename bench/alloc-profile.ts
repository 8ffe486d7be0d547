/**
 * What a gateway worker allocates per request, by function (docs/performance.md, "Allocation per
 * request"): modelgate as the bench starts it, loaded at 64 connections with one of the bench's
 * requests, its worker under V8's sampling heap profiler (bench/alloc-preload.ts) for `--seconds`
 * after a warm-up; prints the sampled bytes per request and the functions that allocate most. The
 * total is steadier than CPU time on a shared machine: a change that allocates less shows.
 *
 * With `--otel` the gateway has the `otel` scenario's global opentelemetry plugin (sampling 1.0,
 * traces and GenAI metrics to an OTLP sink in this process). It then prints the main thread's GC
 * pauses per request, counted over a second window of the same load without the heap profiler
 * (which slows every collection).
 *
 *   taskset -c 1 node bench/alloc-profile.ts [--request chat|stream|<client API: plugins, responses, ...>] [--otel] [--seconds 3] [--top 30]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { apiView, startMock, startModelgate, CLIENT_APIS } from './targets.ts';
import { killStarted, sleep } from './procs.ts';
import { startOtlpSink } from './otlp-sink.ts';
import { messagesBody, responsesBody, smallBody, streamBody } from './workload.ts';

const { values: args } = parseArgs({ options: { request: { type: 'string', default: 'chat' }, seconds: { type: 'string', default: '3' }, top: { type: 'string', default: '30' }, otel: { type: 'boolean', default: false } } });
const name = args.request!;
const api = CLIENT_APIS.find((a) => a.name === name);
if (name !== 'chat' && name !== 'stream' && !api) {
  console.error(`--request: chat, stream or one of ${CLIENT_APIS.map((a) => a.name).join(', ')}`);
  process.exit(2);
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: HeapNode[];
}

const mock = await startMock(os.cpus().length > 1 ? '1' : '', 20, 20);
const sink = args.otel ? await startOtlpSink() : null;
const t = await startModelgate(os.cpus().length > 1 ? '0' : '', { name: 'modelgate-alloc', mock, extraRoutes: 0, clientApis: api !== undefined, otelSink: sink?.url, nodeOptions: `--import ${path.join(import.meta.dirname, 'alloc-preload.ts')}` });
try {
  // the bench's own bodies (bench/run.ts BODIES) and routes (apiView) for each request
  const view = api ? apiView(t, api) : t;
  const body = name === 'stream' ? streamBody() : !api ? smallBody() : api.api === 'responses' ? responsesBody(api.model, api.bodyFields) : api.api === 'messages' ? messagesBody(api.model, api.bodyFields) : smallBody(api.model);
  const headers = { 'content-type': 'application/json', ...view.headers };
  const url = `http://127.0.0.1:${view.port}${view.path}`;
  const run = (s: number) => autocannon({ url, method: 'POST', headers, body, connections: 64, duration: s });
  await run(2); // warm-up
  const worker = t.processes().find((p) => p.role === 'worker')!.pid;
  type Window = { head: HeapNode; gc: { minorMs: number; minor: number; majorMs: number; major: number; otherMs: number } };
  /** One measured window between two SIGUSR2s: what the worker wrote, and the requests answered. */
  const measure = async (): Promise<[Window, Result]> => {
    process.kill(worker, 'SIGUSR2');
    const r = await run(Number(args.seconds));
    process.kill(worker, 'SIGUSR2');
    const file = path.join(os.tmpdir(), `alloc-${worker}.json`);
    for (let i = 0; i < 50 && !fs.existsSync(file); i++) await sleep(100);
    await sleep(200); // written in one call: give it time to finish
    const w = JSON.parse(fs.readFileSync(file, 'utf8')) as Window;
    fs.rmSync(file, { force: true });
    return [w, r];
  };
  const [profile, r] = await measure();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode): void => {
    if (n.selfSize) {
      const cf = n.callFrame;
      const key = `${cf.functionName || '(anonymous)'} ${(cf.url || '').replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${cf.lineNumber + 1}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children ?? []) walk(c);
  };
  walk(profile.head);
  const n = r.requests.total;
  console.log(`${name}${args.otel ? ' (traced)' : ''}: ${n} requests (${r.non2xx} non-2xx), ${(total / n / 1024).toFixed(1)} KB allocated per request (sampled)`);
  for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) console.log(`${(v / n).toFixed(0).padStart(8)} B  ${k}`);
  {
    const [{ gc }, g] = await measure();
    const m = g.requests.total;
    console.log(`main thread GC pauses per request (a window of its own, no heap profiler; ${m} requests): scavenges ${((gc.minorMs * 1000) / m).toFixed(2)} µs (${gc.minor}), mark-compact ${((gc.majorMs * 1000) / m).toFixed(2)} µs (${gc.major}), other ${((gc.otherMs * 1000) / m).toFixed(2)} µs`);
  }
} finally {
  await t.stop();
  await mock.stop();
  await sink?.stop();
  killStarted();
}
