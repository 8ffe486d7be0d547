import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateClientRequest } from '../../src/llm/validate.ts';
import { RequestError, type LlmRouteType } from '../../src/llm/types.ts';

const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';
const user = (content: unknown = 'hi') => ({ role: 'user', content });

function rejects(body: unknown, message: string, route: LlmRouteType = CHAT): void {
  assert.throws(
    () => validateClientRequest(body, route),
    (e: unknown) => e instanceof RequestError && e.message === message,
    `expected "${message}"`,
  );
}

function accepts(body: unknown, route: LlmRouteType = CHAT): void {
  assert.equal(validateClientRequest(body, route), body);
}

describe('validateClientRequest: Kong format detection', () => {
  it('recognises neither shape', () => {
    for (const body of [{}, { segassem: [user()] }, { tpmorp: 'x' }, null, 123, 'text', [user()], true]) {
      rejects(body, 'request format not recognised');
    }
  });

  it('rejects a body with both shapes', () => {
    rejects({ messages: [user()], prompt: 'Hi world' }, 'request matches multiple LLM request formats', COMPLETIONS);
  });

  it('rejects a shape that does not match the route type, in both directions', () => {
    rejects({ messages: [user()] }, '[llm/v1/chat] message format is not compatible with [llm/v1/completions] route type', COMPLETIONS);
    rejects({ prompt: 'x' }, '[llm/v1/completions] message format is not compatible with [llm/v1/chat] route type', CHAT);
  });

  it('names the field when it is there with the wrong type', () => {
    for (const messages of ['hi', [], {}, 42]) rejects({ messages }, 'messages: expected a non-empty array of messages');
    for (const prompt of [['a', 'b'], { name: 'python-chat' }, 7, true]) rejects({ prompt }, 'prompt: expected a string', COMPLETIONS);
  });

  it('accepts an empty prompt string (OpenAI does)', () => {
    accepts({ prompt: '' }, COMPLETIONS);
  });
});

describe('validateClientRequest: messages', () => {
  it('requires objects with a known role', () => {
    rejects({ messages: ['hi'] }, 'messages[0]: expected an object');
    rejects({ messages: [user(), user(), { role: 'robot', content: 'x' }] }, 'messages[2].role: expected one of system, developer, user, assistant, tool, function');
    rejects({ messages: [{ content: 'x' }] }, 'messages[0].role: expected one of system, developer, user, assistant, tool, function');
  });

  it('accepts every OpenAI role', () => {
    accepts({
      messages: [
        { role: 'developer', content: 'be brief' },
        { role: 'system', content: 'be kind' },
        user(),
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '{"ok":true}' },
        { role: 'function', name: 'f', content: 'legacy' },
      ],
    });
  });

  it('allows null or absent content only for assistant calls', () => {
    rejects({ messages: [user(null)] }, 'messages[0].content: expected a string or an array of content parts');
    rejects({ messages: [{ role: 'assistant' }] }, 'messages[0].content: expected a string or an array of content parts');
    accepts({ messages: [user(), { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '' } }] }] });
    accepts({ messages: [user(), { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } }] });
  });

  it('checks content types and parts', () => {
    rejects({ messages: [user(42)] }, 'messages[0].content: expected a string or a non-empty array of content parts');
    rejects({ messages: [user([])] }, 'messages[0].content: expected a string or a non-empty array of content parts');
    rejects({ messages: [user(['text'])] }, 'messages[0].content[0]: expected an object');
    rejects({ messages: [user([{ text: 'x' }])] }, 'messages[0].content[0].type: expected a string');
    rejects({ messages: [user([{ type: 'text' }])] }, 'messages[0].content[0].text: expected a string');
    rejects({ messages: [user([{ type: 'image_url', image_url: 'http://x' }])] }, 'messages[0].content[0].image_url.url: expected a string');
    accepts({ messages: [user([{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }, { type: 'input_audio', input_audio: {} }])] });
  });

  it('checks tool calls and tool results', () => {
    rejects({ messages: [{ role: 'user', content: 'x', tool_calls: [] }] }, 'messages[0].tool_calls: only assistant messages make tool calls');
    rejects({ messages: [{ role: 'assistant', content: null, tool_calls: {} }] }, 'messages[0].tool_calls: expected an array');
    rejects({ messages: [{ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'messages[0].tool_calls[0].id: expected a string');
    rejects({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', function: { arguments: '{}' } }] }] }, 'messages[0].tool_calls[0].function.name: expected a string');
    rejects({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', function: { name: 'f', arguments: {} } }] }] }, 'messages[0].tool_calls[0].function.arguments: expected a string');
    rejects({ messages: [{ role: 'tool', content: 'result' }] }, 'messages[0].tool_call_id: expected a string');
    rejects({ messages: [{ role: 'user', content: 'x', name: 5 }] }, 'messages[0].name: expected a string');
  });
});

describe('validateClientRequest: other fields', () => {
  const chat = (extra: Record<string, unknown>) => ({ messages: [user()], ...extra });

  it('checks stream and stream_options', () => {
    rejects(chat({ stream: 'yes' }), 'stream: expected a boolean');
    accepts(chat({ stream: null }));
    rejects(chat({ stream_options: 'usage' }), 'stream_options: expected an object');
    rejects(chat({ stream_options: { include_usage: 'yes' } }), 'stream_options.include_usage: expected a boolean');
    accepts(chat({ stream: true, stream_options: { include_usage: true } }));
  });

  it('checks numbers and their ranges', () => {
    rejects(chat({ max_tokens: -1 }), 'max_tokens: expected an integer at least 1');
    rejects(chat({ max_tokens: 0 }), 'max_tokens: expected an integer at least 1');
    rejects(chat({ max_tokens: 1.5 }), 'max_tokens: expected an integer');
    rejects(chat({ max_tokens: '100' }), 'max_tokens: expected an integer');
    rejects(chat({ max_completion_tokens: -5 }), 'max_completion_tokens: expected an integer at least 1');
    rejects(chat({ temperature: 2.5 }), 'temperature: expected a number between 0 and 2');
    rejects(chat({ temperature: -0.1 }), 'temperature: expected a number between 0 and 2');
    rejects(chat({ top_p: 1.01 }), 'top_p: expected a number between 0 and 1');
    rejects(chat({ n: 0 }), 'n: expected an integer between 1 and 128');
    rejects(chat({ presence_penalty: 3 }), 'presence_penalty: expected a number between -2 and 2');
    accepts(chat({ max_tokens: 4096, temperature: 0, top_p: 1, n: 2, frequency_penalty: -2 }));
    accepts(chat({ max_tokens: null, temperature: null }));
  });

  it('checks model, stop and tools', () => {
    rejects(chat({ model: 123 }), 'model: expected a string');
    accepts(chat({ model: 'gpt-4' }));
    // A null model is the plugin's to refuse ("cannot use own model", T11): it must reach it.
    assert.equal(validateClientRequest(chat({ model: null }), CHAT).model, null);
    rejects(chat({ stop: 5 }), 'stop: expected a string or an array of strings');
    rejects(chat({ stop: ['a', 1] }), 'stop: expected a string or an array of strings');
    accepts(chat({ stop: ['\n\n', 'END'] }));
    rejects(chat({ tools: {} }), 'tools: expected an array');
    rejects(chat({ tools: [{ type: 'function', function: {} }] }), 'tools[0].function.name: expected a string');
    rejects(chat({ tools: ['f'] }), 'tools[0]: expected an object');
  });

  it('keeps unknown fields and returns the body itself', () => {
    const body = chat({ user: 'u-1', logit_bias: { 50256: -100 }, some_extra_param: 'x', response_format: { type: 'json_object' } });
    const validated = validateClientRequest(body, CHAT);
    assert.equal(validated, body);
    assert.equal(validated.some_extra_param, 'x');
  });

  it('is not fooled by __proto__ keys', () => {
    const body = JSON.parse('{"messages":[{"role":"user","content":"x"}],"__proto__":{"polluted":true}}');
    validateClientRequest(body, CHAT);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
