/**
 * Provider state across turns for clients that do not echo it (src/exchange/provider-state.ts),
 * against the real gateway and the strict Gemini mock: Gemini 3 refuses a current-turn function
 * call sent back without its thought signature. A client that keeps only `tool_calls` (and drops
 * `reasoning_details`) still gets a 200 with its signature sent, because the gateway kept it under
 * the call's id; another route (another scope) does not get it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, PROVIDERS, type ProviderSpec } from '../compat/stack.ts';

let stack: Stack;
const GEMINI3: ProviderSpec = { ...PROVIDERS.gemini, route: 'gemini3', model: 'gemini-3-pro-preview', path: '/v1beta/models/gemini-3-pro-preview:generateContent' };
const OTHER: ProviderSpec = { ...GEMINI3, route: 'gemini3-other' };
const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

before(async () => {
  stack = await Stack.start([GEMINI3]);
  await stack.addRoute(OTHER);
});

after(async () => {
  await stack?.close();
});

test('a signature the client dropped comes back from the gateway, on the same route only', async () => {
  const question = { role: 'user', content: 'Weather in Paris?' };
  const first = await stack.gw.proxyRequest('POST', '/gemini3', { messages: [question], tools: [weather], tool_choice: 'required' });
  assert.equal(first.status, 200, first.text);
  const message = first.json.choices[0].message;
  const call = message.tool_calls?.[0];
  assert.ok(call, first.text);
  assert.ok(Array.isArray(message.reasoning_details) && message.reasoning_details.some((d: any) => d.signature && d.id === call.id), 'the signature is in reasoning_details, for the call');
  // a client that keeps only OpenAI's fields of the message
  const echoed = { role: 'assistant', content: message.content, tool_calls: message.tool_calls };
  const next = { messages: [question, echoed, { role: 'tool', tool_call_id: call.id, content: '{"temperature":21}' }], tools: [weather] };
  const mock = stack.mock('gemini3');
  const since = mock.requests.length;
  const second = await stack.gw.proxyRequest('POST', '/gemini3', next);
  assert.equal(second.status, 200, second.text);
  const sent = JSON.stringify(mock.requests.slice(since).at(-1)!.json);
  const signature = message.reasoning_details.find((d: any) => d.id === call.id).signature;
  assert.ok(sent.includes(signature), `Gemini got its signature back: ${sent}`);
  // another route is another scope: nothing restored (the format then sends what Gemini documents for
  // calls without a signature), and the signature never leaves its scope
  const otherMock = stack.mock('gemini3-other');
  const before = otherMock.requests.length;
  await stack.gw.proxyRequest('POST', '/gemini3-other', next);
  const otherSent = JSON.stringify(otherMock.requests.slice(before).at(-1)!.json);
  assert.ok(!otherSent.includes(signature), `no signature from another route: ${otherSent}`);
});
