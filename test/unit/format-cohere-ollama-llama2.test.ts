/**
 * The Cohere v1, Ollama and Llama 2 raw wire formats on the canonical exchange, called directly:
 * CanonicalRequest literals in, provider bodies out; provider answers in, CanonicalResponses out;
 * provider stream lines in, EventSink calls out. A minimal DriverContext records what the format
 * reports through `unsupported` (or throws, under the `error` policy).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type LlmRouteType, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, Usage, UnsupportedPolicy } from '../../src/exchange/types.ts';
import { TOOL_CALL_ID } from '../../src/exchange/types.ts';
import { ollamaFormat } from '../../src/llm/formats/ollama.ts';
import { cohereV1Format } from '../../src/llm/formats/cohere-v1.ts';
import { llama2RawFormat, textGenerationFormat } from '../../src/llm/formats/llama2-raw.ts';
import type { WireFormat } from '../../src/llm/formats/format.ts';
import { recordingContext, RecordingSink } from '../helpers/format-context.ts';

type Json = Record<string, any>;

interface Harness {
  ctx: DriverContext;
  /** Paths reported through ctx.unsupported. */
  reported: string[];
  sink: RecordingSink;
}

function harness(init: { provider?: ProviderName; routeType?: LlmRouteType; options?: Partial<ModelOptions>; stream?: boolean; includeUsage?: boolean; policy?: UnsupportedPolicy } = {}): Harness {
  const sink = new RecordingSink({ tags: true });
  const ctx = recordingContext({ ...init, provider: init.provider ?? 'llama2', model: 'test-model', policy: init.policy ?? 'drop', createSink: () => sink });
  return { ctx, reported: ctx.dropped, sink };
}

function request(over: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    kind: 'chat',
    messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }],
    sampling: {},
    stream: false,
    includeUsage: false,
    passthrough: {},
    dropped: [],
    source: { format: 'openai-chat', body: {} },
    ...over,
  };
}

function parsed(format: WireFormat, body: unknown, h: Harness): CanonicalResponse {
  const answer = format.parseResponse(typeof body === 'string' ? body : JSON.stringify(body), h.ctx);
  assert.ok(!('passthrough' in answer), 'a canonical answer');
  return answer as CanonicalResponse;
}

function stream(format: WireFormat, lines: unknown[], h: Harness, estimated?: Usage | null): { output: string; done: boolean; usage: Usage | null; text: string } {
  const translator = format.createStreamTranslator(h.ctx);
  let output = '';
  for (const line of lines) output += translator.push({ event: undefined, data: typeof line === 'string' ? line : JSON.stringify(line) });
  output += translator.finish(estimated);
  return { output, done: translator.done, usage: translator.usage(), text: translator.text };
}

const sorted = (list: string[]): string[] => [...new Set(list)].sort();

// ---------------------------------------------------------------------------------------------
// Ollama

describe('ollama format: request', () => {
  it('maps roles, text, base64 images, reasoning text, tool calls and tool results', () => {
    const h = harness();
    const body = ollamaFormat.buildRequest(
      request({
        messages: [
          { role: 'system', parts: [{ type: 'text', text: 'be brief' }] },
          { role: 'developer', parts: [{ type: 'text', text: 'and kind' }] },
          {
            role: 'user',
            parts: [
              { type: 'text', text: 'what is this?' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0' } },
              { type: 'image', source: { kind: 'url', url: 'data:image/jpeg;base64,/9j/4AAQ' } },
            ],
          },
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', text: 'the user wants the weather' },
              { type: 'reasoning', text: 'signed thoughts', signature: 'sig', provider: 'anthropic' },
              { type: 'text', text: 'let me look' },
              { type: 'tool_call', id: 'call_abc', name: 'weather', arguments: '{"city":"Paris"}' },
              { type: 'tool_call', id: 'call_def', name: 'time', arguments: '' },
            ],
          },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_abc', content: [{ type: 'text', text: '22C' }] }] },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_def', content: [{ type: 'text', text: '10:00' }] }] },
        ],
      }),
      h.ctx,
    );
    assert.deepEqual(h.reported, []);
    assert.deepEqual(body, {
      model: 'test-model',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'system', content: 'and kind' },
        { role: 'user', content: 'what is this?', images: ['iVBORw0', '/9j/4AAQ'] },
        {
          role: 'assistant',
          content: 'let me look',
          thinking: 'the user wants the weather',
          tool_calls: [
            { id: 'call_abc', function: { index: 0, name: 'weather', arguments: { city: 'Paris' } } },
            { id: 'call_def', function: { index: 1, name: 'time', arguments: {} } },
          ],
        },
        { role: 'tool', content: '22C', tool_name: 'weather', tool_call_id: 'call_abc' },
        { role: 'tool', content: '10:00', tool_name: 'time', tool_call_id: 'call_def' },
      ],
      stream: false,
    });
  });

  it('refuses tool-call arguments that are not a JSON object', () => {
    const h = harness();
    const req = request({ messages: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: '[1]' }] }] });
    assert.throws(() => ollamaFormat.buildRequest(req, h.ctx), (e: unknown) => e instanceof RequestError && e.message === 'messages[0].tool_calls[0].function.arguments: expected a JSON object');
  });

  it('structured output: json_object → format "json", json_schema → format: <schema>, on chat and generate', () => {
    const schema = { type: 'object', properties: { age: { type: 'integer' } }, required: ['age'] };
    assert.equal(ollamaFormat.buildRequest(request({ output: { type: 'json_object' } }), harness().ctx).format, 'json');
    assert.deepEqual(ollamaFormat.buildRequest(request({ output: { type: 'json_schema', name: 'person', schema, strict: true } }), harness().ctx).format, schema);
    assert.equal(ollamaFormat.buildRequest(request({ output: { type: 'text' } }), harness().ctx).format, undefined);
    const generate = ollamaFormat.buildRequest(request({ kind: 'completions', prompt: 'an age?', output: { type: 'json_schema', name: 'p', schema } }), harness({ routeType: 'llm/v1/completions' }).ctx);
    assert.deepEqual(generate, { model: 'test-model', prompt: 'an age?', stream: false, format: schema });
  });

  it('reasoning: effort → think levels, none → false, a budget alone → true; unset → no think', () => {
    const think = (reasoning: CanonicalRequest['reasoning']) => ollamaFormat.buildRequest(request({ reasoning }), harness().ctx).think;
    assert.equal(think({ effort: 'none' }), false);
    assert.equal(think({ effort: 'minimal' }), 'low');
    assert.equal(think({ effort: 'low' }), 'low');
    assert.equal(think({ effort: 'medium' }), 'medium');
    assert.equal(think({ effort: 'high' }), 'high');
    assert.equal(think({ budgetTokens: 2048 }), true);
    assert.equal(think(undefined), undefined);
    const h = harness();
    ollamaFormat.buildRequest(request({ reasoning: { effort: 'low', includeEncrypted: true } }), h.ctx);
    assert.deepEqual(h.reported, ['include']);
  });

  it('tools: OpenAI shape (strict not sent); tool_choice none sends none; required, parallel false and built-in tools are reported', () => {
    const get = { type: 'function' as const, name: 'get', description: 'gets', parameters: { type: 'object', properties: {} } };
    let h = harness();
    assert.deepEqual(ollamaFormat.buildRequest(request({ tools: [get], toolChoice: { type: 'auto' } }), h.ctx).tools, [
      { type: 'function', function: { name: 'get', description: 'gets', parameters: { type: 'object', properties: {} } } },
    ]);
    assert.deepEqual(h.reported, []);
    h = harness();
    assert.equal(ollamaFormat.buildRequest(request({ tools: [get], toolChoice: { type: 'none' } }), h.ctx).tools, undefined);
    assert.deepEqual(h.reported, []);
    h = harness();
    const body = ollamaFormat.buildRequest(
      request({ tools: [{ ...get, strict: true }, { type: 'builtin', name: 'web_search', config: {} }], toolChoice: { type: 'tool', name: 'get' }, parallelToolCalls: false }),
      h.ctx,
    );
    assert.equal((body.tools as unknown[]).length, 1);
    assert.deepEqual(sorted(h.reported), ['parallel_tool_calls', 'tool_choice', 'tools[1]']);
    assert.equal(JSON.stringify(body.tools).includes('strict'), false);
  });

  it('images Ollama cannot take are reported with their path; a detail level too', () => {
    const h = harness();
    const body = ollamaFormat.buildRequest(
      request({
        messages: [
          {
            role: 'user',
            parts: [
              { type: 'text', text: 'see' },
              { type: 'image', source: { kind: 'url', url: 'https://example.com/a.png' } },
              { type: 'image', source: { kind: 'file_id', fileId: 'file-1' } },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' }, detail: 'high' },
            ],
          },
        ],
      }),
      h.ctx,
    );
    assert.deepEqual(h.reported, ['messages[0].content[1]', 'messages[0].content[2]', 'messages[0].content[3].image_url.detail']);
    assert.deepEqual(body.messages, [{ role: 'user', content: 'see', images: ['AAAA'] }]);
  });

  it('the error policy stops at the first thing Ollama cannot express', () => {
    const h = harness({ policy: 'error' });
    const req = request({ messages: [{ role: 'user', parts: [{ type: 'audio', data: 'AAAA', format: 'wav' }] }] });
    assert.throws(() => ollamaFormat.buildRequest(req, h.ctx), (e: unknown) => e instanceof RequestError && e.message.startsWith('messages[0].content[0]: audio content'));
  });

  it('sampling: configured options win over the client, penalties and seed go into options, native options merge under them (policy pass)', () => {
    const h = harness({ options: { max_tokens: 256, temperature: 0.2 }, policy: 'pass' });
    const body = ollamaFormat.buildRequest(
      request({
        sampling: { maxTokens: 1000, temperature: 1.5, topP: 0.9, topK: 40, stop: ['END'], seed: 3, presencePenalty: 0.5, frequencyPenalty: 0.25 },
        passthrough: { options: { num_ctx: 8192, temperature: 9 }, keep_alive: '10m' },
      }),
      h.ctx,
    );
    assert.deepEqual(body.options, { num_ctx: 8192, temperature: 0.2, num_predict: 256, top_p: 0.9, top_k: 40, stop: ['END'], seed: 3, presence_penalty: 0.5, frequency_penalty: 0.25 });
    assert.equal(body.keep_alive, undefined, 'the plugin adds the passthrough fields the policy lets through');
    assert.deepEqual(h.reported, []);
    const dropped = ollamaFormat.buildRequest(request({ passthrough: { options: { num_ctx: 8192 } } }), harness().ctx);
    assert.equal(dropped.options, undefined, 'options the policy does not let through are not merged');
    assert.deepEqual(ollamaFormat.nativeFields?.(h.ctx), ['keep_alive', 'think', 'format', 'truncate', 'shift']);
  });
});

describe('ollama format: answer', () => {
  it('thinking → reasoning part, content → text, tool calls → neutral ids and JSON arguments', () => {
    const h = harness({ provider: 'mistral' });
    const answer = parsed(
      ollamaFormat,
      {
        model: 'qwen3:8b',
        created_at: '2025-01-01T00:00:00Z',
        message: {
          role: 'assistant',
          content: '',
          thinking: 'I should call the tool',
          tool_calls: [
            { function: { name: 'weather', arguments: { city: 'Paris' } } },
            { id: 'call_x1y2z3w4', function: { index: 1, name: 'time' } },
            { id: 'call+bad/id=', function: { name: 'noop', arguments: {} } },
          ],
        },
        done: true,
        done_reason: 'stop',
        prompt_eval_count: 12,
        eval_count: 30,
      },
      h,
    );
    assert.equal(answer.model, 'qwen3:8b');
    assert.equal(answer.created, 1735689600);
    assert.equal(answer.choices[0].finishReason, 'tool_calls');
    const [reasoning, ...calls] = answer.choices[0].parts;
    assert.deepEqual(reasoning, { type: 'reasoning', text: 'I should call the tool', provider: 'mistral' });
    assert.deepEqual(
      calls.map((c) => (c.type === 'tool_call' ? [c.name, c.arguments] : c.type)),
      [
        ['weather', '{"city":"Paris"}'],
        ['time', '{}'],
        ['noop', '{}'],
      ],
    );
    const ids = calls.map((c) => (c.type === 'tool_call' ? c.id : ''));
    assert.equal(ids[0], 'call_chatcmpl-gateway_0');
    assert.equal(ids[1], 'call_x1y2z3w4');
    assert.ok(ids.every((id) => TOOL_CALL_ID.test(id)), ids.join());
    assert.deepEqual(answer.usage, { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 });
  });

  it('a plain answer, a structured one, generate with thinking, errors', () => {
    const h = harness();
    const answer = parsed(ollamaFormat, { model: 'llama3', message: { role: 'assistant', content: '{"age":22}' }, done: true, done_reason: 'length', eval_count: 5 }, h);
    assert.deepEqual(answer.choices, [{ parts: [{ type: 'text', text: '{"age":22}' }], finishReason: 'length' }]);
    assert.deepEqual(answer.usage, { prompt_tokens: 0, completion_tokens: 5, total_tokens: 5 });

    const g = harness({ routeType: 'llm/v1/completions' });
    const generated = parsed(ollamaFormat, { model: 'qwen3', response: '42', thinking: 'hmm', done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: 4 }, g);
    assert.deepEqual(generated.choices[0].parts, [
      { type: 'reasoning', text: 'hmm', provider: 'llama2' },
      { type: 'text', text: '42' },
    ]);
    assert.throws(() => parsed(ollamaFormat, { error: 'model "x" not found' }, h), (e: unknown) => e instanceof TranslationError && e.message === 'ollama error: model "x" not found');
    assert.throws(() => parsed(ollamaFormat, { done: true }, h), TranslationError);
  });
});

describe('ollama format: stream', () => {
  it('thinking, text and whole tool calls become sink events; done ends with the finish reason and usage', () => {
    const h = harness({ includeUsage: true });
    const base = { model: 'qwen3', created_at: '2025-01-01T00:00:00Z' };
    const run = stream(
      ollamaFormat,
      [
        { ...base, message: { role: 'assistant', content: '', thinking: 'Let me' }, done: false },
        { ...base, message: { role: 'assistant', content: '', thinking: ' think' }, done: false },
        { ...base, message: { role: 'assistant', content: 'Calling.' }, done: false },
        { ...base, message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'weather', arguments: { city: 'Oslo' } } }] }, done: false },
        { ...base, message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 7, eval_count: 9 },
      ],
      h,
    );
    assert.equal(run.done, true);
    assert.equal(h.sink.model, 'qwen3');
    assert.equal(h.sink.created, 1735689600);
    assert.deepEqual(h.sink.events, [
      ['start'],
      ['reasoning', 'Let me'],
      ['reasoning', ' think'],
      ['text', 'Calling.'],
      ['toolCalls', [{ index: 0, id: 'call_chatcmpl-gateway_0', name: 'weather', arguments: '{"city":"Oslo"}' }]],
      ['finish', 'tool_calls'],
      ['usage', { prompt_tokens: 7, completion_tokens: 9, total_tokens: 16 }],
      ['done'],
    ]);
    assert.equal(run.output, '<start><reasoning><reasoning><text><tools><finish><usage><done>');
    assert.equal(run.text, 'Let me thinkCalling.');
  });

  it('generate streams read `response` and `thinking`; an error line is an UpstreamStreamError; a cut stream gets no done', () => {
    const h = harness({ routeType: 'llm/v1/completions' });
    const run = stream(ollamaFormat, [{ model: 'm', thinking: 'hm', response: '', done: false }, { model: 'm', response: 'Hi', done: false }], h);
    assert.equal(run.done, false);
    assert.deepEqual(h.sink.events, [['start'], ['reasoning', 'hm'], ['text', 'Hi']]);
    assert.throws(() => stream(ollamaFormat, [{ error: 'boom' }], harness()), UpstreamStreamError);
  });
});

// ---------------------------------------------------------------------------------------------
// Cohere v1

describe('cohere v1 format', () => {
  it('chat: preamble, chat_history, message; structured output as response_format with the schema', () => {
    const h = harness({ provider: 'cohere' });
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
    const body = cohereV1Format.buildRequest(
      request({
        messages: [
          { role: 'system', parts: [{ type: 'text', text: 'be brief' }] },
          { role: 'user', parts: [{ type: 'text', text: 'hi' }] },
          { role: 'assistant', parts: [{ type: 'reasoning', text: 'x', signature: 's', provider: 'anthropic' }, { type: 'text', text: 'hello' }] },
          { role: 'system', parts: [{ type: 'text', text: 'now JSON' }] },
          { role: 'user', parts: [{ type: 'text', text: 'a person' }] },
        ],
        output: { type: 'json_schema', name: 'person', schema },
        sampling: { maxTokens: 50, temperature: 1.5, topP: 1, topK: 3, stop: ['x'], seed: 1, presencePenalty: 0.1, frequencyPenalty: 0.2 },
        passthrough: { preamble: 'You are Coral.', connectors: [{ id: 'web-search' }] },
      }),
      h.ctx,
    );
    assert.deepEqual(h.reported, []);
    assert.deepEqual(body, {
      message: 'a person',
      chat_history: [
        { role: 'USER', message: 'hi' },
        { role: 'CHATBOT', message: 'hello' },
        { role: 'SYSTEM', message: 'now JSON' },
      ],
      preamble: 'You are Coral.\n\nbe brief',
      response_format: { type: 'json_object', schema },
      model: 'test-model',
      stream: false,
      max_tokens: 50,
      temperature: 1,
      p: 0.99,
      k: 3,
      stop_sequences: ['x'],
      seed: 1,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
    });
    assert.ok(cohereV1Format.nativeFields?.(h.ctx).includes('connectors'), 'the plugin adds the native fields');
    assert.deepEqual(cohereV1Format.buildRequest(request({ output: { type: 'json_object' } }), harness({ provider: 'cohere' }).ctx).response_format, { type: 'json_object' });
  });

  it('generate: n → num_generations; logit_bias (gone from the v1 spec), response_format and reasoning are reported', () => {
    const h = harness({ provider: 'cohere', routeType: 'llm/v1/completions' });
    const body = cohereV1Format.buildRequest(
      request({ kind: 'completions', prompt: 'Say hi', sampling: { n: 2, logitBias: { '11': -10 } }, output: { type: 'json_object' }, reasoning: { effort: 'low' } }),
      h.ctx,
    );
    assert.deepEqual(body, { prompt: 'Say hi', model: 'test-model', stream: false, num_generations: 2 });
    assert.deepEqual(sorted(h.reported), ['logit_bias', 'reasoning_effort', 'response_format']);
  });

  it('images, tool calls, tool results and tools are reported; under drop the tool turns are left out', () => {
    const h = harness({ provider: 'cohere' });
    const body = cohereV1Format.buildRequest(
      request({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'weather?' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AA' } }] },
          { role: 'assistant', parts: [{ type: 'text', text: '' }, { type: 'tool_call', id: 'call_1', name: 'w', arguments: '{}' }] },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'sunny' }] }] },
          { role: 'user', parts: [{ type: 'text', text: 'thanks' }] },
        ],
        tools: [{ type: 'function', name: 'w', parameters: {} }],
        toolChoice: { type: 'required' },
      }),
      h.ctx,
    );
    assert.deepEqual(sorted(h.reported), ['messages[0].content[1]', 'messages[1].tool_calls[0]', 'messages[2]', 'tools']);
    assert.deepEqual(body.chat_history, [{ role: 'USER', message: 'weather?' }], 'no empty CHATBOT message is left behind');
    assert.equal(body.message, 'thanks');
    assert.equal(body.tools, undefined);

    const none = harness({ provider: 'cohere' });
    cohereV1Format.buildRequest(request({ tools: [{ type: 'function', name: 'w', parameters: {} }], toolChoice: { type: 'none' } }), none.ctx);
    assert.deepEqual(none.reported, []);
  });

  it('answers: chat text with usage from billed units, generations per choice, v1 tool calls with neutral ids, failures', () => {
    const h = harness({ provider: 'cohere' });
    const chat = parsed(cohereV1Format, { text: '{"name":"Ada"}', generation_id: 'gen-1', finish_reason: 'COMPLETE', meta: { billed_units: { input_tokens: 5, output_tokens: 6 } } }, h);
    assert.deepEqual(chat, { id: 'gen-1', created: 1_700_000_000, model: 'test-model', choices: [{ parts: [{ type: 'text', text: '{"name":"Ada"}' }], finishReason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 } });

    const tools = parsed(cohereV1Format, { text: '', generation_id: 'gen-2', finish_reason: 'COMPLETE', tool_calls: [{ name: 'w', parameters: { city: 'Oslo' } }] }, h);
    assert.deepEqual(tools.choices, [{ parts: [{ type: 'tool_call', id: 'call_gen-2_0', name: 'w', arguments: '{"city":"Oslo"}' }], finishReason: 'tool_calls' }]);

    const generate = parsed(cohereV1Format, { id: 'g', generations: [{ text: 'a', finish_reason: 'COMPLETE' }, { text: 'b', finish_reason: 'MAX_TOKENS' }] }, h);
    assert.deepEqual(generate.choices.map((c) => [c.parts, c.finishReason]), [[[{ type: 'text', text: 'a' }], 'stop'], [[{ type: 'text', text: 'b' }], 'length']]);
    assert.throws(() => parsed(cohereV1Format, { text: '', finish_reason: 'ERROR' }, h), TranslationError);
    assert.throws(() => parsed(cohereV1Format, { nope: 1 }, h), TranslationError);
  });

  it('stream: start, text, tool-calls-generation, stream-end with usage; stream-error throws', () => {
    const h = harness({ provider: 'cohere', includeUsage: true });
    const run = stream(
      cohereV1Format,
      [
        { is_finished: false, event_type: 'stream-start', generation_id: 'gen-9' },
        { is_finished: false, event_type: 'text-generation', text: 'Hi' },
        { is_finished: false, event_type: 'tool-calls-chunk', tool_call_delta: { index: 0, name: 'w' } },
        { is_finished: false, event_type: 'tool-calls-generation', tool_calls: [{ name: 'w', parameters: {} }] },
        { is_finished: true, event_type: 'stream-end', finish_reason: 'COMPLETE', response: { meta: { tokens: { input_tokens: 2, output_tokens: 3 } } } },
      ],
      h,
    );
    assert.equal(run.done, true);
    assert.deepEqual(h.sink.events, [
      ['start'],
      ['text', 'Hi'],
      ['toolCalls', [{ index: 0, id: 'call_gen-9_0', name: 'w', arguments: '{}' }]],
      ['finish', 'tool_calls'],
      ['usage', { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 }],
      ['done'],
    ]);
    assert.throws(() => stream(cohereV1Format, [{ event_type: 'stream-error', err: 'bad' }], harness({ provider: 'cohere' })), UpstreamStreamError);
  });
});

// ---------------------------------------------------------------------------------------------
// Llama 2 raw

describe('llama2 raw format', () => {
  it('the Llama 2 prompt from text and tool-result text; tools, tool calls, structured output and reasoning are reported', () => {
    const h = harness();
    const body = llama2RawFormat.buildRequest(
      request({
        messages: [
          { role: 'system', parts: [{ type: 'text', text: 'be brief' }] },
          { role: 'user', parts: [{ type: 'text', text: 'weather?' }] },
          { role: 'assistant', parts: [{ type: 'text', text: 'checking' }, { type: 'tool_call', id: 'call_1', name: 'w', arguments: '{}' }] },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'sunny' }] }] },
        ],
        tools: [{ type: 'function', name: 'w', parameters: {} }],
        output: { type: 'json_object' },
        reasoning: { effort: 'high' },
        sampling: { maxTokens: 20, temperature: 0, topP: 1, seed: 4, presencePenalty: 1 },
      }),
      h.ctx,
    );
    assert.deepEqual(sorted(h.reported), ['messages[2].tool_calls[0]', 'presence_penalty', 'reasoning_effort', 'response_format', 'tools']);
    assert.deepEqual(body, {
      inputs: '<s>[INST] <<SYS>> be brief <</SYS>> weather? [/INST] checking </s> <s>[INST] sunny [/INST]',
      parameters: { max_new_tokens: 20, seed: 4, return_full_text: false, details: true },
      stream: false,
    });
    assert.throws(() => llama2RawFormat.buildRequest(request({ output: { type: 'json_object' } }), harness({ policy: 'error' }).ctx), RequestError);
  });

  it('completions: Kong template; huggingface text-generation sends the prompt as it is', () => {
    const h = harness({ routeType: 'llm/v1/completions' });
    assert.equal(llama2RawFormat.buildRequest(request({ kind: 'completions', prompt: 'Say hi' }), h.ctx).inputs, '<s>[INST] <<SYS>> You are a helpful assistant. <</SYS>> Say hi [/INST]');
    const hf = textGenerationFormat('huggingface', () => ({ options: { use_cache: false } }));
    assert.deepEqual(hf.buildRequest(request({ kind: 'completions', prompt: 'Say hi', sampling: { n: 3 } }), h.ctx), {
      inputs: 'Say hi',
      parameters: { return_full_text: false, details: true },
      stream: false,
      options: { use_cache: false },
    });
    assert.deepEqual(h.reported, ['n']);
  });

  it('answers and streams are canonical', () => {
    const h = harness();
    const answer = parsed(llama2RawFormat, [{ generated_text: ' [INST] q [/INST] Hello ', details: { finish_reason: 'length', generated_tokens: 2 } }], h);
    assert.deepEqual(answer, { id: 'chatcmpl-gateway', created: 1_700_000_000, model: 'test-model', choices: [{ parts: [{ type: 'text', text: 'Hello' }], finishReason: 'length' }], usage: null });
    const s = harness();
    const run = stream(
      llama2RawFormat,
      [
        { token: { text: 'Hel', special: false }, generated_text: null, details: null },
        { token: { text: 'lo', special: false }, generated_text: null, details: null },
        { token: { text: '</s>', special: true }, generated_text: 'Hello', details: { finish_reason: 'eos_token' } },
      ],
      s,
    );
    assert.equal(run.done, true);
    assert.deepEqual(s.sink.events, [['start'], ['text', 'Hel'], ['text', 'lo'], ['text', ''], ['finish', 'stop'], ['done']]);
  });
});

// ---------------------------------------------------------------------------------------------
// Nothing silently lost

/** A chat request using every canonical feature. */
function everything(): CanonicalRequest {
  return request({
    messages: [
      { role: 'system', parts: [{ type: 'text', text: 'sys', cache: { type: 'ephemeral' } }] },
      { role: 'developer', parts: [{ type: 'text', text: 'dev' }] },
      {
        role: 'user',
        name: 'bob',
        parts: [
          { type: 'text', text: 'look' },
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' } },
          { type: 'image', source: { kind: 'url', url: 'https://example.com/x.png' } },
          { type: 'audio', data: 'UklG', format: 'wav' },
          { type: 'file', source: { kind: 'file_id', fileId: 'file-1' }, filename: 'a.pdf' },
        ],
      },
      {
        role: 'assistant',
        parts: [
          { type: 'reasoning', text: 'thought', signature: 'sig', provider: 'anthropic' },
          { type: 'text', text: 'ok' },
          { type: 'tool_call', id: 'call_1', name: 'get', arguments: '{"a":1}' },
        ],
      },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'r1' }] }] },
      { role: 'user', parts: [{ type: 'text', text: 'next' }] },
    ],
    tools: [
      { type: 'function', name: 'get', parameters: { type: 'object' }, strict: true, cache: { type: 'ephemeral' } },
      { type: 'builtin', name: 'web_search', config: {} },
    ],
    toolChoice: { type: 'required' },
    parallelToolCalls: false,
    output: { type: 'json_schema', name: 'out', schema: { type: 'object' } },
    reasoning: { effort: 'high' },
    sampling: { maxTokens: 100, temperature: 0.5, topP: 0.9, topK: 40, stop: ['x'], seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, n: 2, logprobs: true, topLogprobs: 2, logitBias: { '1': 2 } },
    user: 'u1',
    metadata: { a: 'b' },
    openai: { service_tier: 'flex' },
  });
}

/** For each format: what each feature became in the body (a check), or the path it was reported under. */
const TABLE: { name: string; format: WireFormat; provider: ProviderName; mapped: Record<string, (body: Json) => unknown>; reported: string[] }[] = [
  {
    name: 'ollama',
    format: ollamaFormat,
    provider: 'llama2',
    mapped: {
      'system + developer': (b) => b.messages[0].content === 'sys' && b.messages[1].role === 'system',
      'text and base64 image': (b) => b.messages[2].content === 'look' && b.messages[2].images[0] === 'AAAA',
      "another provider's reasoning dropped cleanly": (b) => b.messages[3].thinking === undefined && !JSON.stringify(b).includes('sig'),
      'tool call': (b) => b.messages[3].tool_calls[0].function.arguments.a === 1,
      'tool result': (b) => b.messages[4].tool_call_id === 'call_1' && b.messages[4].tool_name === 'get',
      tools: (b) => b.tools.length === 1 && b.tools[0].function.name === 'get',
      'structured output': (b) => b.format.type === 'object',
      reasoning: (b) => b.think === 'high',
      sampling: (b) => b.options.num_predict === 100 && b.options.temperature === 0.5 && b.options.top_p === 0.9 && b.options.top_k === 40 && b.options.stop[0] === 'x',
      'seed and penalties': (b) => b.options.seed === 7 && b.options.presence_penalty === 0.1 && b.options.frequency_penalty === 0.2,
    },
    reported: [
      'logit_bias', 'logprobs', 'messages[0].content[0].cache_control', 'messages[2].content[2]', 'messages[2].content[3]', 'messages[2].content[4]',
      'messages[2].name', 'metadata', 'n', 'parallel_tool_calls', 'service_tier', 'tool_choice', 'tools[0].cache_control', 'tools[1]',
      'top_logprobs', 'user',
    ],
  },
  {
    name: 'cohere v1',
    format: cohereV1Format,
    provider: 'cohere',
    mapped: {
      'system + developer': (b) => b.preamble === 'sys\n\ndev',
      'text, history and message': (b) => b.chat_history[0].message === 'look' && b.chat_history[1].message === 'ok' && b.message === 'next',
      'reasoning state dropped': (b) => !JSON.stringify(b).includes('thought'),
      'structured output': (b) => b.response_format.type === 'json_object' && b.response_format.schema.type === 'object',
      sampling: (b) => b.max_tokens === 100 && b.temperature === 0.5 && b.p === 0.9 && b.k === 40 && b.stop_sequences[0] === 'x',
      'seed and penalties': (b) => b.seed === 7 && b.presence_penalty === 0.1 && b.frequency_penalty === 0.2,
    },
    reported: [
      'logit_bias', 'logprobs', 'messages[0].content[0].cache_control', 'messages[2].content[1]', 'messages[2].content[2]', 'messages[2].content[3]',
      'messages[2].content[4]', 'messages[2].name', 'messages[3].tool_calls[0]', 'messages[4]', 'metadata', 'n', 'reasoning_effort', 'service_tier', 'tools',
      'tools[0].cache_control', 'top_logprobs', 'user',
    ],
  },
  {
    name: 'llama2 raw',
    format: llama2RawFormat,
    provider: 'llama2',
    mapped: {
      'system, text, answer and tool result in the prompt': (b) => b.inputs === '<s>[INST] <<SYS>> sys\ndev <</SYS>> look [/INST] ok </s> <s>[INST] r1 next [/INST]',
      sampling: (b) => b.parameters.max_new_tokens === 100 && b.parameters.temperature === 0.5 && b.parameters.top_p === 0.9 && b.parameters.top_k === 40 && b.parameters.stop[0] === 'x',
      seed: (b) => b.parameters.seed === 7,
    },
    reported: [
      'frequency_penalty', 'logit_bias', 'logprobs', 'messages[0].content[0].cache_control', 'messages[2].content[1]', 'messages[2].content[2]',
      'messages[2].content[3]', 'messages[2].content[4]', 'messages[2].name', 'messages[3].tool_calls[0]', 'metadata', 'n', 'presence_penalty',
      'reasoning_effort', 'response_format', 'service_tier', 'tools', 'tools[0].cache_control', 'top_logprobs', 'user',
    ],
  },
];

describe('nothing silently lost: every canonical feature is mapped or reported', () => {
  for (const row of TABLE) {
    it(row.name, () => {
      const h = harness({ provider: row.provider });
      const body = row.format.buildRequest(everything(), h.ctx) as Json;
      for (const [feature, check] of Object.entries(row.mapped)) assert.ok(check(body), `${row.name}: ${feature} is mapped: ${JSON.stringify(body)}`);
      assert.deepEqual(sorted(h.reported), sorted(row.reported));
      // Under the error policy the same request is refused before anything is sent.
      assert.throws(() => row.format.buildRequest(everything(), harness({ provider: row.provider, policy: 'error' }).ctx), RequestError);
    });
  }

  it('a request of text only reports nothing to any format', () => {
    for (const row of TABLE) {
      const h = harness({ provider: row.provider });
      row.format.buildRequest(request({ sampling: { maxTokens: 5, temperature: 0.5, stop: ['x'] } }), h.ctx);
      assert.deepEqual(h.reported, [], row.name);
    }
  });
});
