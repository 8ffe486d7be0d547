/**
 * What one streamed request costs the gateway, per request and per chunk, for each provider format
 * (issue 24, docs/performance.md "Streams (issue 24)").
 *
 * Starts the real gateway (one worker, spend log on as by default, access log off), a strict mock
 * provider per format (test/mocks/: OpenAI, Anthropic, Gemini, Bedrock, Cohere, Ollama), and the
 * two reference proxies of `npm run bench` (bench/ref-proxy.ts, pass and parse) in front of the
 * OpenAI mock. For every target and for two chunk counts it sends `--requests` streamed chat
 * requests one after the other (after a warm-up) and reads the CPU the target's process used
 * meanwhile (the worker's for modelgate) from /proc: µs per request, and µs per chunk as the slope
 * between the two chunk counts (what one more chunk costs, without the request's fixed cost).
 *
 * The mock sends its chunks `--delay-ms` apart (default 1), so each arrives as its own network
 * read, as a real provider's do; with 0 they would be coalesced into a few reads.
 *
 * `--callgrind`: the gateway runs under `valgrind --tool=callgrind` (instrumentation off until
 * measured); each measurement turns it on in the worker, zeroes, runs, dumps and reads the
 * instruction count. Counts repeat for the same inputs whatever else runs on the machine; they take
 * minutes (use `--requests 20`).
 *
 *   node bench/stream-cost.ts [--requests 200] [--warmup 50] [--chunks 10,60] [--delay-ms 1]
 *                             [--targets openai,anthropic,...,ref-parse,ref-pass] [--callgrind [--keep-callgrind]] [--json FILE]
 *
 * `--keep-callgrind`: each measurement's dump is kept as `<target>-<chunks>.cg` for callgrind_annotate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Gateway, CLI } from '../test/helpers/gateway.ts';
import { startMockProvider, type MockProvider, type MockProviderName } from '../test/mocks/providers.ts';
import { DEFAULT_BEDROCK_CREDENTIALS } from '../test/mocks/bedrock.ts';
import { buildRequest, RawConnection } from './raw-client.ts';
import { cpuUs, readyLine, stopChild } from './procs.ts';
import { Callgrind, callgrindCommand } from './callgrind.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '50' },
    chunks: { type: 'string', default: '10,60' },
    'delay-ms': { type: 'string', default: '1' },
    targets: { type: 'string', default: 'openai,anthropic,gemini,bedrock,cohere,ollama,ref-parse,ref-pass' },
    rounds: { type: 'string', default: '1' },
    callgrind: { type: 'boolean', default: false },
    'keep-callgrind': { type: 'boolean', default: false },
    json: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const REQUESTS = Number(args.requests);
const WARMUP = Number(args.warmup);
const CHUNKS = args.chunks.split(',').map(Number);
const DELAY = Number(args['delay-ms']);
const ROUNDS = Number(args.rounds);
const WANTED = args.targets.split(',');
const BENCH_DIR = import.meta.dirname;

/** The answer's text: enough words that every chunk count gets non-empty pieces. */
const TEXT = Array.from({ length: 400 }, (_, i) => `word${i % 37}`).join(' ');
const USER = [{ role: 'user', content: 'Say hello in one short sentence.' }];

interface Format {
  name: string;
  mock: MockProviderName;
  model: string;
  /** The ai-proxy config for the mock at `url`. */
  plugin: (url: string) => Record<string, unknown>;
}

const auth = (header_name: string, header_value: string) => ({ header_name, header_value });
const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const FORMATS: Format[] = [
  { name: 'openai', mock: 'openai', model: 'gpt-4o-mini', plugin: (u) => ({ auth: auth('Authorization', 'Bearer sk-test'), model: { provider: 'openai', name: 'gpt-4o-mini', options: { upstream_url: `${u}/v1/chat/completions` } } }) },
  { name: 'anthropic', mock: 'anthropic', model: 'claude-3-5-haiku-latest', plugin: (u) => ({ auth: auth('x-api-key', 'sk-ant-test'), model: { provider: 'anthropic', name: 'claude-3-5-haiku-latest', options: { upstream_url: `${u}/v1/messages` } } }) },
  { name: 'gemini', mock: 'gemini', model: 'gemini-2.5-flash', plugin: (u) => ({ auth: auth('x-goog-api-key', 'gemini-test'), model: { provider: 'gemini', name: 'gemini-2.5-flash', options: { upstream_url: `${u}/v1beta/models/gemini-2.5-flash:generateContent` } } }) },
  {
    name: 'bedrock',
    mock: 'bedrock',
    model: BEDROCK_MODEL,
    plugin: (u) => ({
      auth: { aws_access_key_id: DEFAULT_BEDROCK_CREDENTIALS.accessKeyId, aws_secret_access_key: DEFAULT_BEDROCK_CREDENTIALS.secretAccessKey },
      model: { provider: 'bedrock', name: BEDROCK_MODEL, options: { bedrock: { aws_region: 'us-east-1' }, upstream_url: `${u}/model/${encodeURIComponent(BEDROCK_MODEL)}/converse` } },
    }),
  },
  { name: 'cohere', mock: 'cohere', model: 'command-r', plugin: (u) => ({ auth: auth('Authorization', 'Bearer co-test'), model: { provider: 'cohere', name: 'command-r', options: { upstream_url: `${u}/v1/chat` } } }) },
  { name: 'ollama', mock: 'ollama', model: 'llama2', plugin: (u) => ({ model: { provider: 'llama2', name: 'llama2', options: { llama2_format: 'ollama', upstream_url: `${u}/api/chat` } } }) },
];

interface Measured {
  target: string;
  chunks: number;
  requests: number;
  /** CPU µs per request (the measured process). */
  cpuPerRequest: number;
  /** Instructions per request (callgrind), else null. */
  instrPerRequest: number | null;
  /** SSE `data:` events the client got per request. */
  events: number;
  wallMs: number;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function main(): Promise<void> {
  const mocks = new Map<MockProviderName, MockProvider>();
  const children: ChildProcess[] = [];
  let gw: Gateway | null = null;
  const cgDir = args.callgrind ? fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-stream-cg-')) : '';
  try {
    const formats = FORMATS.filter((f) => WANTED.includes(f.name));
    for (const f of formats) mocks.set(f.mock, await startMockProvider(f.mock, { models: '*', delayMs: DELAY, text: TEXT }));
    const refs = WANTED.filter((t) => t.startsWith('ref-'));
    let openaiRef: MockProvider | null = null;
    if (refs.length > 0) openaiRef = await startMockProvider('openai', { key: null, models: '*', delayMs: DELAY, text: TEXT });

    const command = args.callgrind
      ? [...callgrindCommand(cgDir), process.execPath, CLI]
      : undefined;
    const env: Record<string, string> = { MODELGATE_LOG_LEVEL: 'warn', MODELGATE_ACCESS_LOG: 'off', MODELGATE_SPEND_LOG: 'on' };
    if (args['cpu-prof']) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${path.resolve(args['cpu-prof'])}`;
    gw = await Gateway.start({ env, command, noWait: true });
    await gw.ready(args.callgrind ? 600_000 : 20_000);
    const admin = async (method: string, p: string, body?: unknown) => {
      const r = await gw!.adminRequest(method, p, body);
      if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status} ${r.text}`);
      return r.json;
    };
    await admin('POST', '/services', { name: 'ai', url: 'http://127.0.0.1:9' });
    for (const f of formats) {
      await admin('POST', '/services/ai/routes', { name: f.name, paths: [`/${f.name}`] });
      await admin('POST', `/routes/${f.name}/plugins`, { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', ...f.plugin(mocks.get(f.mock)!.url), logging: { log_statistics: true } } });
    }
    const info = (await admin('GET', '/')) as { pids?: { workers?: number[] } };
    const worker = info.pids?.workers?.[0];
    if (!worker) throw new Error('no worker pid from the Admin API');
    await new Promise((r) => setTimeout(r, 500)); // the worker compiles the last snapshot

    interface Runnable {
      name: string;
      port: number;
      path: string;
      pid: number;
      configure: (chunks: number) => void;
    }
    const runnables: Runnable[] = formats.map((f) => ({ name: f.name, port: gw!.proxyPort, path: `/${f.name}`, pid: worker, configure: (n) => mocks.get(f.mock)!.configure({ chunks: n }) }));
    for (const mode of refs) {
      const argv = [path.join(BENCH_DIR, 'ref-proxy.ts'), '--mode', mode.slice(4), '--upstream', openaiRef!.url];
      const child = args.callgrind ? spawn(command![0], [...command!.slice(1, -1), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const ready = await readyLine<{ port: number; pid: number }>(child, mode, args.callgrind ? 600_000 : 20_000);
      runnables.push({ name: mode, port: ready.port, path: '/v1/chat/completions', pid: ready.pid, configure: (n) => openaiRef!.configure({ chunks: n }) });
    }

    const results: Measured[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of runnables) {
        for (const chunks of CHUNKS) {
          t.configure(chunks);
          const body = Buffer.from(JSON.stringify({ model: t.name.startsWith('ref-') ? 'gpt-4o-mini' : formats.find((f) => f.name === t.name)!.model, stream: true, messages: USER }));
          const request = buildRequest({ port: t.port, path: t.path, headers: {}, body });
          const conn = new RawConnection(t.port);
          for (let i = 0; i < WARMUP; i++) check(t.name, await conn.send(request, true, 0, 600_000));
          const cg = args.callgrind ? new Callgrind(t.pid, cgDir, args['keep-callgrind'] ? `${t.name}-${chunks}` : null) : null;
          cg?.start();
          const cpu0 = cpuUs([t.pid]);
          const t0 = performance.now();
          let events = 0;
          for (let i = 0; i < REQUESTS; i++) {
            const x = await conn.send(request, true, 0, 600_000);
            check(t.name, x);
            events += x.events;
          }
          const wallMs = performance.now() - t0;
          const cpu = cpuUs([t.pid]) - cpu0;
          const instr = cg ? cg.stop() : null;
          conn.close();
          const m: Measured = { target: t.name, chunks, requests: REQUESTS, cpuPerRequest: cpu / REQUESTS, instrPerRequest: instr === null ? null : instr / REQUESTS, events: events / REQUESTS, wallMs };
          results.push(m);
          log(`${t.name.padEnd(10)} ${String(chunks).padStart(3)} chunks: ${m.cpuPerRequest.toFixed(0).padStart(6)} µs/req${m.instrPerRequest === null ? '' : `, ${(m.instrPerRequest / 1e6).toFixed(2)} M instr/req`} (${m.events.toFixed(0)} events, ${(wallMs / REQUESTS).toFixed(1)} ms/req)`);
        }
      }
    }
    report(results);
    if (args.json) fs.writeFileSync(args.json, JSON.stringify({ at: new Date().toISOString(), node: process.version, args, results }, null, 2));
  } finally {
    for (const c of children) await stopChild(c);
    if (gw) await gw.close();
    for (const m of mocks.values()) await m.close();
    if (cgDir && args['keep-callgrind']) console.log(`callgrind dumps kept in ${cgDir}`);
    else if (cgDir) fs.rmSync(cgDir, { recursive: true, force: true });
  }
}

function check(target: string, x: { status: number; sawDone: boolean; events: number }): void {
  if (x.status !== 200 || !x.sawDone) throw new Error(`${target}: status ${x.status}, [DONE] ${x.sawDone}, ${x.events} events`);
}

/** Medians over rounds, then per target: µs/request at each chunk count and the per-chunk slope. */
function report(results: Measured[]): void {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const [lo, hi] = [Math.min(...CHUNKS), Math.max(...CHUNKS)];
  const rows: string[] = [];
  rows.push(`| target | µs/req at ${lo} | µs/req at ${hi} | µs per chunk (slope) |${args.callgrind ? ` M instr/req at ${hi} | instr per chunk |` : ''}`);
  rows.push(`| --- | ---: | ---: | ---: |${args.callgrind ? ' ---: | ---: |' : ''}`);
  for (const target of [...new Set(results.map((r) => r.target))]) {
    const at = (n: number, k: 'cpuPerRequest' | 'instrPerRequest') => median(results.filter((r) => r.target === target && r.chunks === n).map((r) => r[k] ?? NaN));
    const slope = (at(hi, 'cpuPerRequest') - at(lo, 'cpuPerRequest')) / (hi - lo);
    let row = `| ${target} | ${at(lo, 'cpuPerRequest').toFixed(0)} | ${at(hi, 'cpuPerRequest').toFixed(0)} | ${slope.toFixed(1)} |`;
    if (args.callgrind) {
      const islope = (at(hi, 'instrPerRequest') - at(lo, 'instrPerRequest')) / (hi - lo);
      row += ` ${(at(hi, 'instrPerRequest') / 1e6).toFixed(3)} | ${Number.isFinite(islope) ? Math.round(islope) : '–'} |`;
    }
    rows.push(row);
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

// mock servers' keep-alive sockets and undici pools would hold the process open after the results
await main();
process.exit(0);
