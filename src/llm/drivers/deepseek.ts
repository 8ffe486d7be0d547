/**
 * DeepSeek (`https://api.deepseek.com`): chat completions (`/chat/completions`) and FIM text
 * completions (`/beta/completions`, deepseek-chat only). `max_tokens` only (a client's
 * `max_completion_tokens` is sent under that name); streamed usage asked for with
 * `stream_options`. deepseek-reasoner answers with `reasoning_content` beside `content` (passed to
 * the client as it is) and answers 400 when it comes back in the messages: message fields outside
 * OpenAI's are never forwarded. No embeddings.
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const deepseekDriver = defineOpenAICompatible({
  name: 'deepseek',
  base: 'https://api.deepseek.com:443',
  completionsPath: '/beta/completions',
  embeddingsPath: null,
  format: { requestStreamUsage: true, openAIModelRules: false, maxTokensOnly: true },
});
