/**
 * Issue 17 with the OpenAI Agents SDK in chat_completions mode (`OpenAIChatCompletionsModel`
 * with an OpenAI client pointed at a route, what every non-OpenAI backend uses): an agent with a
 * zero-argument tool, run and streamed (the SDK fails a tool whose streamed arguments are `""`),
 * and an agent with a structured `outputType`, against OpenAI, Anthropic, Gemini and Bedrock
 * routes of the real gateway in front of the strict mocks.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Agent, run, tool, setTracingDisabled, OpenAIChatCompletionsModel } from '@openai/agents';
import { z } from 'zod';
import { Stack, PROVIDERS, CLIENT_KEY } from '../compat/stack.ts';

const ROUTES = ['openai', 'anthropic', 'gemini', 'bedrock'] as const;
let stack: Stack;

setTracingDisabled(true);

const City = z.object({ city: z.string(), population: z.number().int(), tags: z.array(z.string()) });

function model(route: string): OpenAIChatCompletionsModel {
  const client = new OpenAI({ baseURL: stack.baseURL(route), apiKey: CLIENT_KEY, maxRetries: 0 });
  return new OpenAIChatCompletionsModel(client, PROVIDERS[route].model);
}

function clockAgent(route: string, seen: { calls: number; input: unknown }) {
  const getTime = tool({
    name: 'get_time',
    description: 'The current time',
    parameters: z.object({}),
    execute: async (input) => {
      seen.calls++;
      seen.input = input;
      return '12:00';
    },
  });
  // the first turn must call the tool (the SDK resets tool_choice to auto after a tool ran)
  return new Agent({ name: 'clock', instructions: 'Tell the time using the tool.', model: model(route), tools: [getTime], modelSettings: { toolChoice: 'get_time' } });
}

before(async () => {
  stack = await Stack.start(ROUTES.map((r) => PROVIDERS[r]));
});

after(async () => {
  await stack?.close();
});

for (const route of ROUTES) {
  describe(`OpenAI Agents SDK (chat_completions) → ${route}`, () => {
    test('an agent with a zero-argument tool: the tool runs and the agent answers', async () => {
      const seen = { calls: 0, input: null as unknown };
      const since = stack.mark(route);
      const result = await run(clockAgent(route, seen), 'What time is it?');
      assert.equal(seen.calls, 1);
      assert.ok(typeof result.finalOutput === 'string' && result.finalOutput.length > 0, String(result.finalOutput));
      const upstream = stack.since(route, since);
      assert.equal(upstream.length, 2);
      for (const r of upstream) assert.equal(r.status, 200, r.body);
    });

    test('streamed: the zero-argument tool call arrives as "{}" and the run completes', async () => {
      const seen = { calls: 0, input: null as unknown };
      const result = await run(clockAgent(route, seen), 'What time is it?', { stream: true });
      const kinds = new Set<string>();
      let text = '';
      for await (const event of result) {
        kinds.add(event.type);
        if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') text += event.data.delta;
      }
      await result.completed;
      assert.equal(result.error ?? null, null);
      assert.equal(seen.calls, 1, 'the tool ran');
      assert.ok(kinds.has('run_item_stream_event'));
      assert.ok(text.length > 0, 'text streamed after the tool');
      assert.ok(typeof result.finalOutput === 'string' && result.finalOutput.length > 0);
      const call = result.newItems.find((i) => i.type === 'tool_call_item');
      assert.ok(call);
      assert.equal((call.rawItem as { arguments?: string }).arguments, '{}');
    });

    test('an agent with a structured outputType', async () => {
      const agent = new Agent({ name: 'geo', instructions: 'Answer with the city.', model: model(route), outputType: City });
      const result = await run(agent, 'The capital of France, its population and two tags.');
      assert.deepEqual(City.parse(result.finalOutput), result.finalOutput);
    });
  });
}
