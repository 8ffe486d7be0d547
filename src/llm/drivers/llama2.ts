/**
 * Llama 2, self-hosted at `upstream_url` (required), in one of three formats
 * (`model.options.llama2_format`): `raw` (HuggingFace TGI / Inference API prompt format),
 * `ollama` (Ollama's native API) or `openai` (any OpenAI-compatible server).
 */
import { RequestError, type DriverContext } from '../types.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { ollamaFormat } from '../formats/ollama.ts';
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

export const llama2Driver = defineDriver({
  name: 'llama2',
  endpoint: (ctx) => ({ url: requireUpstreamUrl(ctx.options, 'llama2'), headers: {} }),
  formatFor,
});
