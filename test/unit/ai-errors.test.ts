/**
 * The error envelope's tables (issue 16): how a provider's error body is wrapped or passed
 * through (provider-error.ts), and how the gateway's own bodies are completed (openai-error.ts).
 * The same behaviour end to end, with the OpenAI SDK: test/integration/ai-errors.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { providerErrorAnswer } from '../../src/plugins/ai-proxy/provider-error.ts';
import { errorClass, openAiErrorBody } from '../../src/plugins/ai-proxy/openai-error.ts';
import { registerSecret } from '../../src/observability/redact.ts';

const wrap = (status: number, body: unknown, headers: Record<string, string> = {}, provider = 'p') => {
  const answer = providerErrorAnswer(status, typeof body === 'string' ? body : JSON.stringify(body), headers, provider);
  return { ...answer, json: JSON.parse(answer.body) };
};

test('an OpenAI-shaped provider error passes through byte for byte', () => {
  for (const body of [
    '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
    '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', // Anthropic
    '{\n  "error": {\n    "message": "x",\n    "type": null\n  }\n}',
  ]) {
    assert.deepEqual(providerErrorAnswer(429, body, {}, 'openai'), { body, retryAfter: null });
  }
});

test('provider errors in other shapes are wrapped with the best message, the provider type and body', () => {
  const cases: [string, number, unknown, Record<string, string>, string, string | null][] = [
    ['bedrock', 400, { message: 'Malformed input request' }, { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, 'Malformed input request', 'ValidationException'],
    ['cohere', 400, { message: 'invalid request: message must be at least 1 token long' }, {}, 'invalid request: message must be at least 1 token long', null],
    ['gemini', 400, { error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT' } }, {}, 'API key not valid.', 'INVALID_ARGUMENT'],
    ['huggingface', 422, { error: 'Input validation error: `inputs` must be non-empty', error_type: 'validation' }, {}, 'Input validation error: `inputs` must be non-empty', 'validation'],
    ['ollama', 404, { error: 'model "llama9" not found, try pulling it first' }, {}, 'model "llama9" not found, try pulling it first', null],
    ['mistral', 422, { object: 'error', message: 'Invalid model: x', type: 'invalid_model', param: null, code: '1500' }, {}, 'Invalid model: x', 'invalid_model'],
    ['vllm', 400, { detail: [{ loc: ['body', 'messages'], msg: 'Field required', type: 'missing' }] }, {}, 'Field required', null],
    ['vllm', 400, { error: { message: 'bad', code: 400 } }, {}, 'bad', null], // a numeric code is not OpenAI's
    ['bedrock', 500, {}, { 'x-amzn-errortype': 'InternalServerException' }, 'the provider answered 500 (InternalServerException)', 'InternalServerException'],
  ];
  for (const [provider, status, body, headers, message, type] of cases) {
    const { json } = wrap(status, body, headers, provider);
    const [cls, code] = errorClass(status);
    assert.deepEqual(json, { error: { message, type: cls, code, param: null, provider: { name: provider, status, type, body } } }, `${provider} ${JSON.stringify(body)}`);
  }
});

test('non-JSON bodies: an HTML page by its title, a one-line text as it is, the text kept bounded', () => {
  const html = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body></html>';
  assert.equal(wrap(502, html).json.error.message, 'the provider answered 502 with an HTML page: 502 Bad Gateway');
  assert.equal(wrap(502, html).json.error.provider.body, html);
  assert.equal(wrap(503, 'upstream connect error or disconnect/reset before headers').json.error.message, 'the provider answered 503: upstream connect error or disconnect/reset before headers');
  assert.equal(wrap(500, '').json.error.message, 'the provider answered 500 with an empty body');
  const long = wrap(500, `<!DOCTYPE html><p>${'x'.repeat(10_000)}</p>`).json.error;
  assert.equal(long.message, 'the provider answered 500 with an HTML page');
  assert.ok(long.provider.body.length < 4200 && long.provider.body.endsWith('more characters)'));
  // JSON too large to keep whole is kept as truncated text
  const big = wrap(400, { message: 'm', pad: 'y'.repeat(10_000) }).json.error;
  assert.equal(big.message, 'm');
  assert.equal(typeof big.provider.body, 'string');
});

test("Gemini's RetryInfo.retryDelay is Retry-After in whole seconds, rounded up", () => {
  const gemini = (delay: string) => ({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.Help', links: [] }, { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: delay }] } });
  assert.equal(wrap(429, gemini('13s')).retryAfter, '13');
  assert.equal(wrap(429, gemini('0.2s')).retryAfter, '1');
  assert.equal(wrap(429, gemini('12.001s')).retryAfter, '13');
  assert.equal(wrap(429, gemini('soon')).retryAfter, null);
  assert.equal(wrap(429, { message: 'x' }).retryAfter, null);
});

test('a provider quoting the key it refused never hands it to the client', () => {
  registerSecret('sk-unit-secret-123456');
  const { body } = wrap(401, { message: 'Invalid API key: sk-unit-secret-123456' });
  assert.ok(!body.includes('sk-unit-secret-123456'));
  const passed = providerErrorAnswer(401, '{"error":{"message":"Incorrect API key provided: sk-unit-secret-123456","type":"invalid_request_error"}}', {}, 'openai');
  assert.ok(!passed.body.includes('sk-unit-secret-123456'));
});

test("the gateway's bodies: Kong's message kept, error added or completed, operators' own bodies untouched", () => {
  assert.deepEqual(openAiErrorBody(401, { message: 'No API key found in request' }, null), {
    message: 'No API key found in request',
    error: { message: 'No API key found in request', type: 'authentication_error', code: 'unauthorized', param: null },
  });
  assert.deepEqual(openAiErrorBody(502, { message: 'An invalid response was received from the upstream server', request_id: 'r' }, 'ECONNREFUSED'), {
    message: 'An invalid response was received from the upstream server',
    request_id: 'r',
    error: { message: 'the provider refused the connection', type: 'server_error', code: 'upstream_unavailable', param: null },
  });
  assert.equal((openAiErrorBody(504, { message: 'The upstream server is timing out' }, 'UND_ERR_HEADERS_TIMEOUT') as { error: { code: string } }).error.code, 'upstream_timeout');
  assert.deepEqual(openAiErrorBody(400, { error: { message: 'bad request' } }, 'client'), { error: { message: 'bad request', type: 'invalid_request_error', code: 'invalid_request', param: null } });
  const full = { error: { message: 'm', type: 't', code: null, param: 'p', provider: { status: 1 } } };
  assert.deepEqual(openAiErrorBody(400, full, null), full);
  assert.equal(openAiErrorBody(503, '{"custom":true}', null), '{"custom":true}');
  assert.deepEqual(openAiErrorBody(503, { custom: true }, null), { custom: true });
  assert.deepEqual(errorClass(418), ['invalid_request_error', 'client_error']);
  assert.deepEqual(errorClass(529), ['server_error', 'server_error']);
});
