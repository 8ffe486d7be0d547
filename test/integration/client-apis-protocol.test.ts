/**
 * Issue 18, protocol handling against the real gateway: no protocol confusion (the unified
 * endpoint takes the operation from the path and answers an unknown one 404 in its own shape, an
 * Anthropic or Responses request on a route of another API is a 400 naming the route's API, before
 * any provider call; Kong's body-shape detection still works at the route's own path), errors in
 * the client's own shape (a provider's 429 with its Retry-After, a stream that breaks after it
 * started, a body over the route's limit), and Claude Code's configuration: `ANTHROPIC_BASE_URL` at
 * a key-auth route, `ANTHROPIC_AUTH_TOKEN` as the consumer's key, `?beta=true` and `anthropic-beta`
 * as Claude Code sends them, streamed with tools, and count_tokens.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT } from '../mocks/providers.ts';
import { parseSse } from '../helpers/sse.ts';

const CONSUMER_KEY = 'claude-code-consumer-key-5e8b20d4';
const OPENAI_AUTH = { header_name: 'Authorization', header_value: 'Bearer sk-test' };
const ANTHROPIC_AUTH = { header_name: 'x-api-key', header_value: 'sk-ant-test' };
const ANTHROPIC_HEADERS = { 'anthropic-version': '2023-06-01', 'x-api-key': 'client-key' };
const USER = [{ role: 'user', content: 'What is 1 + 1?' }];
/** The model each route is configured with (a client naming another is refused, as in Kong). */
const MODEL: Record<string, string> = { msgs: 'gpt-4o', 'msgs-native': 'claude-sonnet-4-5', resp: 'claude-sonnet-4-5', 'resp-native': 'gpt-4o' };

let gw: Gateway;
let openai: MockProvider;
let anthropic: MockProvider;

function target(provider: 'openai' | 'anthropic', model: string, routeType = 'llm/v1/chat'): Record<string, unknown> {
  const upstream = provider === 'openai' ? `${openai.url}/v1/${routeType === 'llm/v1/embeddings' ? 'embeddings' : 'chat/completions'}` : `${anthropic.url}/v1/messages`;
  return { route_type: routeType, auth: provider === 'openai' ? OPENAI_AUTH : ANTHROPIC_AUTH, model: { provider, name: model, options: { upstream_url: upstream } } };
}

async function route(name: string, plugin: string, config: Record<string, unknown>): Promise<void> {
  const r = await gw.adminRequest('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: plugin, config });
  assert.equal(p.status, 201, `${name}: ${p.text}`);
}

const calls = () => openai.requests.length + anthropic.requests.length;

/** Nothing reached a provider while `fn` ran. */
async function noProviderCall<T>(fn: () => Promise<T>): Promise<T> {
  const before = calls();
  const out = await fn();
  assert.equal(calls(), before, 'no provider was called');
  return out;
}

function assertOpenAiError(r: HttpResult, status: number, type: string, message?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json?.error, 'object', r.text);
  assert.equal(r.json.error.type, type, r.text);
  assert.ok('code' in r.json.error && 'param' in r.json.error, `OpenAI's whole envelope: ${r.text}`);
  assert.equal(r.json.type, undefined, `not Anthropic's shape: ${r.text}`);
  if (message) assert.match(r.json.error.message, message);
}

function assertAnthropicError(r: HttpResult, status: number, type: string, message?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.type, 'error', `Anthropic's shape: ${r.text}`);
  assert.equal(r.json.error?.type, type, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  if (message) assert.match(r.json.error.message, message);
}

const sse = parseSse;

before(async () => {
  openai = await startMockProvider('openai');
  anthropic = await startMockProvider('anthropic', { models: '*' });
  gw = await Gateway.start({ workers: 1 });
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);

  await route('chat', 'ai-proxy', target('openai', 'gpt-4o'));
  await route('msgs', 'ai-proxy', { ...target('openai', 'gpt-4o'), llm_format: 'anthropic' });
  await route('msgs-native', 'ai-proxy', { ...target('anthropic', 'claude-sonnet-4-5'), llm_format: 'anthropic' });
  await route('msgs-small', 'ai-proxy', { ...target('anthropic', 'claude-sonnet-4-5'), llm_format: 'anthropic', max_request_body_size: 1024 });
  await route('resp', 'ai-proxy', { ...target('anthropic', 'claude-sonnet-4-5'), route_type: 'llm/v1/responses' });
  await route('resp-native', 'ai-proxy', { ...target('openai', 'gpt-4o'), route_type: 'llm/v1/responses' });
  await route('uni', 'ai-proxy-advanced', {
    targets: [target('openai', 'gpt-4o'), { ...target('openai', 'text-embedding-3-small', 'llm/v1/embeddings'), alias: 'embed' }, target('anthropic', 'claude-sonnet-4-5')],
  });
  await route('uni-anthropic', 'ai-proxy-advanced', { llm_format: 'anthropic', targets: [target('anthropic', 'claude-sonnet-4-5')] });

  // Claude Code: ANTHROPIC_BASE_URL=<proxy>/claude, ANTHROPIC_AUTH_TOKEN=<consumer key>
  await route('claude', 'ai-proxy', { ...target('anthropic', 'claude-sonnet-4-5'), llm_format: 'anthropic' });
  assert.equal((await gw.adminRequest('POST', '/consumers', { username: 'dev' })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/consumers/dev/key-auth', { key: CONSUMER_KEY })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/routes/claude/plugins', { name: 'key-auth', config: { key_names: ['x-api-key', 'authorization'] } })).status, 201);
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await anthropic?.close();
});

describe('no protocol confusion', () => {
  test("the unified endpoint's …/v1/responses naming an embeddings target is never answered with embeddings", async () => {
    const r = await noProviderCall(() => gw.proxyRequest('POST', '/uni/v1/responses', { model: 'embed', input: 'What is 1 + 1?' }));
    assert.ok(r.status === 404 || r.status === 400, `${r.status} ${r.text}`);
    assert.notEqual(r.json?.object, 'list', 'not an embeddings list');
    assertOpenAiError(r, r.status, 'invalid_request_error');
    if (r.status === 404) assert.equal(r.json.error.code, 'model_not_found');
    // the same name at …/embeddings is the embeddings target
    const embeddings = await gw.proxyRequest('POST', '/uni/v1/embeddings', { model: 'embed', input: 'What is 1 + 1?' });
    assert.equal(embeddings.status, 200, embeddings.text);
    assert.equal(embeddings.json.object, 'list');
  });

  test('an unknown path below the unified endpoint: 404 in the endpoint\'s own shape, no provider call', async () => {
    const r = await noProviderCall(() => gw.proxyRequest('POST', '/uni/v1/unknown', { model: 'gpt-4o', messages: USER }));
    assertOpenAiError(r, 404, 'invalid_request_error', /no AI operation at/);
    assert.equal(r.json.error.code, 'unknown_operation');
    const anthropicShaped = await noProviderCall(() => gw.proxyRequest('POST', '/uni-anthropic/v1/unknown', { model: 'claude-sonnet-4-5', max_tokens: 64, messages: USER }, ANTHROPIC_HEADERS));
    assertAnthropicError(anthropicShaped, 404, 'not_found_error', /no AI operation at/);
  });

  test('an Anthropic request on an OpenAI chat route: 400 in Anthropic\'s shape naming the route\'s API, no provider call', async () => {
    const body = { model: 'gpt-4o', max_tokens: 64, messages: USER };
    const byPath = await noProviderCall(() => gw.proxyRequest('POST', '/chat/v1/messages', body, ANTHROPIC_HEADERS));
    assertAnthropicError(byPath, 400, 'invalid_request_error', /OpenAI Chat Completions/);
    const byHeader = await noProviderCall(() => gw.proxyRequest('POST', '/chat', body, ANTHROPIC_HEADERS));
    assertAnthropicError(byHeader, 400, 'invalid_request_error', /OpenAI Chat Completions/);
    const streamed = await noProviderCall(() => gw.proxyRequest('POST', '/chat/v1/messages', { ...body, stream: true }, ANTHROPIC_HEADERS));
    assertAnthropicError(streamed, 400, 'invalid_request_error', /OpenAI Chat Completions/);
    assert.match(streamed.headers.get('content-type') ?? '', /^application\/json/, 'a JSON refusal, not an empty stream');
  });

  test('a Responses request on a chat route (…/responses): 400 in OpenAI\'s shape naming the route\'s API, no provider call', async () => {
    const r = await noProviderCall(() => gw.proxyRequest('POST', '/chat/responses', { model: 'gpt-4o', input: 'What is 1 + 1?' }));
    assertOpenAiError(r, 400, 'invalid_request_error', /OpenAI Chat Completions/);
    assert.match(r.json.error.message, /Responses/);
    const v1 = await noProviderCall(() => gw.proxyRequest('POST', '/chat/v1/responses', { model: 'gpt-4o', input: 'What is 1 + 1?', stream: true }));
    assertOpenAiError(v1, 400, 'invalid_request_error', /OpenAI Chat Completions/);
  });

  test('a Chat Completions request on an Anthropic route (…/chat/completions): 400 in OpenAI\'s shape naming the route\'s API', async () => {
    const r = await noProviderCall(() => gw.proxyRequest('POST', '/msgs/v1/chat/completions', { model: 'gpt-4o', messages: USER }));
    assertOpenAiError(r, 400, 'invalid_request_error', /Anthropic Messages/);
    assert.match(r.json.error.message, /Chat Completions/);
  });

  test("Kong's format detection still works at the unified route's own path", async () => {
    const chat = await gw.proxyRequest('POST', '/uni', { model: 'gpt-4o', messages: USER });
    assert.equal(chat.status, 200, chat.text);
    assert.equal(chat.json.object, 'chat.completion');
    assert.equal(chat.json.choices[0].message.content, DEFAULT_TEXT);
    const embeddings = await gw.proxyRequest('POST', '/uni', { model: 'embed', input: 'What is 1 + 1?' });
    assert.equal(embeddings.status, 200, embeddings.text);
    assert.equal(embeddings.json.object, 'list');
    // an Anthropic unified route takes its llm_format at its own path
    const messages = await gw.proxyRequest('POST', '/uni-anthropic', { model: 'claude-sonnet-4-5', max_tokens: 64, messages: USER }, ANTHROPIC_HEADERS);
    assert.equal(messages.status, 200, messages.text);
    assert.equal(messages.json.type, 'message');
  });
});

describe("errors in the client's own shape", () => {
  for (const [routeName, mock] of [
    ['msgs-native', () => anthropic],
    ['msgs', () => openai],
  ] as const) {
    test(`${routeName}: a provider's 429 reaches the Anthropic client as rate_limit_error with its Retry-After`, async () => {
      mock().nextResponse('429:7');
      const r = await gw.proxyRequest('POST', `/${routeName}/v1/messages`, { model: MODEL[routeName], max_tokens: 64, messages: USER }, ANTHROPIC_HEADERS);
      assert.equal(r.status, 429, r.text);
      assert.equal(mock().requests.at(-1)!.status, 429);
      assert.equal(r.headers.get('retry-after'), '7');
      assertAnthropicError(r, 429, 'rate_limit_error');
    });
  }

  for (const [routeName, mock] of [
    ['resp', () => anthropic],
    ['resp-native', () => openai],
  ] as const) {
    test(`${routeName}: a provider's 429 reaches the Responses client in OpenAI's envelope with its Retry-After`, async () => {
      mock().nextResponse('429:7');
      const r = await gw.proxyRequest('POST', `/${routeName}/responses`, { model: MODEL[routeName], input: 'What is 1 + 1?' });
      assert.equal(r.status, 429, r.text);
      assert.equal(mock().requests.at(-1)!.status, 429);
      assert.equal(r.headers.get('retry-after'), '7');
      // OpenAI's own error passes through as OpenAI wrote it (its `type` is "requests" or "tokens"); the code is OpenAI's either way
      assert.equal(r.json?.type, undefined, `not Anthropic's shape: ${r.text}`);
      assert.equal(r.json?.error?.code, 'rate_limit_exceeded', r.text);
      assert.equal(typeof r.json.error.message, 'string');
      assert.ok('param' in r.json.error, r.text);
    });
  }

  for (const routeName of ['msgs', 'msgs-native']) {
    test(`${routeName}: a stream the provider breaks ends with Anthropic's error event, never a normal end`, async () => {
      const r = await gw.proxyRequest('POST', `/${routeName}/v1/messages`, { model: MODEL[routeName], max_tokens: 64, messages: USER, stream: true }, { ...ANTHROPIC_HEADERS, 'x-mock-mode': 'reset-mid-stream' });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
      const events = sse(r.text);
      assert.equal(events[0]?.event, 'message_start', r.text);
      const last = events.at(-1)!;
      assert.equal(last.event, 'error', r.text);
      assert.equal(last.data.type, 'error');
      assert.equal(typeof last.data.error?.type, 'string');
      assert.equal(typeof last.data.error?.message, 'string');
      assert.ok(!events.some((e) => e.event === 'message_stop'), 'no message_stop');
      assert.ok(!r.text.includes('[DONE]'));
    });
  }

  for (const routeName of ['resp', 'resp-native']) {
    test(`${routeName}: a stream the provider breaks ends with error then response.failed, sequence numbers continuing`, async () => {
      const r = await gw.proxyRequest('POST', `/${routeName}/responses`, { model: MODEL[routeName], input: 'What is 1 + 1?', stream: true }, { 'x-mock-mode': 'reset-mid-stream' });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
      const events = sse(r.text).map((e) => e.data);
      assert.equal(events[0]?.type, 'response.created', r.text);
      assert.deepEqual(events.slice(-2).map((e) => e?.type), ['error', 'response.failed'], r.text);
      assert.deepEqual(
        events.map((e) => e.sequence_number),
        events.map((_, i) => i),
        'one sequence, from 0, the error events included',
      );
      const failed = events.at(-1).response;
      assert.equal(failed.status, 'failed');
      assert.equal(typeof failed.error?.message, 'string');
      assert.ok(!events.some((e) => e?.type === 'response.completed'));
      assert.ok(!r.text.includes('[DONE]'));
    });
  }

  test("a body over max_request_body_size on an Anthropic route: 413 in Anthropic's shape, no provider call", async () => {
    const r = await noProviderCall(() => gw.proxyRequest('POST', '/msgs-small/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'x'.repeat(5000) }] }, ANTHROPIC_HEADERS));
    assertAnthropicError(r, 413, 'request_too_large');
  });
});

describe("Claude Code's configuration", () => {
  const BETAS = 'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14';
  const claudeHeaders = (key = CONSUMER_KEY) => ({ authorization: `Bearer ${key}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': BETAS, 'x-app': 'cli', 'user-agent': 'claude-cli/2.0.0 (external, cli)' });
  const tools = [
    {
      name: 'Read',
      description: 'Reads a file from the local filesystem.',
      input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'], additionalProperties: false },
    },
  ];
  const system = [
    { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude." },
    { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } },
  ];

  test('a streamed Messages call with tools at <route>/v1/messages?beta=true: the answer streams, anthropic-beta reaches Anthropic, the consumer key does not', async () => {
    const before = anthropic.requests.length;
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 32000,
      system,
      tools,
      tool_choice: { type: 'tool', name: 'Read' },
      metadata: { user_id: 'user_abc_account__session_123' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Read package.json', cache_control: { type: 'ephemeral' } }] }],
      stream: true,
    };
    const r = await gw.proxyRequest('POST', '/claude/v1/messages?beta=true', body, claudeHeaders());
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sse(r.text).map((e) => e.data);
    assert.equal(events[0]?.type, 'message_start');
    assert.equal(events.at(-1)?.type, 'message_stop', r.text);
    const toolStart = events.find((e) => e?.type === 'content_block_start' && e.content_block.type === 'tool_use');
    assert.ok(toolStart, r.text);
    assert.equal(toolStart.content_block.name, 'Read');
    const input = events.filter((e) => e?.type === 'content_block_delta' && e.delta.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
    assert.equal(typeof JSON.parse(input).file_path, 'string');
    assert.equal(events.find((e) => e?.type === 'message_delta')?.delta.stop_reason, 'tool_use');

    const upstream = anthropic.requests.slice(before);
    assert.equal(upstream.length, 1);
    const [sent] = upstream;
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.status, 200, sent.body);
    assert.equal(sent.headers['anthropic-beta'], BETAS, 'the client\'s betas reach Anthropic');
    assert.equal(sent.headers['x-api-key'], 'sk-ant-test', "the route's key");
    assert.equal(sent.headers.authorization, undefined, "the client's Authorization is not forwarded");
    assert.ok(!JSON.stringify(sent.headers).includes(CONSUMER_KEY), 'the consumer key stays at the gateway');
    assert.deepEqual((sent.json as { tools: unknown }).tools, tools);
    assert.deepEqual((sent.json as { system: unknown }).system, system, 'cache_control kept');
  });

  test('the tool result goes back and the answer streams to its end', async () => {
    const r = await gw.proxyRequest(
      'POST',
      '/claude/v1/messages?beta=true',
      {
        model: 'claude-sonnet-4-5',
        max_tokens: 32000,
        system,
        tools,
        stream: true,
        messages: [
          { role: 'user', content: 'Read package.json' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01A', name: 'Read', input: { file_path: 'package.json' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: '{"name":"x"}' }] },
        ],
      },
      claudeHeaders(),
    );
    assert.equal(r.status, 200, r.text);
    const events = sse(r.text).map((e) => e.data);
    const text = events.filter((e) => e?.type === 'content_block_delta' && e.delta.type === 'text_delta').map((e) => e.delta.text).join('');
    assert.equal(text, DEFAULT_TEXT);
    assert.equal(events.at(-1)?.type, 'message_stop');
  });

  test('count_tokens at <route>/v1/messages/count_tokens?beta=true: Anthropic counts it, with the betas and without the consumer key', async () => {
    const before = anthropic.requests.length;
    const r = await gw.proxyRequest('POST', '/claude/v1/messages/count_tokens?beta=true', { model: 'claude-sonnet-4-5', system, tools, messages: [{ role: 'user', content: 'What is the capital of France?' }] }, claudeHeaders());
    assert.equal(r.status, 200, r.text);
    assert.ok(Number.isInteger(r.json.input_tokens) && r.json.input_tokens > 0, r.text);
    const [sent] = anthropic.requests.slice(before);
    assert.ok(sent, 'Anthropic was asked');
    assert.equal(sent.path, '/v1/messages/count_tokens');
    assert.equal(sent.headers['anthropic-beta'], BETAS);
    assert.ok(!JSON.stringify(sent.headers).includes(CONSUMER_KEY));
  });

  test('a wrong ANTHROPIC_AUTH_TOKEN: 401 authentication_error in Anthropic\'s shape, no provider call', async () => {
    const r = await noProviderCall(() => gw.proxyRequest('POST', '/claude/v1/messages?beta=true', { model: 'claude-sonnet-4-5', max_tokens: 64, messages: USER }, claudeHeaders('not-the-key')));
    assertAnthropicError(r, 401, 'authentication_error', /Invalid authentication credentials/);
    const counted = await noProviderCall(() => gw.proxyRequest('POST', '/claude/v1/messages/count_tokens?beta=true', { model: 'claude-sonnet-4-5', messages: USER }, claudeHeaders('not-the-key')));
    assertAnthropicError(counted, 401, 'authentication_error');
  });
});
