/**
 * Issue 17 with the `openai` SDK (what most applications point at a gateway): structured output
 * with `chat.completions.parse` and zod, tool calls streamed and not, a tool without arguments,
 * reasoning content, and prompt-cache usage, against OpenAI, Anthropic, Gemini and Bedrock routes
 * of the real gateway in front of the strict mock providers.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { zodResponseFormat, zodFunction } from 'openai/helpers/zod';
import { z } from 'zod';
import { Stack, PROVIDERS, NEUTRAL_ID, assembleToolCalls, CLIENT_KEY } from '../compat/stack.ts';

const ROUTES = ['openai', 'anthropic', 'gemini', 'bedrock'] as const;
let stack: Stack;

const Answer = z.object({ city: z.string(), population: z.number().int(), tags: z.array(z.string()) });
const Weather = z.object({ city: z.string(), unit: z.enum(['celsius', 'fahrenheit']) });
const weatherTool = zodFunction({ name: 'get_weather', description: 'The weather in a city', parameters: Weather });
const nowTool: OpenAI.ChatCompletionTool = { type: 'function', function: { name: 'get_time', description: 'The current time', parameters: { type: 'object', properties: {} } } };

const ASK: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You answer with facts.' },
  { role: 'user', content: 'Which city is the capital of France, and how many people live there?' },
];

before(async () => {
  stack = await Stack.start(ROUTES.map((r) => PROVIDERS[r]));
});

after(async () => {
  await stack?.close();
});

for (const route of ROUTES) {
  const model = PROVIDERS[route].model;
  describe(`openai SDK → ${route}`, () => {
    test('chat.completions.parse with zodResponseFormat returns the parsed object', async () => {
      const sdk = stack.openai(route);
      const since = stack.mark(route);
      const completion = await sdk.chat.completions.parse({ model, messages: ASK, response_format: zodResponseFormat(Answer, 'city_answer') });
      const message = completion.choices[0].message;
      assert.ok(message.parsed, `parsed: ${JSON.stringify(message)}`);
      assert.deepEqual(Answer.parse(message.parsed), message.parsed);
      assert.equal(message.tool_calls?.length ?? 0, 0, 'a forced tool used to carry the schema is unwrapped into content');
      const upstream = stack.since(route, since);
      assert.equal(upstream.length, 1);
      assert.equal(upstream[0].status, 200);
      assert.ok(!JSON.stringify(upstream[0].headers).includes(CLIENT_KEY));
    });

    test('streamed structured output parses too', async () => {
      const sdk = stack.openai(route);
      const stream = sdk.chat.completions.stream({ model, messages: ASK, response_format: zodResponseFormat(Answer, 'city_answer') });
      const final = await stream.finalChatCompletion();
      const parsed = final.choices[0].message.parsed;
      assert.ok(parsed, JSON.stringify(final.choices[0].message));
      Answer.parse(parsed);
    });

    test('a forced tool call, unstreamed and streamed: valid JSON arguments and a provider-neutral id', async () => {
      const sdk = stack.openai(route);
      const choice = { type: 'function' as const, function: { name: 'get_weather' } };
      const answer = await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: choice });
      const calls = answer.choices[0].message.tool_calls ?? [];
      assert.equal(calls.length, 1, JSON.stringify(answer));
      assert.equal(answer.choices[0].finish_reason, 'tool_calls');
      const call = calls[0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      assert.equal(call.function.name, 'get_weather');
      assert.match(call.id, NEUTRAL_ID);
      assert.equal(typeof JSON.parse(call.function.arguments), 'object');

      const chunks: OpenAI.ChatCompletionChunk[] = [];
      const stream = await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: choice, stream: true });
      let finish: string | null = null;
      for await (const c of stream) {
        chunks.push(c);
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      const streamed = assembleToolCalls(chunks);
      assert.equal(streamed.length, 1, JSON.stringify(chunks));
      assert.equal(streamed[0].name, 'get_weather');
      assert.match(streamed[0].id, NEUTRAL_ID);
      assert.equal(typeof JSON.parse(streamed[0].arguments), 'object');
      assert.equal(finish, 'tool_calls');

      // the SDK's own stream helper assembles the same call
      const helper = sdk.chat.completions.stream({ model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: choice });
      const final = await helper.finalChatCompletion();
      const parsedCall = final.choices[0].message.tool_calls?.[0] as { function: { parsed_arguments?: unknown } } | undefined;
      assert.ok(parsedCall, 'the stream helper saw the call');
    });

    test('a tool without arguments gets "{}", streamed and not', async () => {
      const sdk = stack.openai(route);
      const choice = { type: 'function' as const, function: { name: 'get_time' } };
      const answer = await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'What time is it?' }], tools: [nowTool], tool_choice: choice });
      const call = answer.choices[0].message.tool_calls?.[0] as OpenAI.ChatCompletionMessageFunctionToolCall | undefined;
      assert.ok(call, JSON.stringify(answer));
      assert.equal(call.function.arguments, '{}');

      const chunks: OpenAI.ChatCompletionChunk[] = [];
      const stream = await sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'What time is it?' }], tools: [nowTool], tool_choice: choice, stream: true });
      for await (const c of stream) chunks.push(c);
      const streamed = assembleToolCalls(chunks);
      assert.equal(streamed.length, 1, JSON.stringify(chunks));
      assert.equal(streamed[0].arguments, '{}', 'streamed arguments are JSON text, never ""');

      // and the result goes back: the next turn is a 200 on the same provider
      const next = await sdk.chat.completions.create({
        model,
        messages: [
          { role: 'user', content: 'What time is it?' },
          { role: 'assistant', content: null, tool_calls: [{ id: streamed[0].id, type: 'function', function: { name: 'get_time', arguments: streamed[0].arguments } }] },
          { role: 'tool', tool_call_id: streamed[0].id, content: '12:00' },
        ],
        tools: [nowTool],
      });
      assert.equal(next.choices[0].message.role, 'assistant');
    });

    if (route !== 'openai') {
      test('reasoning_effort gives reasoning_content, streamed and not, and reasoning tokens', async () => {
        const sdk = stack.openai(route);
        const since = stack.mark(route);
        const answer = await sdk.chat.completions.create({ model, messages: ASK, reasoning_effort: 'low' });
        const message = answer.choices[0].message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
        assert.equal(typeof message.reasoning_content, 'string', JSON.stringify(answer));
        assert.ok(message.reasoning_content!.length > 0);
        assert.ok((answer.usage?.completion_tokens_details?.reasoning_tokens ?? 0) > 0, `reasoning tokens: ${JSON.stringify(answer.usage)}`);
        const sent = JSON.stringify(stack.since(route, since)[0].json);
        assert.match(sent, route === 'anthropic' ? /"thinking"/ : route === 'bedrock' ? /"thinking"|reasoningConfig/ : /thinkingConfig|thinking_config/);

        const stream = await sdk.chat.completions.create({ model, messages: ASK, reasoning_effort: 'low', stream: true });
        let reasoning = '';
        let content = '';
        for await (const c of stream) {
          const delta = c.choices[0]?.delta as { reasoning_content?: string; content?: string | null } | undefined;
          reasoning += delta?.reasoning_content ?? '';
          content += delta?.content ?? '';
        }
        assert.ok(reasoning.length > 0, 'delta.reasoning_content streamed');
        assert.ok(content.length > 0);
      });
    }

    if (route === 'anthropic' || route === 'bedrock') {
      test('cache_control markers reach the provider and cached tokens come back in usage', async () => {
        const sdk = stack.openai(route);
        const long = 'You are a careful assistant. '.repeat(300);
        const messages = [
          { role: 'system', content: [{ type: 'text', text: long, cache_control: { type: 'ephemeral' } }] },
          { role: 'user', content: 'What is 1+1?' },
        ] as unknown as OpenAI.ChatCompletionMessageParam[];
        const since = stack.mark(route);
        const first = await sdk.chat.completions.create({ model, messages });
        const second = await sdk.chat.completions.create({ model, messages });
        const sent = stack.since(route, since).map((r) => JSON.stringify(r.json));
        assert.equal(sent.length, 2);
        for (const body of sent) assert.match(body, route === 'anthropic' ? /"cache_control":\{"type":"ephemeral"/ : /"cachePoint":\{"type":"default"\}/);
        const details = (u: OpenAI.CompletionUsage | undefined) => u?.prompt_tokens_details as { cached_tokens?: number; cache_write_tokens?: number } | undefined;
        assert.equal(typeof details(second.usage)?.cached_tokens, 'number', JSON.stringify(second.usage));
        const written = (details(first.usage)?.cache_write_tokens ?? 0) + (details(second.usage)?.cache_write_tokens ?? 0);
        const read = (details(first.usage)?.cached_tokens ?? 0) + (details(second.usage)?.cached_tokens ?? 0);
        assert.ok(written + read > 0, `cache usage reported: ${JSON.stringify([first.usage, second.usage])}`);
        assert.ok(second.usage!.prompt_tokens >= read, 'prompt_tokens include the cached ones');
      });
    }
  });
}

describe('openai SDK: the unsupported-params policy, per route', () => {
  // Anthropic has no logit_bias: the default policy refuses it before the provider is called,
  // `drop` leaves it out and says so, `pass` cannot send what Anthropic's API has no place for
  // (a field inside the request's own shape) and names it too
  const body = { model: PROVIDERS.anthropic.model, messages: ASK, logit_bias: { '50256': -100 } };

  test('error (the default): a 400 naming the field and the provider, and no provider call', async () => {
    const since = stack.mark('anthropic');
    await assert.rejects(stack.openai('anthropic').chat.completions.create(body), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, /logit_bias/);
      assert.match(e.message, /anthropic/);
      return true;
    });
    assert.equal(stack.since('anthropic', since).length, 0);
  });

  test('drop: 200, the field left out and named in X-Modelgate-Dropped-Params, streamed and not', async () => {
    const r = await stack.addRoute({ ...PROVIDERS.anthropic, route: 'anthropic-drop' }, { unsupported_params: 'drop' });
    assert.equal(r.status, 201, r.text);
    const sdk = stack.openai('anthropic-drop');
    const since = stack.mark('anthropic');
    const { data, response } = await sdk.chat.completions.create(body).withResponse();
    assert.ok(data.choices[0].message.content);
    assert.equal(response.headers.get('x-modelgate-dropped-params'), 'logit_bias');
    const streamed = await sdk.chat.completions.create({ ...body, stream: true }).withResponse();
    assert.equal(streamed.response.headers.get('x-modelgate-dropped-params'), 'logit_bias');
    let text = '';
    for await (const c of streamed.data) text += c.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0);
    for (const u of stack.since('anthropic', since)) assert.ok(!u.body.includes('logit_bias'));
  });

  test('pass: an unknown top-level field goes to the provider as it is; a feature its API has no place for is still named', async () => {
    const r = await stack.addRoute({ ...PROVIDERS.anthropic, route: 'anthropic-pass' }, { unsupported_params: 'pass' });
    assert.equal(r.status, 201, r.text);
    const sdk = stack.openai('anthropic-pass');
    const since = stack.mark('anthropic');
    // sent as is: the provider itself refuses a field it does not know, and the client gets its 400
    await assert.rejects(sdk.chat.completions.create({ model: PROVIDERS.anthropic.model, messages: ASK, x_trace: 'abc' } as OpenAI.ChatCompletionCreateParamsNonStreaming), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /x_trace: Extra inputs are not permitted/);
      return true;
    });
    assert.equal((stack.since('anthropic', since)[0].json as Record<string, unknown>).x_trace, 'abc');
    const { response } = await sdk.chat.completions.create(body).withResponse();
    assert.equal(response.headers.get('x-modelgate-dropped-params'), 'logit_bias');
  });

  test("a provider's own top-level fields are sent whatever the policy (Gemini's safetySettings)", async () => {
    const since = stack.mark('gemini');
    const safety = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }];
    const answer = await stack.openai('gemini').chat.completions.create({ model: PROVIDERS.gemini.model, messages: ASK, safetySettings: safety } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.ok(answer.choices[0].message.content);
    assert.deepEqual((stack.since('gemini', since)[0].json as { safetySettings: unknown }).safetySettings, safety);
  });
});

describe('openai SDK → gemini: prompt caching', () => {
  test('cache_control marks are named as dropped (Gemini caches by itself) and implicit cache hits are reported', async () => {
    const sdk = stack.openai('gemini');
    const long = 'You are a careful assistant. '.repeat(400);
    const messages = [
      { role: 'system', content: [{ type: 'text', text: long, cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: 'What is 1+1?' },
    ] as unknown as OpenAI.ChatCompletionMessageParam[];
    const first = await sdk.chat.completions.create({ model: PROVIDERS.gemini.model, messages }).withResponse();
    assert.match(first.response.headers.get('x-modelgate-dropped-params') ?? '', /messages\[0\]\.content\[0\]\.cache_control/);
    const second = await sdk.chat.completions.create({ model: PROVIDERS.gemini.model, messages });
    assert.ok((second.usage?.prompt_tokens_details?.cached_tokens ?? 0) > 0, JSON.stringify(second.usage));
  });
});

describe('openai SDK → openai: automatic prompt caching', () => {
  test('a long prompt sent twice reports cached tokens (OpenAI caches by itself)', async () => {
    const sdk = stack.openai('openai');
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a careful assistant. '.repeat(300) },
      { role: 'user', content: 'What is 1+1?' },
    ];
    const first = await sdk.chat.completions.create({ model: PROVIDERS.openai.model, messages });
    const second = await sdk.chat.completions.create({ model: PROVIDERS.openai.model, messages });
    assert.equal(first.usage?.prompt_tokens_details?.cached_tokens, 0);
    assert.ok((second.usage?.prompt_tokens_details?.cached_tokens ?? 0) >= 1024, JSON.stringify(second.usage));
  });
});

describe('openai SDK → vllm (a thinking model behind an OpenAI-compatible server)', () => {
  test('reasoning_content reaches the client, streamed and not', async () => {
    const r = await stack.addRoute(PROVIDERS.vllm);
    assert.equal(r.status, 201, r.text);
    const sdk = stack.openai('vllm');
    const answer = await sdk.chat.completions.create({ model: PROVIDERS.vllm.model, messages: ASK });
    const message = answer.choices[0].message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    assert.ok((message.reasoning_content ?? '').length > 0, JSON.stringify(answer));
    assert.ok((answer.usage?.completion_tokens_details?.reasoning_tokens ?? 0) > 0);
    let reasoning = '';
    for await (const c of await sdk.chat.completions.create({ model: PROVIDERS.vllm.model, messages: ASK, stream: true })) {
      reasoning += (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
    }
    assert.equal(reasoning, message.reasoning_content);
  });
});
