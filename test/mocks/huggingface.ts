/**
 * Hugging Face Inference Providers (`router.huggingface.co`) and a TGI / Inference Endpoint:
 * - `POST /v1/chat/completions` (and `{prefix}/v1/chat/completions`): TGI's Messages API, OpenAI's
 *   request shape with the model in the body; answers in TGI's flavour of OpenAI's shape (an empty
 *   `id`, `finish_reason: "eos_token"`, `system_fingerprint` of the TGI build), streams
 *   `data: {chunk}` ending `data: [DONE]`, usage on the last chunk.
 * - `POST /hf-inference/models/{owner}/{name}`: the text-generation task, `{"inputs", "parameters",
 *   "options", "stream"}`, answered `[{"generated_text"}]` (TGI's rules, see tgi.ts).
 * - `POST /hf-inference/models/{owner}/{name}/pipeline/feature-extraction`: `{"inputs": text or
 *   texts}` → one vector (a string) or a list of vectors.
 * Models listed in `loading` answer 503 `{"error":"Model X is currently loading","estimated_time":...}`
 * unless the request waits for them (`x-wait-for-model: true`, or `options.wait_for_model: true`).
 *
 * Sources: Inference Providers docs (huggingface.co/docs/inference-providers: chat completion task,
 * text-generation and feature-extraction tasks, `x-wait-for-model` / `x-use-cache` headers); TGI's
 * router (`ChatCompletion`, `ChatCompletionChunk`, finish reasons `length`/`eos_token`/`stop_sequence`);
 * Kong's fixtures `huggingface/*` (the 401 body "Authorization header is correct, but the token
 * seems invalid", the 503 loading body, the TGI 2.1.1 answer).
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { sse } from './server.ts';
import { countTokens, isObject, splitChunks, textOf, tokensOf, truncateTokens } from './text.ts';
import { embedding, validateBody } from './openai.ts';
import { tgiProvider } from './tgi.ts';

export interface HuggingFaceOptions {
  /** The token required as `Authorization: Bearer` (default `hf_test`); null: none. */
  key?: string | null;
  /** Models that are still loading (503 unless the request waits). */
  loading?: string[];
}

const TEXT_GENERATION = /^\/hf-inference\/models\/([^/]+\/[^/]+|[^/]+)$/;
const FEATURE_EXTRACTION = /^\/hf-inference\/models\/([^/]+\/[^/]+|[^/]+)\/pipeline\/feature-extraction$/;

function hfError(status: number, error: string, extra: Record<string, unknown> = {}): JsonReply {
  return { kind: 'json', status, body: { error, ...extra } };
}

function waits(ctx: HandlerCtx): boolean {
  if (ctx.req.headers['x-wait-for-model'] === 'true') return true;
  const json = ctx.req.json;
  return isObject(json) && isObject(json.options) && json.options.wait_for_model === true;
}

export function huggingfaceProvider(opts: HuggingFaceOptions & Record<string, unknown>): ProviderImpl {
  const key = opts.key === undefined ? 'hf_test' : opts.key;
  const tgi = tgiProvider({ ...opts, key: null, rawShape: 'hf' });
  const loading = (model: string, ctx: HandlerCtx): JsonReply | null =>
    (opts.loading ?? []).includes(model) && !waits(ctx) ? hfError(503, `Model ${model} is currently loading`, { estimated_time: 20.0 }) : null;
  return {
    handle(ctx): Reply {
      if (ctx.req.method !== 'POST') return { kind: 'json', status: 404, contentType: 'text/plain', body: 'Not Found' };
      if (key) {
        const header = ctx.req.headers.authorization;
        const token = typeof header === 'string' && /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '').trim() : '';
        if (!token) return hfError(401, 'You must provide a valid access token. Use `Authorization: Bearer hf_...`.');
        if (token !== key) return hfError(401, 'Authorization header is correct, but the token seems invalid');
      }
      if (ctx.path.endsWith('/v1/chat/completions')) return chat(ctx, loading);
      const features = FEATURE_EXTRACTION.exec(ctx.path);
      if (features) return loading(features[1], ctx) ?? featureExtraction(ctx);
      const generation = TEXT_GENERATION.exec(ctx.path);
      if (generation) {
        const busy = loading(generation[1], ctx);
        if (busy) return busy;
        const json = ctx.req.json;
        if (isObject(json)) {
          const unknown = Object.keys(json).find((k) => !['inputs', 'parameters', 'options', 'stream'].includes(k));
          if (unknown) return { kind: 'json', status: 422, contentType: 'text/plain; charset=utf-8', body: `Failed to deserialize the JSON body into the target type: unknown field \`${unknown}\`, expected one of \`inputs\`, \`parameters\`, \`stream\` at line 1 column 2` };
          if (json.options !== undefined && (!isObject(json.options) || Object.keys(json.options).some((k) => !['use_cache', 'wait_for_model'].includes(k)))) {
            return hfError(400, 'options: expected {"use_cache": bool, "wait_for_model": bool}');
          }
        }
        return tgi.handle(ctx);
      }
      return { kind: 'json', status: 404, contentType: 'text/plain', body: 'Not Found' };
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') return hfError(429, 'Rate limit reached. You reached free usage limit (reset hourly). Please subscribe to a plan at https://huggingface.co/pricing to use the API at this rate');
      return hfError(status, 'Request failed during generation: Server error: CUDA out of memory', { error_type: 'generation' });
    },
  };
}

function chat(ctx: HandlerCtx, loading: (model: string, ctx: HandlerCtx) => JsonReply | null): Reply {
  const err = validateBody(ctx.req.json, { kind: 'chat', strictParams: false, requireModel: true });
  if (err) return { kind: 'json', status: 422, body: { error: err.message, error_type: 'validation' } };
  const body = ctx.req.json as Record<string, unknown>;
  const model = String(body.model).replace(/:[a-z-]+$/, '');
  const busy = loading(model, ctx);
  if (busy) return busy;
  const messages = body.messages as { content?: unknown }[];
  const prompt = tokensOf(...messages.map((m) => m.content));
  const cut = truncateTokens(ctx.text, (body.max_completion_tokens ?? body.max_tokens) as number | undefined);
  const finish = cut.truncated ? 'length' : 'eos_token';
  const completion = countTokens(cut.text);
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  const created = ctx.ids.seconds();
  const fingerprint = '3.0.1-sha-mock';
  if (!(ctx.forceStream || body.stream === true)) {
    return {
      kind: 'json',
      status: 200,
      body: { object: 'chat.completion', id: '', created, model: String(body.model), system_fingerprint: fingerprint, choices: [{ index: 0, message: { role: 'assistant', content: cut.text }, logprobs: null, finish_reason: finish }], usage },
    };
  }
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, withUsage = false) => ({
    object: 'chat.completion.chunk',
    id: '',
    created,
    model: String(body.model),
    system_fingerprint: fingerprint,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    usage: withUsage ? usage : null,
  });
  const pieces = splitChunks(cut.text, ctx.chunks);
  const frames = pieces.map((piece, i) => sse(chunk({ role: 'assistant', content: piece, tool_call_id: null }, i === pieces.length - 1 ? finish : null, i === pieces.length - 1)));
  return { kind: 'stream', contentType: 'text/event-stream', frames: [...frames, 'data: [DONE]\n\n'], filler: () => sse(chunk({ role: 'assistant', content: '.' }, null)) };
}

function featureExtraction(ctx: HandlerCtx): Reply {
  const json = ctx.req.json;
  if (!isObject(json) || json.inputs === undefined) return { kind: 'json', status: 422, contentType: 'text/plain; charset=utf-8', body: 'Failed to deserialize the JSON body into the target type: missing field `inputs` at line 1 column 2' };
  const unknown = Object.keys(json).find((k) => !['inputs', 'normalize', 'truncate', 'prompt_name', 'truncation_direction'].includes(k));
  if (unknown) return { kind: 'json', status: 422, contentType: 'text/plain; charset=utf-8', body: `Failed to deserialize the JSON body into the target type: unknown field \`${unknown}\`` };
  const inputs = json.inputs;
  if (typeof inputs === 'string') return { kind: 'json', status: 200, body: embedding(inputs, 384) };
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((i) => typeof i === 'string' && i !== '')) return hfError(400, 'inputs: expected a string or a non-empty list of strings');
  return { kind: 'json', status: 200, body: inputs.map((text) => embedding(textOf(text), 384)) };
}
