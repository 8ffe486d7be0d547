/**
 * `stream: true` through the real gateway for every provider: OpenAI's events out whatever the
 * provider streams natively, the SDK's stream helper reassembling the exact answer, usage at the
 * end when asked, honest endings when the provider fails, back-pressure and client aborts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';

let gw: Gateway;
const mocks: Record<string, MockProvider> = {};
const USER = [{ role: 'user', content: 'What is 1+1?' }];

interface Target {
  route: string;
  model: string;
  plugin: () => Record<string, unknown>;
}

const auth = (header_name: string, header_value: string) => ({ header_name, header_value });
const TARGETS: Target[] = [
  { route: 'openai', model: 'gpt-4', plugin: () => ({ auth: auth('Authorization', 'Bearer sk-test'), model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${mocks.openai.url}/v1/chat/completions` } } }) },
  {
    route: 'azure',
    model: 'gpt-4o-mini',
    plugin: () => ({
      auth: auth('api-key', 'azure-test-key'),
      model: { provider: 'azure', name: 'gpt-4o-mini', options: { azure_instance: 'x', azure_deployment_id: 'gpt-4o-mini', azure_api_version: '2024-10-21', upstream_url: `${mocks.azure.url}/openai/deployments/gpt-4o-mini/chat/completions` } },
    }),
  },
  { route: 'anthropic', model: 'claude-3-5-haiku-latest', plugin: () => ({ auth: auth('apikey', 'sk-ant-test'), model: { provider: 'anthropic', name: 'claude-3-5-haiku-latest', options: { upstream_url: `${mocks.anthropic.url}/v1/messages` } } }) },
  { route: 'cohere', model: 'command', plugin: () => ({ auth: auth('Authorization', 'Bearer co-test'), model: { provider: 'cohere', name: 'command', options: { upstream_url: `${mocks.cohere.url}/v1/chat` } } }) },
  { route: 'llama2-ollama', model: 'llama2', plugin: () => ({ model: { provider: 'llama2', name: 'llama2', options: { llama2_format: 'ollama', upstream_url: `${mocks.ollama.url}/api/chat` } } }) },
  { route: 'llama2-raw', model: 'llama2', plugin: () => ({ model: { provider: 'llama2', name: 'llama2', options: { llama2_format: 'raw', upstream_url: `${mocks.tgi.url}/generate` } } }) },
  { route: 'llama2-openai', model: 'llama2', plugin: () => ({ model: { provider: 'llama2', name: 'llama2', options: { llama2_format: 'openai', upstream_url: `${mocks.compat.url}/v1/chat/completions` } } }) },
  { route: 'mistral-openai', model: 'mistral-tiny', plugin: () => ({ model: { provider: 'mistral', name: 'mistral-tiny', options: { mistral_format: 'openai', upstream_url: `${mocks.compat.url}/v1/chat/completions` } } }) },
  { route: 'mistral-ollama', model: 'mistral', plugin: () => ({ model: { provider: 'mistral', name: 'mistral', options: { mistral_format: 'ollama', upstream_url: `${mocks.ollama.url}/api/chat` } } }) },
];

async function addAiRoute(name: string, paths: string[], config: Record<string, unknown>, service = 'ai'): Promise<void> {
  const r = await gw.adminRequest('POST', `/services/${service}/routes`, { name, paths });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', ...config } });
  assert.equal(p.status, 201, `${name}: ${p.text}`);
}

before(async () => {
  mocks.openai = await startMockProvider('openai', { delayMs: 2 });
  mocks.azure = await startMockProvider('azure', { delayMs: 2 });
  mocks.anthropic = await startMockProvider('anthropic', { delayMs: 2 });
  mocks.cohere = await startMockProvider('cohere', { delayMs: 2 });
  mocks.ollama = await startMockProvider('ollama', { delayMs: 2 });
  mocks.tgi = await startMockProvider('llama2-raw', { delayMs: 2 });
  mocks.compat = await startMockProvider('openai-compatible', { delayMs: 2 });
  gw = await Gateway.start();
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);
  for (const t of TARGETS) await addAiRoute(t.route, [`/s/${t.route}`], t.plugin());
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(mocks).map((m) => m.close()));
});

/** Reads a whole SSE answer and splits it into `data:` payloads. */
async function sse(route: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; events: string[]; raw: string }> {
  const res = await fetch(`${gw.proxy}/s/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const raw = await res.text();
  const events = raw
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) => e.replace(/^data: /, ''));
  return { status: res.status, headers: res.headers, events, raw };
}

test('every provider streams OpenAI chat.completion.chunk events ending with [DONE]', async () => {
  for (const t of TARGETS) {
    const r = await sse(t.route, { messages: USER, stream: true });
    assert.equal(r.status, 200, `${t.route}: ${r.raw}`);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.equal(r.headers.get('x-accel-buffering'), 'no');
    assert.equal(r.headers.get('content-length'), null);
    assert.equal(r.events.at(-1), '[DONE]', t.route);
    const chunks = r.events.slice(0, -1).map((e) => JSON.parse(e));
    let text = '';
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk', t.route);
      for (const choice of c.choices) text += choice.delta?.content ?? '';
    }
    assert.equal(text.trim(), DEFAULT_TEXT, t.route);
    assert.ok(chunks.length >= 3, `${t.route} streamed in pieces (${chunks.length})`);
    assert.equal(chunks.filter((c) => c.choices.some((ch: { finish_reason: string | null }) => ch.finish_reason)).length, 1, `${t.route}: one finish_reason`);
  }
});

test('the OpenAI SDK stream helper reassembles the exact answer through every provider', async () => {
  for (const t of TARGETS) {
    const client = new OpenAI({ baseURL: `${gw.proxy}/s/${t.route}`, apiKey: 'client-key', maxRetries: 0 });
    const stream = client.chat.completions.stream({ model: t.model, messages: USER as OpenAI.ChatCompletionMessageParam[], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].message.content?.trim(), DEFAULT_TEXT, t.route);
    assert.ok((final.usage?.completion_tokens ?? 0) > 0, `${t.route}: usage chunk when asked`);
  }
});

test('usage: the provider count when it gives one, one usage chunk only when asked', async () => {
  const asked = await sse('openai', { messages: USER, stream: true, stream_options: { include_usage: true } });
  const usageChunks = asked.events.slice(0, -1).map((e) => JSON.parse(e)).filter((c) => c.usage);
  assert.equal(usageChunks.length, 1);
  assert.deepEqual(usageChunks[0].choices, []);
  assert.equal(usageChunks[0].usage.completion_tokens, countTokens(DEFAULT_TEXT));
  const notAsked = await sse('openai', { messages: USER, stream: true });
  assert.equal(notAsked.events.slice(0, -1).map((e) => JSON.parse(e)).filter((c) => c.usage).length, 0);
  // the gateway asked OpenAI for usage anyway, so its own accounting is exact
  assert.deepEqual((mocks.openai.requests.at(-1)!.json as any).stream_options, { include_usage: true });
  const anthropic = await sse('anthropic', { messages: USER, stream: true, stream_options: { include_usage: true } });
  const a = anthropic.events.slice(0, -1).map((e) => JSON.parse(e)).find((c) => c.usage);
  assert.equal(a.usage.completion_tokens, countTokens(DEFAULT_TEXT));
});

test('response_streaming: deny refuses stream requests, always streams every answer', async () => {
  await addAiRoute('deny', ['/s/deny'], { ...TARGETS[0].plugin(), response_streaming: 'deny' });
  await addAiRoute('always', ['/s/always'], { ...TARGETS[0].plugin(), response_streaming: 'always' });
  const denied = await gw.proxyRequest('POST', '/s/deny', { messages: USER, stream: true });
  assert.equal(denied.status, 400);
  assert.deepEqual(denied.json, { error: { message: 'response streaming is not enabled for this LLM' } });
  assert.equal((await gw.proxyRequest('POST', '/s/deny', { messages: USER })).status, 200);
  const always = await sse('always', { messages: USER });
  assert.equal(always.events.at(-1), '[DONE]');
});

test('a provider error before the stream starts keeps its status and a JSON body', async () => {
  const r = await sse('openai', { messages: USER, stream: true }, { 'x-mock-mode': '429:3' });
  assert.equal(r.status, 429);
  assert.match(r.headers.get('content-type') ?? '', /json/);
  assert.equal(typeof JSON.parse(r.raw).error.message, 'string');
  const a = await sse('anthropic', { messages: USER, stream: true }, { 'x-mock-mode': '5xx-json:529' });
  assert.equal(a.status, 529);
});

test('a provider that dies or stalls mid-stream ends with an SSE error event, never a fake [DONE]', async () => {
  for (const mode of ['reset-mid-stream', 'truncated-sse']) {
    const r = await sse('openai', { messages: USER, stream: true }, { 'x-mock-mode': `stream,${mode}` });
    assert.equal(r.status, 200);
    assert.ok(!r.raw.includes('[DONE]'), `${mode}: no [DONE]`);
    const last = JSON.parse(r.events.at(-1)!);
    assert.equal(typeof last.error.message, 'string', mode);
  }
  const anthropicCut = await sse('anthropic', { messages: USER, stream: true }, { 'x-mock-mode': 'stream,truncated-sse' });
  assert.ok(!anthropicCut.raw.includes('[DONE]'));

  await gw.adminRequest('POST', '/services', { name: 'impatient', url: 'http://localhost:32000', read_timeout: 300 });
  await addAiRoute('stall', ['/s/stall'], TARGETS[0].plugin(), 'impatient');
  const t0 = Date.now();
  const stalled = await sse('stall', { messages: USER, stream: true }, { 'x-mock-mode': 'stream,stall-stream:2' });
  assert.ok(Date.now() - t0 < 5000, 'cut after the read timeout');
  assert.ok(!stalled.raw.includes('[DONE]'));
  assert.match(JSON.parse(stalled.events.at(-1)!).error.message, /read timeout/);
  // the gateway keeps serving
  assert.equal((await sse('openai', { messages: USER, stream: true })).events.at(-1), '[DONE]');
});

test('a client that disconnects mid-stream makes the provider see its connection closed', async () => {
  const before = mocks.openai.requests.length;
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${gw.proxy}/s/openai`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-mode': 'never-ending-sse:20' } }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.setTimeout(5000, () => reject(new Error('no first event')));
    req.end(JSON.stringify({ messages: USER, stream: true }));
  });
  const rec = await mocks.openai.waitFor((r) => r.seq > before && r.closedAt !== null, 2000);
  assert.ok(rec.closedAt! - rec.receivedAt < 3000);
});

test('a slow reader slows the provider instead of growing gateway memory', async () => {
  const before = mocks.openai.requests.length;
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${gw.proxy}/s/openai`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-mode': 'stream', 'x-mock-chunks': '4000', 'x-mock-delay-ms': '0' } }, (res) => {
      res.pause();
      // read nothing for a while, then drain slowly
      setTimeout(() => {
        res.on('data', (c: Buffer) => {
          received += c.length;
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.on('end', resolve);
        res.resume();
      }, 700);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ messages: USER, stream: true }));
  });
  const rec = mocks.openai.requests.find((r) => r.seq > before)!;
  assert.ok(rec.backpressure.blockedWrites > 0, 'the provider felt back-pressure through the gateway');
  assert.ok(received > 100_000);
});
