/**
 * Mock LLM providers for integration tests and benchmarks: local HTTP servers on loopback that
 * behave like the real provider APIs (paths, auth, validation, response and stream shapes, error
 * bodies), plus fault modes (see modes.ts) and request recording (see server.ts).
 *
 *   const mock = await startMockProvider('anthropic', { key: 'sk-ant-test' });
 *   // ... point the gateway at mock.url ...
 *   mock.requests[0].json; mock.nextResponse('5xx-json:529'); await mock.close();
 */
import { startMockServer } from './server.ts';
import type { CoreOptions, MockServer, ProviderImpl } from './server.ts';
import { openaiCompatibleProvider, openaiProvider } from './openai.ts';
import type { OpenAIOptions } from './openai.ts';
import { azureProvider } from './azure.ts';
import type { AzureOptions } from './azure.ts';
import { anthropicProvider } from './anthropic.ts';
import type { AnthropicOptions } from './anthropic.ts';
import { cohereProvider } from './cohere.ts';
import type { CohereOptions } from './cohere.ts';
import { ollamaProvider } from './ollama.ts';
import type { OllamaOptions } from './ollama.ts';
import { tgiProvider } from './tgi.ts';
import type { TgiOptions } from './tgi.ts';
import { geminiProvider } from './gemini.ts';
import type { GeminiOptions } from './gemini.ts';
import { bedrockProvider } from './bedrock.ts';
import type { BedrockOptions } from './bedrock.ts';
import { huggingfaceProvider } from './huggingface.ts';
import { openrouterProvider } from './openrouter.ts';
import type { OpenRouterOptions } from './openrouter.ts';
import type { HuggingFaceOptions } from './huggingface.ts';

export type { MockServer as MockProvider, RecordedRequest, NextResponse, Backpressure } from './server.ts';
export { MODES } from './modes.ts';
export { DEFAULT_TEXT, countTokens } from './text.ts';

export type MockProviderName = 'openai' | 'azure' | 'anthropic' | 'cohere' | 'ollama' | 'llama2-raw' | 'openai-compatible' | 'gemini' | 'bedrock' | 'huggingface' | 'groq' | 'openrouter';

/** Every option any mock understands; each provider reads its own (see its module). */
export interface MockOptions extends CoreOptions {
  /** The key the mock expects (per-provider default, see PROVIDERS); `null` turns auth off. */
  key?: string | null;
  /** Served models: a list, `'*'` for any name, or (OpenAI) a name → endpoint-kind table. */
  models?: OpenAIOptions['models'] | AnthropicOptions['models'] | CohereOptions['models'] | OllamaOptions['models'];
  /** openai / openai-compatible: API path prefix (default `/v1`). */
  pathPrefix?: OpenAIOptions['pathPrefix'];
  /** azure: deployment name → model name. */
  deployments?: AzureOptions['deployments'];
  /** azure: accepted `api-version` values. */
  apiVersions?: AzureOptions['apiVersions'];
  /** llama2-raw: paths served (default any). */
  paths?: TgiOptions['paths'];
  /** llama2-raw: answer shape `hf` `[{generated_text}]`, `tgi` `{generated_text}`, `kong` `{data:[{generated_text}]}`. */
  rawShape?: TgiOptions['rawShape'];
  /** gemini: Vertex Bearer tokens accepted (besides those its `/token` endpoint issues). */
  tokens?: GeminiOptions['tokens'];
  /** gemini: the service account whose JWT assertions `/token` accepts. */
  serviceAccount?: GeminiOptions['serviceAccount'];
  /** bedrock: SigV4 credentials accepted (`null`: no auth). */
  credentials?: BedrockOptions['credentials'];
  /** bedrock: a Bedrock API key accepted as `Authorization: Bearer`. */
  apiKey?: BedrockOptions['apiKey'];
  /** bedrock: the region requests must be signed for. */
  region?: BedrockOptions['region'];
  /** huggingface: models still loading (503 unless the request waits). */
  loading?: HuggingFaceOptions['loading'];
  /** openai-compatible / groq: fields, message fields answered 400; `n` must be 1. */
  rejectFields?: OpenAIOptions['rejectFields'];
  rejectMessageFields?: OpenAIOptions['rejectMessageFields'];
  singleChoice?: OpenAIOptions['singleChoice'];
  /** openrouter: USD per million tokens its reported `usage.cost` is computed at; BYOK answers. */
  prices?: OpenRouterOptions['prices'];
  byok?: OpenRouterOptions['byok'];
}

type Factory = (opts: Record<string, unknown>) => ProviderImpl;

/** Provider table: the implementation and the key it expects when none is given (null: no auth). */
const PROVIDERS: Record<MockProviderName, { factory: Factory; defaultKey: string | null }> = {
  openai: { factory: openaiProvider, defaultKey: 'sk-test' },
  azure: { factory: azureProvider, defaultKey: 'azure-test-key' },
  anthropic: { factory: anthropicProvider, defaultKey: 'sk-ant-test' },
  cohere: { factory: cohereProvider, defaultKey: 'co-test' },
  ollama: { factory: ollamaProvider, defaultKey: null },
  'llama2-raw': { factory: tgiProvider, defaultKey: null },
  'openai-compatible': { factory: openaiCompatibleProvider, defaultKey: null },
  gemini: { factory: geminiProvider, defaultKey: 'gemini-test' },
  bedrock: { factory: bedrockProvider, defaultKey: null },
  huggingface: { factory: huggingfaceProvider, defaultKey: 'hf_test' },
  // Groq: OpenAI-compatible under /openai/v1, a key required, and its documented refusals.
  groq: {
    factory: (opts) =>
      openaiCompatibleProvider({
        pathPrefix: '/openai/v1',
        rejectFields: ['logprobs', 'logit_bias', 'top_logprobs'],
        rejectMessageFields: ['name'],
        singleChoice: true,
        ...opts,
      }),
    defaultKey: 'gsk-test',
  },
  openrouter: { factory: openrouterProvider, defaultKey: 'or-test' },
};

export const PROVIDER_NAMES = Object.keys(PROVIDERS) as MockProviderName[];

/** Starts one mock provider on loopback; resolves once it listens. `key: null` disables auth. */
export async function startMockProvider(name: MockProviderName, options: MockOptions = {}): Promise<MockServer> {
  const entry = PROVIDERS[name];
  if (!entry) throw new Error(`unknown mock provider "${name}"; known: ${PROVIDER_NAMES.join(', ')}`);
  const opts: Record<string, unknown> = { ...options, key: options.key === undefined ? entry.defaultKey : options.key };
  return startMockServer(name, entry.factory(opts), opts);
}
