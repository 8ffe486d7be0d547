/**
 * `ai-proxy-advanced`: the config shape of Kong's plugin of that name (3.8–3.10): `targets`, each a
 * full ai-proxy target (route type, auth, model, logging) with a `weight`, and a `balancer`.
 * Beyond Kong: a target may have an `alias`, the model name clients use for it (the unified
 * OpenAI endpoint picks targets by the request's `model`), and failover on 429/5xx is on by
 * default. See docs/ai-proxy-advanced.md.
 */
import type { Field } from '../../schema/types.ts';
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { authField, exchangeFields, llmEntityChecks, loggingField, modelField, type AiProxyConfig } from '../ai-proxy/schema.ts';

export const ALGORITHMS = ['round-robin', 'consistent-hashing', 'lowest-latency', 'lowest-usage', 'priority'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** Kong's criteria, and `http_529`: Anthropic's "overloaded", the status a balancer over Claude most needs to move on from. */
export const FAILOVER_CRITERIA = ['error', 'timeout', 'invalid_header', 'http_403', 'http_404', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504', 'http_529', 'non_idempotent'] as const;
export type FailoverCriterion = (typeof FAILOVER_CRITERIA)[number];

/** Route types a target can serve (`preserve` has no model to route by). */
export const TARGET_ROUTE_TYPES = ['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings', 'llm/v1/responses'] as const;

export interface TargetConfig extends Pick<AiProxyConfig, 'auth' | 'model' | 'logging'> {
  route_type: (typeof TARGET_ROUTE_TYPES)[number];
  weight: number;
  description: string | null;
  alias: string | null;
}

export interface BalancerConfig {
  algorithm: Algorithm;
  tokens_count_strategy: 'total-tokens' | 'prompt-tokens' | 'completion-tokens' | 'cost';
  latency_strategy: 'tpot' | 'e2e';
  hash_on_header: string;
  slots: number;
  retries: number;
  connect_timeout: number;
  read_timeout: number;
  write_timeout: number;
  failover_criteria: FailoverCriterion[];
  max_fails: number;
  fail_timeout: number;
}

export interface AiProxyAdvancedConfig {
  targets: TargetConfig[];
  balancer: BalancerConfig;
  llm_format: AiProxyConfig['llm_format'];
  responses?: AiProxyConfig['responses'];
  response_streaming: AiProxyConfig['response_streaming'];
  max_request_body_size: number;
  model_name_header: boolean;
}

const targetField: Field = {
  type: 'record',
  fields: {
    route_type: { type: 'string', required: true, default: 'llm/v1/chat', one_of: TARGET_ROUTE_TYPES },
    auth: authField,
    model: modelField,
    logging: loggingField,
    weight: { type: 'integer', required: true, default: 100, between: [1, 65535] },
    description: { type: 'string' },
    alias: { type: 'string', match_none: [{ pattern: /\s/, err: 'must not contain white space' }] },
  },
  entity_checks: llmEntityChecks,
};

const balancerField: Field = {
  type: 'record',
  required: true,
  fields: {
    algorithm: { type: 'string', required: true, default: 'round-robin', one_of: ALGORITHMS },
    tokens_count_strategy: { type: 'string', default: 'total-tokens', one_of: ['total-tokens', 'prompt-tokens', 'completion-tokens', 'cost'] },
    latency_strategy: { type: 'string', default: 'tpot', one_of: ['tpot', 'e2e'] },
    hash_on_header: { type: 'string', default: 'X-Kong-LLM-Request-ID' },
    slots: { type: 'integer', default: 10000, between: [10, 65536] },
    retries: { type: 'integer', default: 5, between: [0, 32767] },
    connect_timeout: typedefs.timeout(60000),
    read_timeout: typedefs.timeout(60000),
    write_timeout: typedefs.timeout(60000),
    failover_criteria: {
      type: 'set',
      default: ['error', 'timeout', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504', 'http_529'],
      elements: { type: 'string', one_of: FAILOVER_CRITERIA },
    },
    max_fails: { type: 'integer', default: 0, between: [0, 32767] },
    fail_timeout: { type: 'integer', default: 10000, between: [1, 2 ** 31 - 2] },
  },
};

export const schema: PluginSchema = {
  name: 'ai-proxy-advanced',
  priority: 770,
  version: '0.1.0',
  noConsumer: true,
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      targets: { type: 'array', required: true, len_min: 1, elements: targetField },
      balancer: balancerField,
      ...exchangeFields,
    },
  },
};
