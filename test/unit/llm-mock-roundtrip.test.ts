/**
 * Each driver against the strict mock providers (test/mocks): the request it builds must be one
 * the provider's documented API accepts (the mocks refuse unknown fields and out-of-range values),
 * and the answer and the stream the provider returns must translate. Loopback only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMockProvider, type MockProvider, type MockProviderName } from '../mocks/providers.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { validateClientRequest } from '../../src/llm/validate.ts';
import { createFrameDecoder } from '../../src/llm/stream/index.ts';
import type { LlmRouteType, ModelOptions, ProviderName } from '../../src/llm/types.ts';
import { assembledText, clientFrames, context } from '../conformance/support.ts';

interface RoundTrip {
  mock: MockProviderName;
  provider: ProviderName;
  route: LlmRouteType;
  model: string;
  /** The upstream path under the mock's URL. */
  path: string;
  options?: Partial<ModelOptions>;
  auth?: [string, string];
}

const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';
const ANSWER = '1 + 1 = 2.';
/** Kong 3.6's schema defaults, which every real config carries. */
const DEFAULTS = { max_tokens: 256, temperature: 1.0 };

const TRIPS: RoundTrip[] = [
  { mock: 'openai', provider: 'openai', route: CHAT, model: 'gpt-4o', path: '/v1/chat/completions', auth: ['Authorization', 'Bearer sk-test'] },
  { mock: 'openai', provider: 'openai', route: COMPLETIONS, model: 'gpt-3.5-turbo-instruct', path: '/v1/completions', auth: ['Authorization', 'Bearer sk-test'] },
  { mock: 'azure', provider: 'azure', route: CHAT, model: 'gpt-4o-mini', path: '/openai/deployments/gpt-4o-mini/chat/completions', options: { azure_api_version: '2024-10-21' }, auth: ['api-key', 'azure-test-key'] },
  { mock: 'azure', provider: 'azure', route: CHAT, model: 'gpt-4o-mini', path: '/openai/deployments/gpt-4o-mini/chat/completions', options: { azure_api_version: '2023-05-15' }, auth: ['api-key', 'azure-test-key'] },
  { mock: 'anthropic', provider: 'anthropic', route: CHAT, model: 'claude-sonnet-4-5', path: '/v1/messages', auth: ['apikey', 'sk-ant-test'] },
  { mock: 'anthropic', provider: 'anthropic', route: COMPLETIONS, model: 'claude-haiku-4-5', path: '/v1/messages', auth: ['Authorization', 'Bearer sk-ant-test'] },
  { mock: 'cohere', provider: 'cohere', route: CHAT, model: 'command-r-plus', path: '/v1/chat', auth: ['Authorization', 'Bearer co-test'] },
  { mock: 'cohere', provider: 'cohere', route: COMPLETIONS, model: 'command', path: '/v1/generate', auth: ['Authorization', 'Bearer co-test'] },
  { mock: 'ollama', provider: 'llama2', route: CHAT, model: 'llama2', path: '/api/chat', options: { llama2_format: 'ollama' } },
  { mock: 'ollama', provider: 'mistral', route: COMPLETIONS, model: 'mistral', path: '/api/generate', options: { mistral_format: 'ollama' } },
  { mock: 'llama2-raw', provider: 'llama2', route: CHAT, model: 'llama2', path: '/generate', options: { llama2_format: 'raw' } },
  { mock: 'llama2-raw', provider: 'llama2', route: COMPLETIONS, model: 'llama2', path: '/generate', options: { llama2_format: 'raw' } },
  { mock: 'openai-compatible', provider: 'llama2', route: CHAT, model: 'llama2', path: '/v1/chat/completions', options: { llama2_format: 'openai' } },
  { mock: 'openai-compatible', provider: 'mistral', route: CHAT, model: 'mistral', path: '/v1/chat/completions', options: { mistral_format: 'openai' } },
];

const CLIENT = {
  [CHAT]: { messages: [{ role: 'system', content: 'You are a mathematician.' }, { role: 'user', content: 'What is 1 + 1?' }] },
  [COMPLETIONS]: { prompt: 'What is 1 + 1?' },
};

const mocks = new Map<MockProviderName, MockProvider>();

before(async () => {
  for (const name of new Set(TRIPS.map((t) => t.mock))) mocks.set(name, await startMockProvider(name, { models: '*' }));
});
after(async () => {
  for (const mock of mocks.values()) await mock.close();
});

async function send(trip: RoundTrip, stream: boolean, includeUsage: boolean) {
  const mock = mocks.get(trip.mock)!;
  const ctx = context({
    provider: trip.provider,
    routeType: trip.route,
    model: trip.model,
    stream,
    includeUsage,
    options: { ...DEFAULTS, ...trip.options, upstream_url: `${mock.url}${trip.path}` },
  });
  const driver = getDriver(trip.provider);
  const endpoint = driver.endpoint(ctx);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...endpoint.headers };
  if (trip.auth) {
    const [name, value] = driver.authHeader ? driver.authHeader(...trip.auth) : trip.auth;
    headers[name] = value;
  }
  const body = driver.buildRequest(validateClientRequest({ ...CLIENT[trip.route], stream, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }, trip.route), ctx);
  const response = await fetch(endpoint.url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { ctx, driver, response };
}

describe('drivers against the strict mock providers', () => {
  for (const trip of TRIPS) {
    const name = `${trip.provider}${trip.options?.llama2_format ?? trip.options?.mistral_format ? `/${trip.options?.llama2_format ?? trip.options?.mistral_format}` : ''} ${trip.route}${trip.options?.azure_api_version ? ` ${trip.options.azure_api_version}` : ''}`;

    it(`${name}: answer`, async () => {
      const { ctx, driver, response } = await send(trip, false, false);
      const text = await response.text();
      assert.equal(response.status, 200, text);
      const translated = driver.parseResponse(text, ctx);
      const answer = JSON.parse(translated.body);
      const content = trip.route === CHAT ? answer.choices[0].message.content : answer.choices[0].text;
      assert.equal(content, ANSWER);
      assert.equal(answer.object, trip.route === CHAT ? 'chat.completion' : 'text_completion');
      if (translated.usage) assert.equal(translated.usage.completion_tokens, 5);
    });

    for (const includeUsage of [false, true]) {
      it(`${name}: stream${includeUsage ? ' with usage' : ''}`, async () => {
        const { ctx, driver, response } = await send(trip, true, includeUsage);
        assert.equal(response.status, 200, await response.clone().text());
        const decoder = createFrameDecoder(driver.streamFraming(ctx));
        const translator = driver.createStreamTranslator(ctx);
        let output = '';
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) for (const event of decoder.push(chunk)) output += translator.push(event);
        for (const event of decoder.end()) output += translator.push(event);
        assert.equal(translator.done, true);
        output += translator.finish({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
        const frames = clientFrames(output);
        assert.equal(frames.at(-1), '[DONE]');
        assert.equal(assembledText(frames), ANSWER);
        const usageFrames = frames.filter((f) => typeof f === 'object' && (f as { usage?: unknown }).usage != null);
        assert.equal(usageFrames.length, includeUsage ? 1 : 0);
      });
    }
  }
});
