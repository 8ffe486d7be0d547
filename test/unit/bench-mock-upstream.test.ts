/**
 * The benchmark's mock upstream (bench/mock-upstream.ts) answers the client-API scenarios'
 * provider calls (issue 18): `POST /v1/responses` with an OpenAI Responses `response` object and
 * `POST /v1/messages` with an Anthropic `message`, whole and with usage, besides chat completions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMockUpstream, type MockUpstream } from '../../bench/mock-upstream.ts';
import { CLIENT_APIS } from '../../bench/targets.ts';
import { messagesBody, responsesBody, smallBody } from '../../bench/workload.ts';

let mock: MockUpstream;

before(async () => {
  mock = await startMockUpstream({ chunks: 2, delayMs: 0 });
});

after(async () => {
  await mock?.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${mock.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('POST /v1/responses: a completed response object with a message and usage', async () => {
  const { status, json } = await post('/v1/responses', { model: 'gpt-4o-mini', input: 'hi' });
  assert.equal(status, 200);
  assert.equal(json.object, 'response');
  assert.equal(json.status, 'completed');
  assert.equal(json.output[0].type, 'message');
  assert.equal(json.output[0].content[0].type, 'output_text');
  assert.equal(json.usage.total_tokens, json.usage.input_tokens + json.usage.output_tokens);
});

test('POST /v1/messages: an Anthropic message with text and usage', async () => {
  const { status, json } = await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(status, 200);
  assert.equal(json.type, 'message');
  assert.equal(json.content[0].type, 'text');
  assert.equal(json.stop_reason, 'end_turn');
  assert.ok(json.usage.input_tokens > 0 && json.usage.output_tokens > 0);
});

test('chat completions still answer, and other paths are 404', async () => {
  assert.equal((await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [] })).json.object, 'chat.completion');
  assert.equal((await post('/v1/messages/count_tokens', {})).status, 404);
});

test('every client-API scenario has a body its API accepts and a route', () => {
  for (const api of CLIENT_APIS) {
    const bytes = api.api === 'responses' ? responsesBody(api.model, api.bodyFields) : api.api === 'messages' ? messagesBody(api.model, api.bodyFields) : smallBody(api.model);
    const body = JSON.parse(bytes.toString());
    assert.equal(body.model, api.model);
    if (api.api === 'messages') assert.ok(body.max_tokens > 0, `${api.name}: Anthropic requires max_tokens`);
    else if (api.api === 'responses') assert.equal(typeof body.input, 'string');
    else assert.ok(Array.isArray(body.messages), `${api.name}: a chat body`);
    if (api.baseline) assert.ok(CLIENT_APIS.some((a) => a.name === api.baseline && a.api === 'chat'), `${api.name}: its baseline is a chat scenario`);
    assert.ok(api.plugin || CLIENT_APIS.some((a) => a.plugin && a.requestPath === api.requestPath), `${api.name}: its route is configured`);
  }
});
