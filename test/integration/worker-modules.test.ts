/**
 * What a worker loads is what it holds for as long as it runs (idle memory, docs/performance.md):
 * a worker serving an AI route loads neither undici's index (all of undici and Node's own bundled
 * copy of it) nor prom-client's, nor the MCP proxy's servers, nor the semantic cache, nor the OTLP
 * exporters, until a configuration names the plugin that needs them. And what is loaded on demand
 * still does its part at the worker's exit: spans and metrics held by the exporters reach the
 * collector when the gateway stops.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { OtlpReceiver } from '../helpers/otlp-receiver.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

const KEY = 'sk-openai-workermodules-51c0';
const HOOK = path.resolve(import.meta.dirname, '../helpers/module-log.ts');
const SRC = path.resolve(import.meta.dirname, '../../src');

let gw: Gateway;
let openai: MockProvider;
let receiver: OtlpReceiver;
let logDir: string;

/** The worker's loaded modules: paths under src/ as `src/...`, packages as `node_modules/...`. */
async function workerModules(): Promise<string[]> {
  const info = await adminOk(gw, 'GET', '/');
  const [pid] = info.pids.workers as number[];
  return fs
    .readFileSync(path.join(logDir, `${pid}.txt`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((url) => {
      const file = new URL(url).pathname;
      return file.startsWith(SRC) ? `src${file.slice(SRC.length)}` : file.slice(file.lastIndexOf('node_modules/'));
    });
}

async function chat(route: string): Promise<void> {
  const r = await gw.proxyRequest('POST', `/${route}`, { messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(r.status, 200, r.text);
}

before(async () => {
  logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mg-module-log-'));
  openai = await startMockProvider('openai', { key: KEY });
  receiver = await OtlpReceiver.start();
  gw = await Gateway.start({ workers: 1, env: { NODE_OPTIONS: `--import ${HOOK}`, MODULE_LOG_DIR: logDir } });
  await adminOk(gw, 'POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  for (const name of ['chat', 'traced']) {
    await adminOk(gw, 'POST', '/services/ai/routes', { name, paths: [`/${name}`] });
    await adminOk(gw, 'POST', `/routes/${name}/plugins`, {
      name: 'ai-proxy',
      config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${KEY}` }, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
    });
  }
});

after(async () => {
  await gw?.close();
  await Promise.all([openai?.close(), receiver?.close()]);
  if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
});

test('a worker serving an AI route loads undici’s and prom-client’s parts, not their indexes, and none of the plugins its configuration does not name', async () => {
  await chat('chat');
  const loaded = await workerModules();
  // the log works: the route's own modules are there
  for (const m of ['src/plugins/ai-proxy/handler.ts', 'src/util/undici.ts', 'node_modules/undici/lib/dispatcher/pool.js']) assert.ok(loaded.includes(m), `${m} loaded`);
  assert.ok(!loaded.includes('node_modules/undici/index.js'), 'undici’s index (fetch, WebSocket, caches, mocks) is not loaded');
  assert.ok(!loaded.includes('node_modules/prom-client/index.js'), 'prom-client’s index (default metrics, Summary, Pushgateway) is not loaded');
  const unwanted = loaded.filter(
    (m) =>
      (m.startsWith('src/plugins/ai-mcp-proxy/') && !['schema.ts', 'modes.ts', 'conversion-tools.ts'].includes(path.basename(m))) ||
      (m.startsWith('src/plugins/ai-semantic-cache/') && !['schema.ts', 'exchange-hook.ts'].includes(path.basename(m))) ||
      ['src/plugins/opentelemetry/handler.ts', 'src/observability/otel/exporter.ts', 'src/observability/otel/otlp.ts', 'src/observability/otel/otlp-metrics.ts'].includes(m),
  );
  assert.deepEqual(unwanted, [], 'only schemas and the hooks the request path calls');
});

test('the opentelemetry plugin loads its exporters when configured; at exit they send the spans and metrics they hold', async () => {
  // a flush delay longer than the test: what reaches the collector is what the worker's exit sends
  await adminOk(gw, 'POST', '/routes/traced/plugins', {
    name: 'opentelemetry',
    config: { traces_endpoint: `${receiver.url}/v1/traces`, metrics_endpoint: `${receiver.url}/v1/metrics`, queue: { max_coalescing_delay: 600 } },
  });
  let answered = false;
  for (let i = 0; i < 100 && !answered; i++) {
    // the configuration reaches the worker asynchronously: until it has, the route answers untraced
    await chat('traced');
    answered = (await workerModules()).includes('src/observability/otel/exporter.ts');
    if (!answered) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(answered, 'the exporters are loaded once the plugin is configured');
  await chat('traced');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.spans().length, 0, 'nothing sent before the batch is full or its delay passed');
  assert.equal(await gw.stop('SIGTERM'), 0);
  const spans = receiver.spans();
  assert.ok(spans.some((s) => s.name === 'kong') && spans.some((s) => s.name === 'chat gpt-4o'), `the request and GenAI spans arrived at exit: ${JSON.stringify(spans.map((s) => s.name))}`);
  assert.ok(receiver.metrics().some((m) => m.name === 'gen_ai.client.token.usage'), 'the GenAI metrics measured since the last interval arrived at exit');
});
