/**
 * The OpenAI inbound adapter (src/exchange/inbound/openai-chat.ts): every documented Chat
 * Completions field is mapped into the canonical request or kept by name for the policy; Kong's
 * format detection and messages are unchanged.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpenAIRequest, CHAT_FIELDS } from '../../src/exchange/inbound/openai-chat.ts';
import { RequestError } from '../../src/llm/types.ts';

const CHAT = 'llm/v1/chat' as const;
const COMPLETIONS = 'llm/v1/completions' as const;
const hi = { messages: [{ role: 'user', content: 'hi' }] };
const refused = (body: unknown, message: string | RegExp, route: typeof CHAT | typeof COMPLETIONS = CHAT) =>
  assert.throws(() => parseOpenAIRequest(body, route), (e: unknown) => e instanceof RequestError && (typeof message === 'string' ? e.message === message : message.test(e.message)));

describe('inbound openai-chat: format detection (Kong)', () => {
  it("keeps Kong's messages", () => {
    refused({}, 'request format not recognised');
    refused({ messages: [] }, 'messages: expected a non-empty array of messages');
    refused({ messages: [{ role: 'user', content: 'x' }], prompt: 'y' }, 'request matches multiple LLM request formats');
    refused({ prompt: 'x' }, '[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type');
  });
});

describe('inbound openai-chat: every field', () => {
  it('maps messages and their parts, cache marks, reasoning and tool turns', () => {
    const req = parseOpenAIRequest(
      {
        messages: [
          { role: 'developer', content: 'be brief', cache_control: { type: 'ephemeral', ttl: '1h' } },
          {
            role: 'user',
            name: 'bob',
            content: [
              { type: 'text', text: 'look', cache_control: { type: 'ephemeral' } },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
              { type: 'image_url', image_url: { url: 'https://x/cat.png' } },
              { type: 'input_audio', input_audio: { data: 'UklG', format: 'wav' } },
              { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' } },
              { type: 'file', file: { file_id: 'file-1' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            reasoning_content: 'thinking',
            reasoning_details: [{ type: 'reasoning.text', text: '', signature: 'sig', format: 'anthropic-claude-v1', index: 0 }],
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'done' }] },
          { role: 'assistant', content: 'ok', refusal: 'no' },
        ],
      },
      CHAT,
    );
    assert.deepEqual(req.messages[0], { role: 'developer', parts: [{ type: 'text', text: 'be brief' }], cache: { type: 'ephemeral', ttl: '1h' } });
    assert.deepEqual(req.messages[1], {
      role: 'user',
      name: 'bob',
      parts: [
        { type: 'text', text: 'look', cache: { type: 'ephemeral' } },
        { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' }, detail: 'low' },
        { type: 'image', source: { kind: 'url', url: 'https://x/cat.png' } },
        { type: 'audio', data: 'UklG', format: 'wav' },
        { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBE' }, filename: 'a.pdf' },
        { type: 'file', source: { kind: 'file_id', fileId: 'file-1' } },
      ],
    });
    // the streamed client's reasoning_content and its text-less signed detail are one part again
    assert.deepEqual(req.messages[2].parts, [
      { type: 'reasoning', text: 'thinking', signature: 'sig', provider: 'anthropic' },
      { type: 'tool_call', id: 'call_1', name: 'f', arguments: '' },
    ]);
    assert.deepEqual(req.messages[3], { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'done' }] }] });
    assert.deepEqual(req.messages[4].parts, [{ type: 'text', text: 'ok' }, { type: 'refusal', text: 'no' }]);
    assert.deepEqual(req.unmapped, []);
  });

  it('maps tools, tool choice, output, reasoning, sampling, user, metadata and the OpenAI-only fields', () => {
    const body = {
      ...hi,
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true, include_obfuscation: false },
      tools: [
        { type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object', properties: { a: { type: 'string' } } }, strict: true }, cache_control: { type: 'ephemeral' } },
        { type: 'function', function: { name: 'g' } },
        { type: 'web_search', search_context_size: 'low' },
      ],
      tool_choice: { type: 'function', function: { name: 'f' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true, description: 'x' } },
      reasoning_effort: 'low',
      max_completion_tokens: 100,
      max_tokens: 50,
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stop: 'END',
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      n: 2,
      logprobs: true,
      top_logprobs: 3,
      logit_bias: { '50256': -100 },
      safety_identifier: 'u-1',
      metadata: { team: 'a' },
      store: true,
      service_tier: 'flex',
      prompt_cache_key: 'k',
      prediction: { type: 'content', content: 'x' },
      modalities: ['text'],
      audio: { voice: 'alloy', format: 'mp3' },
      web_search_options: {},
      verbosity: 'low',
      min_p: 0.1,
    };
    const req = parseOpenAIRequest(body, CHAT);
    assert.equal(req.model, 'gpt-4o');
    assert.equal(req.stream, true);
    assert.equal(req.includeUsage, true);
    assert.deepEqual(req.tools, [
      { type: 'function', name: 'f', description: 'd', parameters: { type: 'object', properties: { a: { type: 'string' } } }, strict: true, cache: { type: 'ephemeral' } },
      { type: 'function', name: 'g', parameters: { type: 'object', properties: {} } },
      { type: 'builtin', name: 'web_search', config: { search_context_size: 'low' } },
    ]);
    assert.deepEqual(req.toolChoice, { type: 'tool', name: 'f' });
    assert.equal(req.parallelToolCalls, false);
    assert.deepEqual(req.output, { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true, description: 'x' });
    assert.deepEqual(req.reasoning, { effort: 'low' });
    assert.deepEqual(req.sampling, { maxTokens: 100, temperature: 0.5, topP: 0.9, topK: 40, stop: ['END'], seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, n: 2, logprobs: true, topLogprobs: 3, logitBias: { '50256': -100 } });
    assert.equal(req.user, 'u-1');
    assert.deepEqual(req.metadata, { team: 'a' });
    assert.deepEqual(req.openai, { store: true, service_tier: 'flex', prompt_cache_key: 'k', prediction: { type: 'content', content: 'x' }, modalities: ['text'], audio: { voice: 'alloy', format: 'mp3' }, web_search_options: {}, verbosity: 'low', stream_options: { include_obfuscation: false } });
    assert.deepEqual(req.passthrough, { min_p: 0.1 }, 'not a Chat Completions field: kept by name for the policy');
    assert.equal(req.source.body, body, "the client's own object, for the OpenAI-compatible fast path");
    // every documented field is known (nothing documented lands in passthrough)
    for (const field of Object.keys(body)) if (field !== 'min_p') assert.ok(CHAT_FIELDS.has(field), field);
  });

  it('maps the legacy functions and function_call', () => {
    const req = parseOpenAIRequest(
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{"a":1}' } },
          { role: 'function', name: 'f', content: '42' },
        ],
        functions: [{ name: 'f', parameters: { type: 'object' } }],
        function_call: { name: 'f' },
      },
      CHAT,
    );
    assert.deepEqual(req.tools, [{ type: 'function', name: 'f', parameters: { type: 'object' } }]);
    assert.deepEqual(req.toolChoice, { type: 'tool', name: 'f' });
    assert.deepEqual(req.messages[1].parts, [{ type: 'tool_call', id: 'call_function_1', name: 'f', arguments: '{"a":1}' }]);
    assert.deepEqual(req.messages[2], { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_function_1', name: 'f', content: [{ type: 'text', text: '42' }] }] });
  });

  it('lists what no canonical field carries inside messages and tools', () => {
    const req = parseOpenAIRequest({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'input_video', video: {} }], color: 'blue' }, { role: 'assistant', content: 'x', audio: { id: 'a1' } }], tool_choice: { type: 'allowed_tools', allowed_tools: {} } }, CHAT);
    assert.deepEqual(req.unmapped, ['messages[0].color', 'messages[0].content[1]', 'messages[1].audio', 'tool_choice']);
  });

  it('maps completions: the prompt, logprobs as a count, echo/best_of/suffix', () => {
    const req = parseOpenAIRequest({ prompt: 'Say hi', logprobs: 2, echo: true, best_of: 2, suffix: '!', max_tokens: 5 }, COMPLETIONS);
    assert.equal(req.kind, 'completions');
    assert.equal(req.prompt, 'Say hi');
    assert.deepEqual(req.messages, [{ role: 'user', parts: [{ type: 'text', text: 'Say hi' }] }]);
    assert.deepEqual(req.sampling, { maxTokens: 5, logprobs: true, topLogprobs: 2 });
    assert.deepEqual(req.openai, { echo: true, best_of: 2, suffix: '!' });
    assert.equal(req.source.format, 'openai-completions');
  });

  it('refuses malformed values with the field named', () => {
    refused({ ...hi, response_format: { type: 'xml' } }, 'response_format.type: expected one of text, json_object, json_schema');
    refused({ ...hi, response_format: { type: 'json_schema', json_schema: {} } }, 'response_format.json_schema.name: expected a string');
    refused({ ...hi, reasoning_effort: 'max' }, /^reasoning_effort: expected one of/);
    refused({ ...hi, tool_choice: 'sometimes' }, 'tool_choice: expected "none", "auto", "required" or a named function');
    refused({ ...hi, metadata: { a: 1 } }, 'metadata.a: expected a string');
    refused({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'forever' } }] }] }, 'messages[0].content[0].cache_control: expected {"type": "ephemeral"}');
    refused({ messages: [{ role: 'assistant', content: 'x', reasoning_details: [{ type: 'reasoning.magic' }] }] }, /^messages\[0\]\.reasoning_details\[0\]: expected/);
    refused({ messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'messages[0].name: no earlier assistant function_call has this name');
    refused({ ...hi, top_k: 1.5 }, 'top_k: expected an integer of at least 0');
  });

  it('keeps null fields absent (OpenAI treats null as unset)', () => {
    const req = parseOpenAIRequest({ ...hi, temperature: null, tools: null, response_format: null, reasoning_effort: null, user: null, metadata: null }, CHAT);
    assert.deepEqual(req.sampling, {});
    assert.equal(req.tools, undefined);
    assert.equal(req.output, undefined);
    assert.equal(req.reasoning, undefined);
    assert.equal(req.user, undefined);
  });
});

describe('inbound openai-chat: echoed assistant messages', () => {
  it('takes an assistant message as the OpenAI SDK returned it (nulls, annotations) without unmapped fields', () => {
    const req = parseOpenAIRequest({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y', refusal: null, annotations: [], audio: null, function_call: null, tool_calls: null }, { role: 'user', content: 'z' }] }, CHAT);
    assert.deepEqual(req.unmapped, []);
    assert.deepEqual(req.messages[1].parts, [{ type: 'text', text: 'y' }]);
  });
});
