/**
 * Issue 18: the OpenAI Responses API through the real gateway, with the real clients from npm —
 * the `openai` SDK (`responses.create` plain, streamed, a function tool round trip,
 * `previous_response_id`, `retrieve` / `delete`), `@openai/agents` with its default Responses
 * transport and a function tool (plain and streamed), and `@ai-sdk/openai` (Responses by default)
 * generateText / streamText with a tool — through `route_type: llm/v1/responses` routes in front of
 * the OpenAI, Anthropic, Gemini and Bedrock mocks, and through an `ai-proxy-advanced` unified
 * endpoint balancing OpenAI and Anthropic targets (`…/responses` under the route).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Agent, run, tool as agentTool, setTracingDisabled, OpenAIResponsesModel } from '@openai/agents';
import { generateText, streamText, tool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';
import { Stack, PROVIDERS, RESPONSES_ROUTES, CLIENT_PROVIDERS, CLIENT_KEY, NEUTRAL_ID } from '../compat/stack.ts';
import type { MockProvider, RecordedRequest } from '../mocks/providers.ts';
import { DEFAULT_TEXT } from '../mocks/text.ts';

setTracingDisabled(true);

/** One way in: a route, the model name a client sends, the provider mocks behind it. */
interface Way {
  name: string;
  route: string;
  model: string;
  /** The provider each mock stands for (the unified endpoint has two). */
  providers: string[];
}

const UNIFIED = 'unified-responses';
const ALIAS = 'assistant';
const WAYS: Way[] = [
  ...CLIENT_PROVIDERS.map((p) => ({ name: p, route: RESPONSES_ROUTES[p].route, model: PROVIDERS[p].model, providers: [p] })),
  { name: 'ai-proxy-advanced (openai + anthropic)', route: UNIFIED, model: ALIAS, providers: ['openai', 'anthropic'] },
];

let stack: Stack;

const mocksOf = (way: Way): MockProvider[] => way.providers.map((p) => stack.mocks.get(PROVIDERS[p].mock)!);
const mark = (way: Way): number[] => mocksOf(way).map((m) => m.requests.length);
/** The requests the way's providers received since `marks`, with the provider each went to. */
function since(way: Way, marks: number[]): (RecordedRequest & { provider: string })[] {
  return mocksOf(way).flatMap((m, i) => m.requests.slice(marks[i]).map((r) => Object.assign(r, { provider: way.providers[i] })));
}

function client(way: Way): OpenAI {
  return new OpenAI({ baseURL: stack.baseURL(way.route), apiKey: CLIENT_KEY, maxRetries: 0 });
}

/** Every upstream call succeeded, and none carried the client's key. */
function assertUpstream(calls: RecordedRequest[], count: number): void {
  assert.equal(calls.length, count, `upstream calls: ${calls.map((c) => `${c.method} ${c.path}`).join(', ')}`);
  for (const c of calls) {
    assert.equal(c.status, 200, c.body);
    assert.ok(!JSON.stringify(c.headers).includes(CLIENT_KEY), 'the client key is never forwarded');
  }
}

/** The tool results a provider received, in its own format (OpenAI natively: Responses items). */
function toolResults(provider: string, body: unknown): number {
  const json = JSON.stringify(body);
  const re = { anthropic: /"tool_use_id":"/g, bedrock: /"toolResult":\{/g, gemini: /"functionResponse":\{/g, openai: /"type":"function_call_output"|"role":"tool"/g }[provider]!;
  return json.match(re)?.length ?? 0;
}

/** Tool results across a conversation's upstream calls (mocks record apart, so no order is assumed). */
const sumToolResults = (calls: (RecordedRequest & { provider: string })[]): number => calls.reduce((n, r) => n + toolResults(r.provider, r.json), 0);

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

before(async () => {
  stack = await Stack.start([]);
  for (const p of CLIENT_PROVIDERS) {
    const r = await stack.addRoute(RESPONSES_ROUTES[p]);
    assert.equal(r.status, 201, `${p}: route_type llm/v1/responses: ${r.text}`);
  }
  // both targets answer to one client model name, so the balancer chooses between them
  await stack.addBalancedRoute(UNIFIED, [PROVIDERS.openai, PROVIDERS.anthropic], { algorithm: 'round-robin' }, { alias: ALIAS });
});

after(async () => {
  await stack?.close();
});

for (const way of WAYS) {
  describe(`openai SDK responses → ${way.name}`, () => {
    test('responses.create: a response object with the answer and usage', async () => {
      const marks = mark(way);
      const r = await client(way).responses.create({ model: way.model, instructions: 'Be brief.', input: 'What is 1 + 1?' });
      assert.equal(r.object, 'response');
      assert.equal(r.status, 'completed');
      assert.match(r.id, /^resp_/);
      assert.equal(r.output_text, DEFAULT_TEXT);
      const message = r.output.find((o) => o.type === 'message');
      assert.ok(message && message.type === 'message', JSON.stringify(r.output));
      assert.equal(message.role, 'assistant');
      assert.ok(r.usage && r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
      assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
      assert.ok(r.usage.input_tokens_details && r.usage.output_tokens_details, 'usage has its details');
      const upstream = since(way, marks);
      assertUpstream(upstream, 1);
      if (upstream[0].provider === 'openai') assert.equal(upstream[0].path, '/v1/responses', 'OpenAI gets the Responses call natively');
    });

    test('streamed: the documented events in order, sequence numbers increasing, the text whole', async () => {
      const stream = await client(way).responses.create({ model: way.model, input: 'What is 1 + 1?', stream: true });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const e of stream) events.push(e);
      const types: string[] = events.map((e) => e.type);
      assert.equal(types[0], 'response.created');
      assert.equal(types.at(-1), 'response.completed');
      const order = ['response.created', 'response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed'];
      const at = order.map((t) => types.indexOf(t));
      assert.ok(at.every((i) => i >= 0), `every event present: ${types.join(' ')}`);
      assert.deepEqual([...at].sort((a, b) => a - b), at, `in order: ${types.join(' ')}`);
      const seq = events.map((e) => e.sequence_number);
      for (let i = 1; i < seq.length; i++) assert.ok(seq[i] > seq[i - 1], `sequence numbers increase: ${seq.join(',')}`);
      const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
      assert.equal(text, DEFAULT_TEXT);
      const done = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
      assert.equal(done.response.output_text ?? done.response.output.flatMap((o) => (o.type === 'message' ? o.content : [])).map((c) => (c.type === 'output_text' ? c.text : '')).join(''), DEFAULT_TEXT);
      assert.ok((done.response.usage?.output_tokens ?? 0) > 0, 'usage in response.completed');
    });

    test('a function tool round trip: function_call → function_call_output → the answer', async () => {
      const marks = mark(way);
      const openai = client(way);
      const question: OpenAI.Responses.ResponseInputItem = { role: 'user', content: 'What is the weather in Paris?' };
      const first = await openai.responses.create({ model: way.model, input: [question], tools: [weather], tool_choice: 'required' });
      const call = first.output.find((o) => o.type === 'function_call');
      assert.ok(call && call.type === 'function_call', JSON.stringify(first.output));
      assert.equal(call.name, 'get_weather');
      assert.match(call.call_id, NEUTRAL_ID);
      assert.equal(typeof JSON.parse(call.arguments).city, 'string');
      const second = await openai.responses.create({
        model: way.model,
        tools: [weather],
        input: [question, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature: 21 }) }],
      });
      assert.equal(second.status, 'completed');
      assert.ok(second.output_text.length > 0, JSON.stringify(second.output));
      const upstream = since(way, marks);
      assertUpstream(upstream, 2);
      assert.equal(sumToolResults(upstream), 1, `the provider got the tool result: ${upstream.map((r) => r.body).join('\n')}`);
    });

    test('previous_response_id: the second turn carries the first turn to the provider', async () => {
      const openai = client(way);
      const first = await openai.responses.create({ model: way.model, input: 'My name is Ada Lovelace.' });
      const marks = mark(way);
      const second = await openai.responses.create({ model: way.model, previous_response_id: first.id, input: 'What is my name?' });
      assert.equal(second.status, 'completed');
      const upstream = since(way, marks);
      assertUpstream(upstream, 1);
      const sent = upstream[0].body;
      assert.ok(sent.includes('My name is Ada Lovelace.'), `the first question went upstream: ${sent}`);
      assert.ok(sent.includes(first.output_text), `the first answer went upstream: ${sent}`);
      assert.ok(sent.includes('What is my name?'));
      assert.ok(!sent.includes(first.id), 'the provider is not asked for a response it never stored');
      // the response object names the response it continues (API reference, "The response object")
      assert.equal(second.previous_response_id, first.id);
    });

    test('responses.retrieve and .delete answer from the gateway, without calling the provider', async () => {
      const openai = client(way);
      const created = await openai.responses.create({ model: way.model, input: 'Remember this.' });
      const marks = mark(way);
      const got = await openai.responses.retrieve(created.id);
      assert.equal(got.id, created.id);
      assert.equal(got.output_text, created.output_text);
      await openai.responses.delete(created.id);
      await assert.rejects(openai.responses.retrieve(created.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      assert.equal(since(way, marks).length, 0, 'no provider call');
      // a deleted response no longer continues a conversation (refused by the gateway, or by OpenAI when the gateway leaves an id it does not know to it)
      await assert.rejects(
        openai.responses.create({ model: way.model, previous_response_id: created.id, input: 'And now?' }),
        (e: unknown) => e instanceof OpenAI.APIError && (e.status === 400 || e.status === 404) && /not found/i.test(e.message),
      );
    });
  });

  describe(`@openai/agents (Responses transport) → ${way.name}`, () => {
    function clockAgent(seen: { calls: number }) {
      const getTime = agentTool({
        name: 'get_time',
        description: 'The current time',
        parameters: z.object({ timezone: z.string() }),
        execute: async () => {
          seen.calls++;
          return '12:00';
        },
      });
      const model = new OpenAIResponsesModel(client(way), way.model);
      // the first turn must call the tool (the SDK resets tool_choice to auto after a tool ran)
      return new Agent({ name: 'clock', instructions: 'Tell the time using the tool.', model, tools: [getTime], modelSettings: { toolChoice: 'get_time' } });
    }

    test('an agent with a function tool: the tool runs and the agent answers', async () => {
      const seen = { calls: 0 };
      const marks = mark(way);
      const result = await run(clockAgent(seen), 'What time is it in Paris?');
      assert.equal(seen.calls, 1);
      assert.equal(result.finalOutput, DEFAULT_TEXT);
      assertUpstream(since(way, marks), 2);
    });

    test('streamed: the tool runs and the text streams', async () => {
      const seen = { calls: 0 };
      const result = await run(clockAgent(seen), 'What time is it in Paris?', { stream: true });
      let text = '';
      for await (const event of result) {
        if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') text += event.data.delta;
      }
      await result.completed;
      assert.equal(result.error ?? null, null);
      assert.equal(seen.calls, 1);
      assert.equal(text, DEFAULT_TEXT);
      assert.equal(result.finalOutput, DEFAULT_TEXT);
    });
  });

  describe(`@ai-sdk/openai (Responses) → ${way.name}`, () => {
    const model = () => createOpenAI({ baseURL: stack.baseURL(way.route), apiKey: CLIENT_KEY })(way.model);
    const tools = (ran: string[]) => ({
      getWeather: tool({
        description: 'The weather in a city',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          ran.push(city);
          return { city, temperature: 21 };
        },
      }),
    });

    test('generateText with a tool over two steps', async () => {
      const ran: string[] = [];
      const marks = mark(way);
      const result = await generateText({
        model: model(),
        tools: tools(ran),
        // the first step must call the tool (the mocks call a tool when the choice forces one)
        prepareStep: ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: { type: 'tool', toolName: 'getWeather' } } : { toolChoice: 'auto' }),
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
      });
      assert.equal(ran.length, 1);
      assert.equal(result.steps.length, 2, JSON.stringify(result.steps.map((s) => s.finishReason)));
      assert.equal(result.steps[0].finishReason, 'tool-calls');
      assert.equal(result.text, DEFAULT_TEXT);
      assert.ok(result.usage.inputTokens! > 0 && result.usage.outputTokens! > 0, JSON.stringify(result.usage));
      const upstream = since(way, marks);
      assertUpstream(upstream, 2);
      assert.equal(sumToolResults(upstream), 1, upstream.map((r) => r.body).join('\n'));
    });

    test('streamText with a tool over two steps', async () => {
      const ran: string[] = [];
      const result = streamText({
        model: model(),
        tools: tools(ran),
        prepareStep: ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: { type: 'tool', toolName: 'getWeather' } } : { toolChoice: 'auto' }),
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
      });
      let streamed = '';
      for await (const delta of result.textStream) streamed += delta;
      const steps = await result.steps;
      assert.equal(ran.length, 1);
      assert.equal(steps.length, 2);
      assert.equal(streamed, DEFAULT_TEXT);
    });
  });
}

test('the unified endpoint balances the Responses calls over both targets', async () => {
  const way = WAYS.at(-1)!;
  const marks = mark(way);
  for (let i = 0; i < 4; i++) await client(way).responses.create({ model: ALIAS, input: 'Hi' });
  const upstream = since(way, marks);
  assertUpstream(upstream, 4);
  assert.deepEqual(new Set(upstream.map((r) => r.provider)), new Set(['openai', 'anthropic']));
});
