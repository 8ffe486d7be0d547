/**
 * Mistral, in two formats (`model.options.mistral_format`):
 * - `openai`: Mistral's API (`https://api.mistral.ai:443/v1/chat/completions`, Kong 3.8+) or any
 *   OpenAI-compatible server at `upstream_url`. Mistral's API has no text completions endpoint,
 *   so a completions route to it is bridged through chat completions.
 * - `ollama`: an Ollama server at `upstream_url` (required).
 */
import type { DriverContext } from '../types.ts';
import { chatBridgedCompletionsFormat, openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { buildOllamaEmbeddings, ollamaFormat, parseOllamaEmbeddings } from '../formats/ollama.ts';
import { openAIEmbeddings } from '../embeddings.ts';
import type { WireFormat } from '../formats/format.ts';
import { requireUpstreamUrl, resolveUrl } from '../url.ts';
import { defineDriver } from './define.ts';

export const MISTRAL_ORIGIN = 'https://api.mistral.ai:443';

// Mistral's API rejects fields it does not know, stream_options among them.
const options = { provider: 'mistral', requestStreamUsage: false, openAIModelRules: false };
const openai = openAICompatibleFormat(options);
const bridged = chatBridgedCompletionsFormat(options);
/** Mistral's embeddings API: `output_dimension` for OpenAI's `dimensions`, no `user` (unknown fields are refused). */
const mistralEmbeddings = openAIEmbeddings({
  provider: 'mistral',
  endpoint: (ctx) => ({ url: resolveUrl(ctx.options, MISTRAL_ORIGIN, '/v1/embeddings'), headers: {} }),
  dimensions: 'output_dimension',
});

function formatFor(ctx: DriverContext): WireFormat {
  if (ctx.options.mistral_format === 'ollama') return ollamaFormat;
  const toMistralApi = !ctx.options.upstream_url;
  return toMistralApi && ctx.routeType === 'llm/v1/completions' ? bridged : openai;
}

export const mistralDriver = defineDriver({
  name: 'mistral',
  endpoint: (ctx) => ({
    url:
      ctx.options.mistral_format === 'ollama'
        ? requireUpstreamUrl(ctx.options, 'mistral (ollama format)')
        : resolveUrl(ctx.options, MISTRAL_ORIGIN, '/v1/chat/completions'),
    headers: {},
  }),
  formatFor,
  embeddings: {
    endpoint: (ctx) => ({
      url: ctx.options.mistral_format === 'ollama' ? requireUpstreamUrl(ctx.options, 'mistral (ollama format)') : resolveUrl(ctx.options, MISTRAL_ORIGIN, '/v1/embeddings'),
      headers: {},
    }),
    buildRequest: (req, ctx) => (ctx.options.mistral_format === 'ollama' ? buildOllamaEmbeddings(req, ctx) : mistralEmbeddings.buildRequest(req, ctx)),
    parseResponse: (body, req, ctx) => (ctx.options.mistral_format === 'ollama' ? parseOllamaEmbeddings(body, req, ctx) : mistralEmbeddings.parseResponse(body, req, ctx)),
  },
});
