/**
 * Anthropic Messages as a client API: the inbound adapter (src/exchange/inbound/anthropic-messages.ts),
 * the renderer (src/exchange/render/anthropic-messages.ts: events, whole answers, errors), the
 * native pass-through to the Anthropic provider (src/llm/formats/anthropic-native.ts).
 *
 * Stream output is checked three ways: against golden files (test/unit/golden/anthropic/*.txt;
 * `UPDATE_GOLDENS=1` writes them, review the diff; test/helpers/stream-golden.ts), against the published event types of
 * `@anthropic-ai/sdk` (each event narrowed as a RawMessageStreamEvent), and by the SDK's own
 * parser and MessageStream accumulator, which must rebuild the message the client would get.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type Anthropic from '@anthropic-ai/sdk';
import { Stream } from '@anthropic-ai/sdk/core/streaming';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { parseAnthropicRequest, parseCountTokensRequest } from '../../src/exchange/inbound/anthropic-messages.ts';
import { estimateInputTokens } from '../../src/exchange/estimate.ts';
import { AnthropicMessagesSink, anthropicErrorBody, anthropicStreamError, renderAnthropicResponse } from '../../src/exchange/render/anthropic-messages.ts';
import { clientApi } from '../../src/exchange/apis/index.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { anthropicNativeFormat, countTokensUrl } from '../../src/llm/formats/anthropic-native.ts';
import { RequestError, UpstreamStreamError, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import type { CanonicalResponse, EventSink } from '../../src/exchange/types.ts';
import { NO_OPTIONS } from '../helpers/format-context.ts';
import { runStream } from '../conformance/support.ts';
import { assertGolden, GOLDEN_ROOT, providerRecording, runEverySplit } from '../helpers/stream-golden.ts';

const GOLDEN = path.join(GOLDEN_ROOT, 'anthropic');

const sinkCtx = { id: 'msg_gateway', now: 1_700_000_000, model: 'claude-test', routeType: 'llm/v1/chat' as const, includeUsage: true };

// ---------------------------------------------------------------------------------------------
// What an Anthropic client makes of a stream

interface SseEvent {
  event: string;
  data: any;
}

function events(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((f) => f !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      assert.ok(lines[0].startsWith('event: '), `a named event: ${frame}`);
      assert.equal(lines.length, 2, 'one data line');
      assert.ok(lines[1].startsWith('data: '));
      return { event: lines[0].slice(7), data: JSON.parse(lines[1].slice(6)) };
    });
}

/**
 * Each event checked against the SDK's published types: the `type` matches the event name, and the
 * members the type requires for that event are there with their types (the narrowing below only
 * compiles against `Anthropic.RawMessageStreamEvent`'s own names).
 */
function assertEventShapes(text: string): void {
  const all = events(text);
  assert.equal(all[0].event, 'message_start');
  if (all.at(-1)!.event !== 'error') assert.equal(all.at(-1)!.event, 'message_stop');
  for (const { event: name, data } of all) {
    assert.equal(data.type, name, 'the event name is the payload type');
    if (name === 'ping') continue;
    if (name === 'error') {
      const error: Anthropic.ErrorResponse['error'] = data.error;
      assert.equal(typeof error.type, 'string');
      assert.equal(typeof error.message, 'string');
      continue;
    }
    const event: Anthropic.RawMessageStreamEvent = data;
    switch (event.type) {
      case 'message_start': {
        const m = event.message;
        assert.ok(m.id.startsWith('msg_'));
        assert.equal(m.type, 'message');
        assert.equal(m.role, 'assistant');
        assert.deepEqual(m.content, []);
        assert.equal(m.stop_reason, null);
        assert.equal(m.stop_sequence, null);
        assert.equal(typeof m.model, 'string');
        for (const n of [m.usage.input_tokens, m.usage.output_tokens, m.usage.cache_creation_input_tokens, m.usage.cache_read_input_tokens]) assert.equal(typeof n, 'number');
        break;
      }
      case 'content_block_start': {
        assert.equal(typeof event.index, 'number');
        const block = event.content_block;
        if (block.type === 'text') assert.equal(block.text, '');
        else if (block.type === 'thinking') assert.equal(block.thinking, '');
        else if (block.type === 'redacted_thinking') assert.equal(typeof block.data, 'string');
        else if (block.type === 'tool_use') {
          assert.match(block.id, /^[a-zA-Z0-9_-]+$/);
          assert.equal(typeof block.name, 'string');
          assert.deepEqual(block.input, {});
        } else assert.fail(`unexpected block ${block.type}`);
        break;
      }
      case 'content_block_delta': {
        const d = event.delta;
        if (d.type === 'text_delta') assert.equal(typeof d.text, 'string');
        else if (d.type === 'thinking_delta') assert.equal(typeof d.thinking, 'string');
        else if (d.type === 'signature_delta') assert.equal(typeof d.signature, 'string');
        else if (d.type === 'input_json_delta') assert.equal(typeof d.partial_json, 'string');
        else assert.fail(`unexpected delta ${d.type}`);
        break;
      }
      case 'content_block_stop':
        assert.equal(typeof event.index, 'number');
        break;
      case 'message_delta':
        assert.ok(event.delta.stop_reason !== null);
        assert.ok(event.delta.stop_sequence === null || typeof event.delta.stop_sequence === 'string');
        assert.equal(typeof event.usage.output_tokens, 'number');
        break;
      case 'message_stop':
        break;
    }
  }
  // blocks open and close in order, one at a time
  let open: number | null = null;
  let next = 0;
  for (const { data } of all) {
    if (data.type === 'content_block_start') {
      assert.equal(open, null, 'one block open at a time');
      assert.equal(data.index, next++);
      open = data.index;
    } else if (data.type === 'content_block_delta') assert.equal(data.index, open);
    else if (data.type === 'content_block_stop') {
      assert.equal(data.index, open);
      open = null;
    } else if (data.type === 'message_delta') assert.equal(open, null, 'blocks closed before message_delta');
  }
  // one message_delta (stop reason and usage), right before message_stop (pings aside)
  const names = all.map((e) => e.event).filter((name) => name !== 'ping');
  if (names.at(-1) === 'message_stop') {
    assert.equal(names.filter((name) => name === 'message_delta').length, 1, 'one message_delta');
    assert.equal(names.at(-2), 'message_delta', 'message_delta right before message_stop');
  }
}

/** Each tool_use block's input as the client assembles it: its input_json_delta pieces joined, parsed (none: {}). */
function toolInputs(text: string): [string, unknown][] {
  const calls = new Map<number, { name: string; json: string }>();
  for (const { data } of events(text)) {
    if (data.type === 'content_block_start' && data.content_block.type === 'tool_use') calls.set(data.index, { name: data.content_block.name, json: '' });
    else if (data.type === 'content_block_delta' && data.delta.type === 'input_json_delta') {
      const call = calls.get(data.index);
      assert.ok(call, 'input_json_delta inside a tool_use block');
      call.json += data.delta.partial_json;
    }
  }
  return [...calls.values()].map(({ name, json }) => {
    const input: unknown = json === '' ? {} : JSON.parse(json);
    assert.ok(input !== null && typeof input === 'object' && !Array.isArray(input), `${name}: the input is a JSON object`);
    return [name, input];
  });
}

/** The message the SDK's own parser and accumulator build from the stream (Anthropic's SDK, as a client runs it). */
async function sdkMessage(text: string): Promise<Anthropic.Message> {
  const events = Stream.fromSSEResponse<Anthropic.RawMessageStreamEvent>(new Response(text), new AbortController());
  return MessageStream.fromReadableStream(events.toReadableStream()).finalMessage();
}

// ---------------------------------------------------------------------------------------------
// Inbound

describe('Anthropic inbound: the Messages body as a CanonicalRequest', () => {
  const full = {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
    messages: [
      { role: 'user', content: 'Hello' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Let me think.', signature: 'sig-1' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Calling.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Zürich' } },
          { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }, { type: 'image', source: { type: 'url', url: 'https://x/y.png' } }], is_error: true },
          { type: 'text', text: 'And tomorrow?', cache_control: { type: 'ephemeral' } },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' }, title: 'report.pdf' },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' } },
          { type: 'image', source: { type: 'file', file_id: 'file_1' } },
        ],
      },
    ],
    tools: [
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, cache_control: { type: 'ephemeral' }, strict: true },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
    ],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    thinking: { type: 'enabled', budget_tokens: 2048 },
    temperature: 1,
    top_p: 0.99,
    top_k: 5,
    stop_sequences: ['END'],
    stream: true,
    metadata: { user_id: 'user-42' },
    service_tier: 'standard_only',
    vendor_flag: true,
  };

  it('maps every documented field', () => {
    const req = parseAnthropicRequest(full);
    assert.equal(req.kind, 'chat');
    assert.equal(req.model, 'claude-sonnet-4-5');
    assert.deepEqual(req.sampling, { maxTokens: 1024, temperature: 1, topP: 0.99, topK: 5, stop: ['END'] });
    assert.equal(req.stream, true);
    assert.equal(req.includeUsage, true, 'Anthropic always reports usage');
    assert.equal(req.user, 'user-42');
    assert.deepEqual(req.reasoning, { budgetTokens: 2048 });
    assert.deepEqual(req.toolChoice, { type: 'required' });
    assert.equal(req.parallelToolCalls, false);
    assert.deepEqual(req.passthrough, { vendor_flag: true });
    assert.deepEqual(req.anthropic, { service_tier: 'standard_only' });
    assert.deepEqual(req.unmapped, ['service_tier'], 'a non-default Anthropic-only field goes through other providers\' policy');
    assert.equal(req.source.format, 'anthropic-messages');
    assert.equal(req.source.body, full);
    assert.deepEqual(req.tools, [
      { type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true, cache: { type: 'ephemeral' } },
      { type: 'builtin', name: 'web_search_20250305', config: { name: 'web_search', max_uses: 3 } },
    ]);
    assert.deepEqual(req.messages.map((m) => m.role), ['system', 'user', 'assistant', 'tool', 'user']);
    assert.deepEqual(req.messages[0].parts, [{ type: 'text', text: 'Be brief.', cache: { type: 'ephemeral', ttl: '1h' } }]);
    assert.deepEqual(req.messages[2].parts, [
      { type: 'reasoning', text: 'Let me think.', signature: 'sig-1', provider: 'anthropic' },
      { type: 'reasoning', text: '', redacted: 'opaque', provider: 'anthropic' },
      { type: 'text', text: 'Calling.' },
      { type: 'tool_call', id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Zürich"}' },
      { type: 'tool_call', id: 'toolu_2', name: 'now', arguments: '{}' },
    ]);
    assert.deepEqual(req.messages[3].parts, [
      { type: 'tool_result', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] },
      { type: 'tool_result', toolCallId: 'toolu_2', content: [{ type: 'text', text: '12:00' }, { type: 'image', source: { kind: 'url', url: 'https://x/y.png' } }], isError: true },
    ]);
    assert.deepEqual(req.messages[4].parts, [
      { type: 'text', text: 'And tomorrow?', cache: { type: 'ephemeral' } },
      { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' } },
      { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBER' }, filename: 'report.pdf' },
      { type: 'file', source: { kind: 'base64', mediaType: 'text/plain', data: Buffer.from('plain words').toString('base64') } },
      { type: 'image', source: { kind: 'file_id', fileId: 'file_1' } },
    ]);
  });

  it('splits a user turn that mixes tool results and other blocks, keeping their order', () => {
    const req = parseAnthropicRequest({
      max_tokens: 10,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'tool_result', tool_use_id: 't1', content: 'r' }, { type: 'text', text: 'b' }] }],
    });
    assert.deepEqual(req.messages.map((m) => [m.role, m.parts.map((p) => p.type)]), [['user', ['text']], ['tool', ['tool_result']], ['user', ['text']]]);
  });

  it('lists what no canonical field carries by its path, and passes nothing on in silence', () => {
    const req = parseAnthropicRequest({
      max_tokens: 10,
      messages: [
        { role: 'user', content: [{ type: 'search_result', source: 's', title: 't', content: [] }, { type: 'text', text: 'x', citations: [{ type: 'char_location' }] }, { type: 'container_upload', file_id: 'f' }] },
        { role: 'assistant', content: [{ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }, { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] }, { type: 'text', text: 'ok', citations: [] }] },
        { role: 'user', content: [{ type: 'document', source: { type: 'content', content: 'x' } }, { type: 'document', source: { type: 'url', url: 'https://x/a.pdf' }, context: 'c', citations: { enabled: true } }] },
      ],
      tools: [{ name: 'f', input_schema: { type: 'object' }, defer_loading: true }],
      metadata: { user_id: 'u', other: 'x' },
      thinking: { type: 'adaptive', display: 'omitted' },
      container: 'cntr_1',
      mcp_servers: [],
      service_tier: 'auto',
    });
    assert.deepEqual(req.unmapped, [
      'messages[0].content[0]',
      'messages[0].content[1].citations',
      'messages[0].content[2]',
      'messages[1].content[0]',
      'messages[1].content[1]',
      'messages[2].content[0].source',
      'messages[2].content[1].context',
      'messages[2].content[1].citations',
      'tools[0].defer_loading',
      'thinking.display',
      'metadata.other',
      'container',
    ]);
    assert.deepEqual(req.anthropic, { service_tier: 'auto', container: 'cntr_1', mcp_servers: [] }, 'carried for the Anthropic provider; defaults not reported');
    assert.deepEqual(req.reasoning, { effort: 'high' }, "adaptive thinking: Anthropic's default effort");
  });

  it('maps thinking and structured output variants', () => {
    const base = { max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    assert.deepEqual(parseAnthropicRequest({ ...base, thinking: { type: 'disabled' } }).reasoning, { effort: 'none' });
    assert.deepEqual(parseAnthropicRequest({ ...base, thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }).reasoning, { effort: 'low' });
    assert.deepEqual(parseAnthropicRequest({ ...base, output_config: { effort: 'max' } }).reasoning, { effort: 'high' });
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    assert.deepEqual(parseAnthropicRequest({ ...base, output_config: { format: { type: 'json_schema', schema } } }).output, { type: 'json_schema', name: 'response', schema, strict: true });
    assert.deepEqual(parseAnthropicRequest({ ...base, output_format: { type: 'json_schema', schema } }).output?.type, 'json_schema');
    const choices = ['auto', 'none'].map((type) => parseAnthropicRequest({ ...base, tool_choice: { type } }).toolChoice);
    assert.deepEqual(choices, [{ type: 'auto' }, { type: 'none' }]);
    assert.deepEqual(parseAnthropicRequest({ ...base, tool_choice: { type: 'tool', name: 'f' } }).toolChoice, { type: 'tool', name: 'f' });
    assert.equal(parseAnthropicRequest({ ...base, system: 'Be nice.' }).messages[0].role, 'system');
  });

  it("puts the request's cache_control on the last message (automatic caching)", () => {
    const req = parseAnthropicRequest({ max_tokens: 10, cache_control: { type: 'ephemeral' }, messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] });
    assert.deepEqual(req.messages[1].cache, { type: 'ephemeral' });
  });

  it('refuses what Anthropic refuses, naming the field', () => {
    const refused = (body: unknown, message: RegExp) => assert.throws(() => parseAnthropicRequest(body), (e: unknown) => e instanceof RequestError && message.test(e.message));
    refused({ messages: [{ role: 'user', content: 'x' }] }, /^max_tokens: Field required$/);
    refused({ max_tokens: 10 }, /^messages: Field required$/);
    refused({ max_tokens: 1.5, messages: [] }, /^max_tokens:/);
    refused({ max_tokens: 10, messages: [{ role: 'user', content: [{ text: 'x' }] }] }, /^messages\[0\]\.content\[0\]\.type:/);
    refused({ max_tokens: 10, messages: [{ role: 'tool', content: 'x' }] }, /^messages\[0\]\.role:/);
    refused({ max_tokens: 10, messages: [], temperature: 1.5 }, /^temperature:/);
    refused({ max_tokens: 10, messages: [], thinking: { type: 'enabled', budget_tokens: 100 } }, /^thinking\.budget_tokens:/);
    refused({ max_tokens: 10, messages: [], tool_choice: { type: 'required' } }, /^tool_choice\.type:/);
    refused({ max_tokens: 10, messages: [], tools: [{ name: 'f' }] }, /^tools\[0\]\.input_schema: Field required$/);
    refused({ max_tokens: 10, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: [1] }] }] }, /^messages\[0\]\.content\[0\]\.input:/);
    refused({ max_tokens: 10, messages: [], system: [{ type: 'image' }] }, /^system\[0\]\.type:/);
    refused({ max_tokens: 10, messages: [], cache_control: { type: 'persistent' } }, /^cache_control\.type:/);
    refused([], /request body/);
  });

  it('count_tokens: the body without max_tokens, and an estimate over system, messages and tools', () => {
    const body = { model: 'claude-sonnet-4-5', system: 'You are terse.', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] };
    const req = parseCountTokensRequest(body);
    assert.equal(req.stream, false);
    const bare = estimateInputTokens(req);
    assert.ok(bare > 10 && bare < 40, `${bare}`);
    const withTools = estimateInputTokens(parseCountTokensRequest({ ...body, tools: [{ name: 'get_weather', description: 'The weather in a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] }));
    assert.ok(withTools > bare + 10, 'tool definitions count');
    const withImage = estimateInputTokens(parseCountTokensRequest({ ...body, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] }] }));
    assert.ok(withImage >= 1600, 'an image counts');
  });

  it('is the anthropic-messages client API', () => {
    const api = clientApi('anthropic-messages');
    assert.equal(api.format, 'anthropic-messages');
    assert.equal(api.idPrefix, 'msg_');
    assert.equal(api.parse({ max_tokens: 1, messages: [] }).source.format, 'anthropic-messages');
  });
});

// ---------------------------------------------------------------------------------------------
// Whole answers

describe('Anthropic renderer: whole answers', () => {
  const answer = (parts: CanonicalResponse['choices'][number]['parts'], finishReason: CanonicalResponse['choices'][number]['finishReason'], extra: Partial<CanonicalResponse['choices'][number]> = {}): CanonicalResponse => ({
    id: 'chatcmpl-1',
    created: 1,
    model: 'gpt-x',
    choices: [{ parts, finishReason, ...extra }],
    usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 60, cache_write_tokens: 10 } },
  });

  it('a message with thinking, redacted thinking, text and tool_use blocks in order, usage with cache fields', () => {
    const body = JSON.parse(renderAnthropicResponse(answer([
      { type: 'reasoning', text: 'hmm', signature: 'sig', provider: 'anthropic' },
      { type: 'reasoning', text: '', redacted: 'xyz', provider: 'anthropic' },
      { type: 'text', text: 'Sure' },
      { type: 'text', text: '.' },
      { type: 'tool_call', id: 'call:1/2', name: 'f', arguments: '' },
      { type: 'tool_call', id: 'toolu_9', name: 'g', arguments: '{"a":1}' },
    ], 'tool_calls'), sinkCtx));
    const message: Anthropic.Message = body;
    assert.equal(message.id, 'msg_gateway', 'the provider id is not an Anthropic one: the gateway id');
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, 'gpt-x');
    assert.deepEqual(message.content.map((b) => b.type), ['thinking', 'redacted_thinking', 'text', 'tool_use', 'tool_use']);
    assert.deepEqual(body.content[0], { type: 'thinking', thinking: 'hmm', signature: 'sig' });
    assert.deepEqual(body.content[2], { type: 'text', text: 'Sure.' });
    assert.match(body.content[3].id, /^[a-zA-Z0-9_-]+$/);
    assert.deepEqual(body.content[3].input, {}, 'no arguments: an empty input');
    assert.deepEqual(body.content[4], { type: 'tool_use', id: 'toolu_9', name: 'g', input: { a: 1 } });
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.stop_sequence, null);
    assert.deepEqual(body.usage, { input_tokens: 30, cache_creation_input_tokens: 10, cache_read_input_tokens: 60, output_tokens: 20 });
  });

  it('stop reasons by table, and stop_sequence when the answer says which', () => {
    const reason = (finish: any, extra = {}) => JSON.parse(renderAnthropicResponse(answer([{ type: 'text', text: 'x' }], finish, extra), sinkCtx));
    assert.equal(reason('stop').stop_reason, 'end_turn');
    assert.equal(reason('length').stop_reason, 'max_tokens');
    assert.equal(reason('content_filter').stop_reason, 'refusal');
    assert.equal(reason(null).stop_reason, 'end_turn');
    assert.deepEqual([reason('stop', { stopSequence: 'END' }).stop_reason, reason('stop', { stopSequence: 'END' }).stop_sequence], ['stop_sequence', 'END']);
  });

  it("another provider's reasoning state is not an Anthropic signature", () => {
    const body = JSON.parse(renderAnthropicResponse(answer([
      { type: 'reasoning', text: 'thought', signature: 'gemini-sig', provider: 'gemini' },
      { type: 'reasoning', text: '', signature: 'gemini-call-sig', provider: 'gemini', toolCallId: 'c1' },
      { type: 'reasoning', text: '', encrypted: 'enc', provider: 'openai' },
      { type: 'text', text: 'x' },
    ], 'stop'), { ...sinkCtx, id: 'msg_x' }));
    assert.deepEqual(body.content, [{ type: 'thinking', thinking: 'thought', signature: '' }, { type: 'text', text: 'x' }]);
  });

  it("keeps an Anthropic provider's msg_ id", () => {
    assert.equal(JSON.parse(renderAnthropicResponse({ ...answer([], 'stop'), id: 'msg_01abc' }, sinkCtx)).id, 'msg_01abc');
  });
});

// ---------------------------------------------------------------------------------------------
// Streams, event by event

function run(build: (sink: EventSink) => string): string {
  return build(new AnthropicMessagesSink(sinkCtx));
}

const usage = { prompt_tokens: 50, completion_tokens: 12, total_tokens: 62, prompt_tokens_details: { cached_tokens: 40 } };

const SEQUENCES: Record<string, { build: (s: EventSink) => string; check: (m: Anthropic.Message) => void }> = {
  text: {
    build: (s) => s.start() + s.text('Hello') + s.text(', wörld 👋') + s.finish('stop') + s.usage(usage) + s.done(),
    check: (m) => {
      assert.deepEqual(m.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Hello, wörld 👋']);
      assert.equal(m.stop_reason, 'end_turn');
      assert.deepEqual([m.usage.input_tokens, m.usage.cache_read_input_tokens, m.usage.output_tokens], [10, 40, 12]);
    },
  },
  'thinking-then-text': {
    build: (s) =>
      s.start() + s.reasoning('Let me ') + s.reasoning('think.') + s.reasoningState({ type: 'reasoning', text: '', signature: 'EqQBCkYIAR', provider: 'anthropic' }) + s.text('42') + s.finish('stop') + s.usage(usage) + s.done(),
    check: (m) => {
      assert.deepEqual(m.content, [{ type: 'thinking', thinking: 'Let me think.', signature: 'EqQBCkYIAR' }, { type: 'text', text: '42' }]);
    },
  },
  'redacted-thinking': {
    build: (s) => s.start() + s.reasoningState({ type: 'reasoning', text: '', redacted: 'opaque==', provider: 'anthropic' }) + s.text('ok') + s.finish('stop') + s.usage(usage) + s.done(),
    check: (m) => assert.deepEqual(m.content.map((b) => b.type), ['redacted_thinking', 'text']),
  },
  'tool-use': {
    build: (s) =>
      s.start() +
      s.text('Checking.') +
      s.toolCalls([{ index: 0, id: 'call_abc', name: 'get_weather', arguments: '' }]) +
      s.toolCalls([{ index: 0, arguments: '{"city":' }]) +
      s.toolCalls([{ index: 0, arguments: '"Zürich"}' }]) +
      s.toolCalls([{ index: 1, id: 'bad id/with+chars=', name: 'now', arguments: '' }]) +
      s.finish('tool_calls') +
      s.usage(usage) +
      s.done(),
    check: (m) => {
      const calls = m.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      assert.deepEqual(calls.map((c) => [c.name, c.input]), [['get_weather', { city: 'Zürich' }], ['now', {}]]);
      for (const c of calls) assert.match(c.id, /^[a-zA-Z0-9_-]+$/);
      assert.equal(m.stop_reason, 'tool_use');
    },
  },
  'max-tokens': {
    build: (s) => s.start() + s.text('The answer is') + s.finish('length') + s.usage({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }) + s.done(),
    check: (m) => {
      assert.equal(m.stop_reason, 'max_tokens');
      assert.equal(m.usage.output_tokens, 3);
    },
  },
};

describe('Anthropic renderer: streamed events', () => {
  for (const [name, { build, check }] of Object.entries(SEQUENCES)) {
    it(`${name} = golden/anthropic/${name}.txt, the SDK's types, and the message its accumulator builds`, async () => {
      const text = run(build);
      assertGolden(GOLDEN, name, text);
      assertEventShapes(text);
      check(await sdkMessage(text));
    });
  }

  it('the tool calls and reasoning state the answer carried (for the provider-state cache)', () => {
    const sink = new AnthropicMessagesSink(sinkCtx);
    SEQUENCES['thinking-then-text'].build(sink);
    assert.deepEqual(sink.carried.reasoning, [{ type: 'reasoning', text: 'Let me think.', signature: 'EqQBCkYIAR', provider: 'anthropic' }]);
    const tools = new AnthropicMessagesSink(sinkCtx);
    SEQUENCES['tool-use'].build(tools);
    assert.equal(tools.carried.toolCallIds.length, 2);
    assert.equal(tools.carried.toolCallIds[0], 'call_abc');
  });

  it("another provider's signature stays in carried, never in signature_delta", () => {
    const sink = new AnthropicMessagesSink(sinkCtx);
    const text = sink.start() + sink.reasoning('hm') + sink.reasoningState({ type: 'reasoning', text: '', signature: 'g', provider: 'gemini', toolCallId: 'x/y' }) + sink.finish('stop') + sink.done();
    assert.doesNotMatch(text, /signature_delta/);
    assert.equal(sink.carried.reasoning[0].signature, 'g');
    assert.match(sink.carried.reasoning[0].toolCallId!, /^[A-Za-z0-9_-]+$/);
  });

  it('error: an `error` event the SDK raises with its type', async () => {
    const sink = new AnthropicMessagesSink(sinkCtx);
    const text = sink.start() + sink.text('Partial') + sink.error({ message: 'the provider is overloaded', status: 529, code: 'provider_error', provider: { name: 'gemini', type: 'UNAVAILABLE' } });
    assertGolden(GOLDEN, 'error', text);
    assertEventShapes(text);
    await assert.rejects(sdkMessage(text), (e: any) => e.type === 'overloaded_error' && e.errorCode === 'provider_error' && /overloaded/.test(e.message));
  });
});

// ---------------------------------------------------------------------------------------------
// Provider streams rendered for an Anthropic client, cut at every byte

function anthropicClientContext(provider: ProviderName, options: Partial<ModelOptions> = {}): ExchangeContext {
  return new ExchangeContext({ provider, routeType: 'llm/v1/chat', model: 'test-model', options: { ...NO_OPTIONS, ...options }, stream: true, includeUsage: true, inbound: 'anthropic-messages', id: 'msg_gateway', now: 1_700_000_000 });
}

/** message_delta's usage, from the recording's own counts (input without cache reads, as Anthropic reports it). */
type RecordedUsage = Pick<Anthropic.MessageDeltaUsage, 'input_tokens' | 'cache_read_input_tokens' | 'output_tokens'>;

interface ProviderStream {
  recording: string;
  provider: ProviderName;
  options?: Partial<ModelOptions>;
  golden: string;
  stop: Anthropic.StopReason;
  /** The tool calls of the recording: name and input. */
  calls: [string, unknown][];
  /** null: the recording has none (the relay adds the gateway's estimate; the translator invents nothing). */
  usage: RecordedUsage | null;
  check?: (m: Anthropic.Message) => void;
}

const OLLAMA = { llama2_format: 'ollama' } as const;
const RAW = { llama2_format: 'raw' } as const;
const NO_USAGE: RecordedUsage = { input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 };

// One or more per provider wire format (Anthropic itself answers an Anthropic client natively: below).
const PROVIDER_STREAMS: ProviderStream[] = [
  { recording: 'openai-tool-calls.sse', provider: 'openai', golden: 'from-openai-tool-calls', stop: 'tool_use', calls: [['get_weather', { location: 'Zürich' }]], usage: { input_tokens: 82, cache_read_input_tokens: 0, output_tokens: 17 } },
  { recording: 'deepseek-reasoner.sse', provider: 'deepseek', golden: 'from-deepseek-reasoner', stop: 'end_turn', calls: [], usage: { input_tokens: 12, cache_read_input_tokens: 0, output_tokens: 20 }, check: (m) => assert.deepEqual(m.content.map((b) => b.type), ['thinking', 'text']) },
  {
    recording: 'deepseek-reasoner-tool-calls.sse',
    provider: 'deepseek',
    golden: 'from-deepseek-reasoning-tool-calls',
    stop: 'tool_use',
    calls: [['get_weather', { city: 'Zürich' }], ['get_weather', { city: 'Paris' }]],
    usage: { input_tokens: 82, cache_read_input_tokens: 128, output_tokens: 96 },
    check: (m) => assert.deepEqual(m.content.map((b) => b.type), ['thinking', 'text', 'tool_use', 'tool_use']),
  },
  { recording: 'gemini-chat.sse', provider: 'gemini', golden: 'from-gemini-chat', stop: 'end_turn', calls: [], usage: { input_tokens: 9, cache_read_input_tokens: 0, output_tokens: 12 } },
  { recording: 'gemini-tool-call.sse', provider: 'gemini', golden: 'from-gemini-tool-call', stop: 'tool_use', calls: [['get_weather', { city: 'Zürich' }]], usage: { input_tokens: 41, cache_read_input_tokens: 0, output_tokens: 7 } },
  { recording: 'bedrock-chat.eventstream', provider: 'bedrock', golden: 'from-bedrock-chat', stop: 'max_tokens', calls: [], usage: { input_tokens: 11, cache_read_input_tokens: 20, output_tokens: 7 } },
  {
    recording: 'bedrock-reasoning-tool-use.eventstream',
    provider: 'bedrock',
    golden: 'from-bedrock-reasoning-tool-use',
    stop: 'tool_use',
    calls: [['get_weather', { city: 'Zürich' }]],
    usage: { input_tokens: 412, cache_read_input_tokens: 1024, output_tokens: 96 },
    check: (m) => {
      assert.deepEqual(m.content.map((b) => b.type), ['thinking', 'text', 'tool_use']);
      // Bedrock's signature is Bedrock's state: kept in `carried` for the gateway's cache, never a
      // signature_delta (render/anthropic-messages.ts), so the client's thinking block has none.
      assert.equal((m.content[0] as Anthropic.ThinkingBlock).signature, '');
    },
  },
  { recording: 'cohere-chat.ndjson', provider: 'cohere', golden: 'from-cohere-chat', stop: 'end_turn', calls: [], usage: { input_tokens: 9, cache_read_input_tokens: 0, output_tokens: 8 } },
  { recording: 'ollama-chat.ndjson', provider: 'llama2', options: OLLAMA, golden: 'from-ollama-chat', stop: 'end_turn', calls: [], usage: { input_tokens: 26, cache_read_input_tokens: 0, output_tokens: 282 } },
  {
    recording: 'ollama-thinking-tool-call.ndjson',
    provider: 'llama2',
    options: OLLAMA,
    golden: 'from-ollama-thinking-tool-call',
    stop: 'tool_use',
    calls: [['get_weather', { city: 'Zürich', unit: 'celsius' }]],
    usage: { input_tokens: 164, cache_read_input_tokens: 0, output_tokens: 58 },
    check: (m) => assert.deepEqual(m.content.map((b) => b.type), ['thinking', 'tool_use']),
  },
  { recording: 'tgi.sse', provider: 'llama2', options: RAW, golden: 'from-llama2-raw-tgi', stop: 'end_turn', calls: [], usage: null },
  { recording: 'llamacpp.sse', provider: 'llama2', options: RAW, golden: 'from-llama2-raw-llamacpp-length', stop: 'max_tokens', calls: [], usage: { input_tokens: 11, cache_read_input_tokens: 0, output_tokens: 2 } },
];

describe('provider streams → Anthropic events, cut at every byte', () => {
  for (const p of PROVIDER_STREAMS) {
    it(`${p.recording} (${p.provider}${p.options ? ` ${p.options.llama2_format}` : ''}) = golden/anthropic/${p.golden}.txt`, async () => {
      const whole = runEverySplit(() => anthropicClientContext(p.provider, p.options), providerRecording(p.recording)).output;
      assertEventShapes(whole);
      assertGolden(GOLDEN, p.golden, whole);
      const delta = events(whole).find((e) => e.event === 'message_delta')!.data as Anthropic.RawMessageDeltaEvent;
      assert.equal(delta.delta.stop_reason, p.stop);
      const usage = p.usage ?? NO_USAGE;
      assert.deepEqual([delta.usage.input_tokens, delta.usage.cache_read_input_tokens, delta.usage.output_tokens], [usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens], "the recording's usage");
      assert.deepEqual(toolInputs(whole), p.calls, 'input_json_delta pieces add up to the tool inputs');
      const message = await sdkMessage(whole);
      assert.equal(message.stop_reason, p.stop);
      assert.deepEqual(message.content.filter((b) => b.type === 'tool_use').map((b) => [b.name, b.input]), p.calls, "the SDK's accumulated tool inputs");
      p.check?.(message);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Errors

describe('Anthropic error bodies', () => {
  it("Kong's message and OpenAI's envelope in Anthropic's shape, modelgate's code in error.details.error_code", () => {
    assert.deepEqual(anthropicErrorBody(401, { message: 'No API key found in request', request_id: 'req_1' }, null), {
      type: 'error',
      error: { type: 'authentication_error', message: 'No API key found in request' },
      request_id: 'req_1',
    });
    assert.deepEqual(anthropicErrorBody(429, { message: 'API rate limit exceeded', error: { message: 'API rate limit exceeded', type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null } }, null), {
      type: 'error',
      error: { type: 'rate_limit_error', message: 'API rate limit exceeded', details: { error_code: 'rate_limit_exceeded' } },
    });
    assert.deepEqual(anthropicErrorBody(502, { message: 'An invalid response was received from the upstream server' }, 'ECONNREFUSED'), {
      type: 'error',
      error: { type: 'api_error', message: 'An invalid response was received from the upstream server', details: { error_code: 'upstream_unavailable' } },
    });
    const types = [400, 403, 404, 405, 413, 500, 503, 504, 529].map((status) => (anthropicErrorBody(status, { message: 'm' }, null) as any).error.type);
    assert.deepEqual(types, ['invalid_request_error', 'permission_error', 'not_found_error', 'invalid_request_error', 'request_too_large', 'api_error', 'api_error', 'timeout_error', 'overloaded_error']);
    assert.equal(anthropicErrorBody(400, 'plain text', null), 'plain text');
    const provider = anthropicErrorBody(400, { error: { message: 'bad', type: 'invalid_request_error', code: 'provider_error', param: null, provider: { name: 'gemini', type: 'INVALID_ARGUMENT' } } }, null) as any;
    assert.deepEqual(provider.error.details, { error_code: 'provider_error', provider: { name: 'gemini', type: 'INVALID_ARGUMENT' } });
  });

  it("a stream error keeps the provider's Anthropic type, else the status's", () => {
    const data = (s: string) => JSON.parse(s.split('\n')[1].slice(6));
    assert.equal(data(anthropicStreamError({ message: 'Overloaded', status: 502, code: 'provider_error', provider: { name: 'anthropic', type: 'overloaded_error' } })).error.type, 'overloaded_error');
    assert.equal(data(anthropicStreamError({ message: 'cut', status: 502, code: 'upstream_truncated' })).error.type, 'api_error');
    assert.ok(anthropicStreamError({ message: 'x', status: 504, code: 'max_stream_duration' }).startsWith('event: error\n'));
  });
});

// ---------------------------------------------------------------------------------------------
// The native pass-through to Anthropic

describe('Anthropic native format: an Anthropic client in front of the Anthropic provider', () => {
  const body = {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', citations: null }, { type: 'search_result', source: 's', title: 't', content: [] }] }],
    container: 'cntr_1',
    stream: true,
    vendor_flag: 1,
  };
  const ctxFor = (init: { model?: string; stream?: boolean; options?: Partial<ModelOptions>; policy?: 'error' | 'drop' | 'pass' } = {}) =>
    new ExchangeContext({ provider: 'anthropic', routeType: 'llm/v1/chat', model: init.model ?? 'claude-sonnet-4-5', options: { ...NO_OPTIONS, ...init.options }, stream: init.stream ?? true, includeUsage: true, inbound: 'anthropic-messages', ...(init.policy ? { policy: init.policy } : {}) });

  it('is the format the Anthropic driver picks for an Anthropic client, which judges unmapped fields itself', () => {
    const driver = getDriver('anthropic');
    assert.equal(driver.handlesUnmapped?.(ctxFor()), true);
    const openaiCtx = new ExchangeContext({ provider: 'anthropic', routeType: 'llm/v1/chat', model: 'm', options: NO_OPTIONS, stream: false, includeUsage: false });
    assert.equal(driver.handlesUnmapped?.(openaiCtx), false, 'an OpenAI client still gets the translating format');
  });

  it('sends the client body unchanged when nothing changes, member for member, unknown fields for Anthropic to judge', () => {
    const req = parseAnthropicRequest(body);
    const ctx = new ExchangeContext({ provider: 'anthropic', routeType: 'llm/v1/chat', model: 'claude-sonnet-4-5', options: NO_OPTIONS, stream: true, includeUsage: true, inbound: 'anthropic-messages', request: req });
    const sent = providerBody(getDriver('anthropic'), req, ctx);
    assert.equal(JSON.stringify(sent), JSON.stringify(body));
    assert.deepEqual(ctx.dropped, []);
    // without the request in the context, the policy decides the unknown field
    const dropping = ctxFor({ policy: 'drop' });
    const dropped = providerBody(getDriver('anthropic'), req, dropping);
    assert.equal(dropped.vendor_flag, undefined);
    assert.deepEqual(dropping.dropped, ['vendor_flag']);
  });

  it('sets only the route model, stream and configured sampling', () => {
    const req = parseAnthropicRequest(body);
    const sent = anthropicNativeFormat.buildRequest(req, ctxFor({ model: 'claude-opus-4-1', stream: false, options: { max_tokens: 512, temperature: 0.2 } }));
    assert.deepEqual(Object.keys(sent), [...Object.keys(body), 'temperature']);
    assert.deepEqual([sent.model, sent.stream, sent.max_tokens, sent.temperature], ['claude-opus-4-1', false, 512, 0.2]);
    assert.equal(body.model, 'claude-sonnet-4-5', "the client's body itself is not changed");
  });

  it('configured sampling follows Anthropic’s thinking rules, as the translating format', () => {
    const req = parseAnthropicRequest({ ...body, thinking: { type: 'enabled', budget_tokens: 2048 } });
    const ctx = ctxFor({ options: { max_tokens: 1000, temperature: 0.5 }, policy: 'drop' });
    const sent = anthropicNativeFormat.buildRequest(req, ctx);
    assert.equal(sent.max_tokens, 3048, 'max_tokens above the budget');
    assert.equal(sent.temperature, undefined);
    assert.deepEqual(ctx.dropped, ['temperature']);
  });

  it("answers with the provider's bytes and its usage", () => {
    const text = '{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7}}';
    const answer = anthropicNativeFormat.parseResponse(text, ctxFor());
    assert.ok('passthrough' in answer);
    assert.equal(answer.passthrough, text);
    assert.equal(answer.responseModel, 'claude-sonnet-4-5-20250929');
    assert.deepEqual(answer.usage, { prompt_tokens: 115, completion_tokens: 7, total_tokens: 122, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 5 } });
    const translated = getDriver('anthropic').parseResponse(text, ctxFor());
    assert.equal(translated.body, text);
  });

  it('passes every stream event on byte for byte, however the bytes are cut, reading usage, model and text', () => {
    const bytes = providerRecording('anthropic-chat.sse');
    const original = Buffer.from(bytes).toString('utf8');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const run = runStream(ctxFor(), bytes, [cut]);
      assert.equal(run.output, original, `cut at ${cut}`);
      if (cut === 0) {
        assert.equal(run.done, true);
        assert.equal(run.responseModel, 'claude-sonnet-4-5-20250929');
        assert.deepEqual(run.usage, { prompt_tokens: 472, completion_tokens: 89, total_tokens: 561, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 } });
        assert.equal(run.text, 'Okay, let me check the weather in San Francisco — ☀️ «chaud»:{"location": "San Francisco, CA"}');
      }
    }
  });

  it('thinking with its signature, text and a tool_use: the same bytes at every cut, a stream the SDK takes whole', async () => {
    const bytes = providerRecording('anthropic-thinking-tool-use.sse');
    const whole = runEverySplit(() => ctxFor(), bytes);
    assert.equal(whole.output, Buffer.from(bytes).toString('utf8'), 'the golden is the recording itself');
    assertEventShapes(whole.output);
    assert.deepEqual(toolInputs(whole.output), [['get_weather', { city: 'Zürich', unit: 'celsius' }]]);
    assert.deepEqual(whole.usage, { prompt_tokens: 1609, completion_tokens: 142, total_tokens: 1751, prompt_tokens_details: { cached_tokens: 1024, cache_write_tokens: 0 } });
    const message = await sdkMessage(whole.output);
    assert.deepEqual(message.content.map((b) => b.type), ['thinking', 'text', 'tool_use']);
    assert.equal((message.content[0] as Anthropic.ThinkingBlock).signature, 'EqQBCkgIBxABGAIiQFq3fV2z9k1JxM0bYqZt8Rr0uQ4cWl1E');
  });

  it("an error event is the provider's failure, with Anthropic's type", () => {
    assert.throws(() => runStream(ctxFor(), providerRecording('anthropic-error.sse')), (e: unknown) => e instanceof UpstreamStreamError && e.type === 'overloaded_error' && e.message === 'Overloaded');
  });

  it('count_tokens is next to messages', () => {
    assert.equal(countTokensUrl('https://api.anthropic.com:443/v1/messages'), 'https://api.anthropic.com:443/v1/messages/count_tokens');
    assert.equal(countTokensUrl('http://proxy/v1/messages/?beta=true'), 'http://proxy/v1/messages/count_tokens?beta=true');
  });
});
