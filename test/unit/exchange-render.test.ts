/**
 * The renderer for OpenAI clients (src/exchange/render/openai-chat.ts) and the ids it guarantees
 * (src/exchange/ids.ts): `{}` arguments for empty tool calls (streamed or not), reasoning as
 * `reasoning_content` and its state as `reasoning_details`, usage with every kind, neutral ids.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAIChatSink, carriedOf, renderOpenAIResponse } from '../../src/exchange/render/openai-chat.ts';
import { neutralId, toolCallId } from '../../src/exchange/ids.ts';
import { TOOL_CALL_ID, type CanonicalResponse } from '../../src/exchange/types.ts';
import { reasoningPartsOf } from '../../src/exchange/openai-reasoning.ts';

const ctx = { id: 'chatcmpl-1', now: 1_700_000_000, model: 'm', routeType: 'llm/v1/chat' as const, includeUsage: false };
const frames = (text: string): any[] =>
  text
    .split('\n\n')
    .filter((f) => f.startsWith('data: '))
    .map((f) => f.slice(6))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
const deltas = (text: string) => frames(text).filter((f) => f !== '[DONE]').map((f) => f.choices[0]?.delta);

/** What an OpenAI client assembles from the tool-call deltas: index → { id, name, arguments }. */
function assembled(text: string): Record<number, { id: string; name: string; arguments: string }> {
  const calls: Record<number, { id: string; name: string; arguments: string }> = {};
  for (const d of deltas(text)) {
    for (const c of d?.tool_calls ?? []) {
      const call = (calls[c.index] ??= { id: '', name: '', arguments: '' });
      if (c.id) call.id = c.id;
      if (c.function?.name) call.name += c.function.name;
      call.arguments += c.function?.arguments ?? '';
    }
  }
  return calls;
}

describe('OpenAIChatSink', () => {
  it('gives a zero-argument streamed call {} when the next call or the finish closes it', () => {
    const sink = new OpenAIChatSink(ctx);
    let out = sink.start();
    out += sink.toolCalls([{ index: 0, id: 'toolu_1', name: 'now', arguments: '' }]);
    out += sink.toolCalls([{ index: 0, arguments: '' }]); // Anthropic's one empty input_json_delta
    out += sink.toolCalls([{ index: 1, id: 'toolu_2', name: 'weather', arguments: '' }]);
    out += sink.toolCalls([{ index: 1, arguments: '{"city":' }, { index: 1, arguments: '"Paris"}' }]);
    out += sink.toolCalls([{ index: 2, id: 'toolu_3', name: 'later', arguments: '' }]);
    out += sink.finish('tool_calls');
    out += sink.done();
    const calls = assembled(out);
    assert.deepEqual(calls[0], { id: 'toolu_1', name: 'now', arguments: '{}' });
    assert.deepEqual(calls[1], { id: 'toolu_2', name: 'weather', arguments: '{"city":"Paris"}' });
    assert.deepEqual(calls[2], { id: 'toolu_3', name: 'later', arguments: '{}' });
    for (const c of Object.values(calls)) JSON.parse(c.arguments);
    assert.deepEqual(sink.carried.toolCallIds, ['toolu_1', 'toolu_2', 'toolu_3']);
    assert.ok(out.endsWith('data: [DONE]\n\n'));
  });

  it('makes ids neutral and gives every call an id', () => {
    const sink = new OpenAIChatSink(ctx);
    const out = sink.toolCalls([{ index: 0, id: 'call_1__thought__abc+/=', name: 'f', arguments: '{}' }, { index: 1, name: 'g', arguments: '{}' }]);
    const calls = assembled(out);
    assert.match(calls[0].id, TOOL_CALL_ID);
    assert.equal(calls[0].id, neutralId('call_1__thought__abc+/='));
    assert.equal(calls[1].id, 'call_chatcmpl-1_1');
  });

  it('streams reasoning as reasoning_content and its state as reasoning_details, and keeps both', () => {
    const sink = new OpenAIChatSink(ctx);
    let out = sink.reasoning('Let me ');
    out += sink.reasoning('think.');
    out += sink.reasoningState({ type: 'reasoning', text: '', signature: 'sig', provider: 'anthropic' });
    out += sink.text('Hi');
    out += sink.refusal('no');
    const d = deltas(out);
    assert.deepEqual(d[0], { reasoning_content: 'Let me ' });
    assert.deepEqual(d[2], { reasoning_details: [{ type: 'reasoning.text', text: '', signature: 'sig', format: 'anthropic-claude-v1', index: 0 }] });
    assert.deepEqual(d[3], { content: 'Hi' });
    assert.deepEqual(d[4], { refusal: 'no' });
    // the carried part has the text streamed before the state: Anthropic needs both back
    assert.deepEqual(sink.carried.reasoning, [{ type: 'reasoning', text: 'Let me think.', signature: 'sig', provider: 'anthropic' }]);
  });

  it('writes the usage chunk with every kind', () => {
    const sink = new OpenAIChatSink({ ...ctx, includeUsage: true });
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 8, cache_write_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 3 } };
    const [chunk] = frames(sink.usage(usage));
    assert.deepEqual(chunk, { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'm', choices: [], usage });
    assert.equal(frames(sink.text('x'))[0].usage, null, 'usage: null on every chunk when the client asked for usage');
  });

  it('renders completions: text only', () => {
    const sink = new OpenAIChatSink({ ...ctx, routeType: 'llm/v1/completions' });
    assert.equal(sink.start(), '');
    assert.equal(sink.reasoning('x'), '');
    assert.deepEqual(frames(sink.text('a'))[0].choices[0], { text: 'a', index: 0, logprobs: null, finish_reason: null });
  });
});

describe('renderOpenAIResponse', () => {
  const response: CanonicalResponse = {
    id: 'msg_1',
    created: 1,
    model: 'claude',
    choices: [
      {
        parts: [
          { type: 'reasoning', text: 'hmm', signature: 's', provider: 'anthropic' },
          { type: 'reasoning', text: '', redacted: 'opaque', provider: 'anthropic' },
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_call', id: 'toolu_1', name: 'now', arguments: '' },
          { type: 'tool_call', id: 'a+b=', name: 'f', arguments: '{"a":1}' },
        ],
        finishReason: 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, completion_tokens_details: { reasoning_tokens: 2 } },
  };

  it('writes reasoning_content, reasoning_details (signed, redacted), {} for empty arguments and neutral ids', () => {
    const answer = JSON.parse(renderOpenAIResponse(response, 'llm/v1/chat'));
    assert.deepEqual(answer.choices[0].message, {
      role: 'assistant',
      content: 'Let me check.',
      reasoning_content: 'hmm',
      reasoning_details: [
        { type: 'reasoning.text', text: 'hmm', signature: 's', format: 'anthropic-claude-v1', index: 0 },
        { type: 'reasoning.encrypted', data: 'opaque', format: 'anthropic-claude-v1', index: 1 },
      ],
      tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'now', arguments: '{}' } },
        { id: neutralId('a+b='), type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
      ],
    });
    assert.deepEqual(answer.usage, response.usage);
    // what a client echoes back parses into the same state
    assert.deepEqual(reasoningPartsOf(answer.choices[0].message.reasoning_details).parts, [
      { type: 'reasoning', text: 'hmm', signature: 's', provider: 'anthropic' },
      { type: 'reasoning', text: '', redacted: 'opaque', provider: 'anthropic' },
    ]);
  });

  it('answers content null for a tool-only answer, and the refusal', () => {
    const tools = JSON.parse(renderOpenAIResponse({ ...response, choices: [{ parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }], finishReason: 'tool_calls' }] }, 'llm/v1/chat'));
    assert.equal(tools.choices[0].message.content, null);
    const refusal = JSON.parse(renderOpenAIResponse({ ...response, choices: [{ parts: [{ type: 'refusal', text: 'I cannot' }], finishReason: 'stop' }] }, 'llm/v1/chat'));
    assert.deepEqual(refusal.choices[0].message, { role: 'assistant', content: null, refusal: 'I cannot' });
    const empty = JSON.parse(renderOpenAIResponse({ ...response, choices: [{ parts: [], finishReason: 'stop' }] }, 'llm/v1/chat'));
    assert.deepEqual(empty.choices[0].message, { role: 'assistant', content: '' });
  });

  it('carries the state with the ids the client sees', () => {
    const carried = carriedOf(response);
    assert.deepEqual(carried.toolCallIds, ['toolu_1', neutralId('a+b=')]);
    assert.equal(carried.reasoning.length, 2);
  });
});

describe('tool-call ids', () => {
  it('keeps neutral ids, maps others stably, makes one when there is none', () => {
    assert.equal(toolCallId('call_abc', 'x', 0), 'call_abc');
    assert.equal(toolCallId('toolu_01A', 'x', 0), 'toolu_01A');
    const gemini = toolCallId(`call_1__thought__${'A+/='.repeat(100)}`, 'x', 0);
    assert.match(gemini, TOOL_CALL_ID);
    assert.equal(gemini, toolCallId(`call_1__thought__${'A+/='.repeat(100)}`, 'y', 5), 'the same provider id, the same neutral id');
    assert.equal(toolCallId(undefined, 'resp-1', 2), 'call_resp-1_2');
    assert.match(toolCallId(undefined, 'resp.1:x', 2), TOOL_CALL_ID);
    assert.equal(neutralId(neutralId('a.b')), neutralId('a.b'), 'idempotent');
  });
});
