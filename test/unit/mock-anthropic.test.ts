/**
 * The strict Anthropic mock, called directly (no server): thinking with signatures, tool use,
 * prompt caching and structured outputs as the Messages API reference describes them, the errors it
 * gives, and a round trip through the Anthropic format (the thinking signature survives a turn).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HandlerCtx, Reply } from '../mocks/server.ts';
import { Ids } from '../mocks/text.ts';
import { anthropicProvider, MOCK_THINKING, thinkingSignature } from '../mocks/anthropic.ts';
import { anthropicMessagesFormat } from '../../src/llm/formats/anthropic-messages.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import type { ModelOptions } from '../../src/llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, Message } from '../../src/exchange/types.ts';

type Json = Record<string, any>;
const HEADERS = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };

function call(handle: (ctx: HandlerCtx) => Reply, json: Json, headers: Json = HEADERS): Reply {
  const req = { method: 'POST', path: '/v1/messages', query: {}, headers, body: JSON.stringify(json), json } as unknown as HandlerCtx['req'];
  return handle({ req, path: '/v1/messages', text: 'Paris is the capital.', forceStream: false, chunks: null, ids: new Ids(1_700_000_000) });
}

function json(reply: Reply): { status: number; body: Json } {
  assert.equal(reply.kind, 'json');
  return { status: reply.status, body: reply.body as Json };
}

function events(reply: Reply): Json[] {
  assert.equal(reply.kind, 'stream');
  return reply.frames.map((f) => JSON.parse(/data: (.*)/.exec(String(f))![1]));
}

const provider = () => {
  const mock = anthropicProvider({ key: 'sk-ant-test', models: '*' });
  return (body: Json, headers?: Json) => call((c) => mock.handle(c), { model: 'claude-sonnet-4-5', max_tokens: 2048, messages: [{ role: 'user', content: 'hi' }], ...body }, headers);
};
const error = (reply: Reply): string => {
  const { status, body } = json(reply);
  assert.equal(status, 400, JSON.stringify(body));
  return body.error.message;
};

describe('anthropic mock: thinking', () => {
  const send = provider();

  it('answers a signed thinking block first and counts thinking tokens; streams thinking and signature deltas', () => {
    const answer = json(send({ thinking: { type: 'enabled', budget_tokens: 1024 } })).body;
    assert.deepEqual(answer.content[0], { type: 'thinking', thinking: MOCK_THINKING, signature: thinkingSignature(MOCK_THINKING) });
    assert.deepEqual(answer.content[1], { type: 'text', text: 'Paris is the capital.' });
    assert.ok(answer.usage.output_tokens_details.thinking_tokens > 0);
    const streamed = events(send({ thinking: { type: 'enabled', budget_tokens: 1024 }, stream: true }));
    const deltas = streamed.filter((e) => e.type === 'content_block_delta' && e.index === 0).map((e) => e.delta.type);
    assert.equal(deltas.at(-1), 'signature_delta');
    assert.ok(deltas.slice(0, -1).every((t) => t === 'thinking_delta'));
    assert.equal(json(send({})).body.content[0].type, 'text');
    // Opus 4.7 omits the thinking text unless display: summarized
    assert.equal(json(send({ model: 'claude-opus-4-7', thinking: { type: 'adaptive' } })).body.content[0].thinking, '');
    assert.equal(json(send({ model: 'claude-opus-4-7', thinking: { type: 'adaptive', display: 'summarized' } })).body.content[0].thinking, MOCK_THINKING);
  });

  it('refuses what the API refuses', () => {
    assert.match(error(send({ thinking: { type: 'enabled', budget_tokens: 500 } })), /budget_tokens: Input should be greater than or equal to 1024/);
    assert.match(error(send({ max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 1024 } })), /^`max_tokens` must be greater than `thinking.budget_tokens`/);
    assert.match(error(send({ temperature: 0.5, thinking: { type: 'enabled', budget_tokens: 1024 } })), /^`temperature` may only be set to 1 when thinking is enabled/);
    assert.equal(json(send({ temperature: 1, thinking: { type: 'enabled', budget_tokens: 1024 } })).status, 200);
    const tools = [{ name: 'now', input_schema: { type: 'object', properties: {} } }];
    assert.equal(error(send({ tools, tool_choice: { type: 'any' }, thinking: { type: 'enabled', budget_tokens: 1024 } })), 'Thinking may not be enabled when tool_choice forces tool use.');
    assert.match(error(send({ thinking: { type: 'adaptive' } })), /adaptive is not supported/);
    assert.equal(json(send({ model: 'claude-opus-4-7', thinking: { type: 'adaptive' }, output_config: { effort: 'low' } })).status, 200);
    assert.match(error(send({ model: 'claude-opus-4-7', thinking: { type: 'enabled', budget_tokens: 1024 } })), /enabled is not supported/);
    assert.match(error(send({ output_config: { effort: 'low' } })), /does not support the effort parameter/);
    assert.match(error(send({ model: 'claude-3-5-haiku-latest', thinking: { type: 'enabled', budget_tokens: 1024 } })), /does not support thinking/);
  });

  it('checks thinking blocks sent back: signature, place, final turn, open tool loop', () => {
    const signed = { type: 'thinking', thinking: 'I think.', signature: thinkingSignature('I think.') };
    const turn = (assistant: unknown[], extra: Json = {}) => send({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: assistant }, { role: 'user', content: 'more' }], ...extra });
    assert.equal(json(turn([signed, { type: 'text', text: 'A.' }])).status, 200);
    assert.match(error(turn([{ type: 'thinking', thinking: 'I think.' }, { type: 'text', text: 'A.' }])), /thinking\.signature: Field required/);
    assert.match(error(turn([{ ...signed, thinking: 'I changed it.' }, { type: 'text', text: 'A.' }])), /Invalid `signature` in `thinking` block/);
    assert.match(error(turn([{ type: 'text', text: 'A.' }, signed])), /the first block must be thinking or redacted_thinking. Found text/);
    assert.match(error(send({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [signed, { type: 'text', text: 'The answer is' }] }] })), /When thinking is disabled, an `assistant` message in the final position cannot contain `thinking`/);
    const loop = (assistant: unknown[]) =>
      send({
        thinking: { type: 'enabled', budget_tokens: 1024 },
        tools: [{ name: 'now', input_schema: { type: 'object' } }],
        messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: assistant }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '12:00' }] }],
      });
    assert.match(error(loop([{ type: 'tool_use', id: 'toolu_1', name: 'now', input: {} }])), /Expected `thinking` or `redacted_thinking`, but found `tool_use`/);
    assert.equal(json(loop([signed, { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} }])).status, 200);
  });
});

describe('anthropic mock: tools', () => {
  const send = provider();
  const weather = { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } } } };
  const now = { name: 'get_time', input_schema: { type: 'object', properties: {} } };

  it('calls the tool tool_choice forces, with an input from its schema; auto answers text', () => {
    const answer = json(send({ tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' } })).body;
    assert.equal(answer.stop_reason, 'tool_use');
    assert.deepEqual(answer.content, [{ type: 'tool_use', id: answer.content[0].id, name: 'get_weather', input: { city: 'Paris is the capital.', unit: 'celsius' } }]);
    assert.match(answer.content[0].id, /^toolu_/);
    assert.equal(json(send({ tools: [weather], tool_choice: { type: 'auto' } })).body.content[0].type, 'text');
    // any: a tool the conversation has not called yet, else the last
    const any = (messages: unknown[]) => json(send({ tools: [weather, now], tool_choice: { type: 'any' }, messages })).body.content[0].name;
    assert.equal(any([{ role: 'user', content: 'q' }]), 'get_weather');
    assert.equal(any([{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'sun' }] }]), 'get_time');
  });

  it('streams a zero-argument call as one empty input_json_delta', () => {
    const streamed = events(send({ tools: [now], tool_choice: { type: 'tool', name: 'get_time' }, stream: true }));
    const start = streamed.find((e) => e.type === 'content_block_start')!;
    assert.deepEqual(start.content_block, { type: 'tool_use', id: start.content_block.id, name: 'get_time', input: {} });
    assert.deepEqual(streamed.filter((e) => e.type === 'content_block_delta').map((e) => e.delta), [{ type: 'input_json_delta', partial_json: '' }]);
    assert.equal(streamed.find((e) => e.type === 'message_delta')!.delta.stop_reason, 'tool_use');
    const args = events(send({ tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' }, stream: true })).filter((e) => e.type === 'content_block_delta').map((e) => e.delta.partial_json);
    assert.equal(args[0], '');
    assert.deepEqual(JSON.parse(args.join('')), { city: 'Paris is the capital.', unit: 'celsius' });
  });

  it('refuses bad tools, choices, ids and unanswered calls', () => {
    assert.match(error(send({ tools: [{ name: 'bad name', input_schema: { type: 'object' } }] })), /tools\.0\.custom\.name: String should match pattern/);
    assert.match(error(send({ tools: [{ name: 'x', input_schema: { type: 'array' } }] })), /input_schema\.type/);
    assert.match(error(send({ tool_choice: { type: 'auto' } })), /tool_choice may only be specified while providing tools/);
    assert.match(error(send({ tools: [now], tool_choice: { type: 'tool', name: 'other' } })), /not found/);
    const history = (id: string, resultId = id) => send({ tools: [now], messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'tool_use', id, name: 'get_time', input: {} }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: resultId, content: '12:00' }] }] });
    assert.equal(json(history('toolu_1')).status, 200);
    assert.match(error(history('call_abc__thought__Zm9v+/=')), /tool_use\.id: String should match pattern/);
    assert.match(error(history('toolu_1', 'toolu_2')), /unexpected `tool_use_id` found in `tool_result` blocks: toolu_2/);
    assert.match(error(send({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'get_time', input: {} }] }, { role: 'user', content: 'next' }] })), /`tool_use` ids were found without `tool_result` blocks immediately after: t1/);
  });
});

describe('anthropic mock: prompt caching and structured outputs', () => {
  it('writes a long prefix at a breakpoint, then reads it; short prefixes are not cached', () => {
    const send = provider();
    const long = 'You are a careful assistant. '.repeat(300);
    const body = { system: [{ type: 'text', text: long, cache_control: { type: 'ephemeral' } }] };
    const first = json(send(body)).body.usage;
    const second = json(send(body)).body.usage;
    assert.deepEqual([first.cache_creation_input_tokens, first.cache_read_input_tokens], [1500, 0]);
    assert.deepEqual([second.cache_creation_input_tokens, second.cache_read_input_tokens], [0, 1500]);
    assert.equal(second.input_tokens, first.input_tokens);
    assert.equal(second.input_tokens, 1); // 'hi'
    const short = json(send({ system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }] })).body.usage;
    assert.deepEqual([short.cache_creation_input_tokens, short.cache_read_input_tokens], [0, 0]);
  });

  it('refuses more than 4 breakpoints, bad marks and marks on empty text', () => {
    const send = provider();
    const marked = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'text', text: `part ${i}`, cache_control: { type: 'ephemeral' } }));
    assert.equal(json(send({ messages: [{ role: 'user', content: marked(4) }] })).status, 200);
    assert.equal(error(send({ messages: [{ role: 'user', content: marked(5) }] })), 'A maximum of 4 blocks with cache_control may be provided. Found 5.');
    assert.match(error(send({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '2h' } }] }] })), /ttl: Input should be '5m' or '1h'/);
    assert.match(error(send({ messages: [{ role: 'user', content: [{ type: 'text', text: '', cache_control: { type: 'ephemeral' } }] }] })), /cache_control cannot be set for empty text blocks/);
  });

  it('answers output_config.format with JSON from the schema; output_format only with its beta header', () => {
    const send = provider();
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'population'], additionalProperties: false };
    const answer = json(send({ output_config: { format: { type: 'json_schema', schema } } })).body;
    assert.deepEqual(JSON.parse(answer.content[0].text), { city: 'Paris is the capital.', population: 1 });
    assert.match(error(send({ model: 'claude-3-7-sonnet-latest', output_config: { format: { type: 'json_schema', schema } } })), /does not support structured outputs/);
    assert.match(error(send({ output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: {} } } } })), /'additionalProperties' must be explicitly set to false/);
    assert.equal(error(send({ output_format: { type: 'json_schema', schema } })), 'output_format: Extra inputs are not permitted');
    const beta = json(send({ output_format: { type: 'json_schema', schema } }, { ...HEADERS, 'anthropic-beta': 'structured-outputs-2025-11-13' }));
    assert.equal(beta.status, 200);
    assert.deepEqual(JSON.parse(beta.body.content[0].text), { city: 'Paris is the capital.', population: 1 });
  });
});

describe('anthropic mock and format: a thinking round trip', () => {
  const OPTIONS = {
    max_tokens: null, temperature: null, top_p: null, top_k: null, anthropic_version: null, azure_instance: null, azure_api_version: null,
    azure_deployment_id: null, llama2_format: null, mistral_format: null, upstream_url: null, upstream_path: null, input_cost: null, output_cost: null,
  } as ModelOptions;
  const request = (messages: Message[], extra: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
    kind: 'chat', messages, sampling: {}, stream: false, includeUsage: false, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} }, ...extra,
  });
  const ctx = () => new ExchangeContext({ provider: 'anthropic', routeType: 'llm/v1/chat', model: 'claude-sonnet-4-5', options: OPTIONS, stream: false, includeUsage: false, id: 'chatcmpl-x' });

  it('the answer\'s signed thinking goes back next turn and the mock accepts it; structured output is unwrapped', () => {
    const mock = anthropicProvider({ key: 'sk-ant-test', models: '*' });
    const roundTrip = (req: CanonicalRequest) => {
      const c = ctx();
      const reply = json(call((h) => mock.handle(h), anthropicMessagesFormat.buildRequest(req, c)));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return anthropicMessagesFormat.parseResponse(JSON.stringify(reply.body), c) as CanonicalResponse;
    };
    const question: Message = { role: 'user', parts: [{ type: 'text', text: 'Capital of France?' }] };
    const first = roundTrip(request([question], { reasoning: { effort: 'low' } }));
    const parts = first.choices[0].parts;
    assert.deepEqual(parts[0], { type: 'reasoning', text: MOCK_THINKING, signature: thinkingSignature(MOCK_THINKING), provider: 'anthropic' });
    assert.ok((first.usage?.completion_tokens_details?.reasoning_tokens ?? 0) > 0);
    const second = roundTrip(request([question, { role: 'assistant', parts }, { role: 'user', parts: [{ type: 'text', text: 'And Italy?' }] }], { reasoning: { effort: 'low' } }));
    assert.equal(second.choices[0].finishReason, 'stop');
    // the same history without thinking: earlier thinking blocks are still valid
    assert.equal(roundTrip(request([question, { role: 'assistant', parts }, { role: 'user', parts: [{ type: 'text', text: 'And Italy?' }] }])).choices[0].finishReason, 'stop');
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const structured = roundTrip(request([question], { output: { type: 'json_schema', name: 'city', schema, strict: true } }));
    assert.deepEqual(structured.choices[0], { parts: [{ type: 'text', text: '{"city":"Paris is the capital."}' }], finishReason: 'stop' });
    const native = roundTrip(request([question], { output: { type: 'json_schema', name: 'city', schema, strict: true }, reasoning: { effort: 'low' } }));
    assert.equal(native.choices[0].parts.at(-1)!.type, 'text');
    assert.deepEqual(JSON.parse((native.choices[0].parts.at(-1) as { text: string }).text), { city: 'Paris is the capital.' });
  });
});

describe('anthropic mock: count_tokens', () => {
  const mock = anthropicProvider({ key: 'sk-ant-test', models: '*' });
  const count = (body: Json, headers: Json = HEADERS): Reply => {
    const req = { method: 'POST', path: '/v1/messages/count_tokens', query: {}, headers, body: JSON.stringify(body), json: body } as unknown as HandlerCtx['req'];
    return mock.handle({ req, path: '/v1/messages/count_tokens', text: 'Paris is the capital.', forceStream: false, chunks: null, ids: new Ids(1_700_000_000) });
  };
  const body = { model: 'claude-sonnet-4-5', system: 'Be brief.', messages: [{ role: 'user', content: 'What is the capital of France?' }] };

  it('answers {input_tokens} by the count the usage of a Message is made of', () => {
    const counted = json(count(body));
    assert.equal(counted.status, 200);
    assert.deepEqual(counted.body, { input_tokens: 8 });
    const created = json(call((c) => mock.handle(c), { ...body, max_tokens: 100 })).body.usage;
    assert.equal(created.input_tokens + created.cache_creation_input_tokens + created.cache_read_input_tokens, 8);
    // tools, thinking and cache marks are part of a count request
    const tools = [{ name: 'get_time', input_schema: { type: 'object', properties: {} }, cache_control: { type: 'ephemeral' } }];
    assert.equal(json(count({ ...body, tools, tool_choice: { type: 'auto' }, thinking: { type: 'enabled', budget_tokens: 1024 } })).status, 200);
  });

  it('refuses what is not a count request: max_tokens, sampling, stream; and checks the rest as Messages do', () => {
    for (const field of ['max_tokens', 'temperature', 'stream']) {
      const r = json(count({ ...body, [field]: field === 'stream' ? true : 1 }));
      assert.deepEqual([r.status, r.body.error.message], [400, `${field}: Extra inputs are not permitted`]);
    }
    assert.equal(json(count({ model: 'claude-sonnet-4-5' })).body.error.message, 'messages: Field required');
    assert.match(json(count({ ...body, messages: [{ role: 'system', content: 'x' }] })).body.error.message, /Unexpected role "system"/);
    assert.equal(json(count(body, { 'anthropic-version': '2023-06-01' })).status, 401);
  });
});
