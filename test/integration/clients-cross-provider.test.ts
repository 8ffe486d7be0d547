/**
 * Issue 17: one tool conversation that moves between providers. An `ai-proxy-advanced` route
 * balances round-robin over a Gemini 3 target (thought signatures required on function calls),
 * an Anthropic target and an OpenAI target; the OpenAI SDK holds the conversation as any
 * application does (each answer's message pushed back as it came). Every turn must be a 200, each
 * provider must get ids it accepts, Gemini must get its own signature back, and the others must
 * get no Gemini state. Before issue 17 a Gemini call id carried the signature
 * (`call_…__thought__<base64>`), which Anthropic and OpenAI refuse.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Stack, PROVIDERS, NEUTRAL_ID, type ProviderSpec } from '../compat/stack.ts';
import type { RecordedRequest } from '../mocks/providers.ts';

let stack: Stack;
let client: OpenAI;

const GEMINI: ProviderSpec = { ...PROVIDERS.gemini, model: 'gemini-3-pro-preview', path: '/v1beta/models/gemini-3-pro-preview:generateContent' };
const TARGETS = [GEMINI, PROVIDERS.anthropic, PROVIDERS.openai];
const ALIAS = 'assistant';

const weather: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You plan trips.' },
  { role: 'user', content: 'Is it warmer in Paris, Rome or Oslo right now?' },
];

/** Signatures the Gemini mock issued: base64 of `signature-<seq>` (test/mocks/gemini.ts). */
const issued = (r: RecordedRequest) => Buffer.from(`signature-${r.seq}`).toString('base64');

interface Turn {
  message: OpenAI.ChatCompletionMessage;
  target: string | null;
  upstream: RecordedRequest;
}

async function turn(choice: OpenAI.ChatCompletionToolChoiceOption, expectedTarget: ProviderSpec): Promise<Turn> {
  const before = stack.mocks.get(expectedTarget.mock)!.requests.length;
  const { data, response } = await client.chat.completions.create({ model: ALIAS, messages, tools: [weather], tool_choice: choice }).withResponse();
  const upstream = stack.mocks.get(expectedTarget.mock)!.requests.slice(before);
  assert.equal(upstream.length, 1, `the turn went to ${expectedTarget.provider}`);
  assert.equal(upstream[0].status, 200, upstream[0].body);
  const message = data.choices[0].message;
  // the conversation goes on with the message exactly as the client got it
  messages.push(message as OpenAI.ChatCompletionAssistantMessageParam);
  for (const call of message.tool_calls ?? []) {
    assert.match(call.id, NEUTRAL_ID, `${expectedTarget.provider} call ids are provider-neutral`);
    messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 20 + messages.length }) });
  }
  return { message, target: response.headers.get('x-modelgate-target'), upstream: upstream[0] };
}

const calls: string[] = [];
let geminiTurn: Turn;

before(async () => {
  stack = await Stack.start([]);
  // every target answers to the same client model name, so the balancer chooses among all three
  await stack.addBalancedRoute('trip', TARGETS, { algorithm: 'round-robin' }, { alias: ALIAS });
  client = new OpenAI({ baseURL: stack.baseURL('trip'), apiKey: 'client-key', maxRetries: 0 });
});

after(async () => {
  await stack?.close();
});

test('turn 1 on Gemini: a tool call whose id is neutral and whose signature stays out of it', async () => {
  geminiTurn = await turn('required', GEMINI);
  assert.equal(geminiTurn.target, '0');
  const call = geminiTurn.message.tool_calls?.[0];
  assert.ok(call, JSON.stringify(geminiTurn.message));
  assert.ok(!call.id.includes(issued(geminiTurn.upstream)), 'the signature is not in the id');
  calls.push(call.id);
});

test('turn 2 on Anthropic: the Gemini call and its result arrive with the same ids, without Gemini state', async () => {
  const t = await turn('required', PROVIDERS.anthropic);
  assert.equal(t.target, '1');
  const body = t.upstream.json as { messages: { role: string; content: unknown }[] };
  const text = JSON.stringify(body);
  assert.ok(!text.includes(issued(geminiTurn.upstream)), 'no Gemini signature sent to Anthropic');
  const uses = [...text.matchAll(/"type":"tool_use","id":"([^"]+)"/g)].map((m) => m[1]);
  const results = [...text.matchAll(/"tool_use_id":"([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(uses, [calls[0]]);
  assert.deepEqual(results, [calls[0]]);
  const call = t.message.tool_calls?.[0];
  assert.ok(call, JSON.stringify(t.message));
  calls.push(call.id);
});

test('turn 3 on OpenAI: both calls and results with their ids, no Gemini or Anthropic state; the answer', async () => {
  const t = await turn('auto', PROVIDERS.openai);
  assert.equal(t.target, '2');
  const body = t.upstream.json as { messages: Record<string, unknown>[] };
  const text = JSON.stringify(body);
  assert.ok(!text.includes(issued(geminiTurn.upstream)), 'no Gemini signature sent to OpenAI');
  const sentCalls = body.messages.flatMap((m) => ((m.tool_calls as { id: string }[] | undefined) ?? []).map((c) => c.id));
  const sentResults = body.messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
  assert.deepEqual(sentCalls, calls);
  assert.deepEqual(sentResults, calls);
  for (const m of body.messages) for (const k of Object.keys(m)) assert.ok(['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'refusal'].includes(k), `OpenAI got message field ${k}`);
  assert.ok(typeof t.message.content === 'string' && t.message.content.length > 0);
});

test('turn 4 back on Gemini: its own call comes back with its signature, the foreign calls are accepted', async () => {
  messages.push({ role: 'user', content: 'And in Madrid?' });
  const t = await turn('required', GEMINI);
  assert.equal(t.target, '0');
  const contents = (t.upstream.json as { contents: { role: string; parts: Record<string, unknown>[] }[] }).contents;
  const own = contents.flatMap((c) => c.parts).find((p) => p.functionCall && p.thoughtSignature === issued(geminiTurn.upstream));
  assert.ok(own, `Gemini got its signature back: ${JSON.stringify(contents)}`);
});

test('a turn that started on Anthropic and OpenAI continues on Gemini 3: the foreign calls are accepted', async () => {
  // round-robin goes on: Anthropic, OpenAI, then Gemini, all inside one user turn, so Gemini 3
  // checks every step of the turn for thought signatures (calls it did not make included)
  messages.length = 0;
  messages.push({ role: 'user', content: 'Compare the weather in Lisbon and Porto.' });
  const first = await turn('required', PROVIDERS.anthropic);
  assert.equal(first.target, '1');
  const second = await turn('required', PROVIDERS.openai);
  assert.equal(second.target, '2');
  const third = await turn('auto', GEMINI);
  assert.equal(third.target, '0');
  assert.ok(typeof third.message.content === 'string' && third.message.content.length > 0);
  const contents = (third.upstream.json as { contents: { role: string; parts: Record<string, unknown>[] }[] }).contents;
  const foreign = contents.filter((c) => c.role === 'model').map((c) => c.parts.find((p) => p.functionCall));
  assert.equal(foreign.length, 2);
});
