/**
 * Groq (`https://api.groq.com/openai/v1`): OpenAI's chat completions, with Groq's documented
 * differences (console.groq.com/docs/openai): `logprobs`, `logit_bias`, `top_logprobs` and
 * `messages[].name` are answered 400 (left out here), `n` must be 1. No text completions
 * (bridged through chat) and no embeddings. Streamed usage is asked for with `stream_options`.
 */
import { defineOpenAICompatible } from './openai-family.ts';

export const groqDriver = defineOpenAICompatible({
  name: 'groq',
  base: 'https://api.groq.com:443/openai/v1',
  completionsPath: null,
  embeddingsPath: null,
  format: {
    requestStreamUsage: true,
    openAIModelRules: false,
    dropFields: ['logprobs', 'logit_bias', 'top_logprobs'],
    dropMessageFields: ['name'],
    singleChoice: true,
  },
});
