/**
 * Cohere: the v1 API, `https://api.cohere.com:443/v1/chat` | `/v1/generate`, auth as configured
 * (the guide: `Authorization: Bearer <key>`).
 */
import type { LlmRouteType } from '../types.ts';
import { buildCohereEmbeddings, cohereV1Format, parseCohereEmbeddings } from '../formats/cohere-v1.ts';
import { resolveUrl } from '../url.ts';
import { defineDriver } from './define.ts';

export const COHERE_ORIGIN = 'https://api.cohere.com:443';

const PATHS: Readonly<Record<LlmRouteType, string>> = { 'llm/v1/chat': '/v1/chat', 'llm/v1/completions': '/v1/generate' };

export const cohereDriver = defineDriver({
  name: 'cohere',
  endpoint: (ctx) => ({ url: resolveUrl(ctx.options, COHERE_ORIGIN, PATHS[ctx.routeType]), headers: {} }),
  formatFor: () => cohereV1Format,
  embeddings: {
    endpoint: (ctx) => ({ url: resolveUrl(ctx.options, COHERE_ORIGIN, '/v1/embed'), headers: {} }),
    buildRequest: buildCohereEmbeddings,
    parseResponse: parseCohereEmbeddings,
  },
});
