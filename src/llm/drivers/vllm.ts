/**
 * vLLM's OpenAI-compatible server, self-hosted at `upstream_url` (required: a base such as
 * `http://vllm:8000/v1`, or a full endpoint URL). Chat, completions and embeddings; the sampling
 * and guided-decoding fields vLLM adds are forwarded; streamed usage is asked for with
 * `stream_options`; embeddings take token arrays, `dimensions` and base64 natively.
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const vllmDriver = defineOpenAICompatible({
  name: 'vllm',
  base: null,
  completionsPath: '/completions',
  embeddingsPath: '/embeddings',
  format: {
    requestStreamUsage: true,
    openAIModelRules: false,
    selfHosted: true,
    extraFields: ['min_tokens', 'ignore_eos', 'skip_special_tokens', 'guided_json', 'guided_regex', 'guided_choice', 'guided_grammar', 'chat_template_kwargs'],
  },
  embeddings: { base64: true, dimensions: true, tokenArrays: true, user: true },
});
