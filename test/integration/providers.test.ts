/**
 * The providers beyond Kong's guide, and the `llm/v1/embeddings` route type, through the real
 * gateway process: each configured with the Admin API as a user would, called with the OpenAI SDK
 * (answer and stream) against the strict mock providers, which check auth (AWS SigV4, Google
 * service-account tokens, keys), paths and fields as the real APIs do.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { testServiceAccount } from '../mocks/gemini.ts';
import OpenAI from 'openai';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, type MockProviderName, DEFAULT_TEXT } from '../mocks/providers.ts';
import { DEFAULT_BEDROCK_CREDENTIALS } from '../mocks/bedrock.ts';

let gw: Gateway;
const mocks = new Map<MockProviderName, MockProvider>();
const USER: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are a mathematician.' },
  { role: 'user', content: 'What is 1+1?' },
];

const SERVICE_ACCOUNT = testServiceAccount();
const BEDROCK_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const AWS_KEYS = { aws_access_key_id: DEFAULT_BEDROCK_CREDENTIALS.accessKeyId, aws_secret_access_key: DEFAULT_BEDROCK_CREDENTIALS.secretAccessKey };
const VERTEX = (model: string, method: string) => `/v1/projects/mock-project/locations/us-central1/publishers/google/models/${model}:${method}`;

function serviceAccountJson(mock: MockProvider): string {
  return SERVICE_ACCOUNT.keyFile(`${mock.url}/token`);
}

interface Case {
  name: string;
  mock: MockProviderName;
  /** The upstream path under the mock's URL. */
  path: string;
  route_type?: 'llm/v1/chat' | 'llm/v1/completions' | 'llm/v1/embeddings';
  provider: string;
  model: string;
  auth?: (mock: MockProvider) => Record<string, unknown>;
  options?: Record<string, unknown>;
}

const CHAT_CASES: Case[] = [
  { name: 'gemini-studio', mock: 'gemini', provider: 'gemini', model: 'gemini-2.5-flash', path: '/v1beta/models/gemini-2.5-flash:generateContent', auth: () => ({ header_name: 'x-goog-api-key', header_value: 'gemini-test' }) },
  {
    name: 'gemini-vertex',
    mock: 'gemini',
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    path: VERTEX('gemini-2.5-flash', 'generateContent'),
    auth: (mock) => ({ gcp_use_service_account: true, gcp_service_account_json: serviceAccountJson(mock) }),
  },
  { name: 'bedrock', mock: 'bedrock', provider: 'bedrock', model: BEDROCK_MODEL, path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, auth: () => AWS_KEYS, options: { bedrock: { aws_region: 'us-east-1' } } },
  { name: 'huggingface', mock: 'huggingface', provider: 'huggingface', model: 'meta-llama/Llama-3.1-8B-Instruct', path: '', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer hf_test' }) },
  { name: 'groq', mock: 'groq', provider: 'groq', model: 'llama-3.3-70b-versatile', path: '/openai/v1', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer gsk-test' }) },
  { name: 'vllm', mock: 'openai-compatible', provider: 'vllm', model: 'Qwen/Qwen2.5-7B-Instruct', path: '/v1' },
  { name: 'deepseek', mock: 'openai-compatible', provider: 'deepseek', model: 'deepseek-chat', path: '/v1/chat/completions', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer ds-test' }) },
  { name: 'openrouter', mock: 'openrouter', provider: 'openrouter', model: 'openai/gpt-4o-mini', path: '/api/v1/chat/completions', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer or-test' }) },
];

/** Embeddings for every provider the issue names (and Hugging Face's feature extraction), each with its vector size. */
const EMBEDDING_CASES: (Case & { dims: number })[] = [
  { name: 'emb-openai', mock: 'openai', provider: 'openai', model: 'text-embedding-3-small', path: '/v1/embeddings', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer sk-test' }), dims: 1536 },
  {
    name: 'emb-azure',
    mock: 'azure',
    provider: 'azure',
    model: 'text-embedding-3-small',
    path: '/openai/deployments/text-embedding-3-small/embeddings',
    auth: () => ({ header_name: 'api-key', header_value: 'azure-test-key' }),
    options: { azure_instance: 'mock', azure_deployment_id: 'text-embedding-3-small', azure_api_version: '2024-10-21' },
    dims: 1536,
  },
  { name: 'emb-cohere', mock: 'cohere', provider: 'cohere', model: 'embed-english-v3.0', path: '/v1/embed', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer co-test' }), dims: 1024 },
  { name: 'emb-mistral', mock: 'openai-compatible', provider: 'mistral', model: 'mistral-embed', path: '/v1/embeddings', auth: () => ({ header_name: 'Authorization', header_value: 'Bearer mi-test' }), options: { mistral_format: 'openai' }, dims: 1536 },
  { name: 'emb-ollama', mock: 'ollama', provider: 'llama2', model: 'llama2', path: '/api/embed', options: { llama2_format: 'ollama' }, dims: 768 },
  { name: 'emb-gemini', mock: 'gemini', provider: 'gemini', model: 'text-embedding-004', path: '/v1beta/models/text-embedding-004:batchEmbedContents', auth: () => ({ header_name: 'x-goog-api-key', header_value: 'gemini-test' }), dims: 768 },
  {
    name: 'emb-huggingface',
    mock: 'huggingface',
    provider: 'huggingface',
    model: 'sentence-transformers/all-MiniLM-L6-v2',
    path: '/hf-inference/models/sentence-transformers/all-MiniLM-L6-v2/pipeline/feature-extraction',
    auth: () => ({ header_name: 'Authorization', header_value: 'Bearer hf_test' }),
    dims: 384,
  },
];

function pluginConfig(c: Case): Record<string, unknown> {
  const mock = mocks.get(c.mock)!;
  return {
    route_type: c.route_type ?? 'llm/v1/chat',
    ...(c.auth ? { auth: c.auth(mock) } : {}),
    model: { provider: c.provider, name: c.model, options: { ...c.options, upstream_url: `${mock.url}${c.path}` } },
    logging: { log_statistics: true },
  };
}

async function addRoute(c: Case): Promise<void> {
  const r = await gw.adminRequest('POST', '/services/ai/routes', { name: c.name, paths: [`/${c.name}`] });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${c.name}/plugins`, { name: 'ai-proxy', config: pluginConfig(c) });
  assert.equal(p.status, 201, `${c.name}: ${p.text}`);
}

const client = (route: string) => new OpenAI({ baseURL: `${gw.proxy}/${route}`, apiKey: 'client-key-never-forwarded', maxRetries: 0 });
const last = (mock: MockProviderName) => mocks.get(mock)!.requests.at(-1)!;

before(async () => {
  mocks.set('gemini', await startMockProvider('gemini', { models: '*', serviceAccount: SERVICE_ACCOUNT.mockOption }));
  mocks.set('bedrock', await startMockProvider('bedrock', { models: '*' }));
  for (const name of ['huggingface', 'groq', 'openai-compatible', 'openrouter', 'openai', 'azure', 'cohere', 'ollama'] as const) mocks.set(name, await startMockProvider(name));
  gw = await Gateway.start({ workers: 1 });
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' })).status, 201);
  for (const c of [...CHAT_CASES, ...EMBEDDING_CASES.map((e) => ({ ...e, route_type: 'llm/v1/embeddings' as const }))]) await addRoute(c);
});

after(async () => {
  await gw?.close();
  await Promise.all([...mocks.values()].map((m) => m.close()));
});

describe('chat through the gateway, answer and stream', () => {
  for (const c of CHAT_CASES) {
    test(c.name, async () => {
      const sdk = client(c.name);
      const answer = await sdk.chat.completions.create({ model: c.model, messages: USER });
      assert.equal(answer.object, 'chat.completion');
      assert.equal(answer.choices[0].message.content?.trim(), DEFAULT_TEXT);
      assert.ok(answer.usage && answer.usage.total_tokens > 0, 'usage reported');
      const upstream = last(c.mock);
      assert.equal(upstream.status, 200);
      // the client's own key never reaches the provider
      assert.ok(!JSON.stringify(upstream.headers).includes('client-key-never-forwarded'));

      const stream = await sdk.chat.completions.create({ model: c.model, messages: USER, stream: true, stream_options: { include_usage: true } });
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined = null;
      for await (const chunk of stream) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text.trim(), DEFAULT_TEXT);
      assert.ok(usage && usage.completion_tokens > 0, 'the usage chunk came');
    });
  }

  test('bedrock requests are SigV4-signed by the gateway; a wrong secret is the provider\'s 403, passed through', async () => {
    const signed = mocks.get('bedrock')!.requests.filter((r) => r.path.includes('/converse'));
    assert.ok(signed.length >= 2);
    for (const r of signed) assert.match(String(r.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDMOCKEXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
    const bad = { ...CHAT_CASES.find((c) => c.name === 'bedrock')!, name: 'bedrock-bad-secret', auth: () => ({ ...AWS_KEYS, aws_secret_access_key: 'wrong-secret' }) };
    await addRoute(bad);
    const r = await gw.proxyRequest('POST', '/bedrock-bad-secret', { messages: USER });
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /signature/i);
    assert.ok(!gw.logs.includes('wrong-secret'), 'the secret is never logged');
  });

  test('gemini on Vertex gets a token minted from the service account', async () => {
    const gemini = mocks.get('gemini')!;
    assert.ok(gemini.requests.some((r) => r.path === '/token'), 'the token endpoint was called');
    const vertex = gemini.requests.filter((r) => r.path.startsWith('/v1/projects/'));
    assert.ok(vertex.length >= 2);
    for (const r of vertex) assert.match(String(r.headers.authorization), /^Bearer /);
  });

  test('a signer that cannot produce credentials is a clear 500, and no request goes out', async () => {
    const noKeys = { ...CHAT_CASES.find((c) => c.name === 'bedrock')!, name: 'bedrock-no-keys', auth: undefined };
    await addRoute(noKeys);
    const before = mocks.get('bedrock')!.requests.length;
    const r = await gw.proxyRequest('POST', '/bedrock-no-keys', { messages: USER }, {});
    // the gateway's own environment may hold AWS keys; this test only means something when it does not
    if (process.env.AWS_ACCESS_KEY_ID) return;
    assert.equal(r.status, 500, r.text);
    assert.match(r.json.error.message, /no AWS credentials/);
    assert.equal(mocks.get('bedrock')!.requests.length, before);
  });
});

describe('llm/v1/embeddings through the gateway', () => {
  for (const c of EMBEDDING_CASES) {
    test(`${c.provider}${c.options?.llama2_format ? `/${c.options.llama2_format}` : ''}: OpenAI's shape, floats and base64`, async () => {
      const sdk = client(c.name);
      const one = await sdk.embeddings.create({ model: c.model, input: 'The food was delicious.', encoding_format: 'float' });
      assert.equal(one.object, 'list');
      assert.equal(one.data.length, 1);
      assert.deepEqual([one.data[0].object, one.data[0].index, one.data[0].embedding.length], ['embedding', 0, c.dims]);
      assert.ok(one.usage.prompt_tokens > 0);
      assert.equal(one.usage.total_tokens, one.usage.prompt_tokens);

      // the SDK asks for base64 by default and decodes it: the vectors must survive the trip
      const many = await sdk.embeddings.create({ model: c.model, input: ['first text', 'second text', 'third'] });
      assert.equal(many.data.length, 3);
      many.data.forEach((d, i) => {
        assert.equal(d.index, i);
        assert.equal(d.embedding.length, c.dims);
        assert.ok(d.embedding.every((x) => Number.isFinite(x)));
      });
    });
  }

  test('a chat body on an embeddings route is Kong\'s 400; the provider is not called', async () => {
    const before = mocks.get('openai')!.requests.length;
    const r = await gw.proxyRequest('POST', '/emb-openai', { messages: USER });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.message, '[llm/v1/chat] message format is not compatible with [llm/v1/embeddings] route type');
    assert.equal(mocks.get('openai')!.requests.length, before);
  });

  test('a provider error keeps its status and JSON body', async () => {
    mocks.get('openai')!.nextResponse({ status: 429, body: { error: { message: 'Rate limit reached', type: 'requests' } } });
    const r = await gw.proxyRequest('POST', '/emb-openai', { input: 'x', model: 'text-embedding-3-small' });
    assert.equal(r.status, 429);
    assert.equal(r.json.error.message, 'Rate limit reached');
  });

  test('a provider without an embeddings API is refused when configured', async () => {
    const r = await gw.adminRequest('POST', '/plugins', {
      name: 'ai-proxy',
      config: { route_type: 'llm/v1/embeddings', model: { provider: 'anthropic', name: 'claude' }, auth: { header_name: 'x-api-key', header_value: 'k' } },
    });
    assert.equal(r.status, 400);
    assert.match(r.text, /anthropic does not support route_type llm\/v1\/embeddings/);
  });

  test('the unified endpoint: /v1/embeddings picks the target by model, next to chat', async () => {
    const openai = mocks.get('openai')!;
    const cohere = mocks.get('cohere')!;
    const r = await gw.adminRequest('POST', '/services/ai/routes', { name: 'unified-emb', paths: ['/unified-emb/v1'] });
    assert.equal(r.status, 201, r.text);
    const target = (c: Case) => ({ ...pluginConfig(c), route_type: 'llm/v1/embeddings' });
    const p = await gw.adminRequest('POST', '/routes/unified-emb/plugins', {
      name: 'ai-proxy-advanced',
      config: {
        targets: [
          target(EMBEDDING_CASES.find((c) => c.name === 'emb-openai')!),
          target(EMBEDDING_CASES.find((c) => c.name === 'emb-cohere')!),
          { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' }, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
        ],
      },
    });
    assert.equal(p.status, 201, p.text);
    const sdk = client('unified-emb/v1');
    for (const [model, mock, dims] of [['text-embedding-3-small', openai, 1536], ['embed-english-v3.0', cohere, 1024]] as const) {
      const before = mock.requests.length;
      const e = await sdk.embeddings.create({ model, input: 'hello' });
      assert.equal(e.data[0].embedding.length, dims);
      assert.equal(mock.requests.length, before + 1, `${model} went to its provider`);
    }
    const chat = await sdk.chat.completions.create({ model: 'gpt-4o', messages: USER });
    assert.equal(chat.choices[0].message.content?.trim(), DEFAULT_TEXT);
    const models = await sdk.models.list();
    assert.deepEqual(models.data.map((m) => m.id).sort(), ['embed-english-v3.0', 'gpt-4o', 'text-embedding-3-small']);
  });
});
