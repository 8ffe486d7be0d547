/**
 * The Anthropic Messages wire format on the canonical exchange, called directly: CanonicalRequest
 * literals in, Messages API bodies out; Anthropic answers in, CanonicalResponse out; Anthropic
 * streams in, the sequence of EventSink calls out. The context is minimal: `unsupported` records
 * (or throws under `error`), `createSink` returns a recording fake.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { anthropicMessagesFormat, anthropicUsage, claudeCapabilities, JSON_TOOL } from '../../src/llm/formats/anthropic-messages.ts';
import { EFFORT_BUDGETS } from '../../src/llm/thinking.ts';
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type ModelOptions } from '../../src/llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, Message, ReasoningPart, UnsupportedPolicy } from '../../src/exchange/types.ts';
import { recordingContext, type RecordingContext } from '../helpers/format-context.ts';

type Json = Record<string, any>;

type TestContext = RecordingContext;

function context(init: { model?: string; policy?: UnsupportedPolicy; stream?: boolean; includeUsage?: boolean; options?: Partial<ModelOptions>; routeType?: DriverContext['routeType'] } = {}): TestContext {
  return recordingContext({
    provider: 'anthropic',
    ...init,
    model: init.model ?? 'claude-sonnet-4-5',
    policy: init.policy ?? 'error',
    sink: { model: 'claude-sonnet-4-5', startDetail: true },
    refusal: (path, why) => `${path}: ${why} (anthropic)`,
  });
}

function request(messages: Message[], extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return { kind: 'chat', messages, sampling: {}, stream: false, includeUsage: false, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} }, ...extra };
}

const user = (text: string): Message => ({ role: 'user', parts: [{ type: 'text', text }] });
const hi = [user('hi')];
const WEATHER = { type: 'function' as const, name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
const SCHEMA = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } }, required: ['city', 'temp'], additionalProperties: false };

function build(req: CanonicalRequest, ctx = context()): Json {
  return anthropicMessagesFormat.buildRequest(req, ctx) as Json;
}

function parse(body: unknown, ctx = context()): CanonicalResponse {
  const answer = anthropicMessagesFormat.parseResponse(JSON.stringify(body), ctx);
  assert.ok(!('passthrough' in answer));
  return answer as CanonicalResponse;
}

/** Runs SSE events through a stream translator; returns the sink's events and the translator. */
function stream(events: unknown[], ctx = context({ stream: true })) {
  const translator = anthropicMessagesFormat.createStreamTranslator(ctx);
  for (const event of events) translator.push({ event: (event as Json).type, data: JSON.stringify(event) });
  translator.finish();
  return { translator, events: ctx.sinks[0].events };
}

const requestError = (pattern: RegExp) => (e: unknown) => e instanceof RequestError && pattern.test(e.message);

const START = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [], stop_reason: null, usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } } };
const STOP = { type: 'message_stop' };
const delta = (reason: string, output = 7) => ({ type: 'message_delta', delta: { stop_reason: reason, stop_sequence: null }, usage: { output_tokens: output } });

// ---------------------------------------------------------------------------------------------

describe('anthropic format: request', () => {
  it('maps system and developer messages, user parts, merged turns and sampling', () => {
    const body = build(
      request(
        [
          { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
          { role: 'developer', parts: [{ type: 'text', text: 'Use French.' }, { type: 'text', text: 'Really.' }] },
          {
            role: 'user',
            parts: [
              { type: 'text', text: 'What are these?' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' } },
              { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.webp' } },
              { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBER' }, filename: 'a.pdf' },
              { type: 'file', source: { kind: 'url', url: 'https://example.com/b.pdf' } },
              { type: 'file', source: { kind: 'base64', mediaType: 'text/plain', data: Buffer.from('plain words').toString('base64') } },
            ],
          },
          user('and?'),
          { role: 'assistant', parts: [{ type: 'text', text: 'c' }] },
          { role: 'system', parts: [{ type: 'text', text: 'Late rule.' }] },
          user('d'),
        ],
        { sampling: { maxTokens: 100, temperature: 1.7, topP: 1, topK: 5, stop: ['END'], n: 1, presencePenalty: 0, frequencyPenalty: 0 }, user: 'u-1' },
      ),
    );
    assert.equal(body.system, 'Be brief.\n\nUse French.\nReally.\n\nLate rule.');
    assert.deepEqual(body.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What are these?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.webp' } },
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' }, title: 'a.pdf' },
          { type: 'document', source: { type: 'url', url: 'https://example.com/b.pdf' } },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' } },
          { type: 'text', text: 'and?' },
        ],
      },
      { role: 'assistant', content: 'c' },
      { role: 'user', content: 'd' },
    ]);
    assert.equal(body.max_tokens, 100);
    assert.equal(body.temperature, 1); // clamped to Anthropic's 0..1
    assert.equal(body.top_p, undefined); // 1 asks for nothing
    assert.equal(body.top_k, 5);
    assert.deepEqual(body.stop_sequences, ['END']);
    assert.deepEqual(body.metadata, { user_id: 'u-1' });
    assert.equal(body.stream, false);
    assert.equal(body.thinking, undefined);
  });

  it('uses the configured options over the client, and Kong 3.6 defaults', () => {
    const body = build(request(hi, { sampling: { maxTokens: 100, temperature: 0.2 } }), context({ options: { max_tokens: 512, temperature: 0.5, top_k: 0 } }));
    assert.equal(body.max_tokens, 512);
    assert.equal(body.temperature, 0.5);
    assert.equal(body.top_k, undefined);
    assert.equal(build(request(hi)).max_tokens, 256);
    assert.deepEqual(build(request(hi, { kind: 'completions', prompt: 'Say hi', messages: [] }), context({ routeType: 'llm/v1/completions' })).messages, [{ role: 'user', content: 'Say hi' }]);
  });

  it('maps assistant tool calls, parallel tool results, errors and images in results', () => {
    const body = build(
      request(
        [
          user('weather in Paris and Rome?'),
          {
            role: 'assistant',
            parts: [
              { type: 'text', text: 'Checking.' },
              { type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{"city":"Paris"}' },
              { type: 'tool_call', id: 'call_2', name: 'weather', arguments: '' },
            ],
          },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] }] },
          {
            role: 'tool',
            parts: [{ type: 'tool_result', toolCallId: 'call_2', isError: true, content: [{ type: 'text', text: 'no radar:' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAA' } }] }],
          },
        ],
        { tools: [WEATHER], toolChoice: { type: 'required' }, parallelToolCalls: false },
      ),
    );
    assert.deepEqual(body.messages[1], {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_2', name: 'weather', input: {} },
      ],
    });
    assert.deepEqual(body.messages[2], {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
        { type: 'tool_result', tool_use_id: 'call_2', is_error: true, content: [{ type: 'text', text: 'no radar:' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } }] },
      ],
    });
    assert.deepEqual(body.tools, [{ name: 'weather', description: 'Weather by city', input_schema: WEATHER.parameters }]);
    assert.deepEqual(body.tool_choice, { type: 'any', disable_parallel_tool_use: true });
  });

  it('maps every tool choice; tool_choice only goes with tools', () => {
    const choice = (toolChoice: CanonicalRequest['toolChoice'], parallelToolCalls?: boolean) => build(request(hi, { tools: [WEATHER], toolChoice, parallelToolCalls })).tool_choice;
    assert.deepEqual(choice({ type: 'auto' }), { type: 'auto' });
    assert.deepEqual(choice({ type: 'none' }), { type: 'none' });
    assert.deepEqual(choice({ type: 'none' }, false), { type: 'none' });
    assert.deepEqual(choice({ type: 'tool', name: 'weather' }), { type: 'tool', name: 'weather' });
    assert.deepEqual(choice(undefined, false), { type: 'auto', disable_parallel_tool_use: true });
    assert.equal(choice(undefined), undefined);
    assert.equal(build(request(hi, { toolChoice: { type: 'required' } })).tool_choice, undefined);
    // strict tools where the model validates them (Claude 4.5+), with an empty schema made an object
    const tools = build(request(hi, { tools: [{ type: 'function', name: 'now', parameters: {}, strict: true }] })).tools;
    assert.deepEqual(tools, [{ name: 'now', input_schema: { type: 'object', properties: {} }, strict: true }]);
    assert.deepEqual(build(request(hi, { tools: [{ type: 'function', name: 'now', parameters: {}, strict: true }] }), context({ model: 'claude-3-5-haiku-latest' })).tools, [{ name: 'now', input_schema: { type: 'object', properties: {} } }]);
  });

  it('puts cache marks on tools, system blocks, parts and messages, at most 4', () => {
    const ctx = context({ policy: 'drop' });
    const body = build(
      request(
        [
          { role: 'system', parts: [{ type: 'text', text: 'Long rules.', cache: { type: 'ephemeral', ttl: '1h' } }] },
          { role: 'system', parts: [{ type: 'text', text: 'More.' }] },
          { role: 'user', parts: [{ type: 'text', text: 'doc', cache: { type: 'ephemeral' } }, { type: 'text', text: 'q' }] },
          { role: 'assistant', parts: [{ type: 'text', text: 'a' }], cache: { type: 'ephemeral' } },
          { role: 'user', parts: [{ type: 'text', text: 'q2' }], cache: { type: 'ephemeral' } },
        ],
        { tools: [{ ...WEATHER, cache: { type: 'ephemeral' } }] },
      ),
      ctx,
    );
    assert.deepEqual(body.tools[0].cache_control, { type: 'ephemeral' });
    assert.deepEqual(body.system, [
      { type: 'text', text: 'Long rules.', cache_control: { type: 'ephemeral', ttl: '1h' } },
      { type: 'text', text: 'More.' },
    ]);
    assert.deepEqual(body.messages[0].content, [{ type: 'text', text: 'doc', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'q' }]);
    assert.deepEqual(body.messages[1].content, [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }]);
    assert.equal(body.messages[2].content, 'q2'); // the 5th breakpoint: dropped by name
    assert.deepEqual(ctx.dropped, ['messages[4].cache_control']);
    assert.throws(() => build(request([user('x'), user('y'), user('z'), user('w'), user('v')].map((m) => ({ ...m, cache: { type: 'ephemeral' as const } })))), requestError(/cache_control: more than 4 cache breakpoints/));
  });

  it('reports what it cannot express, or drops it by name', () => {
    const audio: Message = { role: 'user', parts: [{ type: 'text', text: 'listen' }, { type: 'audio', data: 'UklG', format: 'wav' }] };
    assert.throws(() => build(request([audio])), requestError(/^messages\[0\]\.content\[1\]: audio/));
    const ctx = context({ policy: 'drop' });
    const body = build(
      request([audio, { role: 'user', parts: [{ type: 'file', source: { kind: 'file_id', fileId: 'file-1' } }, { type: 'file', source: { kind: 'base64', mediaType: 'text/csv', data: 'YQ==' } }] }], {
        sampling: { n: 2, seed: 1, presencePenalty: 0.5, logprobs: true, topLogprobs: 2, logitBias: { '1': 1 } },
        tools: [{ type: 'builtin', name: 'web_search', config: {} }],
        openai: { store: true },
        metadata: { a: 'b' },
      }),
      ctx,
    );
    assert.deepEqual(ctx.dropped, ['n', 'seed', 'presence_penalty', 'logprobs', 'top_logprobs', 'logit_bias', 'store', 'metadata', 'tools[0]', 'messages[0].content[1]', 'messages[1].content[0]', 'messages[1].content[1]']);
    assert.deepEqual(body.messages, [{ role: 'user', content: 'listen' }]);
    assert.equal(body.tools, undefined);
    assert.throws(() => build(request(hi, { sampling: { n: 3 } })), requestError(/^n:/));
    assert.throws(() => build(request(hi, { sampling: { temperature: 0.5, topP: 0.9 } })), requestError(/^top_p: top_p together with temperature/));
    assert.equal(build(request(hi, { sampling: { topP: 0.9 } })).top_p, 0.9);
    assert.throws(() => build(request([{ role: 'system', parts: [{ type: 'text', text: 'only rules' }] }])), requestError(/at least one user or assistant message/));
    const call = (args: string): Message[] => [user('x'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: args }] }];
    assert.throws(() => build(request(call('not json'))), requestError(/^messages\[1\]\.tool_calls\[0\]\.function\.arguments: expected a JSON object/));
    assert.throws(() => build(request(call('[1]'))), requestError(/expected a JSON object/));
    assert.throws(() => build(request([{ role: 'user', parts: [{ type: 'image', source: { kind: 'url', url: 'ftp://x/y.png' } }] }])), requestError(/image_url\.url/));
    assert.throws(() => build(request([{ ...user('x'), name: 'bob' }])), requestError(/^messages\[0\]\.name/));
    // a tool message's name is its tool's (LangChain sends it): nothing is lost
    const named = build(request([user('x'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }] }, { role: 'tool', name: 'f', parts: [{ type: 'tool_result', toolCallId: 'c', content: [{ type: 'text', text: 'ok' }] }] }]));
    assert.deepEqual(named.messages[2].content, [{ type: 'tool_result', tool_use_id: 'c', content: 'ok' }]);
  });
});

describe('anthropic format: reasoning', () => {
  const thought: ReasoningPart = { type: 'reasoning', text: 'Let me think.', signature: 'sig-1', provider: 'anthropic' };
  const redacted: ReasoningPart = { type: 'reasoning', text: '', redacted: 'opaque', provider: 'anthropic' };
  const foreign: ReasoningPart = { type: 'reasoning', text: 'Gemini thought', signature: 'g-sig', provider: 'gemini' };

  it('maps effort to a thinking budget (max_tokens keeps the answer its room) and reports sampling thinking refuses', () => {
    for (const [effort, budget] of Object.entries(EFFORT_BUDGETS)) {
      const body = build(request(hi, { reasoning: { effort: effort as 'low' } }), context({ model: 'claude-sonnet-4-5' }));
      assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: budget });
      assert.equal(body.max_tokens, 256 + budget);
    }
    const big = build(request(hi, { reasoning: { budgetTokens: 500 }, sampling: { maxTokens: 30000 } }));
    assert.deepEqual(big.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(big.max_tokens, 30000);
    assert.equal(build(request(hi, { reasoning: { effort: 'none' } })).thinking, undefined);
    const ctx = context({ policy: 'drop' });
    const body = build(request(hi, { reasoning: { effort: 'low' }, sampling: { temperature: 0.3, topK: 3, topP: 0.5 } }), ctx);
    assert.deepEqual(ctx.dropped, ['temperature', 'top_k', 'top_p']);
    assert.equal(body.temperature, undefined);
    assert.equal(body.top_k, undefined);
    assert.equal(build(request(hi, { reasoning: { effort: 'low' } }), context({ options: { temperature: 1 } })).temperature, 1);
    assert.throws(() => build(request(hi, { reasoning: { effort: 'low' }, sampling: { temperature: 0.3 } })), requestError(/^temperature:/));
  });

  it('uses adaptive thinking with output_config.effort on Claude 4.6 and later', () => {
    const body = build(request(hi, { reasoning: { effort: 'minimal' } }), context({ model: 'claude-opus-4-7' }));
    assert.deepEqual(body.thinking, { type: 'adaptive', display: 'summarized' });
    assert.deepEqual(body.output_config, { effort: 'low' });
    assert.equal(body.max_tokens, 256);
    assert.deepEqual(build(request(hi, { reasoning: { budgetTokens: 8000 } }), context({ model: 'claude-sonnet-4-6' })).thinking, { type: 'enabled', budget_tokens: 8000 });
    assert.deepEqual(build(request(hi, { reasoning: { budgetTokens: 8000 } }), context({ model: 'claude-opus-4-7' })).output_config, { effort: 'high' });
    assert.deepEqual(claudeCapabilities('claude-3-7-sonnet-20250219'), { thinking: true, adaptive: false, budgeted: true, structuredOutputs: false });
    assert.deepEqual(claudeCapabilities('claude-haiku-4-5-20251001'), { thinking: true, adaptive: false, budgeted: true, structuredOutputs: true });
    assert.deepEqual(claudeCapabilities('claude-opus-4-20250514'), { thinking: true, adaptive: false, budgeted: true, structuredOutputs: false });
    assert.equal(claudeCapabilities('claude-3-5-haiku-latest').thinking, false);
    assert.equal(claudeCapabilities('claude-2.1').thinking, false);
    assert.throws(() => build(request(hi, { reasoning: { effort: 'high' } }), context({ model: 'claude-3-5-haiku-latest' })), requestError(/^reasoning_effort: extended thinking on claude-3-5-haiku-latest/));
  });

  it('sends its own signed thinking back first in the turn; other providers\' reasoning is left out', () => {
    const history: Message[] = [
      user('weather?'),
      { role: 'assistant', parts: [{ type: 'text', text: 'Checking.' }, thought, redacted, foreign, { type: 'reasoning', text: 'unsigned', provider: 'anthropic' }, { type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{}' }] },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] }] },
    ];
    const body = build(request(history, { tools: [WEATHER], reasoning: { effort: 'low' } }));
    assert.deepEqual(body.messages[1].content, [
      { type: 'thinking', thinking: 'Let me think.', signature: 'sig-1' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} },
    ]);
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 1024 });
    // without thinking, earlier turns keep their blocks; a final assistant turn (a prefill) cannot
    const prefill = build(request([user('q'), { role: 'assistant', parts: [thought, { type: 'text', text: 'The answer is' }] }]));
    assert.deepEqual(prefill.messages[1], { role: 'assistant', content: 'The answer is' });
    const earlier = build(request([user('q'), { role: 'assistant', parts: [thought, { type: 'text', text: 'A.' }] }, user('more')]));
    assert.equal(earlier.messages[1].content[0].type, 'thinking');
    // a message's cache mark goes on its last block that can carry one, never on thinking
    const marked = build(request([user('q'), { role: 'assistant', parts: [thought, { type: 'text', text: 'A.' }], cache: { type: 'ephemeral' } }, user('more')]));
    assert.deepEqual(marked.messages[1].content, [{ type: 'thinking', thinking: 'Let me think.', signature: 'sig-1' }, { type: 'text', text: 'A.', cache_control: { type: 'ephemeral' } }]);
    assert.throws(() => build(request([user('q'), { role: 'assistant', parts: [thought], cache: { type: 'ephemeral' } }, user('more')])), requestError(/^messages\[1\]\.cache_control/));
  });

  it('reports thinking that cannot continue a tool loop made elsewhere, or with a forced tool choice', () => {
    const loop: Message[] = [
      user('weather?'),
      { role: 'assistant', parts: [foreign, { type: 'tool_call', id: 'call_g', name: 'weather', arguments: '{}' }] },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_g', content: [{ type: 'text', text: 'sunny' }] }] },
    ];
    assert.throws(() => build(request(loop, { tools: [WEATHER], reasoning: { effort: 'low' } })), requestError(/^reasoning_effort: extended thinking continuing a tool-call turn/));
    const ctx = context({ policy: 'drop' });
    const body = build(request(loop, { tools: [WEATHER], reasoning: { effort: 'low' } }), ctx);
    assert.equal(body.thinking, undefined);
    assert.deepEqual(body.messages[1].content, [{ type: 'tool_use', id: 'call_g', name: 'weather', input: {} }]);
    assert.deepEqual(ctx.dropped, ['reasoning_effort']);
    assert.throws(() => build(request(hi, { tools: [WEATHER], toolChoice: { type: 'required' }, reasoning: { effort: 'low' } })), requestError(/^reasoning_effort: extended thinking with a forced tool_choice/));
  });
});

describe('anthropic format: structured output', () => {
  const output = { type: 'json_schema' as const, name: 'weather', schema: SCHEMA, strict: true };

  it('asks for the answer through a forced tool whose input schema is the schema', () => {
    const body = build(request(hi, { output }));
    assert.deepEqual(body.tools, [{ name: JSON_TOOL, description: "Respond with the answer 'weather' as this tool's input.", input_schema: SCHEMA }]);
    assert.deepEqual(body.tool_choice, { type: 'tool', name: JSON_TOOL });
    assert.equal(body.output_config, undefined);
    // with the client's tools the model may call them first; a forced client tool makes the format moot
    const withTools = build(request(hi, { output, tools: [WEATHER] }));
    assert.deepEqual(withTools.tools.map((t: Json) => t.name), ['weather', JSON_TOOL]);
    assert.deepEqual(withTools.tool_choice, { type: 'any' });
    const forced = build(request(hi, { output, tools: [WEATHER], toolChoice: { type: 'tool', name: 'weather' } }));
    assert.deepEqual(forced.tool_choice, { type: 'tool', name: 'weather' });
    assert.deepEqual(forced.tools.map((t: Json) => t.name), ['weather', JSON_TOOL]);
    // `required`: the answer is a call of the client's tools, so a structured answer cannot be asked for too
    assert.throws(() => build(request(hi, { output, tools: [WEATHER], toolChoice: { type: 'required' } })), requestError(/^response_format: a structured answer with tool_choice required/));
    const dropCtx = context({ policy: 'drop' });
    assert.deepEqual(build(request(hi, { output, tools: [WEATHER], toolChoice: { type: 'required' } }), dropCtx).tool_choice, { type: 'any' });
    assert.deepEqual(dropCtx.dropped, ['response_format']);
    // json_object: any object; a non-object schema travels wrapped
    assert.deepEqual(build(request(hi, { output: { type: 'json_object' } })).tools[0].input_schema, { type: 'object' });
    const list = build(request(hi, { output: { type: 'json_schema', name: 'list', schema: { type: 'array', items: { type: 'string' } } } }));
    assert.deepEqual(list.tools[0].input_schema, { type: 'object', properties: { value: { type: 'array', items: { type: 'string' } } }, required: ['value'] });
    assert.throws(() => build(request(hi, { output, tools: [{ ...WEATHER, name: JSON_TOOL }] })), requestError(/json_response/));
  });

  it('uses output_config.format when thinking is asked too and the model has structured outputs, else reports the thinking', () => {
    const body = build(request(hi, { output, reasoning: { effort: 'medium' } }), context({ model: 'claude-sonnet-4-5-20250929' }));
    assert.deepEqual(body.output_config, { format: { type: 'json_schema', schema: SCHEMA } });
    assert.equal(body.tools, undefined);
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 4096 });
    assert.throws(() => build(request(hi, { output, reasoning: { effort: 'medium' } }), context({ model: 'claude-3-7-sonnet-latest' })), requestError(/^reasoning_effort: extended thinking with a JSON schema answer/));
    const ctx = context({ model: 'claude-sonnet-4-5', policy: 'drop' });
    const object = build(request(hi, { output: { type: 'json_object' }, reasoning: { effort: 'medium' } }), ctx);
    assert.equal(object.thinking, undefined);
    assert.deepEqual(object.tool_choice, { type: 'tool', name: JSON_TOOL });
    assert.deepEqual(ctx.dropped, ['reasoning_effort']);
  });

  it('unwraps the tool input into the answer text, finish reason stop', () => {
    const ctx = context();
    build(request(hi, { output }), ctx);
    const answer = parse({ id: 'msg_1', model: 'claude-sonnet-4-5', content: [{ type: 'tool_use', id: 'toolu_9', name: JSON_TOOL, input: { city: 'Paris', temp: 21 } }], stop_reason: 'tool_use', usage: { input_tokens: 5, output_tokens: 9 } }, ctx);
    assert.deepEqual(answer.choices, [{ parts: [{ type: 'text', text: '{"city":"Paris","temp":21}' }], finishReason: 'stop' }]);
    // without the plan (another request), a tool of that name is a tool call
    const other = parse({ content: [{ type: 'tool_use', id: 'toolu_9', name: JSON_TOOL, input: {} }], stop_reason: 'tool_use' });
    assert.equal(other.choices[0].finishReason, 'tool_calls');
    const wrapped = context();
    build(request(hi, { output: { type: 'json_schema', name: 'list', schema: { type: 'array' } } }), wrapped);
    assert.equal((parse({ content: [{ type: 'tool_use', id: 't', name: JSON_TOOL, input: { value: ['a', 'b'] } }], stop_reason: 'tool_use' }, wrapped).choices[0].parts[0] as { text: string }).text, '["a","b"]');
  });

  it('streams the tool input fragments as text', () => {
    const ctx = context({ stream: true });
    build(request(hi, { output, stream: true }), ctx);
    const { events } = stream(
      [
        START,
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_9', name: JSON_TOOL, input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city": "Pa' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: 'ris", "temp": 21}' } },
        { type: 'content_block_stop', index: 0 },
        delta('tool_use'),
        STOP,
      ],
      ctx,
    );
    assert.deepEqual(events, [
      ['start', 'msg_1', 'claude-sonnet-4-5-20250929'],
      ['text', '{"city": "Pa'],
      ['text', 'ris", "temp": 21}'],
      ['finish', 'stop'],
      ['done'],
    ]);
    const wrapped = context({ stream: true });
    build(request(hi, { output: { type: 'json_schema', name: 'n', schema: { type: 'number' } } }), wrapped);
    const w = stream(
      [
        START,
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: JSON_TOOL, input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"value"' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: ': 42}' } },
        { type: 'content_block_stop', index: 0 },
        delta('tool_use'),
        STOP,
      ],
      wrapped,
    );
    assert.deepEqual(w.events.slice(1, 3), [['text', '42'], ['finish', 'stop']]);
  });
});

describe('anthropic format: answers', () => {
  it('maps thinking, text and tool calls, with neutral ids and JSON arguments', () => {
    const answer = parse({
      id: 'msg_1',
      type: 'message',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'thinking', thinking: 'Hmm.', signature: 'sig-1' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'text', text: 'Let me ' },
        { type: 'text', text: 'check.' },
        { type: 'tool_use', id: 'toolu_01A', name: 'weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_01B', name: 'now', input: {} },
        { type: 'tool_use', name: 'later' },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 20, output_tokens_details: { thinking_tokens: 12 } },
    });
    assert.equal(answer.id, 'msg_1');
    assert.equal(answer.model, 'claude-sonnet-4-5-20250929');
    assert.equal(answer.created, 1_700_000_000);
    assert.deepEqual(answer.choices[0].parts, [
      { type: 'reasoning', text: 'Hmm.', signature: 'sig-1', provider: 'anthropic' },
      { type: 'reasoning', text: '', redacted: 'opaque', provider: 'anthropic' },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call', id: 'toolu_01A', name: 'weather', arguments: '{"city":"Paris"}' },
      { type: 'tool_call', id: 'toolu_01B', name: 'now', arguments: '{}' },
      { type: 'tool_call', id: 'call_msg_1_2', name: 'later', arguments: '{}' },
    ]);
    assert.equal(answer.choices[0].finishReason, 'tool_calls');
    assert.deepEqual(answer.usage, {
      prompt_tokens: 1110,
      completion_tokens: 20,
      total_tokens: 1130,
      prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 12 },
    });
  });

  it('maps stop reasons and usage without cache fields; garbage usage is null', () => {
    const reason = (stop_reason: string) => parse({ content: [{ type: 'text', text: 'x' }], stop_reason }).choices[0].finishReason;
    assert.equal(reason('end_turn'), 'stop');
    assert.equal(reason('max_tokens'), 'length');
    assert.equal(reason('model_context_window_exceeded'), 'length');
    assert.equal(reason('refusal'), 'content_filter');
    assert.equal(reason('something_new'), 'stop');
    assert.deepEqual(anthropicUsage({ input_tokens: 3, output_tokens: 4 }), { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    assert.equal(anthropicUsage({ input_tokens: 'x', output_tokens: 4 }), null);
    assert.equal(parse({ content: [], usage: { output_tokens: 1 } }).usage, null);
    assert.deepEqual(parse({ content: [] }).choices[0].parts, [{ type: 'text', text: '' }]);
    assert.deepEqual(parse({ completion: 'old', stop_reason: 'stop_sequence', model: 'claude-2.1' }).choices, [{ parts: [{ type: 'text', text: 'old' }], finishReason: 'stop' }]);
    assert.throws(() => parse({ nope: 1 }), TranslationError);
    assert.throws(() => anthropicMessagesFormat.parseResponse('<html>', context()), TranslationError);
  });
});

describe('anthropic format: streams', () => {
  it('streams thinking with its signature, text, and a zero-argument tool call, with usage', () => {
    const { events, translator } = stream(
      [
        { ...START, message: { ...START.message, usage: { input_tokens: 10, cache_creation_input_tokens: 20, cache_read_input_tokens: 30, output_tokens: 1 } } },
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Think ' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hard.' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: '1' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'redacted_thinking', data: 'opaque' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'ping' },
        { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 2, delta: { type: 'text_delta', text: 'Checking.' } },
        { type: 'content_block_stop', index: 2 },
        { type: 'content_block_start', index: 3, content_block: { type: 'tool_use', id: 'toolu_01A', name: 'now', input: {} } },
        { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '' } },
        { type: 'content_block_stop', index: 3 },
        { type: 'content_block_start', index: 4, content_block: { type: 'tool_use', id: 'toolu_01B', name: 'weather', input: {} } },
        { type: 'content_block_delta', index: 4, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
        { type: 'content_block_delta', index: 4, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
        { type: 'content_block_stop', index: 4 },
        { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 10, cache_creation_input_tokens: 20, cache_read_input_tokens: 30, output_tokens: 42, output_tokens_details: { thinking_tokens: 5 } } },
        STOP,
      ],
      context({ stream: true, includeUsage: true }),
    );
    const usage = { prompt_tokens: 60, completion_tokens: 42, total_tokens: 102, prompt_tokens_details: { cached_tokens: 30, cache_write_tokens: 20 }, completion_tokens_details: { reasoning_tokens: 5 } };
    assert.deepEqual(events, [
      ['start', 'msg_1', 'claude-sonnet-4-5-20250929'],
      ['reasoning', 'Think '],
      ['reasoning', 'hard.'],
      ['reasoningState', { type: 'reasoning', text: '', signature: 'sig-1', provider: 'anthropic' }],
      ['reasoningState', { type: 'reasoning', text: '', redacted: 'opaque', provider: 'anthropic' }],
      ['text', 'Checking.'],
      ['toolCalls', [{ index: 0, id: 'toolu_01A', name: 'now', arguments: '' }]],
      ['toolCalls', [{ index: 1, id: 'toolu_01B', name: 'weather', arguments: '' }]],
      ['toolCalls', [{ index: 1, arguments: '{"city":' }]],
      ['toolCalls', [{ index: 1, arguments: '"Paris"}' }]],
      ['finish', 'tool_calls'],
      ['usage', usage],
      ['done'],
    ]);
    assert.deepEqual(translator.usage(), usage);
    assert.equal(translator.responseModel, 'claude-sonnet-4-5-20250929');
    assert.equal(translator.done, true);
  });

  it('keeps message_start input counts when message_delta repeats zeros; no usage without counts', () => {
    const { translator } = stream([START, { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 0, output_tokens: 3 } }, STOP]);
    assert.deepEqual(translator.usage(), { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 } });
    const none = stream([{ type: 'message_start', message: { id: 'm', model: 'x' } }, { type: 'message_delta', delta: { stop_reason: 'end_turn' } }, STOP]);
    assert.equal(none.translator.usage(), null);
  });

  it('raises provider errors and malformed events as typed errors; no done before message_stop', () => {
    const ctx = context({ stream: true });
    const translator = anthropicMessagesFormat.createStreamTranslator(ctx);
    translator.push({ event: 'message_start', data: JSON.stringify(START) });
    assert.throws(() => translator.push({ event: 'error', data: JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }) }), (e: unknown) => e instanceof UpstreamStreamError && e.type === 'overloaded_error');
    assert.throws(() => translator.push({ event: 'content_block_delta', data: '{not json' }), TranslationError);
    assert.equal(translator.finish(), '');
    assert.equal(translator.done, false);
  });
});
