/**
 * Together AI (`https://api.together.xyz/v1`): chat, text completions and embeddings, OpenAI's
 * shapes. Takes its own sampling fields (`top_k`, `repetition_penalty`, `min_p`) and reports usage
 * on the last stream chunk by itself (not asked for with `stream_options`). Embeddings are floats
 * only (base64 is encoded here).
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const togetherDriver = defineOpenAICompatible({
  name: 'together',
  base: 'https://api.together.xyz:443/v1',
  completionsPath: '/completions',
  embeddingsPath: '/embeddings',
  format: { requestStreamUsage: false, openAIModelRules: false, extraFields: ['top_k', 'repetition_penalty', 'min_p', 'safety_model'] },
  embeddings: { base64: false, dimensions: false, tokenArrays: false },
});
