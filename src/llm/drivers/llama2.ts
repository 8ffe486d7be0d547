/**
 * Llama 2, self-hosted at `upstream_url` (required), in one of three formats
 * (`model.options.llama2_format`): `raw` (HuggingFace TGI / Inference API prompt format),
 * `ollama` (Ollama's native API) or `openai` (any OpenAI-compatible server).
 */
import { RequestError, type DriverContext, type EmbeddingsContext } from '../types.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { buildOllamaEmbeddings, ollamaFormat, parseOllamaEmbeddings } from '../formats/ollama.ts';
import { openAIEmbeddings } from '../embeddings.ts';
import { llama2RawFormat } from '../formats/llama2-raw.ts';
import type { WireFormat } from '../formats/format.ts';
import { requireUpstreamUrl } from '../url.ts';
import { defineDriver } from './define.ts';

const FORMATS: Readonly<Record<'raw' | 'ollama' | 'openai', WireFormat>> = {
  raw: llama2RawFormat,
  ollama: ollamaFormat,
  openai: openAICompatibleFormat({ provider: 'llama2', requestStreamUsage: false, openAIModelRules: false, selfHosted: true }),
};

function formatFor(ctx: DriverContext): WireFormat {
  const format = ctx.options.llama2_format;
  if (format === null || !Object.hasOwn(FORMATS, format)) {
    throw new RequestError("model.options.llama2_format: must be one of 'raw', 'ollama', 'openai'");
  }
  return FORMATS[format];
}

/** An OpenAI-compatible server's embeddings (vLLM, llama.cpp, TGI's router): floats asked for, base64 encoded here. */
const openaiEmbeddings = openAIEmbeddings({
  provider: 'llama2',
  endpoint: (ctx) => ({ url: requireUpstreamUrl(ctx.options, 'llama2'), headers: {} }),
  dimensions: true,
  tokenArrays: true,
});

/** Embeddings in the `openai` and `ollama` formats; `raw` (a text-generation server) has none. */
function embeddingsFormat(ctx: EmbeddingsContext): 'openai' | 'ollama' {
  const format = ctx.options.llama2_format;
  if (format === 'openai' || format === 'ollama') return format;
  throw new RequestError(`model.options.llama2_format: the '${String(format)}' format has no embeddings; use 'openai' or 'ollama'`);
}

export const llama2Driver = defineDriver({
  name: 'llama2',
  endpoint: (ctx) => ({ url: requireUpstreamUrl(ctx.options, 'llama2'), headers: {} }),
  formatFor,
  embeddings: {
    endpoint: (ctx) => {
      embeddingsFormat(ctx);
      return { url: requireUpstreamUrl(ctx.options, 'llama2'), headers: {} };
    },
    buildRequest: (req, ctx) => (embeddingsFormat(ctx) === 'ollama' ? buildOllamaEmbeddings(req, ctx) : openaiEmbeddings.buildRequest(req, ctx)),
    parseResponse: (body, req, ctx) => (embeddingsFormat(ctx) === 'ollama' ? parseOllamaEmbeddings(body, req, ctx) : openaiEmbeddings.parseResponse(body, req, ctx)),
  },
});
