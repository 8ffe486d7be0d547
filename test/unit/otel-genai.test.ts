/**
 * The GenAI span attributes (src/observability/otel/genai.ts) per provider, per operation, and the
 * facts read from answers in each client API; the opentelemetry plugin's schema (Kong's shape).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { answerFacts, quickAnswerFacts, endAttributes, errorType, inputMessages, operationName, outputMessages, providerName, spanName, startAttributes, StreamFacts } from '../../src/observability/otel/genai.ts';
import { sampledByRate, Trace } from '../../src/observability/otel/trace.ts';
import { serverAddressOf } from '../../src/plugins/opentelemetry/handler.ts';
import type { CanonicalRequest } from '../../src/exchange/types.ts';
import type { ModelOptions } from '../../src/llm/types.ts';
import { validateEntity } from '../../src/entities/index.ts';

test('gen_ai.provider.name: the registry\'s well-known values, modelgate\'s name otherwise', () => {
  const cases: [string, ModelOptions | null, string][] = [
    ['openai', null, 'openai'],
    ['azure', null, 'azure.ai.openai'],
    ['anthropic', null, 'anthropic'],
    ['bedrock', null, 'aws.bedrock'],
    ['gemini', null, 'gcp.gemini'],
    ['gemini', { gemini: { api_endpoint: 'us-central1-aiplatform.googleapis.com', project_id: 'p', location_id: 'us-central1' } } as ModelOptions, 'gcp.vertex_ai'],
    ['cohere', null, 'cohere'],
    ['mistral', null, 'mistral_ai'],
    ['groq', null, 'groq'],
    ['deepseek', null, 'deepseek'],
    ['openrouter', null, 'openrouter'],
    ['vllm', null, 'vllm'],
  ];
  for (const [provider, options, want] of cases) assert.equal(providerName(provider, options), want, provider);
});

test('operation names and span names', () => {
  assert.equal(operationName('llm/v1/chat'), 'chat');
  assert.equal(operationName('llm/v1/completions'), 'text_completion');
  assert.equal(operationName('llm/v1/embeddings'), 'embeddings');
  assert.equal(spanName('chat', 'gpt-4o'), 'chat gpt-4o');
  assert.equal(spanName('chat', ''), 'chat');
});

function canonical(extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    kind: 'chat',
    messages: [
      { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
      { role: 'user', parts: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'add', arguments: '{"a":1}' }] },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: '2' }] }] },
    ],
    sampling: { maxTokens: 100, temperature: 0.2, topP: 0.9, stop: ['END'], seed: 7, n: 2 },
    stream: false,
    includeUsage: false,
    passthrough: {},
    dropped: [],
    ...extra,
  } as unknown as CanonicalRequest;
}

test('start attributes: sampling as sent (the route\'s options win), streaming only when true, server address and port', () => {
  const a = startAttributes({ provider: 'bedrock', options: { max_tokens: 256 } as ModelOptions, routeType: 'llm/v1/chat', model: 'anthropic.claude-3', stream: true, origin: 'https://bedrock-runtime.us-east-1.amazonaws.com:443', canonical: canonical() });
  assert.deepEqual(a, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'aws.bedrock',
    'gen_ai.request.model': 'anthropic.claude-3',
    'gen_ai.request.max_tokens': 256,
    'gen_ai.request.temperature': 0.2,
    'gen_ai.request.top_p': 0.9,
    'gen_ai.request.stop_sequences': ['END'],
    'gen_ai.request.seed': 7,
    'gen_ai.request.choice.count': 2,
    'gen_ai.request.stream': true,
    'server.address': 'bedrock-runtime.us-east-1.amazonaws.com',
    'server.port': 443,
  });
  const e = startAttributes({ provider: 'openai', options: null, routeType: 'llm/v1/embeddings', model: 'text-embedding-3-small', stream: false, origin: 'http://127.0.0.1:8080' });
  assert.deepEqual(e, { 'gen_ai.operation.name': 'embeddings', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'text-embedding-3-small', 'server.address': '127.0.0.1', 'server.port': 8080 });
});

test('end attributes: every usage kind the conventions have, time to first chunk in seconds, cost', () => {
  const out: Record<string, unknown> = {};
  endAttributes(
    {
      responseModel: 'gpt-4o-2024-08-06',
      usage: { prompt_tokens: 200, completion_tokens: 50, total_tokens: 250, prompt_tokens_details: { cached_tokens: 128, cache_write_tokens: 10 }, completion_tokens_details: { reasoning_tokens: 30 } },
      timeToFirstTokenMs: 250,
      cost: 0.0012,
      responseId: 'chatcmpl-1',
      finishReasons: ['stop', 'length'],
    },
    out as never,
  );
  assert.deepEqual(out, {
    'gen_ai.response.id': 'chatcmpl-1',
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'gen_ai.response.finish_reasons': ['stop', 'length'],
    'gen_ai.usage.input_tokens': 200,
    'gen_ai.usage.output_tokens': 50,
    'gen_ai.usage.cache_read.input_tokens': 128,
    'gen_ai.usage.cache_creation.input_tokens': 10,
    'gen_ai.usage.reasoning.output_tokens': 30,
    'gen_ai.response.time_to_first_chunk': 0.25,
    'modelgate.cost': 0.0012,
  });
  const none: Record<string, unknown> = {};
  endAttributes({ responseModel: null, usage: null, timeToFirstTokenMs: null, cost: null }, none as never);
  assert.deepEqual(none, {});
});

test('error.type: the provider status, else the failure code', () => {
  assert.equal(errorType(500, null), '500');
  assert.equal(errorType(429, 'x'), '429');
  assert.equal(errorType(null, 'UND_ERR_CONNECT_TIMEOUT'), 'UND_ERR_CONNECT_TIMEOUT');
  assert.equal(errorType(null, null), '_OTHER');
});

test('an OpenAI answer\'s facts read without a parse are the parsed ones, or none (then it is parsed)', () => {
  const text = fc.string({ unit: 'binary', maxLength: 20 });
  const choice = fc.record({
    index: fc.nat(3),
    message: fc.record({ role: fc.constant('assistant'), content: text, tool_calls: fc.option(fc.array(fc.record({ id: text, type: fc.constant('function'), function: fc.record({ name: text, arguments: text }) }), { maxLength: 2 }), { nil: undefined }) }),
    finish_reason: fc.oneof(text, fc.constant(null), fc.constantFrom('stop', 'length', 'tool_calls')),
  });
  const answer = fc.record({ id: text, object: fc.constant('chat.completion'), choices: fc.array(choice, { maxLength: 3 }), usage: fc.record({ prompt_tokens: fc.nat(), completion_tokens: fc.nat() }) });
  let quick = 0;
  fc.assert(
    fc.property(answer, (a) => {
      const body = JSON.stringify(a);
      const q = quickAnswerFacts(body);
      if (q === null) return; // an escape in an id or a reason: answerFacts parses it
      quick++;
      const full = answerFacts(body);
      assert.deepEqual(q, { id: full.id, finishReasons: full.finishReasons });
    }),
    { numRuns: 500 },
  );
  assert.ok(quick > 100, 'most answers are read the quick way');
  // the mock's and OpenAI's own answers: the quick way
  assert.deepEqual(quickAnswerFacts('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"\\"finish_reason\\":\\"x\\""},"finish_reason":"stop"}]}'), { id: 'chatcmpl-1', finishReasons: ['stop'] });
  // not first, pretty-printed, or an escaped id: not read this way
  assert.equal(quickAnswerFacts('{"object":"chat.completion","id":"c","choices":[]}'), null);
  assert.equal(quickAnswerFacts('{\n  "id": "c",\n  "choices": []\n}'), null);
  assert.equal(quickAnswerFacts('{"id":"a\\"b","choices":[]}'), null);
});

test('answer facts in each client API', () => {
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'chatcmpl-9', choices: [{ message: { content: 'Two.' }, finish_reason: 'stop' }] })), { id: 'chatcmpl-9', finishReasons: ['stop'], text: 'Two.' });
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'msg_1', type: 'message', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn' })), { id: 'msg_1', finishReasons: ['end_turn'], text: 'Hi' });
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'resp_1', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'Yo' }] }] })), { id: 'resp_1', finishReasons: ['stop'], text: 'Yo' });
  assert.deepEqual(answerFacts('not json'), { id: null, finishReasons: [], text: null });
  // without text wanted (a route that does not log payloads) the same facts, and no text
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'chatcmpl-9', choices: [{ message: { content: 'Two.' }, finish_reason: 'stop' }, { message: { content: 'Three.' }, finish_reason: 'length' }] }), false), { id: 'chatcmpl-9', finishReasons: ['stop', 'length'], text: null });
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'chatcmpl-9', choices: [{ message: { content: 'Two.' }, finish_reason: 'stop' }, { text: ' Three.', finish_reason: 'length' }] })).text, 'Two. Three.');
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'msg_1', type: 'message', content: [{ type: 'text', text: 'Hi' }], stop_reason: 'end_turn' }), false), { id: 'msg_1', finishReasons: ['end_turn'], text: null });
  assert.deepEqual(answerFacts(JSON.stringify({ id: 'resp_1', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'Yo' }] }] }), false), { id: 'resp_1', finishReasons: ['stop'], text: null });
  const s = new StreamFacts();
  s.scan('data: {"id":"chatcmpl-5","choices":[{"delta":{"content":"a"},"finish_reason":null}]}\n\n');
  s.scan('data: {"id":"chatcmpl-5","choices":[{"delta":{},"finish_reason":"length"}]}\n\n');
  assert.equal(s.id, 'chatcmpl-5');
  assert.deepEqual(s.finishReasons, ['length']);
});

test('content in the conventions\' message schema', () => {
  assert.deepEqual(JSON.parse(inputMessages(canonical())), [
    { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
    { role: 'user', parts: [{ type: 'text', content: 'Hi' }] },
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'add', arguments: { a: 1 } }] },
    { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: '2' }] },
  ]);
  assert.deepEqual(JSON.parse(outputMessages('Two.', 'stop')), [{ role: 'assistant', parts: [{ type: 'text', content: 'Two.' }], finish_reason: 'stop' }]);
});

test('sampling: the rate decides on the trace id; a caller\'s decision is followed', () => {
  assert.equal(sampledByRate('0'.repeat(18) + '00000000000000', 0.001), true);
  assert.equal(sampledByRate('0'.repeat(18) + 'ffffffffffffff', 0.999), false);
  let kept = 0;
  for (let i = 0; i < 2000; i++) if (new Trace(0, null, 0.25).sampled) kept++;
  assert.ok(kept > 350 && kept < 650, `about a quarter kept: ${kept}`);
  assert.equal(new Trace(0, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true }, 0).sampled, true);
  assert.equal(new Trace(0, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: false }, 1).sampled, false);
  const unsampled = new Trace(0, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: false }, 1);
  unsampled.span('x', 1, 0, 1);
  assert.deepEqual(unsampled.finish(2, 'kong', {}), []);
});

test("the plugin's config: Kong's shape and defaults, an endpoint required, modelgate's additions", () => {
  const ok = validateEntity('plugins', { name: 'opentelemetry', config: { traces_endpoint: 'http://collector:4318/v1/traces' } });
  assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  const c = ok.value.config as Record<string, any>;
  assert.equal(c.queue.max_batch_size, 200);
  assert.equal(c.connect_timeout, 1000);
  assert.equal(c.send_timeout, 5000);
  assert.equal(c.read_timeout, 5000);
  assert.equal(c.header_type, 'preserve');
  assert.equal(c.propagation.default_format, 'w3c');
  assert.equal(c.encoding, 'protobuf');
  assert.equal(c.sampling_rate ?? null, null);
  const none = validateEntity('plugins', { name: 'opentelemetry', config: {} });
  assert.match(JSON.stringify(none.errors), /at least one of these fields must be non-empty: 'traces_endpoint', 'logs_endpoint'/);
  assert.equal(validateEntity('plugins', { name: 'opentelemetry', config: { endpoint: 'http://c:4318/v1/traces' } }).errors, undefined);
  const bad = validateEntity('plugins', { name: 'opentelemetry', config: { traces_endpoint: 'http://c/v1/traces', sampling_rate: 2, propagation: { extract: ['b3-single'], default_format: 'w3c' }, encoding: 'xml' } });
  const errors = JSON.stringify(bad.errors);
  assert.match(errors, /sampling_rate/);
  assert.match(errors, /extract/);
  assert.match(errors, /encoding/);
});

test('the request span\'s server.address: the Host header without its port, an IPv6 literal without brackets', () => {
  const cases: [string, string][] = [
    ['example.com', 'example.com'],
    ['example.com:8000', 'example.com'],
    ['[::1]:8000', '::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['127.0.0.1:8000', '127.0.0.1'],
    ['abc.example:1', 'abc.example'],
    ['example.com:', 'example.com:'],
    ['example.com:80x', 'example.com:80x'],
  ];
  for (const [host, address] of cases) assert.equal(serverAddressOf(host), address, host);
});

test('server.address is what the two regular expressions it replaced made of any Host header (property)', () => {
  const byRegex = (host: string) => (host.indexOf(':') === -1 ? host : host.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('[', ']', ':', '1', '9', 'a', '.', 'é') , maxLength: 12 }), (host) => {
      assert.equal(serverAddressOf(host), byRegex(host));
    }),
    { numRuns: 2000 },
  );
});
