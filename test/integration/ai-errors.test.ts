/**
 * One error shape on AI routes (issue 16), against the real gateway with the real OpenAI SDK:
 * whatever goes wrong — the gateway (refused, timed out, every target down, circuit open), the
 * provider (Bedrock's `{"message"}` + `x-amzn-errortype`, Cohere's, an HTML page, Gemini's
 * RetryInfo), the client's request, a plugin before ai-proxy — the client gets OpenAI's envelope
 * `{"error":{"message","type","code","param"}}`, so the SDK's APIError carries the real message,
 * type and code. And the models endpoints: `models.list` / `models.retrieve` on an ai-proxy route
 * and on the unified endpoint, with real `created` times.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Gateway, freePort } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { DEFAULT_BEDROCK_CREDENTIALS } from '../mocks/bedrock.ts';

let gw: Gateway;
const m: Record<string, MockProvider> = {};
const USER: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is 1+1?' }];
const OPENAI_AUTH = { header_name: 'Authorization', header_value: 'Bearer sk-test' };
let refused: string;
const pluginIds: Record<string, string> = {};

async function route(name: string, plugin: string, config: Record<string, unknown>, opts: { service?: string; paths?: string[] } = {}): Promise<void> {
  const r = await gw.adminRequest('POST', `/services/${opts.service ?? 'ai'}/routes`, { name, paths: opts.paths ?? [`/${name}`] });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: plugin, config });
  assert.equal(p.status, 201, `${name}: ${p.text}`);
  pluginIds[name] = p.json.id;
}

const openaiChat = (upstream: string, name: string | null = 'gpt-4o') => ({
  route_type: 'llm/v1/chat',
  auth: OPENAI_AUTH,
  model: { provider: 'openai', ...(name ? { name } : {}), options: { upstream_url: upstream } },
});

const sdk = (path: string) => new OpenAI({ baseURL: `${gw.proxy}${path}`, apiKey: 'client-key', maxRetries: 0 });

/** The SDK's error for a call that must fail. */
async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, `an APIError, got ${String(e)}`);
    return e;
  }
  assert.fail('the call succeeded');
}

before(async () => {
  m.openai = await startMockProvider('openai');
  m.bedrock = await startMockProvider('bedrock');
  m.cohere = await startMockProvider('cohere');
  m.gemini = await startMockProvider('gemini', { models: '*' });
  m.compat = await startMockProvider('openai-compatible', { models: '*' });
  refused = `http://127.0.0.1:${await freePort()}/v1/chat/completions`; // nothing listens there
  const refused2 = `http://127.0.0.1:${await freePort()}/v1/chat/completions`;
  gw = await Gateway.start({ workers: 1 });
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'impatient', url: 'http://localhost:32000', read_timeout: 300, retries: 0 })).status, 201);
  await route('e-openai', 'ai-proxy', openaiChat(`${m.openai.url}/v1/chat/completions`));
  await route('e-any-model', 'ai-proxy', openaiChat(`${m.openai.url}/v1/chat/completions`, null));
  await route('e-refused', 'ai-proxy', openaiChat(refused));
  await route('e-slow', 'ai-proxy', openaiChat(`${m.openai.url}/v1/chat/completions`), { service: 'impatient' });
  await route('e-small', 'ai-proxy', { ...openaiChat(`${m.openai.url}/v1/chat/completions`), max_request_body_size: 1024 });
  await route('e-keyed', 'ai-proxy', openaiChat(`${m.openai.url}/v1/chat/completions`));
  assert.equal((await gw.adminRequest('POST', '/routes/e-keyed/plugins', { name: 'key-auth' })).status, 201);
  await route('e-bedrock', 'ai-proxy', {
    route_type: 'llm/v1/chat',
    auth: { aws_access_key_id: DEFAULT_BEDROCK_CREDENTIALS.accessKeyId, aws_secret_access_key: DEFAULT_BEDROCK_CREDENTIALS.secretAccessKey },
    // a model id Bedrock does not know: its own 400 ValidationException
    model: { provider: 'bedrock', name: 'anthropic.claude-9-v1:0', options: { bedrock: { aws_region: 'us-east-1' }, upstream_url: `${m.bedrock.url}/model/anthropic.claude-9-v1%3A0/converse` } },
  });
  await route('e-cohere', 'ai-proxy', {
    route_type: 'llm/v1/chat',
    auth: { header_name: 'Authorization', header_value: 'Bearer co-test' },
    model: { provider: 'cohere', name: 'command-r', options: { upstream_url: `${m.cohere.url}/v1/chat` } },
  });
  await route('e-gemini', 'ai-proxy', {
    route_type: 'llm/v1/chat',
    auth: { header_name: 'x-goog-api-key', header_value: 'gemini-test' },
    model: { provider: 'gemini', name: 'gemini-2.5-flash', options: { upstream_url: `${m.gemini.url}/v1beta/models/gemini-2.5-flash:generateContent` } },
  });
  await route('e-down', 'ai-proxy-advanced', {
    balancer: { algorithm: 'priority', retries: 1, max_fails: 1, fail_timeout: 30000 },
    targets: [
      { ...openaiChat(refused), weight: 100 },
      // the fallback for the same public name
      { route_type: 'llm/v1/chat', weight: 50, alias: 'gpt-4o', model: { provider: 'vllm', name: 'Qwen/Qwen2.5-7B-Instruct', options: { upstream_url: refused2 } } },
    ],
  });
  await route(
    'e-unified',
    'ai-proxy-advanced',
    {
      targets: [
        openaiChat(`${m.openai.url}/v1/chat/completions`),
        { route_type: 'llm/v1/chat', model: { provider: 'vllm', name: 'meta-llama/Llama-3-8b', options: { upstream_url: `${m.compat.url}/v1/chat/completions` } } },
      ],
    },
    { paths: ['/e-unified/v1'] },
  );
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(m).map((x) => x.close()));
});

test('an upstream that refuses the connection: the SDK shows the real cause, Kong\'s message stays at the top', async () => {
  const e = await apiError(sdk('/e-refused').chat.completions.create({ model: 'gpt-4o', messages: USER }));
  assert.equal(e.status, 502);
  assert.equal(e.type, 'server_error');
  assert.equal(e.code, 'upstream_unavailable');
  assert.match(e.message, /^502 .*refused the connection/);
  assert.equal(e.param, null);
  const raw = await gw.proxyRequest('POST', '/e-refused', { messages: USER });
  assert.equal(raw.json.message, 'An invalid response was received from the upstream server', 'Kong\'s message, where Kong clients read it');
  assert.equal(raw.json.request_id, raw.headers.get('x-modelgate-request-id'));
});

test('a provider slower than the read timeout: 504 timeout_error / upstream_timeout', async () => {
  const e = await apiError(sdk('/e-slow').chat.completions.create({ model: 'gpt-4o', messages: USER }, { headers: { 'x-mock-mode': 'slow-headers:2000' } }));
  assert.equal(e.status, 504);
  assert.equal(e.type, 'timeout_error');
  assert.equal(e.code, 'upstream_timeout');
  assert.match(e.message, /read timeout/);
});

test('every target down: no_healthy_targets naming each attempt; then the open circuit: circuit_open with Retry-After', async () => {
  const e = await apiError(sdk('/e-down').chat.completions.create({ model: 'gpt-4o', messages: USER }));
  assert.equal(e.status, 502);
  assert.equal(e.type, 'server_error');
  assert.equal(e.code, 'no_healthy_targets');
  assert.match(e.message, /openai\/gpt-4o.*refused the connection/);
  assert.match(e.message, /vllm\/Qwen\/Qwen2\.5-7B-Instruct.*refused the connection/);
  const open = await apiError(sdk('/e-down').chat.completions.create({ model: 'gpt-4o', messages: USER }));
  assert.equal(open.status, 503);
  assert.equal(open.type, 'server_error');
  assert.equal(open.code, 'circuit_open');
  assert.match(open.message, /circuit open/);
  assert.ok(Number(open.headers?.get('retry-after')) >= 1, 'Retry-After says when a target half-opens');
});

test('Bedrock\'s {"message"} error with x-amzn-errortype is wrapped; its body and type kept under error.provider', async () => {
  const e = await apiError(sdk('/e-bedrock').chat.completions.create({ model: 'anthropic.claude-9-v1:0', messages: USER }));
  assert.ok(e instanceof OpenAI.BadRequestError);
  assert.equal(e.message, '400 The provided model identifier is invalid.');
  assert.equal(e.type, 'invalid_request_error');
  assert.equal(e.code, 'invalid_request');
  assert.deepEqual((e.error as any).provider, { name: 'bedrock', status: 400, type: 'ValidationException', body: { message: 'The provided model identifier is invalid.' } });
  assert.ok(!JSON.stringify(e.error).includes(DEFAULT_BEDROCK_CREDENTIALS.secretAccessKey));
});

test('Cohere\'s rate limit: RateLimitError with Cohere\'s message, rate_limit_exceeded, Retry-After passed on', async () => {
  const e = await apiError(sdk('/e-cohere').chat.completions.create({ model: 'command-r', messages: USER }, { headers: { 'x-mock-mode': '429:9' } }));
  assert.ok(e instanceof OpenAI.RateLimitError);
  assert.match(e.message, /^429 You are using a Trial key/);
  assert.equal(e.type, 'rate_limit_error');
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.equal(e.headers?.get('retry-after'), '9');
  assert.equal((e.error as any).provider.name, 'cohere');
  assert.match((e.error as any).provider.body.message, /Trial key/);
});

test('an HTML 502 page from the provider: a JSON envelope naming it, the page kept (bounded) under error.provider', async () => {
  const e = await apiError(sdk('/e-openai').chat.completions.create({ model: 'gpt-4o', messages: USER }, { headers: { 'x-mock-mode': '5xx-html:502' } }));
  assert.ok(e instanceof OpenAI.InternalServerError);
  assert.equal(e.status, 502);
  assert.equal(e.type, 'server_error');
  assert.equal(e.code, 'bad_gateway');
  assert.match(e.message, /^502 the provider answered 502 with an HTML page: 502 Bad Gateway/);
  const provider = (e.error as any).provider;
  assert.equal(provider.status, 502);
  assert.equal(typeof provider.body, 'string');
  assert.match(provider.body, /<title>502 Bad Gateway<\/title>/);
});

test('an OpenAI-shaped provider error passes through as the provider wrote it', async () => {
  const e = await apiError(sdk('/e-openai').chat.completions.create({ model: 'gpt-4o', messages: USER }, { headers: { 'x-mock-mode': '5xx-json:500' } }));
  assert.equal(e.status, 500);
  assert.equal((e.error as any).provider, undefined);
  assert.equal(typeof e.type, 'string');
});

test('Gemini\'s RetryInfo.retryDelay becomes Retry-After (rounded up)', async () => {
  m.gemini.nextResponse({
    status: 429,
    body: {
      error: {
        code: 429,
        message: 'You exceeded your current quota, please check your plan and billing details.',
        status: 'RESOURCE_EXHAUSTED',
        details: [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
          { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12.2s' },
        ],
      },
    },
  });
  const e = await apiError(sdk('/e-gemini').chat.completions.create({ model: 'gemini-2.5-flash', messages: USER }));
  assert.ok(e instanceof OpenAI.RateLimitError);
  assert.equal(e.headers?.get('retry-after'), '13');
  assert.match(e.message, /^429 You exceeded your current quota/);
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.equal((e.error as any).provider.type, 'RESOURCE_EXHAUSTED');
});

test('validation errors: invalid_request_error with the field as param', async () => {
  const empty = await apiError(sdk('/e-openai').chat.completions.create({ model: 'gpt-4o', messages: [] }));
  assert.ok(empty instanceof OpenAI.BadRequestError);
  assert.equal(empty.type, 'invalid_request_error');
  assert.equal(empty.code, 'invalid_request');
  assert.equal(empty.param, 'messages');
  const role = await apiError(sdk('/e-openai').chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'wizard', content: 'hi' } as any] }));
  assert.equal(role.param, 'messages[0].role');
  const other = await apiError(sdk('/e-openai').chat.completions.create({ model: 'gpt-3.5-turbo', messages: USER }));
  assert.equal(other.message, '400 cannot use own model - must be: gpt-4o');
  assert.equal(other.code, 'model_not_allowed');
  assert.equal(other.param, 'model');
});

test('errors answered before the AI plugin runs (key-auth 401, body limit 413) get the envelope and keep Kong\'s message', async () => {
  const e = await apiError(sdk('/e-keyed').chat.completions.create({ model: 'gpt-4o', messages: USER }));
  assert.ok(e instanceof OpenAI.AuthenticationError);
  assert.equal(e.message, '401 No API key found in request');
  assert.equal(e.type, 'authentication_error');
  assert.equal(e.code, 'unauthorized');
  const raw = await gw.proxyRequest('POST', '/e-keyed', { messages: USER });
  assert.equal(raw.json.message, 'No API key found in request');
  const big = await gw.proxyRequest('POST', '/e-small', { messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
  assert.equal(big.status, 413);
  assert.equal(typeof big.json.message, 'string');
  assert.deepEqual(big.json.error, { message: big.json.message, type: 'invalid_request_error', code: 'payload_too_large', param: null });
});

test('a stream that breaks after it started ends with the same envelope as an SSE event', async () => {
  const stream = await sdk('/e-openai').chat.completions.create({ model: 'gpt-4o', messages: USER, stream: true }, { headers: { 'x-mock-mode': 'truncated-sse' } });
  const e = await apiError(
    (async () => {
      for await (const _ of stream);
    })(),
  );
  assert.equal(e.type, 'server_error');
  assert.equal(e.code, 'upstream_truncated');
  assert.equal(e.param, null);
  assert.match(e.message, /ended the stream before it was complete/);
});

test('models.list and models.retrieve on an ai-proxy route: the route\'s model, with the plugin\'s creation time', async () => {
  const client = sdk('/e-openai');
  const created = (await gw.adminRequest('GET', `/plugins/${pluginIds['e-openai']}`)).json.created_at;
  assert.ok(created > 1_600_000_000);
  const list = await client.models.list();
  assert.deepEqual(list.data, [{ id: 'gpt-4o', object: 'model', created, owned_by: 'openai' }]);
  assert.deepEqual(await client.models.retrieve('gpt-4o'), { id: 'gpt-4o', object: 'model', created, owned_by: 'openai' });
  const missing = await apiError(client.models.retrieve('gpt-5'));
  assert.ok(missing instanceof OpenAI.NotFoundError);
  assert.equal(missing.code, 'model_not_found');
  assert.equal(missing.param, 'model');
  // the path some clients use below a route named like a base URL without /v1
  const v1 = await gw.proxyRequest('GET', '/e-openai/v1/models');
  assert.equal(v1.status, 200);
  assert.equal(v1.json.data[0].id, 'gpt-4o');
  // no configured model: the client's is used, so the route lists none and knows any
  const any = sdk('/e-any-model');
  assert.deepEqual((await any.models.list()).data, []);
  assert.equal((await any.models.retrieve('o3-mini')).id, 'o3-mini');
});

test('models.retrieve on the unified endpoint, ids with slashes included; entries carry a real created', async () => {
  const client = sdk('/e-unified/v1');
  const created = (await gw.adminRequest('GET', `/plugins/${pluginIds['e-unified']}`)).json.created_at;
  const list = await client.models.list();
  assert.deepEqual(
    list.data.map((x) => [x.id, x.created, x.owned_by]),
    [
      ['gpt-4o', created, 'openai'],
      ['meta-llama/Llama-3-8b', created, 'vllm'],
    ],
  );
  assert.deepEqual(await client.models.retrieve('gpt-4o'), { id: 'gpt-4o', object: 'model', created, owned_by: 'openai' });
  assert.deepEqual(await client.models.retrieve('meta-llama/Llama-3-8b'), { id: 'meta-llama/Llama-3-8b', object: 'model', created, owned_by: 'vllm' });
  const unencoded = await gw.proxyRequest('GET', '/e-unified/v1/models/meta-llama/Llama-3-8b');
  assert.equal(unencoded.json.id, 'meta-llama/Llama-3-8b');
  const missing = await apiError(client.models.retrieve('gpt-9'));
  assert.ok(missing instanceof OpenAI.NotFoundError);
  assert.equal(missing.code, 'model_not_found');
});
