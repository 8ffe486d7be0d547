/**
 * Issue 17 with the Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`, the way it talks to any
 * OpenAI-shaped gateway): structured output with `Output.object` (generated and streamed), tools
 * run over several steps with `stopWhen`, a tool without arguments, and reasoning text, against
 * OpenAI, Anthropic, Gemini and Bedrock routes of the real gateway in front of the strict mocks.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateObject, generateText, streamText, Output, tool, stepCountIs } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { z } from 'zod';
import { Stack, PROVIDERS, NEUTRAL_ID, CLIENT_KEY } from '../compat/stack.ts';

const ROUTES = ['openai', 'anthropic', 'gemini', 'bedrock'] as const;
let stack: Stack;

const City = z.object({ city: z.string(), population: z.number().int(), tags: z.array(z.string()) });

function model(route: string) {
  const provider = createOpenAICompatible({ name: 'modelgate', baseURL: stack.baseURL(route), apiKey: CLIENT_KEY, supportsStructuredOutputs: true, includeUsage: true });
  return provider.chatModel(PROVIDERS[route].model);
}

/** The tool results the provider received, by the ids it was given, in its own format. */
function toolResultIds(route: string, body: unknown): string[] {
  const json = JSON.stringify(body);
  const re = route === 'anthropic' ? /"tool_use_id":"([^"]+)"/g : route === 'bedrock' ? /"toolResult":\{"toolUseId":"([^"]+)"/g : route === 'gemini' ? /"functionResponse":\{[^}]*?"(?:id)":"([^"]+)"/g : /"tool_call_id":"([^"]+)"/g;
  return [...json.matchAll(re)].map((m) => m[1]);
}

before(async () => {
  stack = await Stack.start(ROUTES.map((r) => PROVIDERS[r]));
});

after(async () => {
  await stack?.close();
});

for (const route of ROUTES) {
  describe(`ai SDK (openai-compatible) → ${route}`, () => {
    test('generateText with Output.object returns the typed object', async () => {
      const result = await generateText({ model: model(route), output: Output.object({ schema: City, name: 'city' }), prompt: 'The capital of France, its population and two tags.' });
      assert.deepEqual(City.parse(result.output), result.output);
      assert.ok(result.usage.inputTokens! > 0 && result.usage.outputTokens! > 0, JSON.stringify(result.usage));
    });

    test('generateObject (the older API, still exported) returns the typed object', async () => {
      const result = await generateObject({ model: model(route), schema: City, schemaName: 'city', prompt: 'The capital of France, its population and two tags.' });
      assert.deepEqual(City.parse(result.object), result.object);
    });

    test('streamText with Output.object streams a valid object', async () => {
      const result = streamText({ model: model(route), output: Output.object({ schema: City, name: 'city' }), prompt: 'The capital of France, its population and two tags.' });
      let partials = 0;
      for await (const partial of result.partialOutputStream) if (partial) partials++;
      const output = await result.output;
      City.parse(output);
      assert.ok(partials >= 1);
    });

    test('tools over several steps with stopWhen: the tool runs, its result goes back, the model answers', async () => {
      const since = stack.mark(route);
      let ran = 0;
      const result = await generateText({
        model: model(route),
        tools: {
          getWeather: tool({
            description: 'The weather in a city',
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => {
              ran++;
              return { city, temperature: 21, unit: 'celsius' };
            },
          }),
        },
        // the first step must call the tool (the mocks call a tool when the choice forces one); later steps choose freely
        prepareStep: ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: { type: 'tool', toolName: 'getWeather' } } : { toolChoice: 'auto' }),
        stopWhen: stepCountIs(4),
        prompt: 'What is the weather in Paris?',
      });
      assert.equal(ran, 1, 'the tool ran once');
      assert.equal(result.steps.length, 2, JSON.stringify(result.steps.map((s) => s.finishReason)));
      const call = result.steps[0].toolCalls[0];
      assert.equal(call.toolName, 'getWeather');
      assert.match(call.toolCallId, NEUTRAL_ID);
      assert.equal(result.steps[0].finishReason, 'tool-calls');
      assert.ok(result.text.length > 0, 'the last step answered text');
      const upstream = stack.since(route, since);
      assert.equal(upstream.length, 2);
      for (const r of upstream) assert.equal(r.status, 200, r.body);
      // the provider got the result under the id it gave the call (or the one it can use)
      assert.equal(toolResultIds(route, upstream[1].json).length, 1, JSON.stringify(upstream[1].json));
    });

    test('a streamed tool without arguments runs with {} and the conversation goes on', async () => {
      let input: unknown = null;
      const result = streamText({
        model: model(route),
        tools: {
          getTime: tool({
            description: 'The current time',
            inputSchema: z.object({}),
            execute: async (args) => {
              input = args;
              return '12:00';
            },
          }),
        },
        prepareStep: ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: { type: 'tool', toolName: 'getTime' } } : { toolChoice: 'auto' }),
        stopWhen: stepCountIs(3),
        prompt: 'What time is it?',
      });
      const text = await result.text;
      const steps = await result.steps;
      assert.deepEqual(input, {}, 'the tool got an empty object');
      assert.equal(steps.length, 2);
      assert.ok(text.length > 0);
    });

    if (route !== 'openai') {
      test('reasoning effort gives reasoning text', async () => {
        const result = await generateText({ model: model(route), prompt: 'What is 1+1?', providerOptions: { modelgate: { reasoningEffort: 'low' } } });
        assert.ok((result.reasoningText ?? '').length > 0, `reasoning: ${JSON.stringify(result.reasoning)}`);
        assert.ok(result.text.length > 0);
        assert.ok((result.usage.outputTokenDetails?.reasoningTokens ?? 0) > 0, JSON.stringify(result.usage));
      });
    }
  });
}
