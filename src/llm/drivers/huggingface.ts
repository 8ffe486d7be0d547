/**
 * Hugging Face (Kong 3.9): Inference Providers and the serverless Inference API, or a dedicated
 * Inference Endpoint / Text Generation Inference (TGI) server at `upstream_url`.
 * - chat: the OpenAI-compatible chat completions API (TGI's Messages API), by default
 *   `https://router.huggingface.co:443/v1/chat/completions` with the model in the body. Answers are
 *   OpenAI-shaped with TGI's values (finish reason `eos_token`, an empty id): they are normalized.
 * - completions: the text-generation task, by default
 *   `https://router.huggingface.co:443/hf-inference/models/{owner}/{model}`, `{"inputs": prompt,
 *   "parameters": {...}}`, answered `[{"generated_text"}]` (or TGI's `{"generated_text"}`).
 * - `upstream_url` is the endpoint's base, as in Kong: chat goes to `{upstream_url}/v1/chat/completions`
 *   (unless it already ends in `/chat/completions`), completions to `{upstream_url}` itself.
 * - `model.options.huggingface.use_cache` / `wait_for_model` are sent as the `x-use-cache` /
 *   `x-wait-for-model` headers, and for the text-generation task also as Kong's body `options`.
 * Kong's default host `api-inference.huggingface.co` was retired by Hugging Face for the router.
 * Auth: the configured header (`Authorization: Bearer hf_...`).
 */
import { TranslationError, type DriverContext, type EmbeddingsDriver, type Endpoint, type ModelOptions } from '../types.ts';
import { embeddingsBody, expectCount, textInputs, vectorOf } from '../embeddings.ts';
import { asArray, parseUpstreamJson } from '../json.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { textGenerationFormat } from '../formats/llama2-raw.ts';
import type { WireFormat } from '../formats/format.ts';
import { repoPath, safePath, upstreamPrefix } from '../url.ts';
import { defineDriver } from './define.ts';

export const HUGGINGFACE_ORIGIN = 'https://router.huggingface.co:443';

function options(o: ModelOptions): { use_cache?: boolean; wait_for_model?: boolean } {
  const out: { use_cache?: boolean; wait_for_model?: boolean } = {};
  if (typeof o.huggingface?.use_cache === 'boolean') out.use_cache = o.huggingface.use_cache;
  if (typeof o.huggingface?.wait_for_model === 'boolean') out.wait_for_model = o.huggingface.wait_for_model;
  return out;
}

const chat = openAICompatibleFormat({ provider: 'huggingface', requestStreamUsage: false, openAIModelRules: false, normalize: true });
const completions = textGenerationFormat('huggingface', (ctx) => {
  const o = options(ctx.options);
  return Object.keys(o).length > 0 ? { options: o } : {};
});

function headers(o: ModelOptions): Record<string, string> {
  const h: Record<string, string> = {};
  const { use_cache: useCache, wait_for_model: wait } = options(o);
  if (useCache !== undefined) h['x-use-cache'] = String(useCache);
  if (wait !== undefined) h['x-wait-for-model'] = String(wait);
  return h;
}

function endpoint(ctx: DriverContext): Endpoint {
  const o = ctx.options;
  const isChat = ctx.routeType === 'llm/v1/chat';
  let url: string;
  if (o.upstream_url) {
    const base = upstreamPrefix(o.upstream_url);
    url = !isChat || /\/chat\/completions$/.test(base) ? base : `${base}/v1/chat/completions`;
  } else if (o.upstream_path) {
    url = `${HUGGINGFACE_ORIGIN}${safePath(o.upstream_path)}`;
  } else {
    url = isChat ? `${HUGGINGFACE_ORIGIN}/v1/chat/completions` : `${HUGGINGFACE_ORIGIN}/hf-inference/models/${repoPath(ctx.model, 'huggingface')}`;
  }
  return { url, headers: headers(o) };
}

/**
 * Embeddings: the feature-extraction task (`{"inputs": [texts]}` → `[[...], ...]`), by default
 * `https://router.huggingface.co:443/hf-inference/models/{model}/pipeline/feature-extraction`; with
 * `upstream_url`, a Text Embeddings Inference server's `/embed` (same shapes) or an Inference
 * Endpoint, as configured. No usage is reported: the plugin counts.
 */
const embeddings: EmbeddingsDriver = {
  endpoint: (ctx) => {
    const o = ctx.options;
    const url = o.upstream_url
      ? upstreamPrefix(o.upstream_url)
      : `${HUGGINGFACE_ORIGIN}${o.upstream_path ? safePath(o.upstream_path) : `/hf-inference/models/${repoPath(ctx.model, 'huggingface')}/pipeline/feature-extraction`}`;
    return { url, headers: headers(o) };
  },
  buildRequest: (req) => {
    const body: Record<string, unknown> = { inputs: textInputs(req, 'huggingface') };
    if (typeof req.normalize === 'boolean') body.normalize = req.normalize;
    if (typeof req.truncate === 'boolean') body.truncate = req.truncate;
    return body;
  },
  parseResponse: (text, req, ctx) => {
    const list = asArray(parseUpstreamJson(text, 'llm/v1/embeddings'));
    if (!list) throw new TranslationError('huggingface embeddings answer: expected an array of embeddings');
    expectCount(list, req, 'huggingface');
    // A model without pooling answers one vector per token ([[[...]]]): not a sentence embedding.
    const vectors = list.map((v) => vectorOf(v, 'huggingface'));
    return { body: embeddingsBody(vectors, ctx.model, null, req), usage: null, responseModel: null };
  },
};

export const huggingfaceDriver = defineDriver({
  name: 'huggingface',
  endpoint,
  formatFor: (ctx): WireFormat => (ctx.routeType === 'llm/v1/chat' ? chat : completions),
  embeddings,
});
