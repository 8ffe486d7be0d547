/**
 * Kong's `ai-semantic-cache` plugin schema (Enterprise, 3.8+; developer.konghq.com/plugins/
 * ai-semantic-cache/reference), field by field, with what modelgate adds (docs/plugins.md says
 * which fields are Kong's and which are ours):
 * - `embeddings` {auth, model {provider, name, options}}: any provider modelgate can ask for
 *   embeddings (ai-proxy's auth and model records); `embeddings.timeout` (ms) is ours;
 * - `vectordb` {strategy, dimensions, distance_metric, threshold, redis}: `strategy` is `memory`
 *   (ours: per worker, bounded) or `redis`; `threshold` is the largest distance that still matches
 *   (Kong's meaning: lower is stricter); `redis` is Kong's connection record, informational as in the
 *   counting plugins (the node's `MODELGATE_REDIS_URL` is used); `vectordb.memory` bounds and the
 *   vector index's `vectordb.lsh` shape (redis; memory past max_candidates vectors) are ours;
 * - `cache_ttl`, `cache_control`, `exact_caching`, `ignore_system_prompts`,
 *   `ignore_assistant_prompts`, `ignore_tool_prompts`, `message_countback`, `stop_on_failure`,
 *   `llm_format` (3.11): Kong's;
 * - `cache_scope` (ours; Kong has no such option: its cache is per plugin and model, shared by
 *   every consumer): `consumer` (default) keeps each consumer's answers to itself, `route` shares
 *   them between the consumers of a route.
 * Priority 765, Kong's: after ai-proxy's access phase (770), which only claims the exchange here.
 */
import type { Field } from '../../schema/types.ts';
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { authField, modelField, type AuthConfig, type ModelOptions, type ProviderName } from '../ai-proxy/schema.ts';
import { redisRecord } from '../shared/redis-schema.ts';
import { getDriver } from '../../llm/drivers/index.ts';
import { PROVIDERS } from '../../llm/types.ts';
import type { DistanceMetric, VectorStrategy } from './vector-store.ts';

export interface SemanticCacheConfig {
  embeddings: {
    auth: AuthConfig | null;
    model: { provider: ProviderName; name: string; options: ModelOptions | null };
    timeout: number;
  };
  vectordb: {
    strategy: VectorStrategy;
    dimensions: number;
    distance_metric: DistanceMetric;
    threshold: number;
    redis: Record<string, unknown> | null;
    memory: { max_entries: number; max_bytes: number };
    /** The vector index (ours): redis-lsh.ts; redis-store.ts always, memory-store.ts past max_candidates vectors a scope. */
    lsh: { tables: number; bits: number; probes: number; max_candidates: number; seed: string };
  };
  cache_ttl: number;
  cache_control: boolean;
  exact_caching: boolean;
  ignore_system_prompts: boolean;
  ignore_assistant_prompts: boolean;
  ignore_tool_prompts: boolean;
  message_countback: number;
  stop_on_failure: boolean;
  llm_format: 'openai' | 'anthropic';
  cache_scope: 'consumer' | 'route';
}

const embeddingsModel: Field = {
  ...modelField,
  fields: { ...(modelField as { fields: Record<string, Field> }).fields, name: { type: 'string', required: true } },
} as Field;

export const schema: PluginSchema = {
  name: 'ai-semantic-cache',
  priority: 765,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      embeddings: {
        type: 'record',
        required: true,
        fields: {
          auth: authField,
          model: embeddingsModel,
          timeout: { type: 'integer', default: 10_000, between: [1, 600_000] },
        },
      },
      vectordb: {
        type: 'record',
        required: true,
        fields: {
          strategy: { type: 'string', required: true, default: 'memory', one_of: ['memory', 'redis'] },
          dimensions: { type: 'integer', required: true, between: [1, 65_536] },
          distance_metric: { type: 'string', required: true, one_of: ['cosine', 'euclidean'] },
          threshold: { type: 'number', required: true, default: 0.1, gt: -1 },
          redis: redisRecord(),
          memory: {
            type: 'record',
            fields: {
              max_entries: { type: 'integer', default: 10_000, between: [1, 1_000_000] },
              max_bytes: { type: 'integer', default: 64 * 1024 * 1024, between: [1024, 4 * 1024 * 1024 * 1024] },
            },
          },
          // the vector index's locality-sensitive hashing (ours: redis always, memory past max_candidates
          // vectors a scope; defaults measured in bench/semantic-recall.ts)
          lsh: {
            type: 'record',
            fields: {
              tables: { type: 'integer', default: 16, between: [1, 64] },
              bits: { type: 'integer', default: 12, between: [1, 32] },
              probes: { type: 'integer', default: 2, between: [0, 32] },
              max_candidates: { type: 'integer', default: 256, between: [1, 10_000] },
              seed: { type: 'string', default: 'modelgate', len_min: 1 },
            },
          },
        },
      },
      cache_ttl: { type: 'integer', default: 300, gt: 0 },
      cache_control: { type: 'boolean', default: false },
      exact_caching: { type: 'boolean', default: false },
      ignore_system_prompts: { type: 'boolean', default: false },
      ignore_assistant_prompts: { type: 'boolean', default: false },
      ignore_tool_prompts: { type: 'boolean', default: false },
      message_countback: { type: 'integer', default: 1, between: [1, 1000] },
      stop_on_failure: { type: 'boolean', default: false },
      llm_format: { type: 'string', default: 'openai', one_of: ['openai', 'anthropic'] },
      cache_scope: { type: 'string', default: 'consumer', one_of: ['consumer', 'route'] },
    },
    entity_checks: [
      {
        custom_entity_check: {
          field_sources: ['embeddings'],
          fn: (c: any) => {
            const p = c.embeddings?.model?.provider;
            if (!p || !PROVIDERS.includes(p)) return undefined;
            return getDriver(p).embeddings ? undefined : `embeddings.model.provider: ${p} has no embeddings API`;
          },
        },
      },
    ],
  },
};
