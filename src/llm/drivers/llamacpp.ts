/**
 * llama.cpp's `llama-server`, at `upstream_url` (required; e.g. `http://<host>:8080/v1`). Chat,
 * completions and embeddings in OpenAI's shapes, with llama.cpp's own sampling fields forwarded
 * (`top_k`, `min_p`, `repeat_penalty`, `grammar`, `json_schema`, `cache_prompt`); usage comes on
 * the last stream chunk. Embeddings take token arrays and base64 natively.
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const llamacppDriver = defineOpenAICompatible({
  name: 'llamacpp',
  base: null,
  completionsPath: '/completions',
  embeddingsPath: '/embeddings',
  format: { requestStreamUsage: false, openAIModelRules: false, selfHosted: true, extraFields: ['repeat_penalty', 'typical_p', 'grammar', 'json_schema', 'cache_prompt', 'n_probs'] },
  embeddings: { base64: true, dimensions: false, tokenArrays: true },
});
