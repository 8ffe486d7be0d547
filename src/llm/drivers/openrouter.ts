/**
 * OpenRouter (`https://openrouter.ai/api/v1`): chat and text completions in OpenAI's shapes, in
 * front of many providers. Takes its own fields (`top_k`, `min_p`, `top_a`, `repetition_penalty`,
 * `reasoning`, `transforms`, `provider` routing preferences; never `models`, which would let a
 * client pick other models than the configured one) and always reports usage on the last stream
 * chunk. Its streams carry `: OPENROUTER PROCESSING` comments, which SSE decoding skips.
 */
import { defineOpenAICompatible } from './openai-family.ts';

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
  },
});
