/**
 * What tracing adds to one request, counted in instructions (issue 21, docs/performance.md
 * "OpenTelemetry"): the gateway CPU per request of the same chat request on two routes of one
 * gateway — `/plain` (ai-proxy alone) and `/traced` (the same plus a route-scoped opentelemetry
 * plugin at sampling 1.0 whose traces and GenAI metrics go to the bench's OTLP sink) — sent one
 * after the other on a keep-alive connection, `--requests` each after a warm-up, alternating
 * `--rounds` times. CPU time per request from /proc (noisy on a shared machine), and with
 * `--callgrind` instructions per request in the worker (repeatable: the difference is what
 * tracing costs, export included — a batch of 200 spans leaves every 50 requests).
 * `--main-thread` (with `--callgrind`): the worker's main thread alone, V8 compiling and collecting
 * on its helper threads as it does outside callgrind; without it V8 runs single-threaded and a
 * window also counts whatever compilations fall into it.
 *
 * `--cpu-prof`: the worker runs under `--cpu-prof` and the last round of each route is summarised
 * from its own window of the profile: the functions whose self time per request differs most.
 *
 * `--connections N`: instead of one request at a time, N connections of autocannon for `--seconds`
 * per measurement (the bench's load shape; `--warmup` then counts seconds too).
 *
 *   taskset -c 1 node bench/otel-cost.ts [--requests 400] [--warmup 200] [--rounds 3] [--stream] [--callgrind [--main-thread] | --cpu-prof]
 *                           [--connections 64 --seconds 3] [--spend on|off]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Gateway, CLI } from '../test/helpers/gateway.ts';
import { startMockProvider } from '../test/mocks/providers.ts';
import { buildRequest, RawConnection } from './raw-client.ts';
import { cpuUs } from './procs.ts';
import { Callgrind, callgrindCommand } from './callgrind.ts';
import { startOtlpSink } from './otlp-sink.ts';
import { summarise, type ProfileSummary } from './profile-summary.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '400' },
    warmup: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '3' },
    stream: { type: 'boolean', default: false },
    callgrind: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    top: { type: 'string', default: '40' },
    plugin: { type: 'string', default: '{}' },
    'no-metrics': { type: 'boolean', default: false },
    'gateway-cpu': { type: 'string', default: '0' },
    // keep the callgrind dumps (the last one is the last route measured) for callgrind_annotate
    'keep-callgrind': { type: 'boolean', default: false },
    // count the worker's main thread alone, V8 running as it does outside callgrind (compiling and
    // collecting on helper threads) instead of single-threaded with everything counted
    'main-thread': { type: 'boolean', default: false },
    // the spend log (on by default, as in the bench): off counts a request without the worker's row and batch
    spend: { type: 'string', default: 'on' },
  },
});
const REQUESTS = Number(args.requests);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
/** 0: one request at a time (serial); else autocannon with this many connections for `--seconds`. */
const CONNECTIONS = Number(args.connections);
/** Warm-up per measurement under load (`--connections`), seconds: `--warmup` when given, else 1. */
const WARMUP_S = process.argv.includes('--warmup') ? WARMUP : 1;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

const mock = await startMockProvider('openai', { models: '*', delayMs: 0, text: 'Hello there, how can I help?' });
const sink = await startOtlpSink();
const cgDir = args.callgrind ? fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-otel-cg-')) : '';
const profDir = args['cpu-prof'] ? fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-otel-prof-')) : '';
const env: Record<string, string> = { MODELGATE_LOG_LEVEL: 'warn', MODELGATE_ACCESS_LOG: 'off', MODELGATE_SPEND_LOG: args.spend === 'off' ? 'off' : 'on' };
// under callgrind every thread's instructions count: V8's background compiler and GC threads then
// make the counts jump by whole compilations and collections; one thread makes them repeat (the
// workers inherit the primary's execArgv)
const MAIN_THREAD = args['main-thread'];
const v8Flags = args.callgrind && !MAIN_THREAD ? ['--single-threaded'] : [];
if (profDir) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${profDir} --cpu-prof-interval=100`;
/** The last round's window of each route (monotonic µs, the profile's clock). */
const windows: Record<string, { fromUs: number; toUs: number; requests: number }> = {};
const monoUs = () => Number(process.hrtime.bigint() / 1000n);
// as the bench pins them: the gateway on CPU 0, this script (load, mock, sink) on the others — run it under `taskset -c 1`
const pin = os.cpus().length > 1 ? ['taskset', '-c', args['gateway-cpu']] : [];
const gw = await Gateway.start({ env, command: [...pin, ...(args.callgrind ? callgrindCommand(cgDir, MAIN_THREAD) : []), process.execPath, ...v8Flags, CLI], noWait: true });
try {
  await gw.ready(args.callgrind ? 600_000 : 20_000);
  const admin = async (method: string, p: string, body?: unknown) => {
    const r = await gw.adminRequest(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status} ${r.text}`);
    return r.json;
  };
  await admin('POST', '/services', { name: 'ai', url: 'http://127.0.0.1:9' });
  const aiProxy = { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider: 'openai', name: 'gpt-4o-mini', options: { upstream_url: `${mock.url}/v1/chat/completions` } }, logging: { log_statistics: true } };
  for (const name of ['plain', 'traced']) {
    await admin('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
    await admin('POST', `/routes/${name}/plugins`, { name: 'ai-proxy', config: aiProxy });
  }
  // `--plugin JSON` merges into the plugin's config (`{"sampling_rate":0}`: a trace that records nothing), `--no-metrics` leaves metrics_endpoint out
  const otel = { traces_endpoint: `${sink.url}/v1/traces`, ...(args['no-metrics'] ? {} : { metrics_endpoint: `${sink.url}/v1/metrics` }), sampling_rate: 1, ...JSON.parse(args.plugin) };
  await admin('POST', '/routes/traced/plugins', { name: 'opentelemetry', config: otel });
  const info = (await admin('GET', '/')) as { pids?: { workers?: number[] } };
  const worker = info.pids?.workers?.[0];
  if (!worker) throw new Error('no worker pid from the Admin API');
  await new Promise((r) => setTimeout(r, 500)); // the worker compiles the last snapshot

  const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', stream: args.stream, messages: [{ role: 'user', content: 'Say hello in one short sentence.' }] }));
  const measured: Record<string, { cpu: number[]; instr: number[] }> = { plain: { cpu: [], instr: [] }, traced: { cpu: [], instr: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? ['traced', 'plain'] : ['plain', 'traced']) {
      let answered = 0;
      let run: () => Promise<void>;
      let warm: () => Promise<void>;
      let closeConn = () => {};
      if (CONNECTIONS > 0) {
        const load = async (seconds: number) => {
          const r = await autocannon({ url: `http://127.0.0.1:${gw.proxyPort}/${name}`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS, duration: seconds, pipelining: 1, timeout: args.callgrind ? 300 : 10 });
          if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
          return r['2xx'];
        };
        warm = async () => void (await load(WARMUP_S));
        run = async () => void (answered = await load(Number(args.seconds)));
      } else {
        const request = buildRequest({ port: gw.proxyPort, path: `/${name}`, headers: {}, body });
        const conn = new RawConnection(gw.proxyPort);
        closeConn = () => conn.close();
        const send = async () => {
          const x = await conn.send(request, args.stream, 0, 600_000);
          if (x.status !== 200) throw new Error(`${name}: status ${x.status}`);
        };
        warm = async () => {
          for (let i = 0; i < WARMUP; i++) await send();
        };
        run = async () => {
          for (let i = 0; i < REQUESTS; i++) await send();
          answered = REQUESTS;
        };
      }
      await warm();
      const cg = args.callgrind ? new Callgrind(worker, cgDir, args['keep-callgrind'] ? `${name}-${round + 1}` : null) : null;
      cg?.start();
      const cpu0 = cpuUs([worker]);
      const fromUs = monoUs();
      await run();
      windows[name] = { fromUs, toUs: monoUs(), requests: answered };
      const cpu = (cpuUs([worker]) - cpu0) / answered;
      const instr = cg ? cg.stop(MAIN_THREAD) / answered : NaN;
      closeConn();
      measured[name].cpu.push(cpu);
      measured[name].instr.push(instr);
      log(`round ${round + 1} ${name.padEnd(6)} ${cpu.toFixed(1)} µs/req${cg ? `, ${(instr / 1e3).toFixed(1)} k instr/req` : ''}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [p, t] = [measured.plain, measured.traced];
  console.log(`plain  ${median(p.cpu).toFixed(1)} µs/req${args.callgrind ? `, ${(median(p.instr) / 1e3).toFixed(1)} k instr/req` : ''}`);
  console.log(`traced ${median(t.cpu).toFixed(1)} µs/req${args.callgrind ? `, ${(median(t.instr) / 1e3).toFixed(1)} k instr/req` : ''}`);
  console.log(`traced ÷ plain: CPU ${(median(t.cpu) / median(p.cpu)).toFixed(3)}×${args.callgrind ? `, instructions ${(median(t.instr) / median(p.instr)).toFixed(3)}× (+${((median(t.instr) - median(p.instr)) / 1e3).toFixed(1)} k per request)` : ''}`);
  console.log(`sink: ${JSON.stringify(sink.counts())}`);
  if (profDir) {
    await gw.close(); // the profile is written as the worker exits
    const file = fs.readdirSync(profDir).find((f) => f.includes(`.${worker}.`));
    if (!file) throw new Error('no worker profile written');
    const kept = path.join(os.tmpdir(), `otel-cost-${Date.now()}.cpuprofile`);
    fs.copyFileSync(path.join(profDir, file), kept);
    console.log(`profile kept: ${kept}; windows: ${JSON.stringify(windows)}`);
    const top = Number(args.top);
    const [sp, st] = ['plain', 'traced'].map((n) => summarise(path.join(profDir, file), 100_000, windows[n], windows[n].requests));
    console.log(functionDiff(sp, st, top));
  }
} finally {
  await gw.close();
  await sink.stop();
  await mock.close();
  if (cgDir && !args['keep-callgrind']) fs.rmSync(cgDir, { recursive: true, force: true });
  else if (cgDir) console.log(`callgrind dumps kept in ${cgDir}`);
  if (profDir) fs.rmSync(profDir, { recursive: true, force: true });
}

/** Self µs per request by function, traced minus plain: the `top` largest differences. */
function functionDiff(plain: ProfileSummary, traced: ProfileSummary, top: number): string {
  const key = (f: { name: string; location: string }) => `${f.name} ${f.location}`;
  const a = new Map(plain.topSelf.map((f) => [key(f), f.selfUsPerReq ?? 0]));
  const b = new Map(traced.topSelf.map((f) => [key(f), f.selfUsPerReq ?? 0]));
  const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => ({ k, p: a.get(k) ?? 0, t: b.get(k) ?? 0 })).sort((x, y) => Math.abs(y.t - y.p) - Math.abs(x.t - x.p));
  const lines = [`busy µs per request: plain ${plain.busyUsPerReq?.toFixed(1)}, traced ${traced.busyUsPerReq?.toFixed(1)}`, '  plain    traced   diff     function'];
  for (const r of rows.slice(0, top)) lines.push(`  ${r.p.toFixed(2).padStart(7)}  ${r.t.toFixed(2).padStart(7)}  ${(r.t - r.p >= 0 ? '+' : '') + (r.t - r.p).toFixed(2).padStart(6)}  ${r.k}`);
  return lines.join('\n');
}
process.exit(0);
