/**
 * OpenAI: `https://api.openai.com:443/v1/chat/completions` | `/v1/completions`, auth as configured
 * (the guide: `Authorization: Bearer <key>`).
 */
import type { LlmRouteType } from '../types.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { resolveUrl } from '../url.ts';
import { openAIEmbeddings } from '../embeddings.ts';
import { defineDriver } from './define.ts';

export const OPENAI_ORIGIN = 'https://api.openai.com:443';

export const OPENAI_PATHS: Readonly<Record<LlmRouteType, string>> = {
  'llm/v1/chat': '/v1/chat/completions',
  'llm/v1/completions': '/v1/completions',
};

const format = openAICompatibleFormat({ provider: 'openai', requestStreamUsage: true, openAIModelRules: true });

export const openaiDriver = defineDriver({
  name: 'openai',
  endpoint: (ctx) => ({ url: resolveUrl(ctx.options, OPENAI_ORIGIN, OPENAI_PATHS[ctx.routeType]), headers: {} }),
  formatFor: () => format,
  embeddings: openAIEmbeddings({
    provider: 'openai',
    endpoint: (ctx) => ({ url: resolveUrl(ctx.options, OPENAI_ORIGIN, '/v1/embeddings'), headers: {} }),
    base64: true,
    dimensions: true,
    tokenArrays: true,
    user: true,
  }),
});
