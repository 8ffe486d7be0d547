/**
 * Each driver against the strict mock providers (test/mocks): the request it builds must be one
 * the provider's documented API accepts (the mocks refuse unknown fields and out-of-range values),
 * and the answer and the stream the provider returns must translate. Loopback only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testServiceAccount } from '../mocks/gemini.ts';
import { startMockProvider, type MockOptions, type MockProvider, type MockProviderName } from '../mocks/providers.ts';
import { DEFAULT_BEDROCK_CREDENTIALS } from '../mocks/bedrock.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { completeEmbeddingsUsage, validateEmbeddingsRequest } from '../../src/llm/embeddings.ts';
import { createFrameDecoder } from '../../src/llm/stream/index.ts';
import { clearGcpTokenCache } from '../../src/llm/auth/gcp.ts';
import type { AuthConfig, EmbeddingsContext, LlmRouteType, ModelOptions, ProviderDriver, ProviderName, SigningContext } from '../../src/llm/types.ts';
import { assembledText, clientFrames, context, NO_OPTIONS } from '../conformance/support.ts';

const mocks = new Map<MockProviderName, MockProvider>();

interface RoundTrip {
  mock: MockProviderName;
  provider: ProviderName;
  route: LlmRouteType;
  model: string;
  /** The upstream path under the mock's URL. */
  path: string;
  options?: Partial<ModelOptions>;
  auth?: [string, string];
  /** Credentials for the driver's request signing (AWS keys, a Google service account). */
  signing?: Partial<AuthConfig>;
  /** A name for the trip beyond provider and route. */
  label?: string;
}

const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';
const ANSWER = '1 + 1 = 2.';
/** Kong 3.6's schema defaults, which every real config carries. */
const DEFAULTS = { max_tokens: 256, temperature: 1.0 };

/** A service account for Vertex AI, its public key given to the gemini mock's token endpoint. */
const SERVICE_ACCOUNT = testServiceAccount();
const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const VERTEX_PATH = '/v1/projects/mock-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent';
const awsKeys = { aws_access_key_id: DEFAULT_BEDROCK_CREDENTIALS.accessKeyId, aws_secret_access_key: DEFAULT_BEDROCK_CREDENTIALS.secretAccessKey };

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
  // Gemini: AI Studio with the key as header or query parameter, Vertex AI with a token or a service account.
  { mock: 'gemini', provider: 'gemini', route: CHAT, model: 'gemini-2.5-flash', path: '/v1beta/models/gemini-2.5-flash:generateContent', auth: ['x-goog-api-key', 'gemini-test'], label: 'AI Studio' },
  { mock: 'gemini', provider: 'gemini', route: COMPLETIONS, model: 'gemini-2.0-flash', path: '/v1beta/models/gemini-2.0-flash:generateContent', auth: ['x-goog-api-key', 'gemini-test'], label: 'AI Studio' },
  { mock: 'gemini', provider: 'gemini', route: CHAT, model: 'gemini-2.5-flash', path: VERTEX_PATH, auth: ['Authorization', 'Bearer ya29.vertex-test'], label: 'Vertex, token' },
  { mock: 'gemini', provider: 'gemini', route: CHAT, model: 'gemini-2.5-flash', path: VERTEX_PATH, signing: { gcp_use_service_account: true }, label: 'Vertex, service account' },
  // Bedrock: SigV4 with static keys, with a session token, or a Bedrock API key.
  { mock: 'bedrock', provider: 'bedrock', route: CHAT, model: BEDROCK_MODEL, path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, options: { bedrock: { aws_region: 'us-east-1' } }, signing: awsKeys, label: 'SigV4' },
  { mock: 'bedrock', provider: 'bedrock', route: COMPLETIONS, model: BEDROCK_MODEL, path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, options: { bedrock: { aws_region: 'us-east-1' } }, signing: awsKeys, label: 'SigV4' },
  // Hugging Face: the router's chat completions (TGI flavour) and the text-generation task.
  { mock: 'huggingface', provider: 'huggingface', route: CHAT, model: 'meta-llama/Llama-3.1-8B-Instruct', path: '', options: { huggingface: { use_cache: false, wait_for_model: true } }, auth: ['Authorization', 'Bearer hf_test'] },
  { mock: 'huggingface', provider: 'huggingface', route: COMPLETIONS, model: 'mistralai/Mistral-7B-Instruct-v0.2', path: '/hf-inference/models/mistralai/Mistral-7B-Instruct-v0.2', options: { huggingface: { use_cache: false } }, auth: ['Authorization', 'Bearer hf_test'] },
  // The OpenAI-compatible family.
  { mock: 'groq', provider: 'groq', route: CHAT, model: 'llama-3.3-70b-versatile', path: '/openai/v1', auth: ['Authorization', 'Bearer gsk-test'] },
  { mock: 'groq', provider: 'groq', route: COMPLETIONS, model: 'llama-3.3-70b-versatile', path: '/openai/v1', auth: ['Authorization', 'Bearer gsk-test'], label: 'bridged to chat' },
  { mock: 'openai-compatible', provider: 'vllm', route: CHAT, model: 'Qwen/Qwen2.5-7B-Instruct', path: '/v1' },
  { mock: 'openai-compatible', provider: 'vllm', route: COMPLETIONS, model: 'Qwen/Qwen2.5-7B-Instruct', path: '' },
  { mock: 'openai-compatible', provider: 'deepseek', route: CHAT, model: 'deepseek-chat', path: '/v1/chat/completions' },
  { mock: 'openai-compatible', provider: 'together', route: COMPLETIONS, model: 'meta-llama/Llama-3-8b-hf', path: '/v1' },
  { mock: 'openai-compatible', provider: 'llamacpp', route: CHAT, model: 'local', path: '/v1' },
  { mock: 'openai-compatible', provider: 'lmstudio', route: CHAT, model: 'local', path: '/v1' },
  { mock: 'openai-compatible', provider: 'fireworks', route: CHAT, model: 'accounts/fireworks/models/llama-v3p1-8b-instruct', path: '/v1' },
  { mock: 'openai-compatible', provider: 'openrouter', route: CHAT, model: 'openai/gpt-4o-mini', path: '/v1/chat/completions' },
];

const CLIENT = {
  [CHAT]: { messages: [{ role: 'system', content: 'You are a mathematician.' }, { role: 'user', content: 'What is 1 + 1?', name: 'pupil' }], logprobs: false },
  [COMPLETIONS]: { prompt: 'What is 1 + 1?' },
};

const MOCK_OPTIONS: Partial<Record<MockProviderName, MockOptions>> = {
  gemini: { models: '*', serviceAccount: SERVICE_ACCOUNT.mockOption },
  bedrock: { models: '*' },
  huggingface: { loading: ['meta-llama/Llama-3.1-8B-Instruct'] },
};

function serviceAccountJson(mock: MockProvider): string {
  return SERVICE_ACCOUNT.keyFile(`${mock.url}/token`);
}

function authFor(trip: { signing?: Partial<AuthConfig> }, mock: MockProvider): AuthConfig | null {
  if (!trip.signing) return null;
  const auth: AuthConfig = { header_name: null, header_value: null, param_name: null, param_value: null, param_location: null, allow_override: false, ...trip.signing };
  if (auth.gcp_use_service_account) auth.gcp_service_account_json = serviceAccountJson(mock);
  return auth;
}

/** The request as the plugin sends it: the driver's URL, body and headers, the configured key, then the driver's signature. */
async function exchange(driver: ProviderDriver, url: string, providerHeaders: Record<string, string>, body: unknown, ctx: SigningContext, auth: [string, string] | undefined, signing: AuthConfig | null): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...providerHeaders };
  if (auth) {
    const [name, value] = driver.authHeader ? driver.authHeader(...auth) : auth;
    headers[name.toLowerCase()] = value;
  }
  const text = JSON.stringify(body);
  if (driver.signRequest) Object.assign(headers, await driver.signRequest({ method: 'POST', url, headers, body: text }, ctx, signing));
  return fetch(url, { method: 'POST', headers, body: text });
}

async function send(trip: RoundTrip, stream: boolean, includeUsage: boolean) {
  const mock = mocks.get(trip.mock)!;
  const ctx = context({
    provider: trip.provider,
    routeType: trip.route,
    model: trip.model,
    stream,
    includeUsage,
    options: { ...DEFAULTS, ...trip.options, upstream_url: `${mock.url}${trip.path}` },
    // the client request carries fields some providers cannot take (a participant name, logprobs): named drops here
    policy: 'drop',
  });
  const driver = getDriver(trip.provider);
  const endpoint = driver.endpoint(ctx);
  const body = providerBody(driver, parseOpenAIRequest({ ...CLIENT[trip.route], stream, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }, trip.route), ctx);
  const response = await exchange(driver, endpoint.url, endpoint.headers, body, ctx, trip.auth, authFor(trip, mock));
  return { ctx, driver, response };
}

function tripName(trip: RoundTrip): string {
  const format = trip.options?.llama2_format ?? trip.options?.mistral_format;
  return `${trip.provider}${format ? `/${format}` : ''} ${trip.route}${trip.options?.azure_api_version ? ` ${trip.options.azure_api_version}` : ''}${trip.label ? ` (${trip.label})` : ''}`;
}

describe('drivers against the strict mock providers', () => {
  for (const trip of TRIPS) {
    const name = tripName(trip);

    it(`${name}: answer`, async () => {
      const { ctx, driver, response } = await send(trip, false, false);
      const text = await response.text();
      assert.equal(response.status, 200, text);
      const translated = driver.parseResponse(text, ctx);
      const answer = JSON.parse(translated.body);
      const content = trip.route === CHAT ? answer.choices[0].message.content : answer.choices[0].text;
      assert.equal(content, ANSWER);
      assert.equal(answer.object, trip.route === CHAT ? 'chat.completion' : 'text_completion');
      assert.equal(answer.choices[0].finish_reason, 'stop');
      // completion tokens include reasoning (a thinking model's thoughts): the answer's own are 5
      if (translated.usage) assert.equal(translated.usage.completion_tokens - (translated.usage.completion_tokens_details?.reasoning_tokens ?? 0), 5);
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
        const finishes = frames.filter((f) => typeof f === 'object' && (f as { choices: { finish_reason: unknown }[] }).choices[0]?.finish_reason != null);
        assert.deepEqual(finishes.map((f) => (f as { choices: { finish_reason: unknown }[] }).choices[0].finish_reason), ['stop']);
        const usageFrames = frames.filter((f) => typeof f === 'object' && (f as { usage?: unknown }).usage != null);
        assert.equal(usageFrames.length, includeUsage ? 1 : 0);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Embeddings (`llm/v1/embeddings`)

interface EmbeddingTrip {
  mock: MockProviderName;
  provider: ProviderName;
  model: string;
  path: string;
  options?: Partial<ModelOptions>;
  auth?: [string, string];
  signing?: Partial<AuthConfig>;
  /** The vector size the mock answers with. */
  dims: number;
  /** Whether the provider reports usage. */
  usage: boolean;
  label?: string;
}

const EMBEDDING_TRIPS: EmbeddingTrip[] = [
  { mock: 'openai', provider: 'openai', model: 'text-embedding-3-small', path: '/v1/embeddings', auth: ['Authorization', 'Bearer sk-test'], dims: 1536, usage: true },
  { mock: 'azure', provider: 'azure', model: 'text-embedding-3-small', path: '/openai/deployments/text-embedding-3-small/embeddings', options: { azure_api_version: '2024-10-21' }, auth: ['api-key', 'azure-test-key'], dims: 1536, usage: true },
  { mock: 'cohere', provider: 'cohere', model: 'embed-english-v3.0', path: '/v1/embed', auth: ['Authorization', 'Bearer co-test'], dims: 1024, usage: true },
  { mock: 'openai-compatible', provider: 'mistral', model: 'mistral-embed', path: '/v1/embeddings', options: { mistral_format: 'openai' }, dims: 1536, usage: true },
  { mock: 'ollama', provider: 'mistral', model: 'mistral', path: '/api/embed', options: { mistral_format: 'ollama' }, dims: 768, usage: true },
  { mock: 'ollama', provider: 'llama2', model: 'llama2', path: '/api/embed', options: { llama2_format: 'ollama' }, dims: 768, usage: true },
  { mock: 'openai-compatible', provider: 'llama2', model: 'nomic-embed-text', path: '/v1/embeddings', options: { llama2_format: 'openai' }, dims: 1536, usage: true },
  { mock: 'gemini', provider: 'gemini', model: 'text-embedding-004', path: '/v1beta/models/text-embedding-004:batchEmbedContents', auth: ['x-goog-api-key', 'gemini-test'], dims: 768, usage: false, label: 'AI Studio' },
  { mock: 'gemini', provider: 'gemini', model: 'text-embedding-005', path: '/v1/projects/mock-project/locations/us-central1/publishers/google/models/text-embedding-005:predict', signing: { gcp_use_service_account: true }, dims: 768, usage: true, label: 'Vertex' },
  { mock: 'huggingface', provider: 'huggingface', model: 'sentence-transformers/all-MiniLM-L6-v2', path: '/hf-inference/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction', auth: ['Authorization', 'Bearer hf_test'], dims: 384, usage: false },
  { mock: 'openai-compatible', provider: 'vllm', model: 'BAAI/bge-m3', path: '/v1', dims: 1536, usage: true },
  { mock: 'openai-compatible', provider: 'together', model: 'BAAI/bge-base-en-v1.5', path: '/v1', dims: 1536, usage: true },
];

async function embed(trip: EmbeddingTrip, body: Record<string, unknown>) {
  const mock = mocks.get(trip.mock)!;
  const ctx: EmbeddingsContext = { provider: trip.provider, routeType: 'llm/v1/embeddings', model: trip.model, options: { ...NO_OPTIONS, ...trip.options, upstream_url: `${mock.url}${trip.path}` }, now: 1_700_000_000 };
  const driver = getDriver(trip.provider);
  const embeddings = driver.embeddings!;
  const request = validateEmbeddingsRequest(body);
  const endpoint = embeddings.endpoint(ctx);
  const response = await exchange(driver, endpoint.url, endpoint.headers, embeddings.buildRequest(request, ctx), ctx, trip.auth, authFor(trip, mock));
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return { request, translated: embeddings.parseResponse(text, request, ctx) };
}

function floats(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

describe('embeddings drivers against the strict mock providers', () => {
  for (const trip of EMBEDDING_TRIPS) {
    const name = `${trip.provider}${trip.options?.llama2_format ?? trip.options?.mistral_format ? `/${trip.options?.llama2_format ?? trip.options?.mistral_format}` : ''}${trip.label ? ` (${trip.label})` : ''}`;

    it(`${name}: one string and a list of strings, as floats`, async () => {
      for (const input of ['The food was delicious.', ['first text', 'second text', 'third']]) {
        const { request, translated } = await embed(trip, { input, model: trip.model });
        const answer = JSON.parse(translated.body);
        assert.equal(answer.object, 'list');
        assert.equal(answer.data.length, typeof input === 'string' ? 1 : input.length);
        answer.data.forEach((item: { object: string; index: number; embedding: number[] }, i: number) => {
          assert.deepEqual([item.object, item.index, item.embedding.length], ['embedding', i, trip.dims]);
          assert.ok(item.embedding.every((x) => typeof x === 'number'));
        });
        assert.equal(translated.usage !== null, trip.usage);
        const complete = completeEmbeddingsUsage(translated, request);
        assert.equal(complete.estimated, !trip.usage);
        assert.ok(complete.usage.prompt_tokens > 0);
        assert.deepEqual(JSON.parse(complete.body).usage, { prompt_tokens: complete.usage.prompt_tokens, total_tokens: complete.usage.prompt_tokens });
      }
    });

    it(`${name}: base64 when asked`, async () => {
      const plain = JSON.parse((await embed(trip, { input: ['same text'] })).translated.body).data[0].embedding as number[];
      const encoded = JSON.parse((await embed(trip, { input: ['same text'], encoding_format: 'base64' })).translated.body).data[0].embedding;
      assert.equal(typeof encoded, 'string');
      const decoded = floats(encoded);
      assert.equal(decoded.length, plain.length);
      decoded.forEach((x, i) => assert.ok(Math.abs(x - plain[i]) < 1e-6, `component ${i}`));
    });
  }

  it('token arrays reach providers that take them and are refused by the others', async () => {
    const openai = EMBEDDING_TRIPS[0];
    const { translated } = await embed(openai, { input: [[1, 2, 3], [4, 5]] });
    assert.equal(JSON.parse(translated.body).data.length, 2);
    for (const provider of ['cohere', 'gemini', 'huggingface'] as const) {
      const trip = EMBEDDING_TRIPS.find((t) => t.provider === provider)!;
      await assert.rejects(() => embed(trip, { input: [[1, 2, 3]] }), /token arrays are not supported/);
    }
  });

  it('dimensions reach the provider under its own name', async () => {
    const mistral = EMBEDDING_TRIPS.find((t) => t.provider === 'mistral' && t.options?.mistral_format === 'openai')!;
    const mock = mocks.get(mistral.mock)!;
    await embed(mistral, { input: 'x', dimensions: 256 });
    assert.equal((mock.requests.at(-1)!.json as { output_dimension?: number }).output_dimension, 256);
    const gemini = EMBEDDING_TRIPS.find((t) => t.provider === 'gemini')!;
    const { translated } = await embed(gemini, { input: 'x', dimensions: 128 });
    assert.equal(JSON.parse(translated.body).data[0].embedding.length, 128);
  });
});


before(async () => {
  for (const name of new Set([...TRIPS.map((t) => t.mock), ...EMBEDDING_TRIPS.map((t) => t.mock)])) mocks.set(name, await startMockProvider(name, MOCK_OPTIONS[name] ?? { models: '*' }));
});
after(async () => {
  for (const mock of mocks.values()) await mock.close();
  clearGcpTokenCache();
});

