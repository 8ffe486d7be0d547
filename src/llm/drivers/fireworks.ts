/**
 * Fireworks AI (`https://api.fireworks.ai/inference/v1`): chat, text completions and embeddings.
 * Takes its own sampling fields (`top_k`, `min_p`, `repetition_penalty`, ...) and reports usage on
 * the last stream chunk by itself. Embeddings are floats only (base64 is encoded here).
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const fireworksDriver = defineOpenAICompatible({
  name: 'fireworks',
  base: 'https://api.fireworks.ai:443/inference/v1',
  completionsPath: '/completions',
  embeddingsPath: '/embeddings',
  format: { requestStreamUsage: false, openAIModelRules: false, extraFields: ['top_k', 'min_p', 'repetition_penalty', 'prompt_truncate_len', 'context_length_exceeded_behavior'] },
  embeddings: { base64: false, dimensions: true, tokenArrays: false },
});
