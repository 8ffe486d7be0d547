/**
 * Kong's `ai-rate-limiting-advanced` configuration shape (Kong Enterprise 3.10+: `limit` and
 * `window_size` are lists, one entry per window). The fields that hold Lua code
 * (`request_prompt_count_function`, `custom_cost_count_function`) are refused: modelgate runs no
 * code from configuration, so the `requestPrompt` provider (which needs that function) is refused
 * too. Counters are per plugin instance (or per `namespace`), in this node's memory (`local`) or
 * in the node's Redis (`redis`; `cluster` is treated as `redis`).
 */
import type { PluginSchema } from '../types.ts';
import { typedefs, validateHeaderName } from '../../schema/typedefs.ts';
import { LIMIT_BY, type LimitBy } from '../shared/identifier.ts';
import { redisRecord } from '../shared/redis-schema.ts';
import { luaCode } from '../shared/no-code.ts';

export const LLM_PROVIDER_NAMES = ['openai', 'azure', 'anthropic', 'cohere', 'mistral', 'llama2', 'gemini', 'bedrock', 'huggingface', 'requestPrompt'] as const;

export interface LlmProviderLimit {
  name: (typeof LLM_PROVIDER_NAMES)[number];
  limit: number[];
  window_size: number[];
}

export interface AiRateLimitingConfig {
  llm_providers: LlmProviderLimit[];
  identifier: LimitBy;
  header_name: string | null;
  path: string | null;
  strategy: 'local' | 'cluster' | 'redis';
  window_type: 'sliding' | 'fixed';
  tokens_count_strategy: 'total_tokens' | 'prompt_tokens' | 'completion_tokens' | 'cost';
  error_code: number;
  error_message: string;
  error_hide_providers: boolean;
  hide_client_headers: boolean;
  retry_after_jitter_max: number;
  namespace: string | null;
  dictionary_name: string;
  sync_rate: number | null;
  disable_penalty: boolean;
  decrease_by_fractions_in_redis: boolean;
  llm_format: string;
  redis: Record<string, unknown>;
  request_prompt_count_function: string | null;
  custom_cost_count_function: string | null;
}

function checkProvider(p: LlmProviderLimit): string | undefined {
  if (p.name === 'requestPrompt') return "provider 'requestPrompt' needs request_prompt_count_function, which modelgate does not support (no code from configuration)";
  if (p.limit.length !== p.window_size.length) return 'You must provide the same number of limits and window sizes';
  if (new Set(p.window_size).size !== p.window_size.length) return 'window_size values must be unique';
  return undefined;
}

function checkProviders(c: AiRateLimitingConfig): string | undefined {
  const names = c.llm_providers.map((p) => p.name);
  if (new Set(names).size !== names.length) return 'each provider may appear only once in llm_providers';
  return undefined;
}

export const schema: PluginSchema = {
  name: 'ai-rate-limiting-advanced',
  priority: 905,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      llm_providers: {
        type: 'array',
        required: true,
        len_min: 1,
        elements: {
          type: 'record',
          fields: {
            name: { type: 'string', required: true, one_of: LLM_PROVIDER_NAMES },
            limit: { type: 'array', required: true, len_min: 1, elements: { type: 'number', gt: 0 } },
            window_size: { type: 'array', required: true, len_min: 1, elements: { type: 'number', gt: 0, custom_validator: (v: number) => (Number.isInteger(v) ? undefined : 'window_size must be a whole number of seconds') } },
          },
          entity_checks: [{ custom_entity_check: { field_sources: ['name', 'limit', 'window_size'], fn: checkProvider } }],
        },
      },
      identifier: { type: 'string', required: true, default: 'consumer', one_of: LIMIT_BY },
      header_name: { type: 'string', custom_validator: validateHeaderName },
      path: typedefs.path(),
      strategy: { type: 'string', required: true, default: 'local', one_of: ['local', 'cluster', 'redis'] },
      window_type: { type: 'string', required: true, default: 'sliding', one_of: ['sliding', 'fixed'] },
      tokens_count_strategy: { type: 'string', required: true, default: 'total_tokens', one_of: ['total_tokens', 'prompt_tokens', 'completion_tokens', 'cost'] },
      error_code: { type: 'number', default: 429, gt: 0 },
      error_message: { type: 'string', default: 'AI token rate limit exceeded for provider(s): ' },
      error_hide_providers: { type: 'boolean', default: false },
      hide_client_headers: { type: 'boolean', default: false },
      retry_after_jitter_max: { type: 'number', required: true, default: 0, between: [0, 3600] },
      namespace: { type: 'string' },
      dictionary_name: { type: 'string', required: true, default: 'kong_rate_limiting_counters' },
      sync_rate: { type: 'number' },
      disable_penalty: { type: 'boolean', default: false },
      decrease_by_fractions_in_redis: { type: 'boolean', default: false },
      llm_format: { type: 'string', default: 'openai', one_of: ['openai', 'bedrock', 'gemini'] },
      redis: redisRecord(),
      request_prompt_count_function: luaCode('request_prompt_count_function'),
      custom_cost_count_function: luaCode('custom_cost_count_function'),
    },
    entity_checks: [
      { conditional: { if_field: 'identifier', if_match: { eq: 'header' }, then_field: 'header_name', then_match: { required: true } } },
      { conditional: { if_field: 'identifier', if_match: { eq: 'path' }, then_field: 'path', then_match: { required: true } } },
      { custom_entity_check: { field_sources: ['llm_providers'], fn: checkProviders } },
    ],
  },
};
