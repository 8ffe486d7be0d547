/**
 * Kong's "Getting started with AI Proxy" guide, word for word (its commands as written out in
 * test/helpers/kong-guide.ts), against the real gateway and mock providers that behave like the
 * real APIs. Only what cannot work offline changes: the keys are the mocks' keys and `upstream_url`
 * points at the mocks (the guide's Anthropic example also gets valid top_p/top_k, since Kong
 * refuses the guide's values).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Gateway } from '../helpers/gateway.ts';
import { GUIDE_CHAT_BODY as GUIDE_BODY, GUIDE_ROUTES, guidePluginCall, guideRouteCall, guideServiceCall } from '../helpers/kong-guide.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';

let gw: Gateway;
const mocks: Record<string, MockProvider> = {};

/** Replaces a form value (or adds it). */
function withValue(pairs: [string, string][], key: string, value: string): [string, string][] {
  const out = pairs.filter(([k]) => k !== key);
  out.push([key, value]);
  return out;
}

function replaceInValues(pairs: [string, string][], from: string, to: string): [string, string][] {
  return pairs.map(([k, v]) => [k, v.replace(from, to)]);
}

async function addRoute(name: string, pathValue: string, plugin: [string, string][]): Promise<void> {
  const r = await gw.adminForm('POST', '/services/ai-proxy/routes', [['name', name], ['paths[]', pathValue]]);
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminForm('POST', `/routes/${name}/plugins`, plugin);
  assert.equal(p.status, 201, `${name}: ${p.text}`);
}

/** The guide's plugin config for a provider, keyed for the mocks. */
const GUIDE_PLUGINS: Record<string, () => [string, string][]> = {
  'openai-chat': () =>
    withValue(replaceInValues(guidePluginCall('openai-chat'), '<openai_key>', 'sk-test'), 'config.model.options.upstream_url', `${mocks.openai.url}/v1/chat/completions`),
  'azure-chat': () =>
    withValue(replaceInValues(guidePluginCall('azure-chat'), '<azure_ai_access_key>', 'azure-test-key'), 'config.model.options.upstream_url', `${mocks.azure.url}/openai/deployments/kong-gpt-3-5/chat/completions`),
  'cohere-chat': () => withValue(replaceInValues(guidePluginCall('cohere-chat'), '<cohere_key>', 'co-test'), 'config.model.options.upstream_url', `${mocks.cohere.url}/v1/chat`),
  'anthropic-chat': () =>
    withValue(
      withValue(
        withValue(replaceInValues(guidePluginCall('anthropic-chat'), '<anthropic_key>', 'sk-ant-test'), 'config.model.options.top_p', '1'),
        'config.model.options.top_k',
        '250',
      ),
      'config.model.options.upstream_url',
      `${mocks.anthropic.url}/v1/messages`,
    ),
  'llama2-chat': () => withValue(guidePluginCall('llama2-chat'), 'config.model.options.upstream_url', `${mocks.ollama.url}/api/chat`),
  'mistral-chat': () => withValue(guidePluginCall('mistral-chat'), 'config.model.options.upstream_url', `${mocks.ollama.url}/api/chat`),
};

const selfHosted = (provider: string, format: [string, string], url: string, model: string, routeType = 'llm/v1/chat'): [string, string][] => [
  ['name', 'ai-proxy'],
  ['config.route_type', routeType],
  ['config.model.provider', provider],
  ['config.model.name', model],
  format,
  ['config.model.options.upstream_url', url],
];

before(async () => {
  mocks.openai = await startMockProvider('openai');
  mocks.azure = await startMockProvider('azure', { deployments: { 'kong-gpt-3-5': 'gpt-35-turbo' } });
  mocks.anthropic = await startMockProvider('anthropic', { models: '*' });
  mocks.cohere = await startMockProvider('cohere');
  mocks.ollama = await startMockProvider('ollama');
  mocks.tgi = await startMockProvider('llama2-raw');
  mocks.compat = await startMockProvider('openai-compatible');
  gw = await Gateway.start();
  // the guide's calls as curl sends them: raw `--data` values joined by `&`
  const svc = await gw.adminCurl('POST', '/services', guideServiceCall());
  assert.equal(svc.status, 201);
  assert.deepEqual(Object.keys(GUIDE_PLUGINS), GUIDE_ROUTES, 'every tab of the guide');
  for (const [route, plugin] of Object.entries(GUIDE_PLUGINS)) {
    const r = await gw.adminCurl('POST', '/services/ai-proxy/routes', guideRouteCall(route));
    assert.equal(r.status, 201, r.text);
    const p = await gw.adminCurl('POST', `/routes/${route}/plugins`, plugin());
    assert.equal(p.status, 201, `${route}: ${p.text}`);
  }
  await addRoute('llama2-raw-chat', '~/llama2-raw-chat$', selfHosted('llama2', ['config.model.options.llama2_format', 'raw'], `${mocks.tgi.url}/raw/llm/v1/chat`, 'llama2'));
  await addRoute('llama2-openai-chat', '~/llama2-openai-chat$', selfHosted('llama2', ['config.model.options.llama2_format', 'openai'], `${mocks.compat.url}/v1/chat/completions`, 'llama2'));
  await addRoute('mistral-openai-chat', '~/mistral-openai-chat$', selfHosted('mistral', ['config.model.options.mistral_format', 'openai'], `${mocks.compat.url}/v1/chat/completions`, 'mistral-tiny'));
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(mocks).map((m) => m.close()));
});

function assertChatAnswer(res: { status: number; json: any; text: string }, model?: string): void {
  assert.equal(res.status, 200, res.text);
  const a = res.json;
  assert.equal(a.object, 'chat.completion');
  assert.equal(typeof a.id, 'string');
  assert.equal(typeof a.created, 'number');
  if (model) assert.equal(a.model, model);
  assert.equal(a.choices.length, 1);
  assert.equal(a.choices[0].index, 0);
  assert.equal(a.choices[0].message.role, 'assistant');
  assert.equal(a.choices[0].message.content.trim(), DEFAULT_TEXT);
  assert.equal(a.choices[0].finish_reason, 'stop');
  assert.equal(a.usage.completion_tokens, countTokens(DEFAULT_TEXT));
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
}

const last = (m: MockProvider) => m.requests[m.requests.length - 1];

test('OpenAI: the guide call answers with a chat.completion; the key and config reach OpenAI', async () => {
  const res = await gw.proxyRequest('POST', '/openai-chat', GUIDE_BODY, { authorization: 'Bearer client-own-key' });
  assertChatAnswer(res, 'gpt-4');
  assert.equal(res.headers.get('x-modelgate-llm-model'), 'openai/gpt-4');
  const got = last(mocks.openai);
  assert.equal(got.path, '/v1/chat/completions');
  assert.equal(got.headers.authorization, 'Bearer sk-test', 'the configured key replaces the client credential');
  const body = got.json as any;
  assert.equal(body.model, 'gpt-4');
  assert.equal(body.max_tokens, 512);
  assert.equal(body.temperature, 1);
  assert.deepEqual(body.messages, GUIDE_BODY.messages);
  assert.equal(res.json.usage.prompt_tokens, countTokens('You are a mathematician What is 1+1?'));
});

test('OpenAI: a long conversation goes upstream as the client wrote it, with only the gateway changes', async () => {
  const prompt = 'What is one plus one? '.repeat(1000); // ~22 KB: large enough to be copied, not re-serialised
  const messages = `[ {"role":"system","content":"You are a mathematician"},\n  {"role": "user", "content": "${prompt}"} ]`;
  // spacing, an escaped key and a repeated key (the last one counts)
  const text = `{ "messages" : ${messages}, "\\u006dodel": "gpt-4", "temperature": 0.2 , "temperature": 0.3, "user": "u-1" }`;
  // a field no provider should see is refused by name by default (unsupported_params: error), before the provider is called
  const steering = await gw.proxyRequest('POST', '/openai-chat', text.replace('"user": "u-1"', '"api_base": "http://attacker.example", "user": "u-1"'), { 'content-type': 'application/json' });
  assert.equal(steering.status, 400, steering.text);
  assert.equal(steering.json.error.message, 'api_base: not supported by the openai provider');
  const res = await gw.proxyRequest('POST', '/openai-chat', text, { 'content-type': 'application/json' });
  assertChatAnswer(res, 'gpt-4');
  const got = last(mocks.openai);
  assert.deepEqual(got.json, {
    messages: JSON.parse(messages),
    model: 'gpt-4',
    temperature: 1, // the guide's configured temperature wins over the client's
    user: 'u-1',
    stream: false,
    max_tokens: 512,
  });
  assert.ok(got.body.includes(`"messages":${messages}`), 'the messages are the client bytes, spacing and all');
  assert.ok(!got.body.includes('api_base') && !got.body.includes('attacker'), 'the refused request never reached the provider');
  assert.equal(got.body.match(/"temperature"/g)?.length, 1, 'one temperature, the configured one');
});

test('Azure: deployment URL, api-version and api-key as Azure wants them', async () => {
  const res = await gw.proxyRequest('POST', '/azure-chat', GUIDE_BODY);
  assertChatAnswer(res);
  const got = last(mocks.azure);
  assert.equal(got.path, '/openai/deployments/kong-gpt-3-5/chat/completions');
  assert.equal(got.query['api-version'], '2023-05-15');
  assert.equal(got.headers['api-key'], 'azure-test-key');
  assert.equal(got.headers.authorization, undefined);
});

test('Anthropic: the Messages API with x-api-key and anthropic-version, system prompt on top', async () => {
  const res = await gw.proxyRequest('POST', '/anthropic-chat', GUIDE_BODY);
  assertChatAnswer(res);
  const got = last(mocks.anthropic);
  assert.equal(got.path, '/v1/messages');
  assert.equal(got.headers['x-api-key'], 'sk-ant-test', "the guide's apikey header reaches Anthropic as x-api-key");
  assert.equal(got.headers.apikey, undefined);
  assert.equal(got.headers['anthropic-version'], '2023-06-01');
  const body = got.json as any;
  assert.equal(body.model, 'claude-2.1');
  assert.equal(body.max_tokens, 512);
  assert.match(JSON.stringify(body.system), /You are a mathematician/);
  assert.equal(body.messages.length, 1);
  assert.equal(body.messages[0].role, 'user');
});

test('Cohere: chat with message and the system prompt, Bearer key', async () => {
  const res = await gw.proxyRequest('POST', '/cohere-chat', GUIDE_BODY);
  assertChatAnswer(res, 'command');
  const got = last(mocks.cohere);
  assert.equal(got.path, '/v1/chat');
  assert.equal(got.headers.authorization, 'Bearer co-test');
  const body = got.json as any;
  assert.equal(body.model, 'command');
  assert.equal(body.message, 'What is 1+1?');
  assert.match(JSON.stringify(body), /You are a mathematician/);
});

test('Llama2 and Mistral through Ollama: /api/chat, no streaming unless asked, options mapped', async () => {
  for (const [route, model] of [['llama2-chat', 'llama2'], ['mistral-chat', 'mistral']] as const) {
    const res = await gw.proxyRequest('POST', `/${route}`, GUIDE_BODY);
    assertChatAnswer(res);
    const body = last(mocks.ollama).json as any;
    assert.equal(body.model, model);
    assert.equal(body.stream, false);
    assert.deepEqual(body.messages, GUIDE_BODY.messages);
    assert.equal(body.options.num_predict, 256);
  }
});

test('Llama2 raw format: the [INST] prompt in inputs, the answer read back', async () => {
  const res = await gw.proxyRequest('POST', '/llama2-raw-chat', GUIDE_BODY);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.object, 'chat.completion');
  assert.equal(res.json.choices[0].message.content.trim(), DEFAULT_TEXT);
  const got = last(mocks.tgi);
  assert.equal(got.path, '/raw/llm/v1/chat');
  const body = got.json as any;
  assert.match(body.inputs, /^<s>\[INST\] <<SYS>>/);
  assert.match(body.inputs, /You are a mathematician/);
  assert.match(body.inputs, /What is 1\+1\? \[\/INST\]$/);
});

test('Llama2 and Mistral in OpenAI format reach an OpenAI-compatible server', async () => {
  for (const [route, model] of [['llama2-openai-chat', 'llama2'], ['mistral-openai-chat', 'mistral-tiny']] as const) {
    const res = await gw.proxyRequest('POST', `/${route}`, GUIDE_BODY);
    assertChatAnswer(res);
    const got = last(mocks.compat);
    assert.equal(got.path, '/v1/chat/completions');
    assert.equal((got.json as any).model, model);
  }
});

test('completions on openai, cohere, anthropic and llama2 raw answer text_completion', async () => {
  const plugins: Record<string, [string, string][]> = {
    'openai-completions': [
      ['name', 'ai-proxy'], ['config.route_type', 'llm/v1/completions'], ['config.auth.header_name', 'Authorization'], ['config.auth.header_value', 'Bearer sk-test'],
      ['config.model.provider', 'openai'], ['config.model.name', 'gpt-3.5-turbo-instruct'], ['config.model.options.upstream_url', `${mocks.openai.url}/v1/completions`],
    ],
    'cohere-completions': [
      ['name', 'ai-proxy'], ['config.route_type', 'llm/v1/completions'], ['config.auth.header_name', 'Authorization'], ['config.auth.header_value', 'Bearer co-test'],
      ['config.model.provider', 'cohere'], ['config.model.name', 'command'], ['config.model.options.upstream_url', `${mocks.cohere.url}/v1/generate`],
    ],
    'anthropic-completions': [
      ['name', 'ai-proxy'], ['config.route_type', 'llm/v1/completions'], ['config.auth.header_name', 'x-api-key'], ['config.auth.header_value', 'sk-ant-test'],
      ['config.model.provider', 'anthropic'], ['config.model.name', 'claude-3-5-haiku-latest'], ['config.model.options.upstream_url', `${mocks.anthropic.url}/v1/messages`],
    ],
    'llama2-completions': selfHosted('llama2', ['config.model.options.llama2_format', 'raw'], `${mocks.tgi.url}/raw/llm/v1/completions`, 'llama2', 'llm/v1/completions'),
  };
  for (const [name, plugin] of Object.entries(plugins)) {
    await addRoute(name, `~/${name}$`, plugin);
    const res = await gw.proxyRequest('POST', `/${name}`, { prompt: 'What is 1+1?' });
    assert.equal(res.status, 200, `${name}: ${res.text}`);
    assert.equal(res.json.object, 'text_completion', name);
    assert.equal(res.json.choices[0].text.trim(), DEFAULT_TEXT, name);
    assert.equal(typeof res.json.usage?.total_tokens, "number", `${name}: ${res.text}`);
  }
  // what each provider was sent: its own completions shape, with the prompt and the configured model
  const openai = last(mocks.openai);
  assert.equal(openai.path, '/v1/completions');
  assert.deepEqual([(openai.json as any).prompt, (openai.json as any).model], ['What is 1+1?', 'gpt-3.5-turbo-instruct']);
  const cohere = last(mocks.cohere);
  assert.equal(cohere.path, '/v1/generate');
  assert.deepEqual([(cohere.json as any).prompt, (cohere.json as any).model], ['What is 1+1?', 'command']);
  assert.equal((last(mocks.anthropic).json as any).messages[0].content, 'What is 1+1?');
  const raw = last(mocks.tgi).json as any;
  // Kong's completions template, with its default system prompt (conformance README)
  assert.equal(raw.inputs, '<s>[INST] <<SYS>> You are a helpful assistant. <</SYS>> What is 1+1? [/INST]');
  assert.equal(typeof raw.parameters, 'object');
});

test('the official OpenAI SDK gets a completion through every provider', async () => {
  const routes: [string, string, [string, string][]][] = [
    ['openai', 'gpt-4', GUIDE_PLUGINS['openai-chat']()],
    ['azure', 'gpt-35-turbo', GUIDE_PLUGINS['azure-chat']()],
    ['anthropic', 'claude-2.1', GUIDE_PLUGINS['anthropic-chat']()],
    ['cohere', 'command', GUIDE_PLUGINS['cohere-chat']()],
    ['llama2', 'llama2', GUIDE_PLUGINS['llama2-chat']()],
    ['mistral', 'mistral', GUIDE_PLUGINS['mistral-chat']()],
  ];
  for (const [name, model, plugin] of routes) {
    await addRoute(`sdk-${name}`, `/sdk/${name}`, plugin);
    const client = new OpenAI({ baseURL: `${gw.proxy}/sdk/${name}`, apiKey: 'not-a-provider-key', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model, messages: GUIDE_BODY.messages as OpenAI.ChatCompletionMessageParam[] });
    assert.equal(completion.choices[0].message.content?.trim(), DEFAULT_TEXT, name);
    assert.ok((completion.usage?.total_tokens ?? 0) > 0, name);
  }
  for (const m of Object.values(mocks)) {
    for (const r of m.requests) assert.ok(!JSON.stringify(r.headers).includes('not-a-provider-key'), `${m.name} never saw the client's key`);
  }
});

test('a different model than the configured one is refused before any upstream call', async () => {
  const before = mocks.openai.requests.length;
  const res = await gw.proxyRequest('POST', '/openai-chat', { ...GUIDE_BODY, model: 'gpt-4o' });
  assert.equal(res.status, 400);
  // Kong's message, in OpenAI's whole envelope (issue 16)
  assert.deepEqual(res.json, { error: { message: 'cannot use own model - must be: gpt-4', type: 'invalid_request_error', code: 'model_not_allowed', param: 'model' } });
  const same = await gw.proxyRequest('POST', '/openai-chat', { ...GUIDE_BODY, model: 'gpt-4' });
  assert.equal(same.status, 200);
  assert.equal(mocks.openai.requests.length, before + 1);
});

test('bad client bodies get a 400 JSON error and never reach the provider', async () => {
  const before = mocks.openai.requests.length;
  const cases: [string | object, RegExp, Record<string, string>?][] = [
    ['{"messages": [', /content-type header does not match request body, or bad JSON formatting/],
    ['not json at all', /bad JSON formatting/],
    ['', /bad JSON formatting/],
    ['[1,2,3]', /bad JSON formatting/],
    [{ segassem: [] }, /request format not recognised/],
    [{ messages: [] }, /messages/],
    [{ messages: 'hello' }, /messages/],
    [{ messages: [{ role: 'wizard', content: 'hi' }] }, /messages\[0\]\.role/],
    [{ messages: [{ role: 'user', content: 42 }] }, /messages\[0\]\.content/],
    [{ messages: [{ role: 'user', content: 'hi' }], stream: 'yes' }, /stream/],
    [{ messages: [{ role: 'user', content: 'hi' }], max_tokens: -1 }, /max_tokens/],
    [{ prompt: 'completions body on a chat route' }, /\[llm\/v1\/completions\] message format is not compatible with \[llm\/v1\/chat\] route type/],
    [JSON.stringify(GUIDE_BODY), /bad JSON formatting/, { 'content-type': 'text/plain' }],
  ];
  for (const [body, message, headers] of cases) {
    const res = await gw.proxyRequest('POST', '/openai-chat', body, headers ?? { 'content-type': 'application/json' });
    assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
    assert.match(res.json.error.message, message, JSON.stringify(body));
  }
  const deep = '{"messages":' + '['.repeat(200) + ']'.repeat(200) + '}';
  assert.equal((await gw.proxyRequest('POST', '/openai-chat', deep)).status, 400);
  assert.equal(mocks.openai.requests.length, before, 'nothing reached the provider');
});

test('a body over the limit is 413 without reaching the provider', async () => {
  const plugin = withValue(GUIDE_PLUGINS['openai-chat'](), 'config.max_request_body_size', '1024');
  await addRoute('small-limit', '~/small-limit$', plugin);
  const before = mocks.openai.requests.length;
  const res = await gw.proxyRequest('POST', '/small-limit', { messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
  assert.equal(res.status, 413);
  assert.equal(typeof res.json.message, 'string');
  assert.equal(mocks.openai.requests.length, before);
  const ok = await gw.proxyRequest('POST', '/small-limit', GUIDE_BODY);
  assert.equal(ok.status, 200);
});

test('provider failures: statuses kept, JSON always, untranslatable answers 502, the gateway keeps serving', async () => {
  const send = (mode: string, route = '/openai-chat') => gw.proxyRequest('POST', route, GUIDE_BODY, { 'x-mock-mode': mode });
  const r429 = await send('429:7');
  assert.equal(r429.status, 429);
  assert.equal(r429.headers.get('retry-after'), '7');
  assert.equal(typeof r429.json.error.message, 'string');

  const html = await send('5xx-html:500');
  assert.equal(html.status, 500);
  assert.equal(typeof html.json.error.message, 'string', 'an HTML error page still reaches the client as JSON');

  const bad200 = await send('invalid-json-200');
  assert.equal(bad200.status, 502);
  assert.match(bad200.json.error.message, /^transformation failed from type openai:\/\/llm\/v1\/chat: /);

  const wrongShape = await send('wrong-shape-200');
  assert.equal(wrongShape.status, 502);

  const reset = await send('reset-before-headers');
  assert.equal(reset.status, 502);
  assert.equal(reset.json.message, 'An invalid response was received from the upstream server');

  const redirect = await send('redirect:302');
  assert.equal(redirect.status, 502);

  const gz = await send('gzip');
  assertChatAnswer(gz);

  for (const text of [r429.text, html.text, bad200.text, reset.text]) assert.ok(!text.includes('sk-test'), 'no key in any answer');
  const ok = await gw.proxyRequest('POST', '/openai-chat', GUIDE_BODY);
  assertChatAnswer(ok);
  // the provider's request id and processing time reach the client; its own framing does not
  assert.match(ok.headers.get('x-request-id') ?? '', /^req_mock/);
  assert.equal(ok.headers.get('openai-processing-ms'), '1');
  assert.equal(ok.headers.get('content-encoding'), null);
});

test('a wrong key at the provider is the provider 401, passed through', async () => {
  const plugin = replaceInValues(GUIDE_PLUGINS['openai-chat'](), 'Bearer sk-test', 'Bearer sk-wrong-key-123');
  await addRoute('wrong-key', '~/wrong-key$', plugin);
  const res = await gw.proxyRequest('POST', '/wrong-key', GUIDE_BODY);
  assert.equal(res.status, 401);
  assert.equal(res.json.error.code, 'invalid_api_key');
});

test('a provider slower than the read timeout is 504', async () => {
  await gw.adminRequest('POST', '/services', { name: 'impatient', url: 'http://localhost:32000', read_timeout: 300 });
  const r = await gw.adminRequest('POST', '/services/impatient/routes', { name: 'impatient', paths: ['~/impatient$'] });
  assert.equal(r.status, 201);
  const p = await gw.adminForm('POST', '/routes/impatient/plugins', GUIDE_PLUGINS['openai-chat']());
  assert.equal(p.status, 201, p.text);
  const res = await gw.proxyRequest('POST', '/impatient', GUIDE_BODY, { 'x-mock-mode': 'slow-headers:2000' });
  assert.equal(res.status, 504);
  assert.equal(res.json.message, 'The upstream server is timing out');
});

test('log_statistics puts usage and meta in the access log, never the key', async () => {
  const res = await gw.proxyRequest('POST', '/openai-chat', GUIDE_BODY);
  const id = res.headers.get('x-modelgate-request-id')!;
  await new Promise((r) => setTimeout(r, 100));
  const line = gw.stdout.split('\n').find((l) => l.includes(id))!;
  const entry = JSON.parse(line);
  assert.equal(entry.ai.proxy.usage.total_tokens, res.json.usage.total_tokens);
  assert.equal(entry.ai.proxy.meta.provider_name, 'openai');
  assert.equal(entry.ai.proxy.meta.request_model, 'gpt-4');
  assert.equal(typeof entry.ai.proxy.meta.llm_latency, 'number');
  assert.ok(entry.ai.proxy.meta.llm_latency >= 0);
  assert.equal(entry.ai.proxy.payload, undefined, 'payloads are logged only with log_payloads');
  for (const key of ['sk-test', 'azure-test-key', 'sk-ant-test', 'co-test']) assert.ok(!gw.logs.includes(key), `${key} is not in the logs`);
});

async function accessLogEntry(requestId: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const line = gw.stdout.split('\n').find((l) => l.includes(requestId) && l.includes('"msg":"request"'));
    if (line) return JSON.parse(line);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no access log line for ${requestId}`);
}

test('log_statistics off leaves the ai section out; log_payloads adds both bodies', async () => {
  const base = withValue(GUIDE_PLUGINS['openai-chat'](), 'config.logging.log_statistics', 'false');
  await addRoute('quiet-chat', '~/quiet-chat$', base);
  await addRoute('payload-chat', '~/payload-chat$', withValue(withValue(base, 'config.logging.log_statistics', 'true'), 'config.logging.log_payloads', 'true'));

  const quiet = await gw.proxyRequest('POST', '/quiet-chat', GUIDE_BODY);
  assert.equal(quiet.status, 200, quiet.text);
  assert.equal((await accessLogEntry(quiet.headers.get('x-modelgate-request-id')!)).ai, undefined);

  const loud = await gw.proxyRequest('POST', '/payload-chat', GUIDE_BODY);
  assert.equal(loud.status, 200, loud.text);
  const entry = await accessLogEntry(loud.headers.get('x-modelgate-request-id')!);
  assert.deepEqual(JSON.parse(entry.ai.proxy.payload.request), GUIDE_BODY);
  assert.equal(JSON.parse(entry.ai.proxy.payload.response).choices[0].message.content.trim(), DEFAULT_TEXT);
  assert.equal(entry.ai.proxy.usage.total_tokens, loud.json.usage.total_tokens);
});
