/**
 * The strict Ollama and Cohere mocks, called directly (no server): structured outputs, thinking
 * and tools as the providers' API references describe them, and the errors they give.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HandlerCtx, Reply } from '../mocks/server.ts';
import { Ids } from '../mocks/text.ts';
import { ollamaProvider } from '../mocks/ollama.ts';
import { cohereProvider } from '../mocks/cohere.ts';

type Json = Record<string, any>;

function call(handle: (ctx: HandlerCtx) => Reply, path: string, json: Json, headers: Json = {}): Reply {
  const req = { method: 'POST', path, query: {}, headers, body: JSON.stringify(json), json } as unknown as HandlerCtx['req'];
  return handle({ req, path, text: 'Paris is the capital.', forceStream: false, chunks: null, ids: new Ids(1_700_000_000) });
}

function json(reply: Reply): { status: number; body: Json } {
  assert.equal(reply.kind, 'json');
  return { status: reply.status, body: reply.body as Json };
}

function lines(reply: Reply): Json[] {
  assert.equal(reply.kind, 'stream');
  return reply.frames.map((f) => JSON.parse(String(f)));
}

describe('ollama mock', () => {
  const ollama = ollamaProvider({});
  const chat = (body: Json) => call((c) => ollama.handle(c), '/api/chat', { stream: false, messages: [{ role: 'user', content: 'hi' }], ...body });

  it('format: "json" and a schema are answered with JSON; anything else fails', () => {
    assert.deepEqual(JSON.parse(json(chat({ model: 'llama3.1', format: 'json' })).body.message.content), { answer: 'Paris is the capital.' });
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } }, required: ['city'] };
    assert.deepEqual(JSON.parse(json(chat({ model: 'llama3.1', format: schema })).body.message.content), { city: 'Paris is the capital.', population: 1, tags: ['Paris is the capital.'] });
    assert.equal(json(chat({ model: 'llama3.1', format: 'xml' })).status, 500);
  });

  it('think: thinking models answer message.thinking (streamed first); others refuse; bad values refused', () => {
    const answer = json(chat({ model: 'qwen3', think: true })).body;
    assert.equal(typeof answer.message.thinking, 'string');
    assert.equal(answer.message.content, 'Paris is the capital.');
    assert.equal(json(chat({ model: 'qwen3', think: false })).body.message.thinking, undefined);
    assert.equal(typeof json(chat({ model: 'qwen3' })).body.message.thinking, 'string', 'a thinking model thinks by default');
    assert.equal(typeof json(chat({ model: 'gpt-oss', think: 'low' })).body.message.thinking, 'string');
    assert.deepEqual(json(chat({ model: 'llama2', think: true })), { status: 400, body: { error: '"llama2" does not support thinking' } });
    assert.equal(json(chat({ model: 'llama2', think: false })).status, 200);
    assert.equal(json(chat({ model: 'qwen3', think: 'extreme' })).status, 400);
    const stream = lines(call((c) => ollama.handle(c), '/api/chat', { model: 'qwen3', think: 'high', messages: [{ role: 'user', content: 'hi' }] }));
    const firstText = stream.findIndex((l) => l.message.content !== '');
    const lastThought = stream.findLastIndex((l) => l.message.thinking);
    assert.ok(lastThought >= 0 && lastThought < firstText, 'thinking streams before the content');
    const generate = json(call((c) => ollama.handle(c), '/api/generate', { model: 'deepseek-r1', prompt: 'hi', stream: false, think: true })).body;
    assert.equal(typeof generate.thinking, 'string');
  });

  it('tools: tool-capable models call the first tool with schema arguments and a call_ id; others refuse', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const answer = json(chat({ model: 'qwen2.5', tools })).body;
    assert.equal(answer.message.content, '');
    assert.equal(answer.message.tool_calls.length, 1);
    assert.match(answer.message.tool_calls[0].id, /^call_[a-z0-9]{8}$/);
    assert.deepEqual(answer.message.tool_calls[0].function, { index: 0, name: 'get_weather', arguments: { city: 'Paris' } });
    // After the tool's result the model answers in text.
    const after = json(
      chat({
        model: 'qwen2.5',
        tools,
        messages: [
          { role: 'user', content: 'weather?' },
          { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
          { role: 'tool', tool_name: 'get_weather', tool_call_id: 'call_1', content: '22C' },
        ],
      }),
    ).body;
    assert.equal(after.message.tool_calls, undefined);
    assert.equal(after.message.content, 'Paris is the capital.');
    assert.deepEqual(json(chat({ model: 'llama2', tools })), { status: 400, body: { error: 'registry.ollama.ai/library/llama2:latest does not support tools' } });
    const stream = lines(call((c) => ollama.handle(c), '/api/chat', { model: 'qwen2.5', tools, messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(stream.filter((l) => l.message.tool_calls).length, 1, 'the call comes whole in one line');
    assert.equal(stream.at(-1)!.done, true);
  });

  it('Go decoding: string arguments, non-base64 images and content arrays are 400', () => {
    const messages = (m: Json) => json(chat({ model: 'llama3.1', messages: [m] })).status;
    assert.equal(messages({ role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }] }), 400);
    assert.equal(messages({ role: 'user', content: 'see', images: ['data:image/png;base64,AAAA'] }), 400);
    assert.equal(messages({ role: 'user', content: [{ type: 'text', text: 'hi' }] }), 400);
    assert.equal(messages({ role: 'user', content: 'see', images: ['iVBORw0KGgo='] }), 200);
  });
});

describe('cohere mock', () => {
  const cohere = cohereProvider({ key: null });
  const chat = (body: Json) => json(call((c) => cohere.handle(c), '/v1/chat', { message: 'a city', ...body }));

  it('response_format: json_object answered with JSON, with the schema when given', () => {
    assert.deepEqual(JSON.parse(chat({ response_format: { type: 'json_object' } }).body.text), { answer: 'Paris is the capital.' });
    const schema = { type: 'object', properties: { name: { type: 'string' }, big: { type: 'boolean' } }, required: ['name'] };
    assert.deepEqual(JSON.parse(chat({ response_format: { type: 'json_object', schema } }).body.text), { name: 'Paris is the capital.', big: true });
    assert.equal(chat({ response_format: { type: 'text' } }).body.text, 'Paris is the capital.');
  });

  it('refuses bad response formats, response_format with tools or documents, and unknown fields', () => {
    assert.equal(chat({ response_format: { type: 'json_schema' } }).status, 400);
    assert.equal(chat({ response_format: { type: 'text', schema: {} } }).status, 400);
    assert.equal(chat({ response_format: { type: 'json_object' }, documents: [{ text: 'x' }] }).status, 400);
    assert.deepEqual(chat({ messages: [] }), { status: 400, body: { message: 'invalid request: unknown field: parameter messages is not a valid field' } });
    const generate = json(call((c) => cohere.handle(c), '/v1/generate', { prompt: 'hi', logit_bias: { '1': 2 } }));
    assert.equal(generate.status, 400);
  });
});
