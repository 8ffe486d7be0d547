/**
 * The real gateway in front of the strict mock providers, one `ai-proxy` route per provider, for
 * the client-library tests (test/integration/clients-*.test.ts) and the compatibility matrix
 * (test/compat/matrix.ts). Routes are configured through the Admin API as a user would; clients
 * point their `baseURL` at `stack.baseURL(route)`.
 */
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, type MockProviderName, type RecordedRequest } from '../mocks/providers.ts';
import { DEFAULT_BEDROCK_CREDENTIALS } from '../mocks/bedrock.ts';

/** What the client sends as its key: never forwarded (the gateway holds the provider's). */
export const CLIENT_KEY = 'client-key-never-forwarded';

const AWS_KEYS = { aws_access_key_id: DEFAULT_BEDROCK_CREDENTIALS.accessKeyId, aws_secret_access_key: DEFAULT_BEDROCK_CREDENTIALS.secretAccessKey };

/** One provider behind one route: which mock, the upstream path under it, the plugin's auth and options. */
export interface ProviderSpec {
  /** Route name and path (`/<route>`). */
  route: string;
  /** `config.model.provider`. */
  provider: string;
  mock: MockProviderName;
  model: string;
  /** Upstream path under the mock's URL (`model.options.upstream_url`). */
  path: string;
  /** Route type (default llm/v1/chat). */
  routeType?: 'llm/v1/chat' | 'llm/v1/embeddings' | 'llm/v1/responses';
  /** `config.llm_format` of an `ai-proxy` route (default openai); `anthropic` makes it speak Anthropic Messages. */
  llmFormat?: 'openai' | 'anthropic';
  auth?: Record<string, unknown>;
  options?: Record<string, unknown>;
  /** The path the chat request of a stream goes to, when it differs (Gemini, Bedrock). */
  streamPath?: string;
}

const BEDROCK_MODEL = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

/** The chat routes of the four providers the issue names, and the rest the matrix covers. */
export const PROVIDERS: Record<string, ProviderSpec> = {
  openai: { route: 'openai', provider: 'openai', mock: 'openai', model: 'gpt-4o', path: '/v1/chat/completions', auth: { header_name: 'Authorization', header_value: 'Bearer sk-test' } },
  anthropic: { route: 'anthropic', provider: 'anthropic', mock: 'anthropic', model: 'claude-sonnet-4-5', path: '/v1/messages', auth: { header_name: 'x-api-key', header_value: 'sk-ant-test' } },
  gemini: {
    route: 'gemini',
    provider: 'gemini',
    mock: 'gemini',
    model: 'gemini-2.5-flash',
    path: '/v1beta/models/gemini-2.5-flash:generateContent',
    auth: { header_name: 'x-goog-api-key', header_value: 'gemini-test' },
  },
  bedrock: {
    route: 'bedrock',
    provider: 'bedrock',
    mock: 'bedrock',
    model: BEDROCK_MODEL,
    path: `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`,
    auth: AWS_KEYS,
    options: { bedrock: { aws_region: 'us-east-1' } },
  },
  azure: {
    route: 'azure',
    provider: 'azure',
    mock: 'azure',
    model: 'gpt-5-mini',
    path: '/openai/deployments/gpt-5-mini/chat/completions',
    auth: { header_name: 'api-key', header_value: 'azure-test-key' },
    options: { azure_instance: 'mock', azure_deployment_id: 'gpt-5-mini', azure_api_version: '2024-10-21' },
  },
  cohere: { route: 'cohere', provider: 'cohere', mock: 'cohere', model: 'command-r', path: '/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer co-test' } },
  mistral: {
    route: 'mistral',
    provider: 'mistral',
    mock: 'openai-compatible',
    model: 'mistral-large-latest',
    path: '/v1/chat/completions',
    auth: { header_name: 'Authorization', header_value: 'Bearer mi-test' },
    options: { mistral_format: 'openai' },
  },
  ollama: { route: 'ollama', provider: 'llama2', mock: 'ollama', model: 'llama3.1', path: '/api/chat', options: { llama2_format: 'ollama' } },
  huggingface: { route: 'huggingface', provider: 'huggingface', mock: 'huggingface', model: 'meta-llama/Llama-3.1-8B-Instruct', path: '', auth: { header_name: 'Authorization', header_value: 'Bearer hf_test' } },
  groq: { route: 'groq', provider: 'groq', mock: 'groq', model: 'llama-3.3-70b-versatile', path: '/openai/v1', auth: { header_name: 'Authorization', header_value: 'Bearer gsk-test' } },
  vllm: { route: 'vllm', provider: 'vllm', mock: 'openai-compatible', model: 'Qwen/Qwen3-8B', path: '/v1' },
};

/** The four providers the client tests of issue 18 go through. */
export const CLIENT_PROVIDERS = ['openai', 'anthropic', 'gemini', 'bedrock'] as const;

/**
 * A provider's OpenAI Responses route (`route_type: llm/v1/responses`) at `/<name>-responses`.
 * The upstream is the chat spec's: Kong's `upstream_url` replaces the whole path, and for OpenAI
 * the gateway sends a Responses call to the configured path with `/chat/completions` replaced by
 * `/responses`, so OpenAI's stays `…/v1/chat/completions`.
 */
export function responsesSpec(name: string): ProviderSpec {
  return { ...PROVIDERS[name], route: `${name}-responses`, routeType: 'llm/v1/responses' };
}

/** A provider's Anthropic Messages route (Kong's Claude Code setup: `llm_format: anthropic` on an `llm/v1/chat` route) at `/<name>-messages`. */
export function messagesSpec(name: string): ProviderSpec {
  return { ...PROVIDERS[name], route: `${name}-messages`, llmFormat: 'anthropic' };
}

export const RESPONSES_ROUTES: Record<string, ProviderSpec> = Object.fromEntries(CLIENT_PROVIDERS.map((p) => [p, responsesSpec(p)]));
export const MESSAGES_ROUTES: Record<string, ProviderSpec> = Object.fromEntries(CLIENT_PROVIDERS.map((p) => [p, messagesSpec(p)]));

/** Mock options per mock kind: any model name where the mock has a list. */
const MOCK_OPTIONS: Partial<Record<MockProviderName, Record<string, unknown>>> = {
  azure: { deployments: { 'gpt-5-mini': 'gpt-5-mini', 'gpt-4o-mini': 'gpt-4o-mini', 'text-embedding-3-small': 'text-embedding-3-small' } },
  gemini: { models: '*' },
  bedrock: { models: '*' },
  anthropic: { models: '*' },
  ollama: { models: '*' },
};

export class Stack {
  readonly gw: Gateway;
  readonly mocks: Map<MockProviderName, MockProvider>;
  readonly specs = new Map<string, ProviderSpec>();

  private constructor(gw: Gateway, mocks: Map<MockProviderName, MockProvider>) {
    this.gw = gw;
    this.mocks = mocks;
  }

  /** Starts the mocks the specs need and the gateway (one worker), and creates the `ai` service. */
  static async start(specs: ProviderSpec[] = []): Promise<Stack> {
    const mocks = new Map<MockProviderName, MockProvider>();
    for (const s of specs) if (!mocks.has(s.mock)) mocks.set(s.mock, await startMockProvider(s.mock, MOCK_OPTIONS[s.mock] ?? {}));
    const gw = await Gateway.start({ workers: 1 });
    const stack = new Stack(gw, mocks);
    const svc = await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
    assert.equal(svc.status, 201, svc.text);
    for (const s of specs) await stack.addRoute(s);
    return stack;
  }

  async mockFor(name: MockProviderName): Promise<MockProvider> {
    let m = this.mocks.get(name);
    if (!m) {
      m = await startMockProvider(name, MOCK_OPTIONS[name] ?? {});
      this.mocks.set(name, m);
    }
    return m;
  }

  /** The plugin configuration of a spec (an `ai-proxy` config, or one `ai-proxy-advanced` target). */
  pluginConfig(s: ProviderSpec, extraOptions: Record<string, unknown> = {}): Record<string, unknown> {
    const mock = this.mocks.get(s.mock);
    assert.ok(mock, `mock ${s.mock} is started`);
    return {
      route_type: s.routeType ?? 'llm/v1/chat',
      ...(s.auth ? { auth: s.auth } : {}),
      model: { provider: s.provider, name: s.model, options: { ...s.options, ...extraOptions, upstream_url: `${mock.url}${s.path}` } },
      logging: { log_statistics: true },
    };
  }

  /** An `ai-proxy` route for the spec; `extraOptions` go into `model.options` (e.g. `unsupported_params`). Returns the plugin's answer. */
  async addRoute(s: ProviderSpec, extraOptions: Record<string, unknown> = {}): Promise<{ status: number; text: string }> {
    await this.mockFor(s.mock);
    const r = await this.gw.adminRequest('POST', '/services/ai/routes', { name: s.route, paths: [`/${s.route}`] });
    assert.equal(r.status, 201, r.text);
    const config = { ...this.pluginConfig(s, extraOptions), ...(s.llmFormat ? { llm_format: s.llmFormat } : {}) };
    const p = await this.gw.adminRequest('POST', `/routes/${s.route}/plugins`, { name: 'ai-proxy', config });
    if (p.status === 201) this.specs.set(s.route, s);
    return { status: p.status, text: p.text };
  }

  /**
   * An `ai-proxy-advanced` route over several specs; `targetFields` go into every target (e.g.
   * `alias`), `configFields` into the plugin's config (e.g. `llm_format`). Clients reach it as the
   * unified endpoint: `stack.baseURL(route)` + `/chat/completions`, `/responses`, `/v1/messages` …
   */
  async addBalancedRoute(route: string, specs: ProviderSpec[], balancer: Record<string, unknown>, targetFields: Record<string, unknown> = {}, configFields: Record<string, unknown> = {}): Promise<void> {
    for (const s of specs) await this.mockFor(s.mock);
    const r = await this.gw.adminRequest('POST', '/services/ai/routes', { name: route, paths: [`/${route}`] });
    assert.equal(r.status, 201, r.text);
    const targets = specs.map((s) => ({ ...this.pluginConfig(s), weight: 100, ...targetFields }));
    const p = await this.gw.adminRequest('POST', `/routes/${route}/plugins`, { name: 'ai-proxy-advanced', config: { ...configFields, balancer, targets } });
    assert.equal(p.status, 201, `${route}: ${p.text}`);
  }

  /**
   * `key-auth` on a route with one consumer and its key, read from `keyNames` (Claude Code sends
   * `ANTHROPIC_API_KEY` as `x-api-key`, `ANTHROPIC_AUTH_TOKEN` as `Authorization: Bearer <token>`).
   */
  async addKeyAuth(route: string, consumer: string, key: string, keyNames: string[]): Promise<void> {
    const c = await this.gw.adminRequest('POST', '/consumers', { username: consumer });
    assert.equal(c.status, 201, c.text);
    const k = await this.gw.adminRequest('POST', `/consumers/${consumer}/key-auth`, { key });
    assert.equal(k.status, 201, k.text);
    const p = await this.gw.adminRequest('POST', `/routes/${route}/plugins`, { name: 'key-auth', config: { key_names: keyNames } });
    assert.equal(p.status, 201, p.text);
  }

  baseURL(route: string): string {
    return `${this.gw.proxy}/${route}`;
  }

  /** The OpenAI SDK pointed at a route. */
  openai(route: string): OpenAI {
    return new OpenAI({ baseURL: this.baseURL(route), apiKey: CLIENT_KEY, maxRetries: 0 });
  }

  /** The mock behind a route. */
  mock(route: string): MockProvider {
    const s = this.specs.get(route) ?? PROVIDERS[route];
    assert.ok(s, `route ${route}`);
    return this.mocks.get(s.mock)!;
  }

  /** Requests the route's mock received after `since` (a count of requests, from `mark`). */
  since(route: string, since: number): RecordedRequest[] {
    return this.mock(route).requests.slice(since);
  }

  mark(route: string): number {
    return this.mock(route).requests.length;
  }

  async close(): Promise<void> {
    await this.gw?.close();
    await Promise.all([...this.mocks.values()].map((m) => m.close()));
  }
}

/** The OpenAI SDK's streamed tool calls, assembled as the SDK's own helpers would. */
export interface AssembledCall {
  id: string;
  name: string;
  arguments: string;
}

export function assembleToolCalls(chunks: OpenAI.ChatCompletionChunk[]): AssembledCall[] {
  const calls: AssembledCall[] = [];
  for (const c of chunks) {
    for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
      const at = (calls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) at.id = tc.id;
      if (tc.function?.name) at.name += tc.function.name;
      if (tc.function?.arguments) at.arguments += tc.function.arguments;
    }
  }
  return calls;
}

/** The provider-neutral id shape (docs/compatibility.md; src/exchange/types.ts TOOL_CALL_ID). */
export const NEUTRAL_ID = /^[A-Za-z0-9_-]{1,64}$/;
