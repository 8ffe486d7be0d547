import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { validateClientRequest } from '../../src/llm/validate.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { PROVIDERS, RequestError, TranslationError, type ClientRequest, type LlmRouteType, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import { buildFor, buildWithContext, context, parseFor, type ContextInit } from '../conformance/support.ts';

type Json = Record<string, any>;
const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';

const build = buildFor;
const parse = parseFor;

function url(provider: ProviderName, init: Partial<ContextInit> = {}): string {
  return getDriver(provider).endpoint(context({ provider, ...init })).url;
}

const requestError = (message: string | RegExp) => (e: unknown) =>
  e instanceof RequestError && (typeof message === 'string' ? e.message === message : message.test(e.message));

const hi = { messages: [{ role: 'user', content: 'hi' }] };

describe('endpoints', () => {
  it('uses Kong default URLs', () => {
    assert.equal(url('openai'), 'https://api.openai.com:443/v1/chat/completions');
    assert.equal(url('openai', { routeType: COMPLETIONS }), 'https://api.openai.com:443/v1/completions');
    assert.equal(url('cohere'), 'https://api.cohere.com:443/v1/chat');
    assert.equal(url('cohere', { routeType: COMPLETIONS }), 'https://api.cohere.com:443/v1/generate');
    assert.equal(url('anthropic'), 'https://api.anthropic.com:443/v1/messages');
    assert.equal(url('anthropic', { routeType: COMPLETIONS }), 'https://api.anthropic.com:443/v1/messages');
    assert.equal(url('mistral', { options: { mistral_format: 'openai' } }), 'https://api.mistral.ai:443/v1/chat/completions');
    const azure = { azure_instance: 'ai-proxy-regression', azure_deployment_id: 'kong-gpt-3-5' };
    assert.equal(url('azure', { options: azure }), 'https://ai-proxy-regression.openai.azure.com:443/openai/deployments/kong-gpt-3-5/chat/completions?api-version=2023-05-15');
    assert.equal(
      url('azure', { routeType: COMPLETIONS, options: { ...azure, azure_api_version: '2024-10-21' } }),
      'https://ai-proxy-regression.openai.azure.com:443/openai/deployments/kong-gpt-3-5/completions?api-version=2024-10-21',
    );
  });

  it('lets upstream_url replace scheme, host, port and path, ignoring its query and credentials', () => {
    const upstream_url = 'http://user:pw@mock.local:8080/openai/chat?x=1#frag';
    assert.equal(url('openai', { options: { upstream_url } }), 'http://mock.local:8080/openai/chat');
    assert.equal(url('anthropic', { options: { upstream_url } }), 'http://mock.local:8080/openai/chat');
    assert.equal(url('llama2', { options: { upstream_url, llama2_format: 'raw' } }), 'http://mock.local:8080/openai/chat');
    // Azure still adds api-version, as Kong does.
    assert.equal(url('azure', { options: { upstream_url, azure_api_version: '2024-02-01' } }), 'http://mock.local:8080/openai/chat?api-version=2024-02-01');
  });

  it('applies upstream_path to the default host', () => {
    assert.equal(url('openai', { options: { upstream_path: '/v1/responses' } }), 'https://api.openai.com:443/v1/responses');
    assert.throws(() => url('openai', { options: { upstream_path: '//evil.com/x' } }), RequestError);
    assert.throws(() => url('openai', { options: { upstream_path: '/x?key=1' } }), RequestError);
  });

  it('never lets an Azure instance or deployment change the host (T72)', () => {
    for (const instance of ['x#', 'x?key=evil', '../', 'a@evil', 'evil.com', 'x.evil.com', 'x\r\nHost: evil', 'x%2e%2e%2f', 'x。evil', '', 'x/y', '-x']) {
      assert.throws(() => url('azure', { options: { azure_instance: instance, azure_deployment_id: 'd' } }), requestError(/azure_instance/), instance);
    }
    for (const deployment of ['..', '.', 'a/b', '../../x', 'a?b', 'a#b', 'a b', 'a%2Fb', 'a\nb']) {
      assert.throws(() => url('azure', { options: { azure_instance: 'ok', azure_deployment_id: deployment } }), requestError(/azure_deployment_id/), deployment);
    }
    assert.match(url('azure', { options: { azure_instance: 'ok', azure_deployment_id: 'gpt-4o.v2_1' } }), /^https:\/\/ok\.openai\.azure\.com:443\//);
  });

  it('encodes api-version and rejects unsafe upstream URLs', () => {
    assert.match(url('azure', { options: { azure_instance: 'ok', azure_deployment_id: 'd', azure_api_version: '2024&key=x' } }), /\?api-version=2024%26key%3Dx$/);
    assert.throws(() => url('openai', { options: { upstream_url: 'http://a\r\nb.com/' } }), RequestError);
    assert.throws(() => url('openai', { options: { upstream_url: 'file:///etc/passwd' } }), RequestError);
    assert.throws(() => url('openai', { options: { upstream_url: 'not a url' } }), RequestError);
  });

  it('requires upstream_url for self-hosted formats', () => {
    assert.throws(() => url('llama2', { options: { llama2_format: 'raw' } }), requestError(/upstream_url/));
    assert.throws(() => url('mistral', { options: { mistral_format: 'ollama' } }), requestError(/upstream_url/));
  });

  it('sends anthropic-version (default 2023-06-01) and content-type', () => {
    const endpoint = (options: Partial<ModelOptions>) => getDriver('anthropic').endpoint(context({ provider: 'anthropic', options }));
    assert.deepEqual(endpoint({}).headers, { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
    assert.equal(endpoint({ anthropic_version: '2024-01-01' }).headers['anthropic-version'], '2024-01-01');
    assert.throws(() => endpoint({ anthropic_version: '2023-06-01\r\nx-evil: 1' }), RequestError);
    for (const provider of ['openai', 'cohere'] as const) assert.deepEqual(getDriver(provider).endpoint(context({ provider })).headers, {});
  });

  it('maps any configured Anthropic auth header to x-api-key', () => {
    const auth = getDriver('anthropic').authHeader!;
    assert.deepEqual(auth('apikey', 'sk-ant-1'), ['x-api-key', 'sk-ant-1']);
    assert.deepEqual(auth('x-api-key', 'sk-ant-1'), ['x-api-key', 'sk-ant-1']);
    assert.deepEqual(auth('Authorization', 'Bearer sk-ant-1'), ['x-api-key', 'sk-ant-1']);
    assert.deepEqual(auth('Authorization', 'bearer  sk-ant-1'), ['x-api-key', 'sk-ant-1']);
    for (const provider of ['openai', 'azure', 'cohere', 'mistral', 'llama2'] as const) assert.equal(getDriver(provider).authHeader, undefined);
  });
});

describe('OpenAI-compatible requests', () => {
  it('passes the client body through with the configured model and explicit stream', () => {
    const client = { ...hi, user: 'u1', logit_bias: { 1: 2 }, tools: [{ type: 'function', function: { name: 'f' } }], model: 'gpt-4' };
    const body = build('openai', client, { model: 'gpt-4o' });
    assert.deepEqual(body, { ...client, model: 'gpt-4o', stream: false });
    assert.equal(client.model, 'gpt-4', 'the client object is not mutated');
  });

  it('lets configured options win and sends no top_k', () => {
    const body = build('openai', { ...hi, max_tokens: 10, temperature: 0.1, top_p: 0.2 }, { options: { max_tokens: 1024, top_p: 0.5, top_k: 40 } });
    assert.equal(body.max_tokens, 1024);
    assert.equal(body.temperature, 0.1, 'no configured temperature: the client value stays');
    assert.equal(body.top_p, 0.5);
    assert.equal('top_k' in body, false);
  });

  it('puts the configured max_tokens where reasoning models want it', () => {
    assert.deepEqual(pick(build('openai', hi, { model: 'o3-mini', options: { max_tokens: 300 } })), { max_completion_tokens: 300 });
    assert.deepEqual(pick(build('openai', { ...hi, max_completion_tokens: 9 }, { options: { max_tokens: 300 } })), { max_completion_tokens: 300 });
    assert.deepEqual(pick(build('openai', hi, { model: 'gpt-4o', options: { max_tokens: 300 } })), { max_tokens: 300 });
    // Self-hosted servers get the plain field whatever the model is called.
    assert.deepEqual(pick(build('llama2', hi, { model: 'o1-local', options: { max_tokens: 300, llama2_format: 'openai', upstream_url: 'http://x/' } })), { max_tokens: 300 });
    function pick(body: Json) {
      return Object.fromEntries(Object.entries(body).filter(([k]) => k === 'max_tokens' || k === 'max_completion_tokens'));
    }
  });

  it('asks OpenAI for streamed usage, keeping the client stream_options', () => {
    const body = build('openai', { ...hi, stream: true, stream_options: { include_obfuscation: false } }, { stream: true });
    assert.deepEqual(body.stream_options, { include_obfuscation: false, include_usage: true });
    assert.equal(build('openai', { ...hi, stream_options: { include_usage: true } }).stream_options, undefined, 'not streaming: OpenAI rejects stream_options');
  });

  it('asks Azure for streamed usage only from api-version 2024-09-01 on', () => {
    const azure = (version: string) => build('azure', hi, { stream: true, options: { azure_instance: 'i', azure_deployment_id: 'd', azure_api_version: version } });
    assert.equal(azure('2023-05-15').stream_options, undefined);
    assert.equal(azure('2024-06-01').stream_options, undefined);
    assert.deepEqual(azure('2024-10-21').stream_options, { include_usage: true });
    assert.deepEqual(azure('2025-04-01-preview').stream_options, { include_usage: true });
  });

  it('never adds stream_options for Mistral or self-hosted servers', () => {
    assert.equal(build('mistral', hi, { stream: true, options: { mistral_format: 'openai' } }).stream_options, undefined);
    assert.equal(build('llama2', hi, { stream: true, options: { llama2_format: 'openai', upstream_url: 'http://x/' } }).stream_options, undefined);
  });

  it('bridges a completions route to Mistral chat completions', () => {
    const options = { mistral_format: 'openai' as const, max_tokens: 50 };
    const body = build('mistral', { prompt: 'Say hi', suffix: 'x' }, { routeType: COMPLETIONS, model: 'mistral-small', options });
    // `suffix` is a completions-only field: chat completions have nothing to put it in
    assert.deepEqual(body, { messages: [{ role: 'user', content: 'Say hi' }], model: 'mistral-small', stream: false, max_tokens: 50 });
    const answer = parse(
      'mistral',
      { id: 'cmpl-1', object: 'chat.completion', created: 5, model: 'mistral-small-2409', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'length' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
      { routeType: COMPLETIONS, options },
    );
    assert.deepEqual(answer, {
      id: 'cmpl-1',
      object: 'text_completion',
      created: 5,
      model: 'mistral-small-2409',
      choices: [{ index: 0, text: 'Hi!', logprobs: null, finish_reason: 'length' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    // With an upstream_url the server is OpenAI-compatible and has its own completions endpoint.
    assert.equal(build('mistral', { prompt: 'p' }, { routeType: COMPLETIONS, options: { mistral_format: 'openai', upstream_url: 'http://x/v1/completions' } }).prompt, 'p');
  });
});

describe('OpenAI-compatible responses', () => {
  const ctx = context({ provider: 'openai' });
  const openai = getDriver('openai');

  it('returns the upstream bytes unchanged, reads usage and model, and hands over what it parsed (tracing reads the id there)', () => {
    const text = '{"id":"c1","object":"chat.completion","model":"gpt-4o-2024","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}  ';
    assert.deepEqual(openai.parseResponse(text, ctx), { body: text, usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, responseModel: 'gpt-4o-2024', parsed: JSON.parse(text) });
  });

  it('reports no usage when it is absent or malformed', () => {
    assert.equal(openai.parseResponse('{"choices":[]}', ctx).usage, null);
    assert.equal(openai.parseResponse('{"choices":[],"usage":{"prompt_tokens":"1","completion_tokens":2}}', ctx).usage, null);
  });

  it('rejects what is not an OpenAI answer', () => {
    for (const text of ['<html>', '', '{"choices": {}}', '[]', 'null', '{"choices"']) {
      assert.throws(() => openai.parseResponse(text, ctx), TranslationError, text);
    }
  });
});

describe('Anthropic requests', () => {
  it('moves system and developer messages to `system` and merges consecutive turns', () => {
    const body = build('anthropic', {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use French.' }] },
        { role: 'user', content: 'a' },
        { role: 'user', content: 'b' },
        { role: 'assistant', content: 'c' },
        { role: 'system', content: 'Late rule.' },
        { role: 'user', content: 'd' },
      ],
    });
    assert.equal(body.system, 'Be brief.\n\nUse French.\n\nLate rule.');
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      { role: 'assistant', content: 'c' },
      { role: 'user', content: 'd' },
    ]);
  });

  it('translates tool calls and parallel tool results', () => {
    const body = build('anthropic', {
      messages: [
        { role: 'user', content: 'weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'c2', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'rain' }] },
      ],
      tools: [{ type: 'function', function: { name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    assert.deepEqual(body.messages[1], {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'c1', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'c2', name: 'weather', input: {} },
      ],
    });
    assert.deepEqual(body.messages[2], {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'c1', content: 'sunny' },
        { type: 'tool_result', tool_use_id: 'c2', content: 'rain' },
      ],
    });
    assert.deepEqual(body.tools, [{ name: 'weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);
    assert.deepEqual(body.tool_choice, { type: 'any', disable_parallel_tool_use: true });
  });

  it('refuses what it cannot express', () => {
    const call = (args: string) => ({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: args } }] }] });
    assert.throws(() => build('anthropic', call('not json')), requestError('messages[1].tool_calls[0].function.arguments: expected a JSON object'));
    assert.throws(() => build('anthropic', call('[1]')), requestError('messages[1].tool_calls[0].function.arguments: expected a JSON object'));
    assert.throws(() => build('anthropic', { ...hi, n: 2 }), requestError(/^n:/));
    assert.throws(() => build('anthropic', { messages: [{ role: 'function', name: 'f', content: 'x' }] }), requestError(/^messages\[0\]\.name: no earlier assistant function_call/));
    assert.throws(() => build('anthropic', { messages: [{ role: 'system', content: 'only rules' }] }), requestError(/at least one user or assistant message/));
    assert.throws(() => build('anthropic', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }), requestError('messages[0].content[0].input_audio: expected {"data": string, "format": string}'));
    assert.throws(() => build('anthropic', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }), requestError(/^messages\[0\]\.content\[0\]: .*not supported by the anthropic provider$/));
    assert.throws(() => build('anthropic', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }), requestError(/image_url\.url/));
    assert.throws(() => build('anthropic', { ...hi, tools: [{ type: 'code_interpreter' }] }), requestError(/^tools\[0\]: .*'code_interpreter'.* the anthropic provider/));
    assert.throws(() => build('anthropic', { ...hi, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'sometimes' }), requestError(/^tool_choice/));
  });

  it('sends images inline or by URL', () => {
    const body = build('anthropic', {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
          ],
        },
      ],
    });
    assert.deepEqual(body.messages[0].content, [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('requires max_tokens, clamps temperature and sends top_p only without temperature', () => {
    assert.equal(build('anthropic', hi).max_tokens, 256);
    assert.equal(build('anthropic', { ...hi, max_tokens: 99 }).max_tokens, 99);
    assert.equal(build('anthropic', { ...hi, max_tokens: 99 }, { options: { max_tokens: 512 } }).max_tokens, 512);
    assert.equal(build('anthropic', { ...hi, temperature: 1.7 }).temperature, 1);
    assert.equal(build('anthropic', hi, { options: { temperature: 3 } }).temperature, 1);
    // Claude takes one of them: by default a 400 naming top_p; dropped (and named) under `drop`
    assert.throws(() => build('anthropic', { ...hi, temperature: 0.3, top_p: 0.9 }), requestError(/^top_p: /));
    const { body: both, ctx } = buildWithContext('anthropic', { ...hi, temperature: 0.3, top_p: 0.9 }, { policy: 'drop' });
    assert.deepEqual([both.temperature, 'top_p' in both, ctx.dropped], [0.3, false, ['top_p']]);
    assert.equal(build('anthropic', { ...hi, top_p: 0.9 }).top_p, 0.9);
    assert.equal(build('anthropic', hi, { options: { top_k: 0 } }).top_k, undefined, 'top_k 0 (Kong 3.6 default) means unset');
    assert.equal(build('anthropic', hi, { options: { top_k: 5 } }).top_k, 5);
    assert.deepEqual(build('anthropic', { ...hi, stop: 'END' }).stop_sequences, ['END']);
    assert.deepEqual(build('anthropic', { ...hi, user: 'u-42' }).metadata, { user_id: 'u-42' });
  });

  it('turns a completions prompt into one user message', () => {
    assert.deepEqual(build('anthropic', { prompt: 'Why?' }, { routeType: COMPLETIONS, model: 'claude-3-5-haiku', stream: true }), {
      model: 'claude-3-5-haiku',
      messages: [{ role: 'user', content: 'Why?' }],
      max_tokens: 256,
      stream: true,
    });
  });
});

describe('Anthropic responses', () => {
  it('maps text, tool_use, stop reasons and usage (cache tokens included)', () => {
    const answer = parse('anthropic', {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 's' },
        { type: 'text', text: 'Let me ' },
        { type: 'text', text: 'check.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, cache_read_input_tokens: 100, cache_creation_input_tokens: 5, output_tokens: 20 },
    });
    assert.deepEqual(answer, {
      id: 'msg_1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'claude-sonnet-4-5',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Let me check.',
            // the thinking as text, and with its signature for clients that echo reasoning_details back
            reasoning_content: 'hmm',
            reasoning_details: [{ type: 'reasoning.text', text: 'hmm', signature: 's', format: 'anthropic-claude-v1', index: 0 }],
            tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 115, completion_tokens: 20, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 5 } },
    });
  });

  it('answers null content for a tool-only answer and maps every stop reason', () => {
    const reasons: [unknown, unknown][] = [['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'], ['pause_turn', 'stop'], ['something_new', 'stop'], [null, null]];
    for (const [reason, expected] of reasons) {
      const answer = parse('anthropic', { content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }], stop_reason: reason });
      assert.equal(answer.choices[0].message.content, null);
      assert.equal(answer.choices[0].finish_reason, expected, String(reason));
      assert.equal(answer.id, 'chatcmpl-gateway', 'no id from the provider: ctx.id');
      assert.equal(answer.model, 'test-model', 'no model from the provider: ctx.model');
    }
  });

  it('answers a completions route with a text_completion', () => {
    const answer = parse('anthropic', { content: [{ type: 'text', text: 'Because.' }], stop_reason: 'max_tokens', usage: { input_tokens: 3, output_tokens: 1 } }, { routeType: COMPLETIONS });
    assert.equal(answer.object, 'text_completion');
    assert.deepEqual(answer.choices, [{ index: 0, text: 'Because.', logprobs: null, finish_reason: 'length' }]);
  });
});

describe('Cohere', () => {
  it('sends system messages as the preamble and maps roles', () => {
    const body = build('cohere', {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { role: 'system', content: 'Now French.' },
        { role: 'user', content: [{ type: 'text', text: 'c' }] },
      ],
      stop: ['\n'],
      seed: 7,
      connectors: [{ id: 'web-search' }],
    });
    assert.deepEqual(body, {
      connectors: [{ id: 'web-search' }],
      preamble: 'Be brief.',
      chat_history: [
        { role: 'USER', message: 'a' },
        { role: 'CHATBOT', message: 'b' },
        { role: 'SYSTEM', message: 'Now French.' },
      ],
      message: 'c',
      model: 'test-model',
      stream: false,
      stop_sequences: ['\n'],
      seed: 7,
    });
  });

  it('refuses tools and maps generate parameters', () => {
    assert.throws(() => build('cohere', { ...hi, tools: [{ type: 'function', function: { name: 'f' } }] }), requestError(/^tools:/));
    assert.throws(() => build('cohere', { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }), requestError(/^messages\[1\]\.tool_calls\[0\]: tool calls is not supported by the cohere provider$/));
    assert.deepEqual(build('cohere', { prompt: 'p', n: 3, top_p: 0.001, truncate: 'START' }, { routeType: COMPLETIONS, options: { top_k: 10 } }), {
      truncate: 'START',
      prompt: 'p',
      model: 'test-model',
      stream: false,
      p: 0.01,
      k: 10,
      num_generations: 3,
    });
  });

  it('maps finish reasons and refuses failed generations', () => {
    const chat = (extra: Json) => parse('cohere', { text: 'x', generation_id: 'g', ...extra });
    assert.equal(chat({ finish_reason: 'MAX_TOKENS' }).choices[0].finish_reason, 'length');
    assert.equal(chat({ finish_reason: 'COMPLETE' }).choices[0].finish_reason, 'stop');
    assert.equal(chat({}).choices[0].finish_reason, 'stop');
    assert.equal(chat({ finish_reason: 'ERROR_TOXIC' }).choices[0].finish_reason, 'content_filter');
    assert.throws(() => chat({ finish_reason: 'ERROR' }), TranslationError);
    assert.deepEqual(chat({ token_count: { prompt_tokens: 4, response_tokens: 6, total_tokens: 10 } }).usage, { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 });
    const generate = parse('cohere', { id: 'x', generations: [{ text: 'a' }, { text: 'b', finish_reason: 'MAX_TOKENS' }] }, { routeType: COMPLETIONS });
    assert.deepEqual(
      generate.choices.map((c: Json) => [c.index, c.text, c.finish_reason]),
      [
        [0, 'a', 'stop'],
        [1, 'b', 'length'],
      ],
    );
  });
});

describe('Ollama format', () => {
  const ollama = { options: { llama2_format: 'ollama' as const, upstream_url: 'http://ollama:11434/api/chat' } };

  it('builds /api/chat bodies with options, images, tools and format', () => {
    const body = build(
      'llama2',
      {
        messages: [
          { role: 'developer', content: 'rules' },
          { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'a cat' },
        ],
        tools: [{ type: 'function', function: { name: 'lookup' } }],
        response_format: { type: 'json_object' },
        keep_alive: '5m',
        max_tokens: 100,
        top_p: 0.9,
        seed: 1,
      },
      { ...ollama, stream: true, model: 'llava' },
    );
    assert.deepEqual(body, {
      model: 'llava',
      messages: [
        { role: 'system', content: 'rules' },
        { role: 'user', content: 'what is this?', images: ['AAAA'] },
        { role: 'assistant', content: '', tool_calls: [{ id: 'c1', function: { index: 0, name: 'lookup', arguments: { q: 'cat' } } }] },
        { role: 'tool', content: 'a cat', tool_name: 'lookup', tool_call_id: 'c1' },
      ],
      stream: true,
      keep_alive: '5m',
      format: 'json',
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
      options: { num_predict: 100, top_p: 0.9, seed: 1 },
    });
    assert.throws(() => build('llama2', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, ollama), requestError(/^messages\[0\]\.content\[0\]: image URLs \(Ollama takes base64 images only\) is not supported by the llama2 provider$/));
  });

  it('answers with epoch-second created, usage and done_reason', () => {
    const base = { model: 'llama3', created_at: '2024-01-15T08:13:38.876196Z', message: { role: 'assistant', content: 'hi' }, done: true };
    const answer = parse('llama2', { ...base, done_reason: 'length', prompt_eval_count: 3, eval_count: 4 }, ollama);
    assert.equal(answer.created, 1705306418);
    assert.equal(answer.choices[0].finish_reason, 'length');
    assert.deepEqual(answer.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    assert.deepEqual(parse('llama2', { ...base, eval_count: 4 }, ollama).usage, { prompt_tokens: 0, completion_tokens: 4, total_tokens: 4 }, 'a cached prompt has no prompt_eval_count');
    assert.equal(parse('llama2', base, ollama).usage, null);
    assert.equal(parse('llama2', { ...base, created_at: 'yesterday' }, ollama).created, 1_700_000_000);
    assert.equal(parse('llama2', { ...base, eval_count: 512 }, { options: { ...ollama.options, max_tokens: 512 } }).choices[0].finish_reason, 'length', "Kong's rule without done_reason");
    const tools = parse('llama2', { ...base, message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] } }, ollama);
    assert.deepEqual(tools.choices[0].message.tool_calls, [{ id: 'call_chatcmpl-gateway_0', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }]);
    assert.equal(tools.choices[0].finish_reason, 'tool_calls');
    assert.throws(() => parse('llama2', { error: 'model "x" not found' }, ollama), (e: unknown) => e instanceof TranslationError && e.message === 'ollama error: model "x" not found');
    assert.throws(() => parse('llama2', { model: 'x', done: true }, ollama), (e: unknown) => e instanceof TranslationError && e.message === "'message' missing from ollama response body");
  });
});

describe('safety net', () => {
  it('turns a pathological answer into a TranslationError', () => {
    const deep = `${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`;
    const body = `{"content":[{"type":"tool_use","id":"t","name":"f","input":${deep}}]}`;
    assert.throws(() => getDriver('anthropic').parseResponse(body, context({ provider: 'anthropic' })), TranslationError);
  });
});

describe('llama2 raw format', () => {
  const raw = { options: { llama2_format: 'raw' as const, upstream_url: 'http://tgi:8080/' } };
  const inputs = (messages: unknown[]) => build('llama2', { messages }, raw).inputs;

  it('renders the Llama 2 chat template', () => {
    assert.equal(inputs([{ role: 'user', content: 'Hi' }]), '<s>[INST] Hi [/INST]');
    assert.equal(inputs([{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }]), '<s>[INST] <<SYS>> S <</SYS>> Hi [/INST]');
    assert.equal(
      inputs([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }, { role: 'user', content: 'd' }]),
      '<s>[INST] a [/INST] b </s> <s>[INST] c d [/INST]',
    );
    assert.equal(inputs([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'Sure,' }]), '<s>[INST] a [/INST] Sure,', 'a final assistant message is a prefill');
    assert.equal(inputs([{ role: 'system', content: 'only' }]), '<s>[INST] <<SYS>> only <</SYS>> [/INST]');
  });

  it('leaves out parameters TGI would reject', () => {
    const params = (options: Partial<ModelOptions>, extra: Json = {}) => build('llama2', { ...hi, ...extra }, { options: { ...raw.options, ...options } }).parameters;
    assert.deepEqual(params({ temperature: 0, top_p: 1, top_k: 0 }), { return_full_text: false, details: true });
    assert.deepEqual(params({ temperature: 0.7, top_p: 0.95, top_k: 50, max_tokens: 64 }, { stop: ['</s>'], seed: 3 }), {
      max_new_tokens: 64,
      temperature: 0.7,
      top_p: 0.95,
      top_k: 50,
      stop: ['</s>'],
      seed: 3,
      return_full_text: false,
      details: true,
    });
    assert.throws(() => build('llama2', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x' } }] }] }, raw), requestError(/not supported by the llama2 provider/));
  });

  it('reads every answer shape', () => {
    const text = (body: unknown) => parse('llama2', body, raw).choices[0].message.content;
    assert.equal(text([{ generated_text: ' Paris.' }]), 'Paris.');
    assert.equal(text({ generated_text: 'Paris.', details: { finish_reason: 'length', generated_tokens: 2 } }), 'Paris.');
    assert.equal(text({ data: [{ generated_text: '<s>[INST] Q [/INST] A [/INST] B' }] }), 'B');
    assert.equal(text({ content: ' llama.cpp says hi', tokens_evaluated: 5, tokens_predicted: 4 }), 'llama.cpp says hi');
    assert.equal(parse('llama2', { generated_text: 'x', details: { finish_reason: 'length' } }, raw).choices[0].finish_reason, 'length');
    assert.equal(parse('llama2', { content: 'x', stopped_limit: true }, raw).choices[0].finish_reason, 'length');
    assert.deepEqual(parse('llama2', { content: 'x', tokens_evaluated: 5, tokens_predicted: 4 }, raw).usage, { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
    assert.deepEqual(parse('llama2', { data: [{ generated_text: 'x' }], usage: { prompt_tokens: 1, completion_tokens: 1 } }, raw).usage, { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    for (const [body, message] of [
      [{ data: [] }, 'cannot parse response from llama2 endpoint'],
      [{ data: [{}, {}] }, 'cannot parse response from llama2 endpoint'],
      [{ data: [{ text: 'x' }] }, 'response data is empty from llama2 endpoint'],
      [{ responses: 'x' }, 'cannot parse response from llama2 endpoint'],
      ['not json', 'failed to decode llama2 response'],
    ] as const) {
      assert.throws(() => parse('llama2', body, raw), (e: unknown) => e instanceof TranslationError && e.message === message, message);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties (T50)

/** Every driver and format, both route types. */
const CONFIGS: { provider: ProviderName; options: Partial<ModelOptions> }[] = [
  { provider: 'openai', options: {} },
  { provider: 'azure', options: { azure_instance: 'i', azure_deployment_id: 'd' } },
  { provider: 'anthropic', options: {} },
  { provider: 'cohere', options: {} },
  { provider: 'mistral', options: { mistral_format: 'openai' } },
  { provider: 'mistral', options: { mistral_format: 'ollama', upstream_url: 'http://o/' } },
  { provider: 'llama2', options: { llama2_format: 'raw', upstream_url: 'http://t/' } },
  { provider: 'llama2', options: { llama2_format: 'ollama', upstream_url: 'http://o/' } },
  { provider: 'llama2', options: { llama2_format: 'openai', upstream_url: 'http://v/' } },
  { provider: 'gemini', options: {} },
  { provider: 'bedrock', options: { bedrock: { aws_region: 'us-east-1' } } },
  { provider: 'huggingface', options: {} },
  { provider: 'huggingface', options: { upstream_url: 'http://tgi/' } },
  { provider: 'groq', options: {} },
  { provider: 'together', options: {} },
  { provider: 'deepseek', options: {} },
  { provider: 'fireworks', options: {} },
  { provider: 'openrouter', options: {} },
  { provider: 'vllm', options: { upstream_url: 'http://vllm/v1' } },
  { provider: 'lmstudio', options: { upstream_url: 'http://lms/v1' } },
  { provider: 'llamacpp', options: { upstream_url: 'http://llama/v1' } },
];
const ROUTES: LlmRouteType[] = [CHAT, COMPLETIONS];

/** Answers that look like each provider's, with random values where their fields go. */
const answerLike = fc.oneof(
  fc.record({ choices: fc.array(fc.jsonValue(), { maxLength: 3 }), usage: fc.jsonValue(), model: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ content: fc.array(fc.record({ type: fc.constantFrom('text', 'tool_use', 'thinking', 'x'), text: fc.jsonValue(), input: fc.jsonValue(), id: fc.jsonValue() }, { requiredKeys: [] })), stop_reason: fc.jsonValue(), usage: fc.jsonValue(), completion: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ text: fc.jsonValue(), generations: fc.jsonValue(), finish_reason: fc.constantFrom('COMPLETE', 'ERROR', 'MAX_TOKENS', 'X'), meta: fc.jsonValue(), token_count: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ message: fc.jsonValue(), response: fc.jsonValue(), done_reason: fc.jsonValue(), created_at: fc.jsonValue(), eval_count: fc.jsonValue(), prompt_eval_count: fc.jsonValue(), error: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ data: fc.jsonValue(), generated_text: fc.jsonValue(), details: fc.jsonValue(), content: fc.jsonValue(), usage: fc.jsonValue(), error: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record(
    {
      candidates: fc.oneof(fc.jsonValue(), fc.array(fc.record({ content: fc.record({ parts: fc.array(fc.record({ text: fc.jsonValue(), functionCall: fc.jsonValue(), thought: fc.jsonValue() }, { requiredKeys: [] })) }, { requiredKeys: [] }), finishReason: fc.jsonValue(), index: fc.jsonValue() }, { requiredKeys: [] }))),
      usageMetadata: fc.jsonValue(),
      promptFeedback: fc.jsonValue(),
      modelVersion: fc.jsonValue(),
      error: fc.jsonValue(),
    },
    { requiredKeys: [] },
  ),
  fc.array(fc.record({ candidates: fc.jsonValue(), usageMetadata: fc.jsonValue() }, { requiredKeys: [] }), { maxLength: 3 }),
  fc.record({ output: fc.oneof(fc.jsonValue(), fc.record({ message: fc.record({ content: fc.array(fc.record({ text: fc.jsonValue(), toolUse: fc.jsonValue() }, { requiredKeys: [] })) }, { requiredKeys: [] }) })), stopReason: fc.jsonValue(), usage: fc.jsonValue(), message: fc.jsonValue() }, { requiredKeys: [] }),
);

describe('properties', () => {
  it('parseResponse answers or throws TranslationError, for any JSON or text', () => {
    const text = fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), answerLike.map((v) => JSON.stringify(v)), fc.string());
    fc.assert(
      fc.property(fc.constantFrom(...CONFIGS), fc.constantFrom(...ROUTES), text, (config, routeType, body) => {
        const ctx = context({ provider: config.provider, options: config.options, routeType });
        try {
          const translated = getDriver(config.provider).parseResponse(body, ctx);
          assert.equal(typeof translated.body, 'string');
          JSON.parse(translated.body);
        } catch (e) {
          if (!(e instanceof TranslationError)) throw e;
          // The safety net in define.ts must not be what caught it: that would be a bug.
          assert.doesNotMatch(e.message, /^could not translate/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  const text = fc.string({ minLength: 1, maxLength: 40 });
  const message = fc.oneof(
    fc.record({ role: fc.constantFrom('user', 'system', 'developer'), content: text }),
    fc.record({ role: fc.constant('assistant'), content: text }),
    fc.record({ role: fc.constant('user'), content: fc.array(fc.record({ type: fc.constant('text'), text }), { minLength: 1, maxLength: 3 }) }),
  );
  const chatRequest = fc.record(
    {
      messages: fc.array(message, { minLength: 1, maxLength: 8 }).map((messages) => [...messages, { role: 'user', content: 'last' }]),
      model: fc.constantFrom('gpt-4', 'evil-model', null),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      top_p: fc.double({ min: 0, max: 1, noNaN: true }),
      max_tokens: fc.integer({ min: 1, max: 100_000 }),
      stream: fc.boolean(),
      stop: fc.oneof(text, fc.array(text, { maxLength: 3 })),
      user: text,
    },
    { requiredKeys: ['messages'] },
  );

  it('valid chat requests give a body with the configured model and the messages preserved', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CONFIGS), chatRequest, fc.boolean(), (config, body, stream) => {
        const ctx = context({ provider: config.provider, options: { ...config.options, max_tokens: 77 }, model: 'configured-model', stream });
        const request = validateClientRequest(body, CHAT);
        let upstream: Json;
        try {
          upstream = providerBody(getDriver(config.provider), parseOpenAIRequest(body, CHAT), ctx);
        } catch (e) {
          if (e instanceof RequestError) return; // e.g. Anthropic with nothing but system messages
          throw e;
        }
        assertPreserved(config.provider, config.options, request, upstream);
      }),
      { numRuns: 1500 },
    );
  });
});

/** Compares data, not prototypes (fast-check builds null-prototype records; drivers build plain objects). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** The messages' texts reach the provider, in order, and the configured model is the one asked for. */
function assertPreserved(provider: ProviderName, options: Partial<ModelOptions>, request: ClientRequest, upstream: Json): void {
  const messages = request.messages as { role: string; content: unknown }[];
  const textOf = (content: unknown) => (typeof content === 'string' ? content : (content as { text: string }[]).map((p) => p.text).join('\n'));
  const format = options.llama2_format ?? options.mistral_format ?? provider;
  switch (format) {
    case 'openai':
    case 'azure':
    case 'huggingface':
    case 'groq':
    case 'together':
    case 'deepseek':
    case 'fireworks':
    case 'openrouter':
    case 'vllm':
    case 'lmstudio':
    case 'llamacpp':
      assert.equal(upstream.model, 'configured-model');
      assert.deepEqual(plain(upstream.messages), plain(messages));
      assert.equal(upstream.max_tokens, 77);
      break;
    case 'ollama':
      assert.equal(upstream.model, 'configured-model');
      assert.deepEqual(upstream.messages.map((m: Json) => m.content), messages.map((m) => textOf(m.content)));
      assert.equal(upstream.options.num_predict, 77);
      break;
    case 'anthropic': {
      assert.equal(upstream.model, 'configured-model');
      const sent = [upstream.system ?? '', ...upstream.messages.flatMap((m: Json) => (typeof m.content === 'string' ? [m.content] : m.content.map((b: Json) => b.text)))].join('\n');
      for (const m of messages) assert.ok(sent.includes(textOf(m.content)), 'every message text is sent');
      assert.equal(upstream.max_tokens, 77);
      break;
    }
    case 'cohere': {
      assert.equal(upstream.model, 'configured-model');
      const sent = [upstream.preamble ?? '', ...(upstream.chat_history ?? []).map((h: Json) => h.message), upstream.message].join('\n\n');
      for (const m of messages) assert.ok(sent.includes(textOf(m.content)), 'every message text is sent');
      assert.equal(upstream.message, 'last');
      assert.equal(upstream.max_tokens, 77);
      break;
    }
    case 'raw':
      for (const m of messages) assert.ok(upstream.inputs.includes(textOf(m.content)), 'every message text is in the prompt');
      assert.ok(upstream.inputs.endsWith('last [/INST]'));
      assert.equal(upstream.parameters.max_new_tokens, 77);
      break;
    case 'gemini': {
      const sent = [...(upstream.systemInstruction?.parts ?? []), ...upstream.contents.flatMap((c: Json) => c.parts)].map((p: Json) => p.text).join('\n');
      for (const m of messages) assert.ok(sent.includes(textOf(m.content)), 'every message text is sent');
      assert.equal(upstream.generationConfig.maxOutputTokens, 77);
      break;
    }
    case 'bedrock': {
      const sent = [...(upstream.system ?? []), ...upstream.messages.flatMap((m: Json) => m.content)].map((b: Json) => b.text).join('\n');
      for (const m of messages) {
        if (m.role !== 'assistant') assert.ok(sent.includes(textOf(m.content)), 'every message text is sent');
        else {
          // an assistant turn's blank text parts are left out on purpose: Converse refuses blank text blocks
          const parts = typeof m.content === 'string' ? [m.content] : (m.content as { text: string }[]).map((p) => p.text);
          for (const t of parts) if (t.trim() !== '') assert.ok(sent.includes(t), 'every message text is sent');
        }
      }
      assert.equal(upstream.inferenceConfig.maxTokens, 77);
      break;
    }
    default:
      assert.fail(`no check for ${format}`);
  }
  assert.ok(PROVIDERS.includes(provider));
}
