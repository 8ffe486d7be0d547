/**
 * Issue 17 with LangChain (`@langchain/openai`'s ChatOpenAI pointed at a route):
 * `withStructuredOutput(zod)` by JSON schema and by function calling, streamed too, and
 * `bindTools` with a tool call whose result goes back, against OpenAI, Anthropic, Gemini and
 * Bedrock routes of the real gateway in front of the strict mocks.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage, ToolMessage, type AIMessage, type AIMessageChunk } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { Stack, PROVIDERS, NEUTRAL_ID, CLIENT_KEY } from '../compat/stack.ts';

const ROUTES = ['openai', 'anthropic', 'gemini', 'bedrock'] as const;
let stack: Stack;

const City = z.object({ city: z.string(), population: z.number().int(), tags: z.array(z.string()) });

const getWeather = tool(async ({ city }: { city: string }) => JSON.stringify({ city, temperature: 21 }), {
  name: 'get_weather',
  description: 'The weather in a city',
  schema: z.object({ city: z.string() }),
});

function chat(route: string, extra: Record<string, unknown> = {}): ChatOpenAI {
  return new ChatOpenAI({ model: PROVIDERS[route].model, apiKey: CLIENT_KEY, configuration: { baseURL: stack.baseURL(route) }, maxRetries: 0, useResponsesApi: false, ...extra });
}

before(async () => {
  stack = await Stack.start(ROUTES.map((r) => PROVIDERS[r]));
});

after(async () => {
  await stack?.close();
});

for (const route of ROUTES) {
  describe(`LangChain ChatOpenAI → ${route}`, () => {
    test('withStructuredOutput(zod), JSON schema method', async () => {
      const structured = chat(route).withStructuredOutput(City, { name: 'city', method: 'jsonSchema' });
      const out = await structured.invoke('The capital of France, its population and two tags.');
      assert.deepEqual(City.parse(out), out);
    });

    test('withStructuredOutput(zod), function calling method', async () => {
      const structured = chat(route).withStructuredOutput(City, { name: 'city', method: 'functionCalling' });
      const out = await structured.invoke('The capital of France, its population and two tags.');
      City.parse(out);
    });

    test('withStructuredOutput streamed', async () => {
      const structured = chat(route, { streaming: true }).withStructuredOutput(City, { name: 'city', method: 'jsonSchema' });
      let last: unknown = null;
      for await (const piece of await structured.stream('The capital of France, its population and two tags.')) last = piece;
      City.parse(last);
    });

    test('bindTools: a tool call, its result back, and the answer', async () => {
      const since = stack.mark(route);
      const model = chat(route).bindTools([getWeather], { tool_choice: 'get_weather' });
      const question = new HumanMessage('What is the weather in Paris?');
      const ai = (await model.invoke([question])) as AIMessage;
      assert.equal(ai.tool_calls?.length, 1, JSON.stringify(ai));
      const call = ai.tool_calls![0];
      assert.equal(call.name, 'get_weather');
      assert.match(call.id!, NEUTRAL_ID);
      assert.equal(typeof call.args, 'object');
      const result = (await getWeather.invoke(call)) as ToolMessage;
      const answer = (await chat(route).bindTools([getWeather]).invoke([question, ai, result])) as AIMessage;
      assert.equal(typeof answer.content, 'string');
      assert.ok((answer.content as string).length > 0);
      assert.equal(answer.tool_calls?.length ?? 0, 0);
      for (const r of stack.since(route, since)) assert.equal(r.status, 200, r.body);
    });

    test('bindTools streamed: the chunks add up to one call with JSON arguments', async () => {
      const model = chat(route, { streaming: true }).bindTools([getWeather], { tool_choice: 'get_weather' });
      let full: AIMessageChunk | undefined;
      for await (const chunk of await model.stream('What is the weather in Paris?')) full = full ? full.concat(chunk) : chunk;
      assert.ok(full);
      assert.equal(full.tool_calls?.length, 1, JSON.stringify(full.tool_call_chunks));
      assert.equal(full.tool_calls![0].name, 'get_weather');
      assert.equal(full.invalid_tool_calls?.length ?? 0, 0, 'arguments parsed as JSON');
    });
  });
}
