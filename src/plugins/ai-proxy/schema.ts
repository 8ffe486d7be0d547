/**
 * `ai-proxy` configuration: Kong 3.6's schema with the later additions that cost users nothing
 * (`preserve`, `response_streaming`, `allow_override`, `upstream_path`, costs, `model_name_header`,
 * Kong 3.8's gemini/bedrock auth and options, 3.9's huggingface options, 3.10's
 * `llm/v1/embeddings`), and the OpenAI-compatible providers by name (docs/providers.md).
 * Entity checks keep Kong's order and messages. Differences from Kong are in docs/ai-proxy.md.
 */
import type { EntityCheck, Field } from '../../schema/types.ts';
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { PROVIDERS, type AnyRouteType, type AuthConfig, type ModelOptions, type ProviderName, type RouteType } from '../../llm/types.ts';
import { getDriver } from '../../llm/drivers/index.ts';
import { responsesStoreField, type ResponsesStoreSettings } from '../../exchange/responses-store.ts';

export { PROVIDERS };
export type { AnyRouteType, AuthConfig, ModelOptions, ProviderName, RouteType };

/**
 * Providers that always need a key: Kong 3.6's four and the hosted OpenAI-compatible APIs. Gemini
 * may use a service account instead (its own check); Bedrock's credentials may come from the
 * environment; Hugging Face may be a self-hosted TGI.
 */
const HOSTED: ProviderName[] = ['openai', 'azure', 'anthropic', 'cohere', 'groq', 'together', 'deepseek', 'fireworks', 'openrouter'];

/** Self-hosted servers without a default URL: `upstream_url` is required. */
const SELF_HOSTED: ProviderName[] = ['llama2', 'vllm', 'lmstudio', 'llamacpp'];

export const ROUTE_TYPES = ['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings', 'llm/v1/responses', 'preserve'] as const;

/**
 * The client API of a route (Kong 3.11+ `llm_format`): `openai` (the route type says which OpenAI
 * API), or `anthropic` (Anthropic's Messages API, `POST …/v1/messages`, on an `llm/v1/chat` route:
 * Kong's Claude Code setup). Kong's other values (bedrock, gemini, cohere, huggingface: a
 * provider's native API in front of the same provider only) are not offered.
 */
export const LLM_FORMATS = ['openai', 'anthropic'] as const;
export type LlmFormat = (typeof LLM_FORMATS)[number];

export const DEFAULT_MAX_REQUEST_BODY_SIZE = 20 * 1024 * 1024;

export interface AiProxyConfig {
  route_type: AnyRouteType;
  llm_format: LlmFormat;
  auth: AuthConfig | null;
  model: { provider: ProviderName; name: string | null; options: ModelOptions | null };
  logging: { log_statistics: boolean; log_payloads: boolean };
  response_streaming: 'allow' | 'deny' | 'always';
  max_request_body_size: number;
  model_name_header: boolean;
  responses?: ResponsesStoreSettings | null;
}

const secret: Partial<Field> = { referenceable: true, encrypted: true };

export const authField: Field = {
  type: 'record',
  fields: {
    header_name: { type: 'string', referenceable: true },
    header_value: { type: 'string', ...secret },
    param_name: { type: 'string', referenceable: true },
    param_value: { type: 'string', ...secret },
    param_location: { type: 'string', one_of: ['query', 'body'] },
    allow_override: { type: 'boolean', default: false },
    // Kong 3.8: cloud identities for gemini (Vertex) and bedrock.
    gcp_use_service_account: { type: 'boolean', default: false },
    gcp_service_account_json: { type: 'string', ...secret },
    aws_access_key_id: { type: 'string', ...secret },
    aws_secret_access_key: { type: 'string', ...secret },
  },
};

export const modelOptionsField: Field = {
  type: 'record',
  fields: {
    max_tokens: { type: 'integer', default: 256 },
    temperature: { type: 'number', between: [0, 5], default: 1.0 },
    top_p: { type: 'number', between: [0, 1] },
    top_k: { type: 'integer', between: [0, 500] },
    anthropic_version: { type: 'string' },
    azure_instance: { type: 'string' },
    azure_api_version: { type: 'string', default: '2023-05-15' },
    azure_deployment_id: { type: 'string' },
    llama2_format: { type: 'string', one_of: ['raw', 'openai', 'ollama'] },
    mistral_format: { type: 'string', one_of: ['openai', 'ollama'] },
    upstream_url: typedefs.url({
      // the gateway speaks HTTP to providers; file:, gopher: and friends are never an upstream (T71)
      match_all: [{ pattern: /^https?:\/\//i, err: 'upstream_url must be an http or https URL' }],
    }),
    upstream_path: { type: 'string', starts_with: '/' },
    input_cost: { type: 'number', between: [0, 1e9] },
    output_cost: { type: 'number', between: [0, 1e9] },
    // what happens to a client field the provider cannot honour (docs/ai-proxy.md, src/exchange/policy.ts)
    unsupported_params: { type: 'string', default: 'error', one_of: ['error', 'drop', 'pass'] },
    // modelgate: the opentelemetry plugin's trace context headers on this target's provider calls (docs/plugins.md, "opentelemetry")
    trace_propagation: { type: 'boolean', default: true },
    gemini: {
      type: 'record',
      fields: {
        api_endpoint: { type: 'string' },
        project_id: { type: 'string' },
        location_id: { type: 'string' },
      },
      entity_checks: [{ mutually_required: ['api_endpoint', 'project_id', 'location_id'] }],
    },
    bedrock: {
      type: 'record',
      fields: {
        aws_region: { type: 'string' },
      },
    },
    huggingface: {
      type: 'record',
      fields: {
        use_cache: { type: 'boolean' },
        wait_for_model: { type: 'boolean' },
      },
    },
  },
};

const whenProvider = (providers: string[], field: string, err: string): EntityCheck => ({
  conditional_at_least_one_of: {
    if_field: 'model.provider',
    if_match: { one_of: providers },
    then_at_least_one_of: [field],
    then_err: err,
  },
});

/**
 * Kong's check for an azure option, with Kong's message, except when `upstream_url` is set: the
 * URL (an API Management front, a private endpoint) already says where requests go, and the
 * driver needs neither the instance nor the deployment to build it.
 */
const azureNeeds = (option: 'azure_instance' | 'azure_deployment_id'): EntityCheck => ({
  custom_entity_check: {
    field_sources: ['model.provider', 'model.options'],
    fn: (c: AiProxyConfig) => {
      const o = c.model?.options;
      if (c.model?.provider !== 'azure' || o?.upstream_url || (o?.[option] ?? '') !== '') return undefined;
      return `must set 'model.options.${option}' for azure provider`;
    },
  },
});

/** The checks shared by every LLM plugin config (ai-proxy, and each ai-proxy-advanced target). */
export const llmEntityChecks: EntityCheck[] = [
  {
    conditional_at_least_one_of: {
      if_field: 'model.provider',
      if_match: { one_of: HOSTED },
      then_at_least_one_of: ['auth.header_name', 'auth.param_name'],
      then_err: 'must set one of %s, and its respective options, when provider is not self-hosted',
    },
  },
  {
    conditional: {
      if_field: 'model.provider',
      if_match: { one_of: ['bedrock', 'gemini'] },
      then_field: 'auth.allow_override',
      then_match: { eq: false },
      then_err: 'bedrock and gemini only support auth.allow_override = false',
    },
  },
  { mutually_required: ['auth.header_name', 'auth.header_value'] },
  { mutually_required: ['auth.param_name', 'auth.param_value', 'auth.param_location'] },
  { mutually_required: ['auth.aws_access_key_id', 'auth.aws_secret_access_key'] },
  whenProvider(['llama2'], 'model.options.llama2_format', 'must set %s for llama2 provider'),
  whenProvider(['mistral'], 'model.options.mistral_format', 'must set %s for mistral provider'),
  azureNeeds('azure_instance'),
  whenProvider(['azure'], 'model.options.azure_api_version', 'must set %s for azure provider'),
  azureNeeds('azure_deployment_id'),
  {
    custom_entity_check: {
      field_sources: ['model.provider', 'model.options'],
      fn: (c: AiProxyConfig) => {
        const o = c.model?.options;
        const selfHosted = SELF_HOSTED.includes(c.model?.provider) || (c.model?.provider === 'mistral' && o?.mistral_format === 'ollama');
        if (selfHosted && !o?.upstream_url) return "must set 'model.options.upstream_url' for self-hosted providers/models";
        return undefined;
      },
    },
  },
  {
    custom_entity_check: {
      field_sources: ['model.provider', 'auth'],
      fn: (c: AiProxyConfig) => {
        if (c.model?.provider !== 'gemini') return undefined;
        const a = c.auth;
        if (a?.header_name || a?.param_name || a?.gcp_use_service_account) return undefined;
        return "must set one of 'auth.header_name', 'auth.param_name', 'auth.gcp_use_service_account' for the gemini provider";
      },
    },
  },
  {
    custom_entity_check: {
      field_sources: ['route_type', 'model.provider', 'model.options'],
      fn: (c: AiProxyConfig) => {
        if ((c.route_type as string) !== 'llm/v1/embeddings' || !c.model?.provider || !PROVIDERS.includes(c.model.provider)) return undefined;
        const raw = c.model.provider === 'llama2' && c.model.options?.llama2_format === 'raw';
        if (getDriver(c.model.provider).embeddings && !raw) return undefined;
        return `${c.model.provider}${raw ? ' (raw format)' : ''} does not support route_type llm/v1/embeddings`;
      },
    },
  },
];

export const modelField: Field = {
  type: 'record',
  required: true,
  fields: {
    provider: { type: 'string', required: true, one_of: PROVIDERS },
    name: { type: 'string' },
    options: modelOptionsField,
  },
};

export const loggingField: Field = {
  type: 'record',
  required: true,
  fields: {
    log_statistics: { type: 'boolean', required: true, default: true },
    log_payloads: { type: 'boolean', required: true, default: false },
  },
};

/** How the client side of an exchange is handled: shared by ai-proxy and ai-proxy-advanced. */
export const exchangeFields: Record<string, Field> = {
  llm_format: { type: 'string', default: 'openai', one_of: LLM_FORMATS },
  response_streaming: { type: 'string', default: 'allow', one_of: ['allow', 'deny', 'always'] },
  max_request_body_size: { type: 'integer', default: DEFAULT_MAX_REQUEST_BODY_SIZE, gt: 0 },
  model_name_header: { type: 'boolean', default: true },
  // Responses API conversation state (src/exchange/responses-store.ts)
  responses: responsesStoreField,
};

export const schema: PluginSchema = {
  name: 'ai-proxy',
  priority: 770,
  version: '0.1.0',
  noConsumer: true,
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      route_type: { type: 'string', required: true, one_of: ROUTE_TYPES },
      auth: authField,
      model: modelField,
      logging: loggingField,
      ...exchangeFields,
    },
    entity_checks: [
      ...llmEntityChecks,
      {
        custom_entity_check: {
          field_sources: ['route_type', 'llm_format'],
          fn: (c: AiProxyConfig) => (c.llm_format === 'anthropic' && c.route_type !== 'llm/v1/chat' ? "llm_format 'anthropic' needs route_type 'llm/v1/chat' (Anthropic's Messages API is a chat API)" : undefined),
        },
      },
    ],
  },
  warnings: () => [],
};

/**
 * Kong's guide shows YAML with `llama2_format`, `mistral_format` and `upstream_url` directly under
 * `model`. Declarative loading moves them to `model.options` with a warning (docs/ai-proxy.md).
 * Returns the warnings; mutates `config` in place.
 */
export function relocateMisplacedModelOptions(config: Record<string, any>): string[] {
  const model = config?.model;
  if (!model || typeof model !== 'object') return [];
  const warnings: string[] = [];
  for (const key of Object.keys(model)) {
    if (key === 'provider' || key === 'name' || key === 'options') continue;
    if (!Object.prototype.hasOwnProperty.call(modelOptionsField.fields, key)) continue;
    model.options ??= {};
    if (model.options[key] === undefined) model.options[key] = model[key];
    delete model[key];
    warnings.push(`config.model.${key} belongs in config.model.options.${key}; moved it there`);
  }
  return warnings;
}
