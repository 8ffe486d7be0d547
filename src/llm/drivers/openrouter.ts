/**
 * OpenRouter (`https://openrouter.ai/api/v1`): chat and text completions in OpenAI's shapes, in
 * front of many providers. Takes its own fields (`top_k`, `min_p`, `top_a`, `repetition_penalty`,
 * `reasoning`, `transforms`, `provider` routing preferences; never `models`, which would let a
 * client pick other models than the configured one) and always reports usage on the last stream
 * chunk. Its streams carry `: OPENROUTER PROCESSING` comments, which SSE decoding skips.
 *
 * Every answer's usage also says what the call cost (https://openrouter.ai/docs/use-cases/usage-accounting):
 * `cost` is what OpenRouter charged the account, in credits (USD); `cost_details.upstream_inference_cost`
 * is what the upstream provider charged, which OpenRouter bills only for BYOK requests — there the
 * upstream bills the user's own key, `cost` is OpenRouter's fee, and `is_byok: true` says so.
 * The call is priced from that figure (src/spend/cost.ts): the price table cannot follow the
 * hundreds of models and routed providers behind OpenRouter, and OpenRouter's own figure is exact.
 */
import { asNumber, dig } from '../json.ts';
import { defineOpenAICompatible } from './openai-family.ts';

/**
 * What one OpenRouter call cost, in USD: `usage.cost`, plus the upstream's charge when the key was
 * the user's own (BYOK), since that part is spent too, only billed elsewhere. Without the upstream
 * figure a BYOK call is priced at OpenRouter's fee alone rather than guessed. A missing, negative or
 * non-numeric `cost` is no figure at all: the call is then priced from the table, like any other.
 */
export function openRouterCost(usage: unknown): number | undefined {
  const cost = asNumber(dig(usage, 'cost'));
  if (cost === undefined || cost < 0) return undefined;
  if (dig(usage, 'is_byok') !== true) return cost;
  const upstream = asNumber(dig(usage, 'cost_details', 'upstream_inference_cost'));
  return upstream !== undefined && upstream > 0 ? cost + upstream : cost;
}

export const openrouterDriver = defineOpenAICompatible({
  name: 'openrouter',
  base: 'https://openrouter.ai:443/api/v1',
  completionsPath: '/completions',
  embeddingsPath: null,
  format: {
    requestStreamUsage: false,
    openAIModelRules: false,
    extraFields: ['top_k', 'min_p', 'top_a', 'repetition_penalty', 'reasoning', 'transforms', 'provider'],
    // OpenRouter takes reasoning state and Anthropic-style cache marks in messages (its documented reasoning_details)
    nativeMessageFields: ['reasoning_details', 'reasoning', 'cache_control'],
    reportedCost: openRouterCost,
  },
});
