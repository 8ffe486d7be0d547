/**
 * Issue 18: the Anthropic Messages API through the real gateway, with `@anthropic-ai/sdk` —
 * `messages.create` plain, `messages.stream`, a tool round trip, extended thinking (signed thinking
 * blocks sent back next turn), `messages.countTokens`, Anthropic's typed errors — through
 * `llm_format: anthropic` routes (Kong's Claude Code setup) in front of the OpenAI, Anthropic, Gemini
 * and Bedrock mocks and through an `ai-proxy-advanced` unified endpoint balancing OpenAI and
 * Anthropic targets (`…/v1/messages` under the route); Claude Code's authentication on a key-auth
 * route; and no protocol confusion: an Anthropic request on an OpenAI route is refused before any
 * provider is called.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { Stack, PROVIDERS, MESSAGES_ROUTES, CLIENT_PROVIDERS, CLIENT_KEY, NEUTRAL_ID, messagesSpec } from '../compat/stack.ts';
import type { MockProvider, RecordedRequest } from '../mocks/providers.ts';
import { DEFAULT_TEXT } from '../mocks/text.ts';

interface Way {
  name: string;
  route: string;
  model: string;
  providers: string[];
}

const UNIFIED = 'unified-messages';
const ALIAS = 'assistant';
const WAYS: Way[] = [
  ...CLIENT_PROVIDERS.map((p) => ({ name: p, route: MESSAGES_ROUTES[p].route, model: PROVIDERS[p].model, providers: [p] })),
  { name: 'ai-proxy-advanced (openai + anthropic)', route: UNIFIED, model: ALIAS, providers: ['openai', 'anthropic'] },
];
/**
 * Where an Anthropic client gets Claude's signature. Bedrock signs too, but its signature is only
 * good on Bedrock, and an Anthropic client cannot say which provider a signature came from: the
 * gateway keeps Bedrock's (provider-state.ts) and puts it back on the next Bedrock call.
 */
const SIGNED_THINKING = new Set(['anthropic']);

/** Claude Code's setup: ANTHROPIC_BASE_URL at a key-auth route, ANTHROPIC_AUTH_TOKEN the consumer's key. */
const CLAUDE_CODE = { ...messagesSpec('anthropic'), route: 'claude-code' };
const CONSUMER_KEY = 'claude-code-consumer-key';

let stack: Stack;

const mocksOf = (way: Way): MockProvider[] => way.providers.map((p) => stack.mocks.get(PROVIDERS[p].mock)!);
const mark = (way: Way): number[] => mocksOf(way).map((m) => m.requests.length);
function since(way: Way, marks: number[]): (RecordedRequest & { provider: string })[] {
  return mocksOf(way).flatMap((m, i) => m.requests.slice(marks[i]).map((r) => Object.assign(r, { provider: way.providers[i] })));
}

function client(route: string, options: ConstructorParameters<typeof Anthropic>[0] = {}): Anthropic {
  return new Anthropic({ baseURL: stack.baseURL(route), apiKey: CLIENT_KEY, maxRetries: 0, ...options });
}

function assertUpstream(calls: RecordedRequest[], count: number, secret = CLIENT_KEY): void {
  assert.equal(calls.length, count, `upstream calls: ${calls.map((c) => `${c.method} ${c.path}`).join(', ')}`);
  for (const c of calls) {
    assert.equal(c.status, 200, c.body);
    assert.ok(!JSON.stringify(c.headers).includes(secret), 'the client key is never forwarded');
  }
}

/** The tool results a provider received, in its own format. */
function toolResults(provider: string, body: unknown): number {
  const json = JSON.stringify(body);
  const re = { anthropic: /"tool_use_id":"/g, bedrock: /"toolResult":\{/g, gemini: /"functionResponse":\{/g, openai: /"type":"function_call_output"|"role":"tool"/g }[provider]!;
  return json.match(re)?.length ?? 0;
}

/** Tool results across a conversation's upstream calls (mocks record apart, so no order is assumed). */
const sumToolResults = (calls: (RecordedRequest & { provider: string })[]): number => calls.reduce((n, r) => n + toolResults(r.provider, r.json), 0);

const textOf = (m: Anthropic.Message): string => m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

before(async () => {
  stack = await Stack.start([PROVIDERS.openai]);
  for (const p of CLIENT_PROVIDERS) {
    const r = await stack.addRoute(MESSAGES_ROUTES[p]);
    assert.equal(r.status, 201, `${p}: llm_format anthropic: ${r.text}`);
  }
  await stack.addBalancedRoute(UNIFIED, [PROVIDERS.openai, PROVIDERS.anthropic], { algorithm: 'round-robin' }, { alias: ALIAS });
  const r = await stack.addRoute(CLAUDE_CODE);
  assert.equal(r.status, 201, r.text);
  await stack.addKeyAuth(CLAUDE_CODE.route, 'claude-code', CONSUMER_KEY, ['x-api-key', 'authorization']);
});

after(async () => {
  await stack?.close();
});

test("models.list / models.retrieve on an Anthropic route: the route's model in Anthropic's shape, no provider call", async () => {
  const way = WAYS[0];
  const marks = mark(way);
  const anthropic = client(way.route);
  const page = await anthropic.models.list();
  assert.deepEqual(page.data.map((m) => [m.type, m.id]), [['model', way.model]]);
  assert.ok(!Number.isNaN(Date.parse(page.data[0].created_at)));
  const one = await anthropic.models.retrieve(way.model);
  assert.equal(one.id, way.model);
  await assert.rejects(anthropic.models.retrieve('no-such-model'), (e: unknown) => e instanceof Anthropic.NotFoundError);
  assert.equal(since(way, marks).length, 0);
});

test("thinking with a tool on Bedrock: the client's echo carries no signature, the gateway puts Bedrock's back on the next turn", async () => {
  const way = WAYS.find((w) => w.name === 'bedrock')!;
  const anthropic = client(way.route);
  // the Bedrock mock calls a tool under `auto` when the user's turn names it (thinking refuses forced tool use)
  const question: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris? Use get_weather.' };
  const thinking = { type: 'enabled', budget_tokens: 1024 } as const;
  const first = await anthropic.messages.create({ model: way.model, max_tokens: 2048, thinking, tools: [weather], messages: [question] });
  const use = first.content.find((b) => b.type === 'tool_use');
  assert.ok(use && use.type === 'tool_use', JSON.stringify(first.content));
  const block = first.content.find((b) => b.type === 'thinking');
  assert.ok(block && block.type === 'thinking' && block.signature === '', `Bedrock's signature is not the client's to carry: ${JSON.stringify(block)}`);
  const marks = mark(way);
  const second = await anthropic.messages.create({
    model: way.model,
    max_tokens: 2048,
    thinking,
    tools: [weather],
    messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 degrees' }] }],
  });
  assert.equal(second.type, 'message');
  const [sent] = since(way, marks);
  // the reasoning block went back to Bedrock with its signature, once
  const blocks = JSON.stringify(sent.json).match(/"reasoningContent"/g) ?? [];
  assert.equal(blocks.length, 1, JSON.stringify(sent.json));
  assert.match(JSON.stringify(sent.json), /"signature":"[^"]+"/);
});

for (const way of WAYS) {
  describe(`@anthropic-ai/sdk → ${way.name}`, () => {
    test('messages.create: an Anthropic message with the answer and usage', async () => {
      const marks = mark(way);
      const sent: string[] = [];
      // the body as the SDK sends it, to compare with what Anthropic gets
      const recording: typeof fetch = async (input, init) => {
        if (typeof init?.body === 'string') sent.push(init.body);
        return fetch(input, init);
      };
      const m = await client(way.route, { fetch: recording }).messages.create({ model: way.model, max_tokens: 256, system: 'Be brief.', messages: [{ role: 'user', content: 'What is 1 + 1?' }] });
      assert.equal(m.type, 'message');
      assert.equal(m.role, 'assistant');
      assert.equal(textOf(m), DEFAULT_TEXT);
      assert.equal(m.stop_reason, 'end_turn');
      assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0, JSON.stringify(m.usage));
      const upstream = since(way, marks);
      assertUpstream(upstream, 1);
      if (way.name === 'anthropic') {
        assert.equal(upstream[0].path, '/v1/messages');
        assert.equal(upstream[0].body, sent[0], 'Anthropic gets the body byte for byte');
      }
    });

    test('messages.stream: text events and the final message', async () => {
      const stream = client(way.route).messages.stream({ model: way.model, max_tokens: 256, messages: [{ role: 'user', content: 'What is 1 + 1?' }] });
      let text = '';
      stream.on('text', (delta) => (text += delta));
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      const final = await stream.finalMessage();
      assert.equal(text, DEFAULT_TEXT);
      assert.equal(textOf(final), DEFAULT_TEXT);
      assert.equal(final.stop_reason, 'end_turn');
      assert.ok(final.usage.output_tokens > 0);
      assert.equal(types[0], 'message_start');
      assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
      const order = ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'].map((t) => types.indexOf(t));
      assert.ok(order.every((i) => i >= 0), types.join(' '));
      assert.deepEqual([...order].sort((a, b) => a - b), order, types.join(' '));
    });

    test('a tool: tool_use → tool_result → the answer', async () => {
      const marks = mark(way);
      const anthropic = client(way.route);
      const question: Anthropic.MessageParam = { role: 'user', content: 'What is the weather in Paris?' };
      const first = await anthropic.messages.create({ model: way.model, max_tokens: 256, messages: [question], tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' } });
      assert.equal(first.stop_reason, 'tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      assert.ok(use && use.type === 'tool_use', JSON.stringify(first.content));
      assert.equal(use.name, 'get_weather');
      assert.match(use.id, NEUTRAL_ID);
      assert.equal(typeof (use.input as { city?: unknown }).city, 'string');
      const second = await anthropic.messages.create({
        model: way.model,
        max_tokens: 256,
        tools: [weather],
        messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 degrees' }] }],
      });
      assert.equal(second.stop_reason, 'end_turn');
      assert.equal(textOf(second), DEFAULT_TEXT);
      const upstream = since(way, marks);
      assertUpstream(upstream, 2);
      assert.equal(sumToolResults(upstream), 1, upstream.map((r) => r.body).join('\n'));
    });

    // OpenAI's gpt-4o has no thinking budget: the gateway refuses `thinking` there by its policy (the unified endpoint may pick OpenAI)
    const thinks = way.providers.every((p) => p !== 'openai');
    const signs = way.providers.every((p) => SIGNED_THINKING.has(p));
    test('thinking: thinking blocks come back (signed where the model signs them) and go back next turn', { skip: !thinks && 'no thinking budget on gpt-4o' }, async () => {
      const anthropic = client(way.route);
      const question: Anthropic.MessageParam = { role: 'user', content: 'What is 1 + 1?' };
      const thinking = { type: 'enabled', budget_tokens: 1024 } as const;
      const marks = mark(way);
      const first = await anthropic.messages.create({ model: way.model, max_tokens: 2048, thinking, messages: [question] });
      assert.equal(textOf(first), DEFAULT_TEXT);
      const block = first.content[0];
      assert.equal(block.type, 'thinking', JSON.stringify(first.content));
      assert.ok(block.type === 'thinking' && block.thinking.length > 0);
      const second = await anthropic.messages.create({ model: way.model, max_tokens: 2048, thinking, messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: 'And 2 + 2?' }] });
      assert.equal(textOf(second), DEFAULT_TEXT);
      assertUpstream(since(way, marks), 2);

      // streamed, the thinking arrives as thinking_delta events and the signature as a signature_delta
      const stream = anthropic.messages.stream({ model: way.model, max_tokens: 2048, thinking, messages: [question] });
      const deltas: string[] = [];
      for await (const e of stream) if (e.type === 'content_block_delta') deltas.push(e.delta.type);
      const final = await stream.finalMessage();
      assert.equal(final.content[0]?.type, 'thinking', JSON.stringify(final.content));
      assert.ok(deltas.includes('thinking_delta'), deltas.join(' '));
      // Claude signs its thinking: the client gets Anthropic's signature, as from Anthropic itself
      if (signs) {
        assert.ok(block.type === 'thinking' && block.signature.length > 0, `a signed thinking block: ${JSON.stringify(block)}`);
        assert.ok(deltas.includes('signature_delta'), deltas.join(' '));
        assert.ok(final.content[0].type === 'thinking' && final.content[0].signature.length > 0);
      }
    });

    test('messages.countTokens: the input tokens', async () => {
      const marks = mark(way);
      const counted = await client(way.route).messages.countTokens({ model: way.model, system: 'Be brief.', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
      assert.ok(counted.input_tokens > 0, JSON.stringify(counted));
      const upstream = since(way, marks);
      for (const r of upstream) assert.equal(r.status, 200, r.body);
      if (way.name === 'anthropic') {
        // Anthropic counts it itself (the mock: one token per word)
        assert.deepEqual(upstream.map((r) => r.path), ['/v1/messages/count_tokens']);
        assert.equal(counted.input_tokens, 8);
      }
    });

    test('an invalid body: a typed BadRequestError in Anthropic\'s error shape', async () => {
      const invalid = { model: way.model, messages: [{ role: 'user', content: 'hi' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming;
      await assert.rejects(client(way.route).messages.create(invalid), (e: unknown) => {
        assert.ok(e instanceof Anthropic.BadRequestError, String(e));
        assert.equal(e.status, 400);
        assert.match(e.message, /max_tokens/);
        const body = e.error as { type?: string; error?: { type?: string; message?: string } };
        assert.equal(body.type, 'error');
        assert.equal(body.error?.type, 'invalid_request_error');
        return true;
      });
    });
  });
}

test('the unified endpoint balances Messages calls over both targets', async () => {
  const way = WAYS.at(-1)!;
  const marks = mark(way);
  for (let i = 0; i < 4; i++) await client(way.route).messages.create({ model: ALIAS, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
  const upstream = since(way, marks);
  assertUpstream(upstream, 4);
  assert.deepEqual(new Set(upstream.map((r) => r.provider)), new Set(['openai', 'anthropic']));
});

describe("Claude Code's authentication on a key-auth route", () => {
  const way: Way = { name: 'claude-code', route: CLAUDE_CODE.route, model: CLAUDE_CODE.model, providers: ['anthropic'] };
  const ask = (c: Anthropic) => c.messages.create({ model: way.model, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });

  test('ANTHROPIC_AUTH_TOKEN (Authorization: Bearer <consumer key>) authenticates; the key stays at the gateway', async () => {
    const marks = mark(way);
    const m = await ask(client(way.route, { apiKey: null, authToken: CONSUMER_KEY }));
    assert.equal(textOf(m), DEFAULT_TEXT);
    const upstream = since(way, marks);
    assertUpstream(upstream, 1, CONSUMER_KEY);
    assert.equal(upstream[0].headers['x-api-key'], 'sk-ant-test');
  });

  test('ANTHROPIC_API_KEY as x-api-key authenticates', async () => {
    const marks = mark(way);
    const m = await ask(client(way.route, { apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': CONSUMER_KEY } }));
    assert.equal(textOf(m), DEFAULT_TEXT);
    assertUpstream(since(way, marks), 1, CONSUMER_KEY);
  });

  test('a wrong key: 401 as a typed AuthenticationError, no provider call', async () => {
    const marks = mark(way);
    await assert.rejects(ask(client(way.route, { apiKey: null, authToken: 'not-a-consumer-key' })), (e: unknown) => e instanceof Anthropic.AuthenticationError);
    assert.equal(since(way, marks).length, 0);
  });
});

describe('no protocol confusion', () => {
  const openai = stackMock('openai');

  test('the Anthropic SDK on an OpenAI chat route: 400 naming the format the route expects, no provider call', async () => {
    const before = openai().requests.length;
    await assert.rejects(client(PROVIDERS.openai.route).messages.create({ model: PROVIDERS.openai.model, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }), (e: unknown) => {
      assert.ok(e instanceof Anthropic.BadRequestError, String(e));
      assert.match(e.message, /OpenAI Chat Completions|llm\/v1\/chat/i);
      return true;
    });
    assert.equal(openai().requests.length, before, 'the provider was not called');
  });

  test('an Anthropic body with anthropic-version at an OpenAI route\'s own path: 400, no provider call', async () => {
    const before = openai().requests.length;
    const res = await fetch(stack.baseURL(PROVIDERS.openai.route), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify({ model: PROVIDERS.openai.model, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.match(text, /OpenAI Chat Completions|llm\/v1\/chat/i);
    assert.equal(openai().requests.length, before, 'the provider was not called');
  });
});

function stackMock(name: string): () => MockProvider {
  return () => stack.mocks.get(PROVIDERS[name].mock)!;
}
