/**
 * LM Studio's local server, at `upstream_url` (required; LM Studio listens on
 * `http://<host>:1234/v1`). Chat, completions and embeddings in OpenAI's shapes; usage comes on
 * the last stream chunk without being asked for. Embeddings are floats only (base64 is encoded here).
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const lmstudioDriver = defineOpenAICompatible({
  name: 'lmstudio',
  base: null,
  completionsPath: '/completions',
  embeddingsPath: '/embeddings',
  format: { requestStreamUsage: false, openAIModelRules: false, selfHosted: true },
  embeddings: { base64: false, dimensions: false, tokenArrays: false },
});
