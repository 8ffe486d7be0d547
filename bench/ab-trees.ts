/**
 * Interleaved A/B of source trees (git worktrees of other commits) or settings: one gateway per
 * argument, all pinned to CPU 1 and frozen (SIGSTOP) but the one measured, the order reversing
 * each round; the small chat request at 64 connections; the worker's and the whole gateway's CPU
 * per request, and each round's worker ratio to the first argument. Run it pinned to CPU 0:
 *
 *   taskset -c 0 node bench/ab-trees.ts /work/old /work/main '/work/main=MODELGATE_SPEND_LOG=off'
 *       [--rounds N] [--secs S] [--spend on|off] [--prof] [--no-freeze]
 *
 * A tree's argument ending in `+otel` (`/work/main+otel`, before any `=ENV`) adds the `otel`
 * scenario's global opentelemetry plugin (sampling_rate 1.0, traces and GenAI metrics to an OTLP
 * sink inside this process): traced ÷ untraced, and tracing's cost before and after a change.
 * `OTEL_CONFIG={...}` among a tree's settings is merged into that plugin's config
 * (`/work/main+otel=OTEL_CONFIG={"sampling_rate":0}`: propagation without recording).
 * A tree's argument ending in `+plugins` loads that gateway through the bench's `plugins` route
 * instead (key-auth + rate-limiting + ai-rate-limiting-advanced on the chat route: CLIENT_APIS in
 * bench/targets.ts), so the cost of the limiters' shared counters can be compared across trees;
 * `PLUGINS=key-auth,rate-limiting` among its settings keeps only those of the three.
 *
 * A tree needs its node_modules (a symlink to this checkout's will do). `--prof`: each process
 * writes a V8 CPU profile to /tmp/ab-prof-<tree>/ when it exits: the share of one function in
 * the worker's profile (e.g. process.nextTick) bisects far more steadily than CPU per request on
 * a shared machine — how the start-up GC's cost was found (docs/performance.md). A frozen
 * process's profile charges the whole stop to the sample after it: `--no-freeze` leaves the others
 * running (idle but for their timers) when per-function costs matter more than fairness.
 */
import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startMock, AI_PROXY_CONFIG, CLIENT_APIS, BENCH_CONSUMER, BENCH_CONSUMER_KEY } from './targets.ts';
import { spawnPinned, cpuUs, sysUs, childPids, sleep, memory } from './procs.ts';
import { smallBody } from './workload.ts';
import { startOtlpSink } from './otlp-sink.ts';
const { values, positionals } = parseArgs({ allowPositionals: true, allowNegative: true, options: { secs: { type: 'string', default: '3' }, rounds: { type: 'string', default: '5' }, spend: { type: 'string', default: 'on' }, prof: { type: 'boolean' }, freeze: { type: 'boolean', default: true } } });
const mock = await startMock('0', 20, 20);
const body = smallBody();
const sink = positionals.some((p) => p.split('=')[0].endsWith('+otel')) ? await startOtlpSink() : null;
const PLUGINS = CLIENT_APIS.find((a) => a.name === 'plugins')!;
const load = (g: { port: number; plugins: boolean }, secs: number) =>
  autocannon({ url: `http://127.0.0.1:${g.port}${g.plugins ? PLUGINS.requestPath : '/chat'}`, method: 'POST', body, headers: { 'content-type': 'application/json', ...(g.plugins ? PLUGINS.headers : {}) }, connections: 64, duration: secs, sampleInt: 100 });
interface G { label: string; pid: number; port: number; plugins: boolean; workers: number[]; res: { w: number; sys: number; all: number; rps: number }[] }
const gs: G[] = [];
for (const spec of positionals) {
  const [tree, envs] = spec.split('=', 2).length > 1 ? [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)] : [spec, ''];
  const otel = tree.endsWith('+otel');
  const plugins = tree.endsWith('+plugins');
  const repo = tree.replace(/\+(otel|plugins)$/, '');
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-ab-'));
  const pp = 20000 + Math.floor(Math.random() * 20000), ap = pp + 1;
  const env: Record<string, string> = { ...(process.env as any), MODELGATE_PROXY_LISTEN: `127.0.0.1:${pp}`, MODELGATE_ADMIN_LISTEN: `127.0.0.1:${ap}`, MODELGATE_ADMIN_GUI_LISTEN: 'off', MODELGATE_PREFIX: prefix, MODELGATE_WORKERS: '1', MODELGATE_LOG_LEVEL: 'warn', MODELGATE_ACCESS_LOG: 'off', MODELGATE_SPEND_LOG: values.spend! };
  delete env.NODE_OPTIONS;
  for (const kv of envs.split(';').filter(Boolean)) { const i = kv.indexOf('='); env[kv.slice(0, i)] = kv.slice(i + 1); }
  const child = spawnPinned('1', `${repo}/node_modules/.bin/node`, [...(values.prof ? ['--cpu-prof', `--cpu-prof-dir=${path.join(os.tmpdir(), `ab-prof-${path.basename(repo)}`)}`] : []), path.join(repo, 'src/cli.ts'), 'start'], { env, cwd: repo, stdout: 'ignore', stderr: 'ignore' });
  const admin = (m: string, p: string, b?: unknown) => fetch(`http://127.0.0.1:${ap}${p}`, { method: m, headers: { 'content-type': 'application/json' }, body: b ? JSON.stringify(b) : undefined });
  for (let i = 0; ; i++) { try { if ((await admin('GET', '/status')).status === 200) break; } catch {} await sleep(100); if (i > 600) throw new Error('no start ' + spec); }
  await admin('POST', '/services', { name: 'bench', url: mock.url });
  await admin('POST', '/services/bench/routes', { name: 'chat', paths: ['~/chat$'] });
  await admin('POST', '/routes/chat/plugins', { name: 'ai-proxy', config: AI_PROXY_CONFIG(mock.url) });
  if (plugins) {
    const route = PLUGINS.requestPath.split('/')[1];
    await admin('POST', '/consumers', { username: BENCH_CONSUMER });
    await admin('POST', `/consumers/${BENCH_CONSUMER}/key-auth`, { key: BENCH_CONSUMER_KEY });
    await admin('POST', '/services/bench/routes', { name: route, paths: [`/${route}`] });
    await admin('POST', `/routes/${route}/plugins`, { name: 'ai-proxy', config: PLUGINS.plugin!(mock.url) });
    const only = env.PLUGINS?.split(',');
    for (const p of PLUGINS.extraPlugins ?? []) if (!only || only.includes(p.name as string)) await admin('POST', `/routes/${route}/plugins`, p);
  }
  if (otel) await admin('POST', '/plugins', { name: 'opentelemetry', config: { traces_endpoint: `${sink!.url}/v1/traces`, metrics_endpoint: `${sink!.url}/v1/metrics`, sampling_rate: 1, ...JSON.parse(env.OTEL_CONFIG ?? '{}') } });
  await sleep(2500);
  console.log(spec, 'idle worker RSS MB', childPids(child.pid!).map((q) => (memory(q).rss / 1048576).toFixed(1)).join(','));
  const g: G = { label: spec.replace('/work/', ''), pid: child.pid!, port: pp, plugins, workers: childPids(child.pid!), res: [] };
  const warm = await load(g, 2);
  if (warm.non2xx || warm.errors) throw new Error(`${spec}: ${warm.non2xx} non-2xx answers, ${warm.errors} errors while warming up`);
  gs.push(g);
  if (values.freeze) for (const q of [child.pid!, ...childPids(child.pid!)]) process.kill(q, 'SIGSTOP');
}
const sig = (g: G, s: NodeJS.Signals) => { if (values.freeze) for (const q of [g.pid, ...g.workers]) try { process.kill(q, s); } catch {} };
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (let r = 0; r < Number(values.rounds); r++) {
  const order = r % 2 ? [...gs].reverse() : gs;
  for (const g of order) {
    sig(g, 'SIGCONT');
    await sleep(200);
    await load(g, 1);
    const all = [g.pid, ...g.workers];
    const w0 = cpuUs(g.workers), a0 = cpuUs(all), s0 = sysUs(g.workers);
    const res = await load(g, Number(values.secs));
    const n = res.requests.total;
    g.res.push({ w: (cpuUs(g.workers) - w0) / n, sys: (sysUs(g.workers) - s0) / n, all: (cpuUs(all) - a0) / n, rps: n / Number(values.secs) });
    sig(g, 'SIGSTOP');
  }
}
for (const g of gs) {
  const w = med(g.res.map((x) => x.w)), a = med(g.res.map((x) => x.all));
  console.log(`${g.label.padEnd(40)} worker ${w.toFixed(1)} µs/req (${g.res.map((x) => x.w.toFixed(0)).join(',')})  all ${a.toFixed(1)} (${g.res.map((x) => x.all.toFixed(0)).join(',')})  rest ${med(g.res.map((x) => x.all - x.w)).toFixed(1)}  worker sys ${med(g.res.map((x) => x.sys)).toFixed(1)}  rps ${Math.round(med(g.res.map((x) => x.rps)))}  worker÷first per round ${g.res.map((x, i) => (x.w / gs[0].res[i].w).toFixed(2)).join(',')}`);
}
for (const g of gs) { sig(g, 'SIGCONT'); process.kill(g.pid, 'SIGTERM'); }
await mock.stop(); await sink?.stop(); await sleep(300); process.exit(0);
