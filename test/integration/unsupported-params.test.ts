/**
 * Issue 17's policy for client fields a provider cannot honour (`model.options.unsupported_params`),
 * against the real gateway and the strict mock providers:
 * - `error` (the default): 400 naming the field and the provider, before the provider is called;
 * - `drop`: the field is left out, named in `X-Modelgate-Dropped-Params` and in the log entry
 *   (`ai.proxy.meta.dropped_params`);
 * - `pass`: the field is sent as is (Kong 3.7+).
 * Kong's guide request (messages only) is untouched by any of them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

let gw: Gateway;
let sink: LogSink;
const m: Record<string, MockProvider> = {};
const GUIDE = { messages: [{ role: 'system', content: 'You are a mathematician' }, { role: 'user', content: 'What is 1+1?' }] };

async function route(name: string, provider: string, upstream: string, policy?: string): Promise<void> {
  const r = await gw.adminRequest('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
  assert.equal(r.status, 201, r.text);
  const options: Record<string, unknown> = { upstream_url: upstream };
  if (policy) options.unsupported_params = policy;
  const config = { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider, name: 'gpt-4o', options }, logging: { log_statistics: true, log_payloads: false } };
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: 'ai-proxy', config });
  assert.equal(p.status, 201, `${name}: ${p.text}`);
}

before(async () => {
  m.openai = await startMockProvider('openai');
  m.groq = await startMockProvider('groq', { models: '*', key: 'sk-test' });
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 1 });
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);
  await gw.adminRequest('POST', '/plugins', { name: 'http-log', config: { http_endpoint: sink.url, queue: { max_batch_size: 1, max_coalescing_delay: 0.01 } } });
  await route('default', 'openai', `${m.openai.url}/v1/chat/completions`);
  await route('drop', 'openai', `${m.openai.url}/v1/chat/completions`, 'drop');
  await route('pass', 'openai', `${m.openai.url}/v1/chat/completions`, 'pass');
  await route('groq', 'groq', `${m.groq.url}/openai/v1/chat/completions`);
  await route('groq-drop', 'groq', `${m.groq.url}/openai/v1/chat/completions`, 'drop');
});

after(async () => {
  await gw?.stop();
  await sink?.close();
  for (const mock of Object.values(m)) await mock.close();
});

test('the schema: unsupported_params is error by default, one of error, drop, pass', async () => {
  const r = await gw.adminRequest('POST', '/schemas/plugins/validate', { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', model: { provider: 'openai', options: { unsupported_params: 'maybe' } }, auth: { header_name: 'a', header_value: 'b' } } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /unsupported_params/);
  const plugins = await gw.adminRequest('GET', '/routes/default/plugins');
  assert.equal(plugins.json.data[0].config.model.options.unsupported_params, 'error');
});

test("Kong's guide request passes under every policy, with no dropped-params header", async () => {
  for (const name of ['default', 'drop', 'pass', 'groq']) {
    const r = await gw.proxyRequest('POST', `/${name}`, GUIDE);
    assert.equal(r.status, 200, `${name}: ${r.text}`);
    assert.equal(r.headers.get('x-modelgate-dropped-params'), null, name);
  }
});

test('error (default): 400 naming the field and the provider, and the provider is not called', async () => {
  const before = m.openai.requests.length;
  const r = await gw.proxyRequest('POST', '/default', { ...GUIDE, api_base: 'http://evil.example' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error.message, 'api_base: not supported by the openai provider');
  assert.equal(r.json.error.param, 'api_base');
  assert.equal(r.json.error.type, 'invalid_request_error');
  const groq = await gw.proxyRequest('POST', '/groq', { ...GUIDE, logprobs: true });
  assert.equal(groq.status, 400, groq.text);
  assert.equal(groq.json.error.message, 'logprobs: not supported by the groq provider');
  const message = await gw.proxyRequest('POST', '/default', { messages: [{ role: 'user', content: 'hi', color: 'blue' }] });
  assert.equal(message.status, 400, message.text);
  assert.equal(message.json.error.message, 'messages[0].color: not supported by the openai provider');
  assert.equal(m.openai.requests.length, before, 'no provider call');
});

test('drop: left out, named in X-Modelgate-Dropped-Params and in the log entry', async () => {
  const r = await gw.proxyRequest('POST', '/drop', { ...GUIDE, api_base: 'http://evil.example', top_k: 3, messages: [{ role: 'user', content: 'hi', color: 'blue' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-modelgate-dropped-params'), 'api_base,top_k,messages[0].color');
  const sent = m.openai.requests.at(-1)!.json as Record<string, any>;
  assert.equal('api_base' in sent, false);
  assert.equal('top_k' in sent, false);
  assert.deepEqual(sent.messages, [{ role: 'user', content: 'hi' }]);
  const id = r.headers.get('x-modelgate-request-id')!;
  const entry = await waitForEntry(id);
  assert.deepEqual(entry.ai.proxy.meta.dropped_params, ['api_base', 'top_k', 'messages[0].color']);
  const streamed = await gw.proxyRequest('POST', '/groq-drop', { ...GUIDE, stream: true, logprobs: true });
  assert.equal(streamed.status, 200, streamed.text);
  assert.equal(streamed.headers.get('x-modelgate-dropped-params'), 'logprobs');
  assert.match(streamed.text, /data: \[DONE\]/);
});

test('pass: a field the provider does not document is sent as is (the provider judges it)', async () => {
  const r = await gw.proxyRequest('POST', '/pass', { ...GUIDE, user_tier: 'gold' });
  const sent = m.openai.requests.at(-1)!.json as Record<string, any>;
  assert.equal(sent.user_tier, 'gold');
  // the strict OpenAI mock answers as OpenAI does
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.error.message, /Unrecognized request argument supplied: user_tier/);
  assert.equal(r.headers.get('x-modelgate-dropped-params'), null);
});

async function waitForEntry(requestId: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const hit = sink.entries().find((e) => e?.request?.id === requestId);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no log entry for ${requestId}`);
}
