/**
 * The mock providers behave like the real APIs (shapes, auth, validation, streaming framing) and
 * their fault modes, recording and back-pressure accounting work as documented in test/mocks/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMockProvider } from '../mocks/providers.ts';
import type { MockProvider, MockProviderName, MockOptions } from '../mocks/providers.ts';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(url: string, body?: unknown, headers: Record<string, string> = {}, method = 'POST'): Promise<Res> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

interface SseEvent {
  event: string | undefined;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      return { event, data: data.join('\n') };
    });
}

const parseNdjson = (text: string): any[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

/** Reads a streamed body event by event until `count` events (by `\n\n` or `\n` separator) arrived. */
async function readEvents(body: ReadableStream<Uint8Array>, sep: string, count: number, timeoutMs: number): Promise<{ events: string[]; timedOut: boolean }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const events: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) return { events, timedOut: true };
    const r = await Promise.race([reader.read(), sleep(left).then(() => 'timeout' as const)]);
    if (r === 'timeout') return { events, timedOut: true };
    if (r.done) break;
    buf += decoder.decode(r.value, { stream: true });
    let at: number;
    while ((at = buf.indexOf(sep)) >= 0) {
      events.push(buf.slice(0, at));
      buf = buf.slice(at + sep.length);
    }
  }
  reader.releaseLock();
  return { events, timedOut: false };
}

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 1 + 1?' }] };
const bearer = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });
const ANTHROPIC_HEADERS = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };

async function withMock(name: MockProviderName, opts: MockOptions, fn: (m: MockProvider) => Promise<void>): Promise<void> {
  const mock = await startMockProvider(name, opts);
  try {
    await fn(mock);
  } finally {
    await mock.close();
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI

describe('openai mock', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('openai', { key: 'sk-test-0123456789abcdef', fixedTime: 1700000000 });
  });
  after(() => mock.close());
  const key = bearer('sk-test-0123456789abcdef');

  it('answers a chat completion with usage consistent with the text', async () => {
    const r = await call(`${mock.url}/v1/chat/completions`, chat, key);
    assert.equal(r.status, 200);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.created, 1700000000);
    assert.equal(r.json.model, 'gpt-4o-mini');
    assert.deepEqual(r.json.choices[0].message, { role: 'assistant', content: '1 + 1 = 2.', refusal: null, annotations: [] });
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.deepEqual([r.json.usage.prompt_tokens, r.json.usage.completion_tokens, r.json.usage.total_tokens], [7, 5, 12]);
  });

  it('rejects a wrong or missing key with OpenAI 401 bodies', async () => {
    const wrong = await call(`${mock.url}/v1/chat/completions`, chat, bearer('sk-wrong-key-abcdefghijkl'));
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, {
      error: {
        message: 'Incorrect API key provided: sk-wrong*************ijkl. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    const missing = await call(`${mock.url}/v1/chat/completions`, chat);
    assert.equal(missing.status, 401);
    assert.match(missing.json.error.message, /^You didn't provide an API key/);
    assert.equal(missing.json.error.code, null);
  });

  it('validates the body like OpenAI', async () => {
    const cases: [unknown, number, string, string | null][] = [
      [{ messages: chat.messages }, 400, 'you must provide a model parameter', null],
      [{ ...chat, top_k: 5 }, 400, 'Unrecognized request argument supplied: top_k', null],
      [{ model: 'gpt-4o-mini' }, 400, "Missing required parameter: 'messages'.", 'missing_required_parameter'],
      [{ ...chat, temperature: 3 }, 400, "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead.", 'decimal_above_max_value'],
      [{ ...chat, top_p: -0.5 }, 400, "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.5 instead.", 'decimal_below_min_value'],
      [{ ...chat, max_tokens: 0 }, 400, "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.", 'integer_below_min_value'],
      [{ ...chat, max_tokens: 1.5 }, 400, "Invalid type for 'max_tokens': expected an integer, but got a decimal number instead.", 'invalid_type'],
      [{ model: 'gpt-4o-mini', messages: [{ role: 'bot', content: 'x' }] }, 400, "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", 'invalid_value'],
      [{ ...chat, stream_options: { include_usage: true } }, 400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", null],
      [{ ...chat, model: 'gpt-9' }, 404, 'The model `gpt-9` does not exist or you do not have access to it.', 'model_not_found'],
      [{ ...chat, model: 'gpt-3.5-turbo-instruct' }, 404, 'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?', null],
    ];
    for (const [body, status, message, code] of cases) {
      const r = await call(`${mock.url}/v1/chat/completions`, body, key);
      assert.equal(r.status, status, message);
      assert.equal(r.json.error.message, message);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.code, code);
    }
    const bad = await call(`${mock.url}/v1/chat/completions`, '{"model":', key);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /^We could not parse the JSON body/);
  });

  it('streams chat.completion.chunk events ending with a usage chunk and [DONE]', async () => {
    const r = await call(`${mock.url}/v1/chat/completions`, { ...chat, stream: true, stream_options: { include_usage: true } }, key);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/event-stream/);
    const events = parseSse(r.text);
    assert.equal(events.at(-1)!.data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const text = chunks.flatMap((c) => c.choices.map((ch: any) => ch.delta.content ?? '')).join('');
    assert.equal(text, '1 + 1 = 2.');
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.deepEqual([usage.usage.prompt_tokens, usage.usage.completion_tokens], [7, 5]);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
  });

  it('serves completions, embeddings and models', async () => {
    const c = await call(`${mock.url}/v1/completions`, { model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test', max_tokens: 3 }, key);
    assert.equal(c.json.object, 'text_completion');
    assert.equal(c.json.choices[0].text, '1 + 1');
    assert.equal(c.json.choices[0].finish_reason, 'length');
    assert.deepEqual([c.json.usage.prompt_tokens, c.json.usage.completion_tokens], [5, 3]);
    const wrongKind = await call(`${mock.url}/v1/completions`, { model: 'gpt-4o-mini', prompt: 'x' }, key);
    assert.equal(wrongKind.status, 404);
    const e = await call(`${mock.url}/v1/embeddings`, { model: 'text-embedding-3-small', input: ['a b', 'c'], dimensions: 8 }, key);
    assert.equal(e.json.data.length, 2);
    assert.equal(e.json.data[0].embedding.length, 8);
    assert.deepEqual(e.json.usage, { prompt_tokens: 3, total_tokens: 3 });
    const models = await call(`${mock.url}/v1/models`, undefined, key, 'GET');
    assert.ok(models.json.data.some((m: any) => m.id === 'gpt-4o-mini'));
  });
});

// ---------------------------------------------------------------------------------------------
// Azure

describe('openai mock: Responses API', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('openai', { key: 'sk-test', fixedTime: 1700000000 });
  });
  after(() => mock.close());
  const key = bearer('sk-test');
  const url = (): string => `${mock.url}/v1/responses`;
  const weather = { type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true };

  it('answers a response object with an output_text message and usage with details', async () => {
    const r = await call(url(), { model: 'gpt-4o', instructions: 'Be brief.', input: 'What is 1 + 1?' }, key);
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.id, /^resp_/);
    assert.deepEqual([r.json.object, r.json.status, r.json.created_at, r.json.model, r.json.error, r.json.incomplete_details], ['response', 'completed', 1700000000, 'gpt-4o', null, null]);
    assert.equal(r.json.output.length, 1);
    const [message] = r.json.output;
    assert.deepEqual({ ...message, id: 'x' }, { id: 'x', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: '1 + 1 = 2.' }] });
    assert.deepEqual(r.json.usage, { input_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 12 });
    const items = await call(url(), { model: 'gpt-4o', input: [{ role: 'developer', content: 'Be brief.' }, { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }, { role: 'assistant', content: [{ type: 'output_text', text: 'Hello.' }] }, { role: 'user', content: 'Sum?' }] }, key);
    assert.equal(items.status, 200, items.text);
    assert.equal(items.json.usage.input_tokens, 5);
  });

  it('validates the request strictly, in OpenAI error bodies', async () => {
    const base = { model: 'gpt-4o', input: 'hi' };
    const cases: [unknown, number, string, string | null][] = [
      [{ ...base, messages: [] }, 400, "Unknown parameter: 'messages'.", 'unknown_parameter'],
      [{ input: 'hi' }, 400, "Missing required parameter: 'model'.", 'missing_required_parameter'],
      [{ model: 'gpt-4o' }, 400, "Missing required parameter: 'input'.", 'missing_required_parameter'],
      [{ ...base, model: 'gpt-9' }, 400, "The requested model 'gpt-9' does not exist.", 'model_not_found'],
      [{ ...base, max_output_tokens: 10 }, 400, "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 10 instead.", 'integer_below_min_value'],
      [{ ...base, previous_response_id: 'resp_abc' }, 400, "Previous response with id 'resp_abc' not found.", 'previous_response_not_found'],
      [{ ...base, reasoning: { effort: 'low' } }, 400, "Unsupported parameter: 'reasoning.effort' is not supported with this model.", 'unsupported_parameter'],
      [{ ...base, model: 'gpt-5', temperature: 0.2 }, 400, "Unsupported parameter: 'temperature' is not supported with this model.", 'unsupported_parameter'],
      [{ ...base, tools: [{ type: 'function', function: { name: 'f' } }] }, 400, "Unknown parameter: 'tools[0].function'.", 'unknown_parameter'],
      [{ ...base, tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'g' } }, 400, "Tool choice 'g' not found in 'tools' parameter.", null],
      [{ ...base, text: { format: { type: 'json_schema', schema: { type: 'object' } } } }, 400, "Missing required parameter: 'text.format.name'.", 'missing_required_parameter'],
      [{ ...base, text: { format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } } }, 400, "Unknown parameter: 'text.format.json_schema'.", 'unknown_parameter'],
      [{ ...base, include: ['reasoning.secret'] }, 400, `Invalid value: 'reasoning.secret'. Supported values are: 'file_search_call.results', 'web_search_call.results', 'web_search_call.action.sources', 'message.input_image.image_url', 'computer_call_output.output.image_url', 'code_interpreter_call.outputs', 'reasoning.encrypted_content', and 'message.output_text.logprobs'.`, 'invalid_value'],
      [{ ...base, input: [{ role: 'tool', content: 'x' }] }, 400, "Invalid value: 'tool'. Supported values are: 'user', 'assistant', 'system', and 'developer'.", 'invalid_value'],
      [{ ...base, input: [{ role: 'assistant', content: [{ type: 'input_text', text: 'x' }] }] }, 400, "Invalid value: 'input_text'. Supported values are: 'output_text', and 'refusal'.", 'invalid_value'],
      [{ ...base, input: [{ type: 'function_call_output', call_id: 'call_1', output: '12' }] }, 400, 'No tool call found for function call output with call_id call_1.', null],
      [{ ...base, input: [{ role: 'user', content: 'q' }, { type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{}' }] }, 400, 'No tool output found for function call call_1.', null],
      [{ ...base, input: [{ type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAAABforged' }] }, 400, 'The encrypted content gAAAAABforge... could not be verified.', 'invalid_encrypted_content'],
      [{ ...base, input: [{ type: 'item_reference', id: 'msg_1' }] }, 404, "Item with id 'msg_1' not found.", null],
    ];
    for (const [body, status, message, code] of cases) {
      const r = await call(url(), body, key);
      assert.equal(r.status, status, `${message}: ${r.text}`);
      assert.equal(r.json.error.message, message);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.code, code);
    }
    assert.equal((await call(url(), base)).status, 401);
  });

  it('calls a function when tool_choice forces one, and answers text after its output', async () => {
    const forced = await call(url(), { model: 'gpt-4o', input: 'Weather in Paris?', tools: [weather], tool_choice: 'required' }, key);
    assert.equal(forced.status, 200, forced.text);
    const [fc] = forced.json.output;
    assert.deepEqual([fc.type, fc.name, fc.status, JSON.parse(fc.arguments)], ['function_call', 'get_weather', 'completed', { city: '1 + 1 = 2.' }]);
    assert.match(fc.call_id, /^call_/);
    assert.match(fc.id, /^fc_/);
    const named = await call(url(), { model: 'gpt-4o', input: 'hi', tools: [weather], tool_choice: { type: 'function', name: 'get_weather' } }, key);
    assert.equal(named.json.output[0].type, 'function_call');
    assert.equal((await call(url(), { model: 'gpt-4o', input: 'hi', tools: [weather] }, key)).json.output[0].type, 'message');
    const next = await call(url(), { model: 'gpt-4o', tools: [weather], input: [{ role: 'user', content: 'Weather in Paris?' }, { type: 'function_call', call_id: fc.call_id, name: fc.name, arguments: fc.arguments }, { type: 'function_call_output', call_id: fc.call_id, output: 'sunny' }] }, key);
    assert.equal(next.status, 200, next.text);
    assert.equal(next.json.output[0].content[0].text, '1 + 1 = 2.');
  });

  it('answers JSON of the text.format schema, and cuts at max_output_tokens', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'population'], additionalProperties: false };
    const r = await call(url(), { model: 'gpt-4o', input: 'x', text: { format: { type: 'json_schema', name: 'city', schema, strict: true } } }, key);
    assert.deepEqual(JSON.parse(r.json.output[0].content[0].text), { city: '1 + 1 = 2.', population: 1 });
    assert.deepEqual(r.json.text.format, { type: 'json_schema', name: 'city', schema, strict: true });
    mock.nextResponse({ text: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen' });
    const cut = await call(url(), { model: 'gpt-4o', input: 'x', max_output_tokens: 16 }, key);
    assert.deepEqual([cut.json.status, cut.json.incomplete_details, cut.json.usage.output_tokens], ['incomplete', { reason: 'max_output_tokens' }, 16]);
  });

  it('reasoning models answer a reasoning item, with encrypted content when included, that comes back verified', async () => {
    const r = await call(url(), { model: 'gpt-5', input: 'x', reasoning: { effort: 'low', summary: 'auto' }, include: ['reasoning.encrypted_content'], store: false }, key);
    assert.equal(r.status, 200, r.text);
    const [rs, message] = r.json.output;
    assert.equal(rs.type, 'reasoning');
    assert.match(rs.encrypted_content, /^gAAAAAB/);
    assert.equal(rs.summary[0].type, 'summary_text');
    assert.equal(message.type, 'message');
    assert.deepEqual(r.json.usage.output_tokens_details, { reasoning_tokens: 8 });
    assert.equal(r.json.usage.output_tokens, 8 + 5);
    const plain = await call(url(), { model: 'gpt-5', input: 'x' }, key);
    assert.equal(plain.json.output[0].encrypted_content, undefined);
    const back = (item: unknown) => call(url(), { model: 'gpt-5', store: false, input: [{ role: 'user', content: 'x' }, item, { role: 'assistant', content: [{ type: 'output_text', text: 'A.' }] }, { role: 'user', content: 'y' }] }, key);
    assert.equal((await back(rs)).status, 200);
    const withoutContent = await back({ ...rs, encrypted_content: undefined });
    assert.equal(withoutContent.status, 404);
    assert.match(withoutContent.json.error.message, /^Item with id 'rs_\w+' not found\. Items are not persisted when `store` is set to false/);
    assert.equal((await back({ ...rs, id: 'rs_other' })).status, 400, 'the content belongs to its item');
  });

  it('streams the documented events in order with sequence numbers from 0', async () => {
    const r = await call(url(), { model: 'gpt-4o', input: 'x', stream: true }, key);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = parseSse(r.text);
    const data = events.map((e) => JSON.parse(e.data));
    assert.ok(events.every((e, i) => e.event === data[i].type));
    assert.deepEqual(data.map((d) => d.sequence_number), data.map((_, i) => i));
    const types = data.map((d) => d.type);
    assert.deepEqual(types.filter((t) => t !== 'response.output_text.delta'), [
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    assert.equal(data.filter((d) => d.type === 'response.output_text.delta').map((d) => d.delta).join(''), '1 + 1 = 2.');
    assert.equal(data[0].response.status, 'in_progress');
    assert.equal(data.at(-1).response.status, 'completed');
    assert.equal(data.at(-1).response.usage.output_tokens, 5);

    const tool = await call(url(), { model: 'gpt-4o', input: 'x', stream: true, tools: [weather], tool_choice: 'required' }, key);
    const td = parseSse(tool.text).map((e) => JSON.parse(e.data));
    assert.deepEqual([...new Set(td.map((d) => d.type))], [
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.function_call_arguments.delta',
      'response.function_call_arguments.done', 'response.output_item.done', 'response.completed',
    ]);
    assert.equal(td[2].item.arguments, '');
    const args = td.filter((d) => d.type === 'response.function_call_arguments.delta').map((d) => d.delta).join('');
    assert.equal(args, td.find((d) => d.type === 'response.function_call_arguments.done').arguments);
    assert.deepEqual(JSON.parse(args), { city: '1 + 1 = 2.' });
  });

  it('leaves chat completions as they were', async () => {
    const r = await call(`${mock.url}/v1/chat/completions`, chat, key);
    assert.equal(r.json.object, 'chat.completion');
  });
});

describe('azure mock', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('azure', { key: 'az-key', deployments: { 'my-gpt': 'gpt-4o-mini', 'my-instruct': 'gpt-35-turbo-instruct' } });
  });
  after(() => mock.close());
  const path = '/openai/deployments/my-gpt/chat/completions?api-version=2024-02-01';
  const body = { messages: chat.messages };

  it('answers with the deployment model and content filter results', async () => {
    const r = await call(`${mock.url}${path}`, body, { 'api-key': 'az-key' });
    assert.equal(r.status, 200);
    assert.equal(r.json.model, 'gpt-4o-mini');
    assert.equal(r.json.choices[0].message.content, '1 + 1 = 2.');
    assert.ok(r.json.prompt_filter_results);
    assert.equal(r.json.usage.total_tokens, 12);
  });

  it('rejects a wrong key, a missing api-version and an unknown deployment with Azure bodies', async () => {
    const wrong = await call(`${mock.url}${path}`, body, { 'api-key': 'nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, '401');
    assert.match(wrong.json.error.message, /^Access denied due to invalid subscription key or wrong API endpoint/);
    const noVersion = await call(`${mock.url}/openai/deployments/my-gpt/chat/completions`, body, { 'api-key': 'az-key' });
    assert.deepEqual([noVersion.status, noVersion.json], [404, { error: { code: '404', message: 'Resource not found' } }]);
    const badVersion = await call(`${mock.url}/openai/deployments/my-gpt/chat/completions?api-version=1999-01-01`, body, { 'api-key': 'az-key' });
    assert.deepEqual([badVersion.status, badVersion.json], [400, { error: { code: 'BadRequest', message: 'API version not supported' } }]);
    const noDeployment = await call(`${mock.url}/openai/deployments/other/chat/completions?api-version=2024-02-01`, body, { 'api-key': 'az-key' });
    assert.equal(noDeployment.status, 404);
    assert.equal(noDeployment.json.error.code, 'DeploymentNotFound');
    const unknownField = await call(`${mock.url}${path}`, { ...body, foo: 1 }, { 'api-key': 'az-key' });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.json.error.message, /^Unrecognized request argument supplied: foo\. Please contact us through an Azure support request/);
    const wrongOp = await call(`${mock.url}/openai/deployments/my-instruct/chat/completions?api-version=2024-02-01`, body, { 'api-key': 'az-key' });
    assert.equal(wrongOp.json.error.code, 'OperationNotSupported');
  });

  it("streams with Azure's prompt-filter first chunk and [DONE]", async () => {
    const r = await call(`${mock.url}${path}`, { ...body, stream: true }, { 'api-key': 'az-key' });
    const events = parseSse(r.text);
    const first = JSON.parse(events[0]!.data);
    assert.deepEqual([first.id, first.choices, first.created], ['', [], 0]);
    assert.ok(first.prompt_filter_results);
    assert.equal(events.at(-1)!.data, '[DONE]');
    const text = events.slice(1, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, '1 + 1 = 2.');
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic

describe('anthropic mock', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('anthropic', { key: 'sk-ant-test' });
  });
  after(() => mock.close());
  const body = { model: 'claude-sonnet-4-5', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'What is 1 + 1?' }] };

  it('answers a Messages API response', async () => {
    const r = await call(`${mock.url}/v1/messages`, body, ANTHROPIC_HEADERS);
    assert.equal(r.status, 200);
    assert.equal(r.json.type, 'message');
    assert.equal(r.json.role, 'assistant');
    assert.deepEqual(r.json.content, [{ type: 'text', text: '1 + 1 = 2.' }]);
    assert.equal(r.json.stop_reason, 'end_turn');
    assert.equal(r.json.stop_sequence, null);
    assert.deepEqual([r.json.usage.input_tokens, r.json.usage.output_tokens], [7, 5]);
    assert.match(r.headers.get('request-id')!, /^req_/);
    const cut = await call(`${mock.url}/v1/messages`, { ...body, max_tokens: 2 }, ANTHROPIC_HEADERS);
    assert.deepEqual([cut.json.content[0].text, cut.json.stop_reason, cut.json.usage.output_tokens], ['1 +', 'max_tokens', 2]);
    const stop = await call(`${mock.url}/v1/messages`, { ...body, stop_sequences: ['='] }, ANTHROPIC_HEADERS);
    assert.deepEqual([stop.json.content[0].text, stop.json.stop_reason, stop.json.stop_sequence], ['1 + 1 ', 'stop_sequence', '=']);
  });

  it('rejects bad keys and a missing anthropic-version with Anthropic error bodies', async () => {
    const missing = await call(`${mock.url}/v1/messages`, body, { 'anthropic-version': '2023-06-01' });
    assert.equal(missing.status, 401);
    assert.equal(missing.json.type, 'error');
    assert.deepEqual(missing.json.error, { type: 'authentication_error', message: 'x-api-key header is required' });
    assert.match(missing.json.request_id, /^req_/);
    const wrong = await call(`${mock.url}/v1/messages`, body, { ...ANTHROPIC_HEADERS, 'x-api-key': 'nope' });
    assert.deepEqual([wrong.status, wrong.json.error], [401, { type: 'authentication_error', message: 'invalid x-api-key' }]);
    const noVersion = await call(`${mock.url}/v1/messages`, body, { 'x-api-key': 'sk-ant-test' });
    assert.deepEqual([noVersion.status, noVersion.json.error], [400, { type: 'invalid_request_error', message: 'anthropic-version: header is required' }]);
  });

  it('validates the body like the Messages API', async () => {
    const { max_tokens: _, ...noMax } = body;
    const cases: [unknown, number, string, string][] = [
      [noMax, 400, 'invalid_request_error', 'max_tokens: Field required'],
      [{ ...body, messages: [{ role: 'system', content: 'x' }, ...body.messages] }, 400, 'invalid_request_error', 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.'],
      [{ ...body, temperature: 1.5 }, 400, 'invalid_request_error', 'temperature: range: 0..1'],
      [{ ...body, top_p: 2 }, 400, 'invalid_request_error', 'top_p: range: 0..1'],
      [{ ...body, frequency_penalty: 1 }, 400, 'invalid_request_error', 'frequency_penalty: Extra inputs are not permitted'],
      [{ ...body, messages: [] }, 400, 'invalid_request_error', 'messages: at least one message is required'],
      [{ ...body, model: 'claude-9' }, 404, 'not_found_error', 'model: claude-9'],
    ];
    for (const [b, status, type, message] of cases) {
      const r = await call(`${mock.url}/v1/messages`, b, ANTHROPIC_HEADERS);
      assert.equal(r.status, status, message);
      assert.deepEqual(r.json.error, { type, message });
    }
    const legacy = await call(`${mock.url}/v1/complete`, { model: 'claude-sonnet-4-5', prompt: '\n\nHuman: hi\n\nAssistant:', max_tokens_to_sample: 10 }, ANTHROPIC_HEADERS);
    assert.equal(legacy.status, 400);
    assert.equal(legacy.json.error.message, '"claude-sonnet-4-5" is not supported on this API. Please use the Messages API instead.');
  });

  it('streams the Messages event sequence', async () => {
    const r = await call(`${mock.url}/v1/messages`, { ...body, stream: true }, ANTHROPIC_HEADERS);
    const events = parseSse(r.text);
    const names = events.map((e) => e.event);
    assert.deepEqual(names, ['message_start', 'content_block_start', 'ping', ...Array(5).fill('content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop']);
    const data = events.map((e) => JSON.parse(e.data));
    assert.ok(data.every((d, i) => d.type === names[i]));
    assert.equal(data[0].message.usage.input_tokens, 7);
    assert.equal(data.filter((d) => d.type === 'content_block_delta').map((d) => d.delta.text).join(''), '1 + 1 = 2.');
    const delta = data.find((d) => d.type === 'message_delta');
    assert.deepEqual([delta.delta.stop_reason, delta.usage.output_tokens], ['end_turn', 5]);
  });
});

// ---------------------------------------------------------------------------------------------
// Cohere

describe('cohere mock', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('cohere', { key: 'co-key' });
  });
  after(() => mock.close());
  const key = bearer('co-key');
  const body = { message: 'What is 1 + 1?', preamble: 'Be brief.', chat_history: [{ role: 'USER', message: 'hi' }, { role: 'CHATBOT', message: 'hello there' }] };

  it('answers /v1/chat and /v1/generate', async () => {
    const r = await call(`${mock.url}/v1/chat`, body, key);
    assert.equal(r.status, 200);
    assert.equal(r.json.text, '1 + 1 = 2.');
    assert.equal(r.json.finish_reason, 'COMPLETE');
    assert.match(r.json.generation_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(r.json.meta.billed_units, { input_tokens: 10, output_tokens: 5 });
    assert.deepEqual(r.json.chat_history.at(-1), { role: 'CHATBOT', message: '1 + 1 = 2.' });
    const g = await call(`${mock.url}/v1/generate`, { prompt: 'Say hi', max_tokens: 3 }, key);
    assert.deepEqual([g.json.generations[0].text, g.json.generations[0].finish_reason], ['1 + 1', 'MAX_TOKENS']);
    assert.deepEqual(g.json.meta.billed_units, { input_tokens: 2, output_tokens: 3 });
  });

  it('rejects keys and bad bodies with Cohere bodies', async () => {
    assert.deepEqual(await call(`${mock.url}/v1/chat`, body, bearer('nope')).then((r) => [r.status, r.json]), [401, { message: 'invalid api token' }]);
    assert.deepEqual(await call(`${mock.url}/v1/chat`, body).then((r) => [r.status, r.json]), [401, { message: 'no api key supplied' }]);
    const noMessage = await call(`${mock.url}/v1/chat`, { preamble: 'x' }, key);
    assert.deepEqual([noMessage.status, noMessage.json], [400, { message: 'invalid request: message must be at least 1 token long or tool results must be specified.' }]);
    const badRole = await call(`${mock.url}/v1/chat`, { ...body, chat_history: [{ role: 'assistant', message: 'x' }] }, key);
    assert.equal(badRole.status, 400);
    assert.match(badRole.json.message, /^invalid request: chat_history\[0\]\.role/);
    const hot = await call(`${mock.url}/v1/chat`, { ...body, temperature: 2 }, key);
    assert.equal(hot.status, 400);
    const model = await call(`${mock.url}/v1/chat`, { ...body, model: 'command-x' }, key);
    assert.equal(model.status, 404);
    assert.equal(model.json.message, "model 'command-x' not found, make sure the correct model ID was used and that you have access to the model.");
  });

  it('streams newline-delimited JSON events (stream-start, text-generation, stream-end)', async () => {
    const r = await call(`${mock.url}/v1/chat`, { ...body, stream: true }, key);
    assert.equal(r.headers.get('content-type'), 'application/stream+json');
    const events = parseNdjson(r.text);
    assert.deepEqual(events.map((e) => e.event_type), ['stream-start', ...Array(5).fill('text-generation'), 'stream-end']);
    assert.equal(events.filter((e) => e.event_type === 'text-generation').map((e) => e.text).join(''), '1 + 1 = 2.');
    const end = events.at(-1);
    assert.deepEqual([end.is_finished, end.finish_reason, end.response.text], [true, 'COMPLETE', '1 + 1 = 2.']);
    assert.equal(end.response.generation_id, events[0].generation_id);
    const g = parseNdjson((await call(`${mock.url}/v1/generate`, { prompt: 'x', stream: true }, key)).text);
    assert.deepEqual([g.at(-1).is_finished, g.at(-1).response.generations[0].text], [true, '1 + 1 = 2.']);
  });
});

// ---------------------------------------------------------------------------------------------
// Ollama

describe('ollama mock', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('ollama', { models: ['llama2', 'mistral:7b'], fixedTime: 1700000000 });
  });
  after(() => mock.close());
  const body = { model: 'llama2', messages: chat.messages };

  it('streams NDJSON when the request does not say stream:false (Ollama default)', async () => {
    const r = await call(`${mock.url}/api/chat`, body);
    assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
    const lines = parseNdjson(r.text);
    assert.ok(lines.slice(0, -1).every((l) => l.done === false));
    assert.equal(lines.map((l) => l.message.content).join(''), '1 + 1 = 2.');
    const last = lines.at(-1);
    assert.deepEqual([last.done, last.done_reason, last.prompt_eval_count, last.eval_count], [true, 'stop', 7, 5]);
    assert.equal(last.created_at, '2023-11-14T22:13:20.000Z');
  });

  it('answers JSON with stream:false, and honours options.num_predict', async () => {
    const r = await call(`${mock.url}/api/chat`, { ...body, stream: false, options: { num_predict: 3, temperature: 0.1 } });
    assert.deepEqual(r.json.message, { role: 'assistant', content: '1 + 1' });
    assert.deepEqual([r.json.done, r.json.done_reason, r.json.eval_count], [true, 'length', 3]);
    const g = await call(`${mock.url}/api/generate`, { model: 'mistral:7b', prompt: 'Why?', stream: false });
    assert.deepEqual([g.json.response, g.json.prompt_eval_count, g.json.eval_count], ['1 + 1 = 2.', 1, 5]);
    const load = await call(`${mock.url}/api/generate`, { model: 'llama2', stream: false });
    assert.deepEqual([load.json.done, load.json.done_reason, load.json.response], [true, 'load', '']);
  });

  it('rejects a missing or unknown model with Ollama bodies', async () => {
    assert.deepEqual(await call(`${mock.url}/api/chat`, { messages: [] }).then((r) => [r.status, r.json]), [400, { error: 'model is required' }]);
    assert.deepEqual(await call(`${mock.url}/api/chat`, { ...body, model: 'llama9' }).then((r) => [r.status, r.json]), [404, { error: 'model "llama9" not found, try pulling it first' }]);
    const r = await call(`${mock.url}/api/nope`, {});
    assert.deepEqual([r.status, r.text], [404, '404 page not found']);
  });
});

// ---------------------------------------------------------------------------------------------
// llama2 raw (TGI / HF Inference API)

describe('llama2-raw mock', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('llama2-raw', { key: 'hf_key' });
  });
  after(() => mock.close());
  const key = bearer('hf_key');
  const body = { inputs: '[INST] What is 1 + 1? [/INST]', parameters: { max_new_tokens: 50, temperature: 0.5 } };

  it('answers the HF shape, the TGI shape and the Kong fixture shape', async () => {
    const hf = await call(`${mock.url}/models/meta-llama/Llama-2-7b-chat-hf`, body, key);
    assert.deepEqual(hf.json, [{ generated_text: `${body.inputs}1 + 1 = 2.` }]);
    mock.configure({ rawShape: 'kong' });
    const kong = await call(`${mock.url}/`, body, key);
    assert.deepEqual(kong.json, { data: [{ generated_text: `${body.inputs}1 + 1 = 2.` }] });
    mock.configure({ rawShape: 'tgi' });
    const tgi = await call(`${mock.url}/generate`, body, key);
    assert.deepEqual(tgi.json, { generated_text: '1 + 1 = 2.' });
    mock.configure({ rawShape: 'hf' });
  });

  it('rejects a bad key and invalid parameters like TGI', async () => {
    const wrong = await call(`${mock.url}/generate`, body, bearer('nope'));
    assert.deepEqual([wrong.status, wrong.json], [401, { error: 'Invalid credentials in Authorization header' }]);
    const topP = await call(`${mock.url}/generate`, { ...body, parameters: { top_p: 1 } }, key);
    assert.deepEqual([topP.status, topP.json], [422, { error: 'Input validation error: `top_p` must be > 0.0 and < 1.0', error_type: 'validation' }]);
    const empty = await call(`${mock.url}/generate`, { inputs: '' }, key);
    assert.equal(empty.json.error, 'Input validation error: `inputs` cannot be empty');
    const missing = await call(`${mock.url}/generate`, { parameters: {} }, key);
    assert.equal(missing.status, 422);
    assert.match(missing.text, /missing field `inputs`/);
  });

  it('streams TGI token events, the last one carrying generated_text', async () => {
    const r = await call(`${mock.url}/generate_stream`, { ...body, parameters: { details: true } }, key);
    assert.ok(r.text.startsWith('data:{'));
    const events = parseSse(r.text).map((e) => JSON.parse(e.data));
    assert.equal(events.map((e) => e.token.text).join(''), '1 + 1 = 2.');
    assert.ok(events.slice(0, -1).every((e) => e.generated_text === null && e.token.special === false));
    assert.deepEqual([events.at(-1).generated_text, events.at(-1).details.finish_reason], ['1 + 1 = 2.', 'eos_token']);
  });
});

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible self-hosted

describe('openai-compatible mock', () => {
  it('serves any model without auth under a configurable prefix and ignores unknown fields', async () => {
    await withMock('openai-compatible', { pathPrefix: '/llama/v1' }, async (mock) => {
      const r = await call(`${mock.url}/llama/v1/chat/completions`, { ...chat, model: 'mistral-7b-instruct', top_k: 40 });
      assert.equal(r.status, 200);
      assert.equal(r.json.model, 'mistral-7b-instruct');
      assert.equal(r.json.choices[0].message.content, '1 + 1 = 2.');
      const bad = await call(`${mock.url}/llama/v1/chat/completions`, { ...chat, temperature: 5 });
      assert.equal(bad.status, 400);
    });
    await withMock('openai-compatible', { key: 'local' }, async (mock) => {
      const r = await call(`${mock.url}/v1/chat/completions`, chat);
      assert.deepEqual([r.status, r.json], [401, { error: 'Unauthorized' }]);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Fault modes, recording, back-pressure

describe('fault modes', () => {
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('openai', { key: null });
  });
  after(() => mock.close());
  const url = (): string => `${mock.url}/v1/chat/completions`;
  const streamBody = { ...chat, stream: true };

  it('records method, path, query, headers, body and json', async () => {
    mock.clear();
    await call(`${url()}?trace=1`, chat, { 'x-custom': 'yes' });
    const rec = mock.requests[0]!;
    assert.deepEqual([rec.method, rec.path, rec.query, rec.headers['x-custom'], rec.json], ['POST', '/v1/chat/completions', { trace: '1' }, 'yes', chat]);
    assert.equal(rec.body, JSON.stringify(chat));
    assert.equal(rec.status, 200);
    assert.ok(rec.receivedAt <= Date.now());
    await mock.waitFor((r) => r.seq === 1 && r.finishedAt !== null);
    assert.equal(rec.closedAt, null);
  });

  it('reset-before-headers and reset-mid-body fail the client without a complete answer', async () => {
    await assert.rejects(call(url(), chat, { 'x-mock-mode': 'reset-before-headers' }));
    const res = await fetch(url(), { method: 'POST', body: JSON.stringify(chat), headers: { 'x-mock-mode': 'reset-mid-body' } });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    await assert.rejects(call(url(), chat, { 'x-mock-mode': 'refuse' }));
    const last = mock.requests.at(-1)!;
    assert.deepEqual([last.resetByMock, last.status, last.closedAt], [true, null, null]);
  });

  it('reset-mid-stream delivers some events then breaks', async () => {
    const res = await fetch(url(), { method: 'POST', body: JSON.stringify(streamBody), headers: { 'x-mock-mode': 'reset-mid-stream' } });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    assert.ok(mock.requests.at(-1)!.eventsSent >= 1);
  });

  it('slow-headers delays the status line; a client that gives up is recorded in closedAt', async () => {
    const t0 = Date.now();
    const r = await call(url(), chat, { 'x-mock-mode': 'slow-headers:150' });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 >= 140);
    const ac = new AbortController();
    const pending = fetch(url(), { method: 'POST', body: JSON.stringify(chat), headers: { 'x-mock-mode': 'slow-headers:5000' }, signal: ac.signal });
    const rec = await mock.waitFor((x) => x.mode === 'slow-headers:5000' && x.body !== '');
    ac.abort();
    await assert.rejects(pending);
    await mock.waitFor((x) => x === rec && x.closedAt !== null);
    assert.ok(rec.closedAt! >= rec.receivedAt);
    assert.equal(rec.status, null);
  });

  it('stall-stream sends N events then nothing, keeping the socket open until the client leaves', async () => {
    const ac = new AbortController();
    const res = await fetch(url(), { method: 'POST', body: JSON.stringify(streamBody), headers: { 'x-mock-mode': 'stall-stream:2' }, signal: ac.signal });
    const got = await readEvents(res.body!, '\n\n', 3, 300);
    assert.equal(got.events.length, 2);
    assert.ok(got.timedOut);
    const rec = mock.requests.at(-1)!;
    assert.deepEqual([rec.eventsSent, rec.closedAt], [2, null]);
    ac.abort();
    await mock.waitFor((x) => x === rec && x.closedAt !== null);
  });

  it('never-ending-sse keeps sending until the client aborts', async () => {
    const ac = new AbortController();
    const res = await fetch(url(), { method: 'POST', body: JSON.stringify(chat), headers: { 'x-mock-mode': 'never-ending-sse:5' }, signal: ac.signal });
    const got = await readEvents(res.body!, '\n\n', 20, 2000);
    assert.equal(got.events.length, 20);
    assert.ok(!got.events.some((e) => e.includes('[DONE]')));
    ac.abort();
    const rec = await mock.waitFor((x) => x.mode === 'never-ending-sse:5' && x.closedAt !== null);
    assert.ok(rec.eventsSent >= 20);
  });

  it('truncated-sse ends cleanly without the terminal event', async () => {
    const r = await call(url(), streamBody, { 'x-mock-mode': 'truncated-sse' });
    assert.equal(r.status, 200);
    const events = parseSse(r.text);
    assert.ok(events.length > 0);
    assert.ok(events.every((e) => e.data !== '[DONE]'));
  });

  it('chunks and pacing are configurable per request', async () => {
    const t0 = Date.now();
    const r = await call(url(), streamBody, { 'x-mock-chunks': '20', 'x-mock-delay-ms': '5' });
    const chunks = parseSse(r.text).slice(0, -1).map((e) => JSON.parse(e.data));
    const content = chunks.filter((c) => c.choices[0]?.delta?.content !== undefined && c.choices[0].delta.role === undefined);
    assert.equal(content.length, 20);
    assert.equal(content.map((c) => c.choices[0].delta.content).join(''), '1 + 1 = 2.');
    assert.ok(Date.now() - t0 >= 20 * 5);
  });

  it('error and shape faults answer what they say', async () => {
    const j = await call(url(), chat, { 'x-mock-mode': '5xx-json:503' });
    assert.deepEqual([j.status, j.json.error.type], [503, 'server_error']);
    const h = await call(url(), chat, { 'x-mock-mode': '5xx-html:502' });
    assert.equal(h.status, 502);
    assert.match(h.headers.get('content-type')!, /text\/html/);
    assert.match(h.text, /<title>502 Bad Gateway<\/title>/);
    const rl = await call(url(), chat, { 'x-mock-mode': '429:7' });
    assert.deepEqual([rl.status, rl.headers.get('retry-after'), rl.json.error.code], [429, '7', 'rate_limit_exceeded']);
    const inv = await call(url(), chat, { 'x-mock-mode': 'invalid-json-200' });
    assert.deepEqual([inv.status, inv.json], [200, undefined]);
    const shape = await call(url(), chat, { 'x-mock-mode': 'wrong-shape-200' });
    assert.equal(shape.status, 200);
    assert.equal(shape.json.choices, undefined);
    const huge = await call(url(), chat, { 'x-mock-mode': 'huge:100000' });
    assert.equal(Buffer.byteLength(huge.text), 100000);
    assert.equal(huge.json.object, 'chat.completion');
    const gz = await call(url(), chat, { 'x-mock-mode': 'gzip' });
    assert.deepEqual([gz.headers.get('content-encoding'), gz.json.choices[0].message.content], ['gzip', '1 + 1 = 2.']);
    const echo = await call(`${url()}?a=b`, { hello: 1 }, { 'x-mock-mode': 'echo' });
    assert.deepEqual([echo.json.path, echo.json.query, echo.json.json], ['/v1/chat/completions', { a: 'b' }, { hello: 1 }]);
  });

  it('redirect points to another URL that answers normally', async () => {
    const res = await fetch(url(), { method: 'POST', body: JSON.stringify(chat), headers: { 'x-mock-mode': 'redirect:307' }, redirect: 'manual' });
    assert.equal(res.status, 307);
    const location = res.headers.get('location')!;
    assert.equal(location, `${mock.url}/__mock/redirected/v1/chat/completions`);
    const followed = await call(location, chat, { 'x-mock-mode': 'redirect:307' });
    assert.equal(followed.json.object, 'chat.completion');
  });

  it('nextResponse queues one override per request; setMode sets the default', async () => {
    mock.nextResponse('5xx-json:500');
    mock.nextResponse({ status: 418, body: { custom: true } });
    mock.nextResponse({ text: 'Hello there.' });
    assert.equal((await call(url(), chat)).status, 500);
    assert.deepEqual((await call(url(), chat)).json, { custom: true });
    assert.equal((await call(url(), chat)).json.choices[0].message.content, 'Hello there.');
    assert.equal((await call(url(), chat)).status, 200);
    await mock.setMode('5xx-json:502');
    assert.equal((await call(url(), chat)).status, 502);
    assert.equal((await call(url(), chat, { 'x-mock-mode': 'ok' })).status, 200);
    await mock.setMode('refuse');
    const refused = await new Promise<string>((resolve) => http.get(url(), { agent: false }, () => resolve('answered')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')));
    assert.equal(refused, 'ECONNREFUSED');
    await mock.setMode('ok');
    assert.equal((await call(url(), chat)).status, 200);
    assert.throws(() => mock.nextResponse('nonsense'));
  });

  it('records write back-pressure when the client reads slowly', async () => {
    // 24 MB streamed in 2 kB events to a reader paused for 400 ms: writes block until it reads.
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(url(), { method: 'POST', headers: { 'x-mock-mode': 'stream,huge:24000000', 'x-mock-chunks': '12000' } }, resolve);
      req.on('error', reject);
      req.end(JSON.stringify(chat));
    });
    res.pause();
    const rec = await mock.waitFor((x) => x.mode === 'stream,huge:24000000' && x.backpressure.blockedWrites > 0, 10_000);
    await sleep(400);
    let received = 0;
    res.on('data', (d: Buffer) => (received += d.length));
    res.resume();
    await new Promise((r) => res.on('end', r));
    await mock.waitFor((x) => x === rec && x.finishedAt !== null);
    const bp = rec.backpressure;
    assert.ok(bp.bytesBeforeFirstBlock! > 0 && bp.bytesBeforeFirstBlock! < bp.bytesWritten);
    assert.ok(bp.drainWaitMs >= 300, `drain wait ${bp.drainWaitMs} ms`);
    assert.equal(received, bp.bytesWritten);
  });

  it('every provider answers 5xx-json and 429 in its own error shape', async () => {
    const shapes: [MockProviderName, string, (j: any) => boolean][] = [
      ['anthropic', '/v1/messages', (j) => j.type === 'error' && j.error.type === 'overloaded_error'],
      ['cohere', '/v1/chat', (j) => typeof j.message === 'string'],
      ['ollama', '/api/chat', (j) => typeof j.error === 'string'],
      ['llama2-raw', '/generate', (j) => typeof j.error === 'string' && typeof j.error_type === 'string'],
      ['azure', '/openai/deployments/x/chat/completions', (j) => typeof j.error.message === 'string'],
    ];
    for (const [name, path, ok] of shapes) {
      await withMock(name, {}, async (m) => {
        const r = await call(`${m.url}${path}`, {}, { 'x-mock-mode': '5xx-json:529' });
        assert.equal(r.status, 529, name);
        assert.ok(ok(r.json), `${name}: ${r.text}`);
        const rl = await call(`${m.url}${path}`, {}, { 'x-mock-mode': '429' });
        assert.deepEqual([rl.status, rl.headers.get('retry-after')], [429, '1'], name);
      });
    }
  });
});
