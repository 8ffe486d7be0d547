/**
 * Issue 17's features through the real gateway for the Ollama, Cohere v1 and Llama 2 raw formats,
 * against the strict mocks: structured output, reasoning and tools where the provider has them
 * (JSON and streamed), and everything else refused by the default `error` policy (400 naming the
 * field and the provider, nothing sent) or dropped by name under `drop`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { TOOL_CALL_ID } from '../../src/exchange/types.ts';

let gw: Gateway;
const mocks: Record<string, MockProvider> = {};

const USER = [{ role: 'user', content: 'The capital of France, please.' }];
const CITY_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, population: { type: 'integer' } },
  required: ['city', 'population'],
  additionalProperties: false,
};
const CITY_FORMAT = { type: 'json_schema', json_schema: { name: 'city', strict: true, schema: CITY_SCHEMA } };
const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
const NO_ARGS = { type: 'function', function: { name: 'get_time', description: 'The time' } };

async function addRoute(name: string, model: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await gw.adminRequest('POST', '/services/ai/routes', { name, paths: [`/f/${name}`] });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', model, ...extra } });
  assert.equal(p.status, 201, `${name}: ${p.text}`);
}

const ollama = (name: string, options: Record<string, unknown> = {}) => ({
  provider: 'llama2',
  name,
  options: { llama2_format: 'ollama', upstream_url: `${mocks.ollama.url}/api/chat`, ...options },
});

before(async () => {
  mocks.ollama = await startMockProvider('ollama');
  mocks.cohere = await startMockProvider('cohere');
  mocks.tgi = await startMockProvider('llama2-raw');
  gw = await Gateway.start();
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);
  await addRoute('qwen', ollama('qwen3'));
  await addRoute('qwen-drop', ollama('qwen3', { unsupported_params: 'drop' }));
  await addRoute('llama3', ollama('llama3.1'));
  await addRoute('mistral-ollama', { provider: 'mistral', name: 'qwen2.5', options: { mistral_format: 'ollama', upstream_url: `${mocks.ollama.url}/api/chat` } });
  await addRoute('cohere', { provider: 'cohere', name: 'command-r', options: { upstream_url: `${mocks.cohere.url}/v1/chat` } }, { auth: { header_name: 'Authorization', header_value: 'Bearer co-test' } });
  await addRoute('raw', { provider: 'llama2', name: 'llama2', options: { llama2_format: 'raw', upstream_url: `${mocks.tgi.url}/generate` } });
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(mocks).map((m) => m.close()));
});

const last = (m: MockProvider) => m.requests[m.requests.length - 1];

/** The `data:` payloads of an SSE answer. */
function events(text: string): any[] {
  return text
    .split('\n\n')
    .map((e) => e.replace(/^data: ?/, ''))
    .filter((d) => d !== '' && d !== '[DONE]')
    .map((d) => JSON.parse(d));
}

test('ollama: json_schema reaches Ollama as format and the answer is JSON of the schema, streamed too', async () => {
  const res = await gw.proxyRequest('POST', '/f/llama3', { messages: USER, response_format: CITY_FORMAT });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual((last(mocks.ollama).json as any).format, CITY_SCHEMA);
  const city = JSON.parse(res.json.choices[0].message.content);
  assert.equal(typeof city.city, 'string');
  assert.equal(Number.isInteger(city.population), true);

  const streamed = await gw.proxyRequest('POST', '/f/llama3', { messages: USER, response_format: { type: 'json_object' }, stream: true });
  assert.equal(streamed.status, 200, streamed.text);
  assert.equal((last(mocks.ollama).json as any).format, 'json');
  const text = events(streamed.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(typeof JSON.parse(text).answer, 'string');
});

test('ollama: reasoning_effort → think, thinking → reasoning_content (streamed as delta.reasoning_content)', async () => {
  const res = await gw.proxyRequest('POST', '/f/qwen', { messages: USER, reasoning_effort: 'medium' });
  assert.equal(res.status, 200, res.text);
  assert.equal((last(mocks.ollama).json as any).think, 'medium');
  assert.equal(typeof res.json.choices[0].message.reasoning_content, 'string');
  assert.equal(res.json.choices[0].message.content, '1 + 1 = 2.');

  const off = await gw.proxyRequest('POST', '/f/qwen', { messages: USER, reasoning_effort: 'none' });
  assert.equal((last(mocks.ollama).json as any).think, false);
  assert.equal(off.json.choices[0].message.reasoning_content, undefined);

  const streamed = await gw.proxyRequest('POST', '/f/qwen', { messages: USER, reasoning_effort: 'low', stream: true });
  const chunks = events(streamed.text);
  const reasoning = chunks.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('');
  const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.ok(reasoning.length > 0, streamed.text);
  assert.equal(content, '1 + 1 = 2.');

  // A model without thinking: Ollama's own 400 comes back.
  const refused = await gw.proxyRequest('POST', '/f/llama3', { messages: USER, reasoning_effort: 'high' });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /does not support thinking/);
});

test('ollama: tools answered with neutral ids and JSON arguments, JSON and streamed; the result goes back by id and name', async () => {
  const res = await gw.proxyRequest('POST', '/f/mistral-ollama', { messages: USER, tools: [WEATHER, NO_ARGS] });
  assert.equal(res.status, 200, res.text);
  const call = res.json.choices[0].message.tool_calls[0];
  assert.match(call.id, TOOL_CALL_ID);
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  assert.equal(res.json.choices[0].finish_reason, 'tool_calls');

  const next = await gw.proxyRequest('POST', '/f/mistral-ollama', {
    messages: [...USER, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '22C' }],
    tools: [WEATHER, NO_ARGS],
  });
  assert.equal(next.status, 200, next.text);
  const sent = (last(mocks.ollama).json as any).messages;
  assert.deepEqual(sent[1].tool_calls[0].function.arguments, { city: 'Paris' });
  assert.deepEqual(sent[2], { role: 'tool', content: '22C', tool_name: 'get_weather', tool_call_id: call.id });
  assert.equal(next.json.choices[0].message.content, '1 + 1 = 2.');

  const streamed = await gw.proxyRequest('POST', '/f/mistral-ollama', { messages: USER, tools: [NO_ARGS], stream: true });
  const calls = events(streamed.text).flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(calls.length, 1, streamed.text);
  assert.match(calls[0].id, TOOL_CALL_ID);
  assert.equal(calls[0].function.arguments, '{}', 'a call without arguments has {}');
});

test('ollama: what Ollama cannot express is refused by default (nothing sent), dropped by name under drop', async () => {
  const before = mocks.ollama.requests.length;
  const forced = await gw.proxyRequest('POST', '/f/qwen', { messages: USER, tools: [WEATHER], tool_choice: 'required' });
  assert.equal(forced.status, 400, forced.text);
  assert.match(forced.text, /tool_choice/);
  const url = await gw.proxyRequest('POST', '/f/qwen', { messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] });
  assert.equal(url.status, 400, url.text);
  assert.match(url.text, /messages\[0\]\.content\[1\]/);
  assert.equal(mocks.ollama.requests.length, before, 'nothing reached Ollama');

  const dropped = await gw.proxyRequest('POST', '/f/qwen-drop', { messages: USER, logprobs: true, n: 2 });
  assert.equal(dropped.status, 200, dropped.text);
  const header = dropped.headers.get('x-modelgate-dropped-params') ?? '';
  assert.match(header, /logprobs/);
  assert.match(header, /\bn\b/);
});

test('cohere: json_schema as response_format with the schema; images and reasoning refused', async () => {
  const res = await gw.proxyRequest('POST', '/f/cohere', { messages: USER, response_format: CITY_FORMAT });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual((last(mocks.cohere).json as any).response_format, { type: 'json_object', schema: CITY_SCHEMA });
  const city = JSON.parse(res.json.choices[0].message.content);
  assert.equal(Number.isInteger(city.population), true);

  const streamed = await gw.proxyRequest('POST', '/f/cohere', { messages: USER, response_format: { type: 'json_object' }, stream: true });
  const text = events(streamed.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(typeof JSON.parse(text).answer, 'string');

  const image = await gw.proxyRequest('POST', '/f/cohere', { messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] });
  assert.equal(image.status, 400, image.text);
  assert.match(image.text, /messages\[0\]\.content\[1\].*cohere/);
  const reasoning = await gw.proxyRequest('POST', '/f/cohere', { messages: USER, reasoning_effort: 'low' });
  assert.equal(reasoning.status, 400, reasoning.text);
  assert.match(reasoning.text, /reasoning_effort/);
});

test('llama2 raw: tools and structured output are refused, not dropped in silence', async () => {
  const before = mocks.tgi.requests.length;
  const tools = await gw.proxyRequest('POST', '/f/raw', { messages: USER, tools: [WEATHER] });
  assert.equal(tools.status, 400, tools.text);
  assert.match(tools.text, /tools/);
  const schema = await gw.proxyRequest('POST', '/f/raw', { messages: USER, response_format: CITY_FORMAT });
  assert.equal(schema.status, 400, schema.text);
  assert.match(schema.text, /response_format/);
  assert.equal(mocks.tgi.requests.length, before);
  const plain = await gw.proxyRequest('POST', '/f/raw', { messages: USER, tools: [WEATHER], tool_choice: 'none' });
  assert.equal(plain.status, 200, 'tool_choice none: no tool may be called, which needs no tools');
});
