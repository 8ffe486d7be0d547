/**
 * The things the benchmark measures, each started on loopback and described the same way: where
 * to send a chat request, with which headers, and which processes' CPU and memory count.
 *
 *   direct      the mock upstream itself (the client's floor; no gateway)
 *   ref-pass    bench/ref-proxy.ts --mode pass   (node:http + undici Pool, bytes through)
 *   ref-parse   bench/ref-proxy.ts --mode parse  (+ JSON.parse/stringify of every body and event)
 *   modelgate   src/cli.ts start, one worker, ai-proxy route (openai, log_statistics on), spend log
 *               on (the default; `modelgate-nospend`: the same with MODELGATE_SPEND_LOG=off); with
 *               `clientApis`, also the routes of the client-API scenarios (CLIENT_APIS), measured
 *               through views of the same processes (`apiView`); `modelgate-otel`: the same with a
 *               global opentelemetry plugin at sampling_rate 1.0 (the `otel` scenario)
 *   portkey     @portkey-ai/gateway, installed beforehand by `npm run bench:peer` into bench/.peers/ (--peer portkey)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { childPids, freePort, readyLine, sleep, spawnPinned, stopChild } from './procs.ts';

const BENCH_DIR = import.meta.dirname;
const REPO = path.resolve(BENCH_DIR, '..');
const NODE = process.execPath;
export const MODEL = 'gpt-4o-mini';
export const PROVIDER_KEY = 'sk-bench';

export interface Proc {
  role: string;
  pid: number;
}

export interface Target {
  name: string;
  port: number;
  path: string;
  /** Extra request headers (beyond Host, Content-Type, Content-Length). */
  headers: Record<string, string>;
  /** Processes whose CPU time and memory are the target's (empty for `direct`). */
  processes(): Proc[];
  /** Re-reads the process list (modelgate: workers may have been replaced). */
  refresh(): Promise<void>;
  stop(): Promise<void>;
  meta: Record<string, unknown>;
  /** A view of another target (same processes, another route): freezing and thawing act on `base`. */
  base?: Target;
}

export interface Mock {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startMock(cpu: string, chunks: number, delayMs: number): Promise<Mock> {
  const child = spawnPinned(cpu, NODE, [path.join(BENCH_DIR, 'mock-upstream.ts'), '--chunks', String(chunks), '--delay-ms', String(delayMs)], {});
  const ready = await readyLine<{ url: string; port: number }>(child, 'mock upstream');
  return { url: ready.url, port: ready.port, pid: child.pid!, stop: () => stopChild(child) };
}

export function directTarget(mock: Mock): Target {
  return {
    name: 'direct',
    port: mock.port,
    path: '/v1/chat/completions',
    headers: { Authorization: `Bearer ${PROVIDER_KEY}` },
    processes: () => [],
    refresh: async () => {},
    stop: async () => {},
    meta: { note: 'client → mock, no gateway' },
  };
}

let refCompileCache: string | null = null;

/**
 * The references run from a compile cache of their own, filled once per bench process, so that,
 * like modelgate's workers (src/server/compile-cache.ts), they never load Node's TypeScript
 * stripper: it held ~14 MB of a reference's idle RSS, which a bare Node proxy written in JavaScript
 * does not carry (docs/performance.md, "Idle memory").
 */
function refProxyCompileCache(): string {
  if (refCompileCache === null) {
    const dir = path.join(os.tmpdir(), `modelgate-bench-ref-cache-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: dir };
    delete env.NODE_OPTIONS;
    spawnSync(NODE, [path.join(BENCH_DIR, 'ref-proxy.ts'), '--load-only'], { env, stdio: 'ignore', timeout: 60_000 });
    refCompileCache = dir;
  }
  return refCompileCache;
}

export async function startRefProxy(cpu: string, mode: 'pass' | 'parse', mock: Mock, nodeOptions?: string): Promise<Target> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: refProxyCompileCache() };
  if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
  else delete env.NODE_OPTIONS;
  const child = spawnPinned(cpu, NODE, [path.join(BENCH_DIR, 'ref-proxy.ts'), '--mode', mode, '--upstream', mock.url], { env });
  const ready = await readyLine<{ port: number; pid: number }>(child, `ref-proxy ${mode}`);
  return {
    name: `ref-${mode}`,
    port: ready.port,
    path: '/v1/chat/completions',
    headers: {},
    processes: () => [{ role: 'proxy', pid: child.pid! }],
    refresh: async () => {},
    stop: () => stopChild(child),
    meta: { mode },
  };
}

// ---------------------------------------------------------------------------------------------
// modelgate

export interface ModelgateOptions {
  name: string;
  mock: Mock;
  /** Routes configured besides the measured chat route (a mix of prefix, regex and host routes). */
  extraRoutes: number;
  workers?: number;
  accessLog?: boolean;
  /** Extra NODE_OPTIONS for the gateway processes (e.g. `--cpu-prof ...`). */
  nodeOptions?: string;
  /** Also configure the routes of the client-API scenarios (CLIENT_APIS). */
  clientApis?: boolean;
  /**
   * The spend log (MODELGATE_SPEND_LOG, default on: what users get). Set explicitly either way, so
   * a MODELGATE_SPEND_LOG in the bench's own environment never changes what is measured.
   */
  spendLog?: boolean;
  /**
   * The `otel` scenario: a global opentelemetry plugin at sampling_rate 1.0 exporting traces and
   * the GenAI metrics to this OTLP/HTTP base URL (bench/otlp-sink.ts).
   */
  otelSink?: string;
  onProgress?: (msg: string) => void;
  /**
   * DB-less: the whole configuration (the chat route and `extraRoutes` filler routes, each filler
   * with plugins: `fillerPlugins`) written as a Kong declarative file and loaded at start-up, so a
   * gateway with 10,000 routes starts in seconds and can be started afresh for every process pair
   * of the routes scenario. The request path is the same: workers serve from the compiled snapshot.
   */
  declarative?: boolean;
}

/** The plugins of filler route i in the routes scenario: ai-proxy on every route, rate-limiting on every third. */
export function fillerPlugins(i: number, mockUrl: string): { name: string; config: Record<string, unknown> }[] {
  const out: { name: string; config: Record<string, unknown> }[] = [{ name: 'ai-proxy', config: AI_PROXY_CONFIG(mockUrl) }];
  if (i % 3 === 0) out.push({ name: 'rate-limiting', config: { minute: 1000 + i, policy: 'local' } });
  return out;
}

/** A Kong declarative configuration (format 3.0): the measured chat route and `extraRoutes` filler routes with plugins. */
export function declarativeConfig(mockUrl: string, extraRoutes: number): Record<string, unknown> {
  const routes: Record<string, unknown>[] = [{ name: 'chat', paths: ['~/chat$'], plugins: [{ name: 'ai-proxy', config: AI_PROXY_CONFIG(mockUrl) }] }];
  for (let i = 0; i < extraRoutes; i++) routes.push({ ...fillerRoute(i), plugins: fillerPlugins(i, mockUrl) });
  return { _format_version: '3.0', services: [{ name: 'bench', url: mockUrl, routes }] };
}

async function adminCall(adminPort: number, method: 'GET' | 'POST', p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await request(`http://127.0.0.1:${adminPort}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.statusCode, json };
}

async function adminOk(adminPort: number, method: 'GET' | 'POST', p: string, body?: unknown): Promise<unknown> {
  const r = await adminCall(adminPort, method, p, body);
  if (r.status < 200 || r.status > 299) throw new Error(`Admin API ${method} ${p} → ${r.status}: ${JSON.stringify(r.json).slice(0, 300)}`);
  return r.json;
}

/**
 * Filler route i: a third are plain prefix paths, a third anchored regex paths, a third
 * host-bound routes — each with its own path, as a multi-tenant configuration would have.
 */
export function fillerRoute(i: number): Record<string, unknown> {
  switch (i % 3) {
    case 0:
      return { name: `tenant-${i}-prefix`, paths: [`/tenant-${i}/chat`] };
    case 1:
      return { name: `tenant-${i}-regex`, paths: [`~/tenant-${i}/v1/chat/completions$`] };
    default:
      return { name: `tenant-${i}-host`, hosts: [`tenant-${i}.bench.test`], paths: [`/tenant-${i}/h`] };
  }
}

export const AI_PROXY_CONFIG = (mockUrl: string) => ({
  route_type: 'llm/v1/chat',
  auth: { header_name: 'Authorization', header_value: `Bearer ${PROVIDER_KEY}` },
  model: { provider: 'openai', name: MODEL, options: { upstream_url: `${mockUrl}/v1/chat/completions` } },
  logging: { log_statistics: true },
});

/**
 * The client-API scenarios of issue 18: the small question as an OpenAI Responses or an Anthropic
 * Messages request, through an ai-proxy route of its own, each to the mock upstream natively
 * (pass-through formats) or translated through the canonical exchange. `path` is the route's;
 * `requestPath` is where the client's SDK posts under it (`baseURL` + `/responses`, `/v1/messages`).
 */
export interface ClientApi {
  name: string;
  label: string;
  model: string;
  requestPath: string;
  /** The client API of the request body and of the answer's shape. */
  api: 'responses' | 'messages' | 'chat';
  /** The `--scenarios` name that brings this path (a baseline row comes with the paths dividing by it). */
  scenario: 'responses' | 'messages' | 'balanced' | 'plugins';
  /** A baseline row (the chat path to another provider), never a path with a target of its own. */
  isBaseline?: boolean;
  /** Request headers besides the client API's own (a consumer's key). */
  headers?: Record<string, string>;
  /** The plugin owning the exchange on the route (default `ai-proxy`). */
  pluginName?: 'ai-proxy' | 'ai-proxy-advanced';
  /** Further plugins on the same route (issue 24: key-auth + rate-limiting + ai-rate-limiting-advanced). */
  extraPlugins?: { name: string; config: Record<string, unknown> }[];
  /**
   * The scenario whose CPU and throughput the ratios divide by: the chat path to the same provider,
   * so that a ratio is the client API's own cost, not the provider translation's (default: `chat`,
   * Chat Completions → OpenAI).
   */
  baseline?: string;
  /** Fields added to the request body (e.g. `store: false`). */
  bodyFields?: Record<string, unknown>;
  /** The route's ai-proxy config; null: the previous scenario's route, with another body. */
  plugin: ((mockUrl: string) => Record<string, unknown>) | null;
}

const ANTHROPIC_MODEL = 'claude-haiku-4-5';
/** The consumer the `plugins` path authenticates as (key-auth). */
export const BENCH_CONSUMER = 'bench-consumer';
export const BENCH_CONSUMER_KEY = 'bench-consumer-key';
const OPENAI_AUTH = { header_name: 'Authorization', header_value: `Bearer ${PROVIDER_KEY}` };
const ANTHROPIC_AUTH = { header_name: 'x-api-key', header_value: PROVIDER_KEY };

export const CLIENT_APIS: ClientApi[] = [
  {
    name: 'responses',
    label: 'Responses → OpenAI (native)',
    model: MODEL,
    api: 'responses',
    scenario: 'responses',
    requestPath: '/api-responses/responses',
    // an OpenAI Responses call goes to the configured path with /chat/completions replaced by /responses
    plugin: (mock) => ({ route_type: 'llm/v1/responses', auth: OPENAI_AUTH, model: { provider: 'openai', name: MODEL, options: { upstream_url: `${mock}/v1/chat/completions` } }, logging: { log_statistics: true } }),
  },
  {
    // the same without the gateway keeping the response (no previous_response_id later): what the store costs
    name: 'responses-stateless',
    label: 'Responses → OpenAI (native), store: false',
    model: MODEL,
    api: 'responses',
    scenario: 'responses',
    bodyFields: { store: false },
    requestPath: '/api-responses/responses',
    plugin: null,
  },
  {
    // the baseline of the scenarios translated to Anthropic: what a Chat Completions client costs there
    name: 'chat-anthropic',
    label: 'Chat Completions → Anthropic (translated; baseline)',
    model: ANTHROPIC_MODEL,
    api: 'chat',
    scenario: 'responses',
    isBaseline: true,
    requestPath: '/api-chat-anthropic/v1/chat/completions',
    plugin: (mock) => ({ route_type: 'llm/v1/chat', auth: ANTHROPIC_AUTH, model: { provider: 'anthropic', name: ANTHROPIC_MODEL, options: { upstream_url: `${mock}/v1/messages` } }, logging: { log_statistics: true } }),
  },
  {
    name: 'responses-anthropic',
    label: 'Responses → Anthropic (translated)',
    model: ANTHROPIC_MODEL,
    api: 'responses',
    scenario: 'responses',
    baseline: 'chat-anthropic',
    requestPath: '/api-responses-anthropic/responses',
    plugin: (mock) => ({ route_type: 'llm/v1/responses', auth: ANTHROPIC_AUTH, model: { provider: 'anthropic', name: ANTHROPIC_MODEL, options: { upstream_url: `${mock}/v1/messages` } }, logging: { log_statistics: true } }),
  },
  {
    name: 'messages',
    label: 'Messages → Anthropic (native)',
    model: ANTHROPIC_MODEL,
    api: 'messages',
    scenario: 'messages',
    requestPath: '/api-messages/v1/messages',
    plugin: (mock) => ({ route_type: 'llm/v1/chat', llm_format: 'anthropic', auth: ANTHROPIC_AUTH, model: { provider: 'anthropic', name: ANTHROPIC_MODEL, options: { upstream_url: `${mock}/v1/messages` } }, logging: { log_statistics: true } }),
  },
  {
    name: 'messages-openai',
    label: 'Messages → OpenAI chat (translated)',
    model: MODEL,
    api: 'messages',
    scenario: 'messages',
    requestPath: '/api-messages-openai/v1/messages',
    plugin: (mock) => ({ route_type: 'llm/v1/chat', llm_format: 'anthropic', auth: OPENAI_AUTH, model: { provider: 'openai', name: MODEL, options: { upstream_url: `${mock}/v1/chat/completions` } }, logging: { log_statistics: true } }),
  },
  {
    // issue 24: a balanced route, three targets to the same mock, Kong's default round-robin
    name: 'balanced',
    label: 'ai-proxy-advanced, 3 targets (round-robin)',
    model: MODEL,
    api: 'chat',
    scenario: 'balanced',
    requestPath: '/path-balanced/v1/chat/completions',
    pluginName: 'ai-proxy-advanced',
    plugin: (mock) => ({
      balancer: { algorithm: 'round-robin' },
      targets: [1, 2, 3].map((i) => ({ route_type: 'llm/v1/chat', weight: 100, description: `target ${i}`, auth: OPENAI_AUTH, model: { provider: 'openai', name: MODEL, options: { upstream_url: `${mock}/v1/chat/completions` } }, logging: { log_statistics: true } })),
    }),
  },
  {
    // issue 24: the chat route behind key-auth, rate-limiting and ai-rate-limiting-advanced together,
    // limits far above what the bench sends (every request counted, none refused)
    name: 'plugins',
    label: 'key-auth + rate-limiting + ai-rate-limiting-advanced',
    model: MODEL,
    api: 'chat',
    scenario: 'plugins',
    requestPath: '/path-plugins/v1/chat/completions',
    headers: { apikey: BENCH_CONSUMER_KEY },
    extraPlugins: [
      { name: 'key-auth', config: { key_names: ['apikey'] } },
      { name: 'rate-limiting', config: { second: 1_000_000_000, policy: 'local' } },
      { name: 'ai-rate-limiting-advanced', config: { strategy: 'local', llm_providers: [{ name: 'openai', limit: [1e15], window_size: [60] }] } },
    ],
    plugin: (mock) => AI_PROXY_CONFIG(mock),
  },
];

/** Routes the client-API scenarios configure. */
export const CLIENT_API_ROUTES = CLIENT_APIS.filter((a) => a.plugin).length;

/** Headers a client API's SDK sends besides the body's (Anthropic's SDK always names its API version). */
export const CLIENT_API_HEADERS: Record<ClientApi['api'], Record<string, string>> = {
  responses: {},
  messages: { 'anthropic-version': '2023-06-01' },
  chat: {},
};

/** The same gateway processes, measured through one client API's route. */
export function apiView(base: Target, api: ClientApi): Target {
  return { ...base, path: api.requestPath, headers: { ...base.headers, ...CLIENT_API_HEADERS[api.api], ...api.headers }, base };
}

export async function startModelgate(cpu: string, opts: ModelgateOptions): Promise<Target> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), `modelgate-bench-${opts.name}-`));
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MODELGATE_PROXY_LISTEN: `127.0.0.1:${proxyPort}`,
    MODELGATE_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
    MODELGATE_ADMIN_GUI_LISTEN: 'off',
    MODELGATE_PREFIX: prefix,
    MODELGATE_WORKERS: String(opts.workers ?? 1),
    MODELGATE_LOG_LEVEL: opts.accessLog ? 'info' : 'warn',
    MODELGATE_ACCESS_LOG: opts.accessLog ? 'on' : 'off',
    MODELGATE_DRAIN_TIMEOUT_MS: '1000',
    MODELGATE_SPEND_LOG: opts.spendLog === false ? 'off' : 'on',
  };
  if (opts.nodeOptions) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${opts.nodeOptions}`.trim();
  else delete env.NODE_OPTIONS;
  const logFile = path.join(prefix, 'gateway.log');
  const log = fs.openSync(logFile, 'a');
  const startArgs = [path.join(REPO, 'src', 'cli.ts'), 'start'];
  if (opts.declarative) {
    const file = path.join(prefix, 'kong.yml'); // JSON is YAML: the declarative loader reads either
    fs.writeFileSync(file, JSON.stringify(declarativeConfig(opts.mock.url, opts.extraRoutes)));
    startArgs.push('--declarative', file);
  }
  const configStarted = performance.now();
  const child: ChildProcess = spawnPinned(cpu, NODE, startArgs, { env, cwd: REPO, stdout: log, stderr: log });
  fs.closeSync(log);
  const tail = () => fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');

  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`modelgate (${opts.name}) exited during start-up (code ${child.exitCode}):\n${tail()}`);
    if (performance.now() - started > 60_000) {
      await stopChild(child);
      throw new Error(`modelgate (${opts.name}): Admin API not ready after 60 s:\n${tail()}`);
    }
    try {
      const r = await adminCall(adminPort, 'GET', '/status');
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const startupMs = performance.now() - started;
  if (opts.declarative) return modelgateTarget(opts, child, prefix, proxyPort, adminPort, startupMs, performance.now() - configStarted);

  await adminOk(adminPort, 'POST', '/services', { name: 'bench', url: opts.mock.url });
  await adminOk(adminPort, 'POST', '/services/bench/routes', { name: 'chat', paths: ['~/chat$'] });
  await adminOk(adminPort, 'POST', '/routes/chat/plugins', { name: 'ai-proxy', config: AI_PROXY_CONFIG(opts.mock.url) });
  if (opts.clientApis && CLIENT_APIS.some((a) => a.headers?.apikey)) {
    await adminOk(adminPort, 'POST', '/consumers', { username: BENCH_CONSUMER });
    await adminOk(adminPort, 'POST', `/consumers/${BENCH_CONSUMER}/key-auth`, { key: BENCH_CONSUMER_KEY });
  }
  for (const api of opts.clientApis ? CLIENT_APIS : []) {
    if (!api.plugin) continue;
    const route = api.requestPath.split('/')[1];
    await adminOk(adminPort, 'POST', '/services/bench/routes', { name: route, paths: [`/${route}`] });
    await adminOk(adminPort, 'POST', `/routes/${route}/plugins`, { name: api.pluginName ?? 'ai-proxy', config: api.plugin(opts.mock.url) });
    for (const p of api.extraPlugins ?? []) await adminOk(adminPort, 'POST', `/routes/${route}/plugins`, p);
  }
  if (opts.otelSink) {
    await adminOk(adminPort, 'POST', '/plugins', {
      name: 'opentelemetry',
      config: { traces_endpoint: `${opts.otelSink}/v1/traces`, metrics_endpoint: `${opts.otelSink}/v1/metrics`, sampling_rate: 1 },
    });
  }

  // Filler routes, 32 writes in flight: the gateway coalesces snapshot rebuilds across a burst.
  const fillStarted = performance.now();
  let next = 0;
  let lastReport = performance.now();
  const writer = async () => {
    while (next < opts.extraRoutes) {
      const i = next++;
      await adminOk(adminPort, 'POST', '/services/bench/routes', fillerRoute(i));
      if (opts.onProgress && performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        opts.onProgress(`${opts.name}: ${next}/${opts.extraRoutes} routes`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, opts.extraRoutes) }, writer));
  return modelgateTarget(opts, child, prefix, proxyPort, adminPort, startupMs, performance.now() - fillStarted);
}

async function modelgateTarget(opts: ModelgateOptions, child: ChildProcess, prefix: string, proxyPort: number, adminPort: number, startupMs: number, configMs: number): Promise<Target> {
  let procs: Proc[] = [];
  const refresh = async () => {
    const info = (await adminOk(adminPort, 'GET', '/')) as { pids?: { master?: number; workers?: number[] } };
    const workers = info.pids?.workers?.length ? info.pids.workers : childPids(child.pid!);
    procs = [{ role: 'primary', pid: child.pid! }, ...workers.map((pid) => ({ role: 'worker', pid }))];
  };
  await refresh();
  const status = (await adminOk(adminPort, 'GET', '/status')) as { configuration?: { version?: number } };

  return {
    name: opts.name,
    port: proxyPort,
    path: '/chat',
    headers: {},
    processes: () => procs,
    refresh,
    stop: async () => {
      await stopChild(child, 8000);
      fs.rmSync(prefix, { recursive: true, force: true });
    },
    meta: {
      routes: opts.extraRoutes + 1 + (opts.clientApis ? CLIENT_API_ROUTES : 0),
      workers: opts.workers ?? 1,
      access_log: !!opts.accessLog,
      spend_log: opts.spendLog !== false,
      otel: opts.otelSink ? `traces + metrics, sampling_rate 1.0, tracing_instrumentations ${process.env.MODELGATE_TRACING_INSTRUMENTATIONS ?? 'request,balancer (the default)'}` : false,
      declarative: !!opts.declarative,
      startup_ms: Math.round(startupMs),
      config_ms: Math.round(configMs),
      config_version: status.configuration?.version,
      admin_port: adminPort,
      prefix,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// peer: Portkey

export const PORTKEY_PACKAGE = '@portkey-ai/gateway';

/**
 * Where the peer is installed: bench/.peers/ (ignored by git), kept across runs. The benchmark never
 * downloads: `npm run bench:peer` (bench/peer-install.ts) installs it beforehand, so a measured run
 * does no network I/O and a missing peer is reported as not measured instead of fetched.
 */
export function portkeyDir(version: string): string {
  return path.join(BENCH_DIR, '.peers', `portkey-${version.replace(/[^a-z0-9.-]/gi, '_')}`);
}

function portkeyEntry(dir: string): string {
  return path.join(dir, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
}

/** The installed peer's entry file and version, or null when `npm run bench:peer` has not installed it. */
export function findPortkey(version: string): { entry: string; version: string; dir: string } | null {
  const dir = portkeyDir(version);
  const entry = portkeyEntry(dir);
  if (!fs.existsSync(entry)) return null;
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '@portkey-ai', 'gateway', 'package.json'), 'utf8')) as { version: string };
  return { entry, version: pkg.version, dir };
}

/** Installs the peer with npm into portkeyDir(version) (bench/peer-install.ts only, never during a run). */
export function installPortkey(version: string, log: (msg: string) => void): { entry: string; version: string; dir: string } {
  const found = findPortkey(version);
  if (found) return found;
  const dir = portkeyDir(version);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'modelgate-bench-peer', private: true }));
  log(`installing ${PORTKEY_PACKAGE}@${version} into ${dir} (npm) ...`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', `${PORTKEY_PACKAGE}@${version}`], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  const installed = findPortkey(version);
  if (r.status !== 0 || !installed) throw new Error(`npm install ${PORTKEY_PACKAGE}@${version} failed: ${(r.stderr || r.error?.message || '').slice(-2000)}`);
  return installed;
}

export async function startPortkey(cpu: string, mock: Mock, entry: string, version: string): Promise<Target> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  delete env.NODE_OPTIONS;
  const child = spawnPinned(cpu, NODE, ['--import', path.join(BENCH_DIR, 'peer-preload.ts'), entry, `--port=${port}`, '--headless'], { env, stdout: 'ignore', stderr: 'pipe' });
  let stderr = '';
  // its output is kept in a file too: a peer that dies mid-run says why there
  const logFile = path.join(os.tmpdir(), `modelgate-bench-portkey-${port}.log`);
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    fs.appendFileSync(logFile, d);
  });
  child.on('exit', (code, signal) => fs.appendFileSync(logFile, `\nexited: code ${code}, signal ${signal}\n`));
  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portkey exited during start-up (code ${child.exitCode}):\n${stderr}`);
    if (performance.now() - started > 30_000) {
      await stopChild(child);
      throw new Error(`portkey not ready after 30 s:\n${stderr}`);
    }
    try {
      const r = await request(`http://127.0.0.1:${port}/`);
      await r.body.text();
      if (r.statusCode === 200) break;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  return {
    name: 'portkey',
    port,
    path: '/v1/chat/completions',
    headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${mock.url}/v1`, Authorization: `Bearer ${PROVIDER_KEY}` },
    processes: () => [{ role: 'gateway', pid: child.pid! }],
    refresh: async () => {},
    stop: () => stopChild(child),
    meta: { package: `${PORTKEY_PACKAGE}@${version}`, note: 'started with bench/peer-preload.ts (loopback listen + fetch headers shim)' },
  };
}
