/**
 * "llama2 raw": Hugging Face Text Generation Inference (TGI) and the HF Inference API in front of it.
 * `POST <any path>` (or only the configured `paths`) with `{"inputs": string, "parameters": {...}, "stream"?: bool}`.
 *
 * Sources:
 * - TGI router (`router/src/validation.rs`, `ValidationError`): 422
 *   `{"error":"Input validation error: <reason>","error_type":"validation"}` with reasons
 *   "`inputs` cannot be empty", "`temperature` must be strictly positive", "`top_p` must be > 0.0 and < 1.0",
 *   "`top_k` must be strictly positive", "`max_new_tokens` must be strictly positive",
 *   "`repetition_penalty` must be strictly positive"; a body without `inputs` fails axum's JSON
 *   extractor: 422 text/plain "Failed to deserialize the JSON body into the target type: missing field `inputs` ...".
 * - Answers: HF Inference API `[{"generated_text": ...}]` (prompt included unless
 *   `parameters.return_full_text` is false); TGI `/generate` `{"generated_text": ...}`; Kong's
 *   llama2 raw fixtures `{"data":[{"generated_text": ...}]}` (spec/fixtures/ai-proxy/llama2/raw).
 * - Streaming (`/generate_stream`, or `"stream": true` on `/`): SSE `data:{"index":n,"token":{"id":..,"text":..,
 *   "logprob":..,"special":false},"generated_text":null,"details":null}`; the last event carries the
 *   full `generated_text` (and `details` when asked).
 * - HF Inference API 401: `{"error":"Invalid credentials in Authorization header"}` (huggingface/transformers#38289).
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { countTokens, isObject, splitChunks, truncateTokens } from './text.ts';

export type RawShape = 'hf' | 'tgi' | 'kong';

export interface TgiOptions {
  /** A Bearer key to require (the HF Inference API needs one; a bare TGI usually not). */
  key?: string | null;
  /** Paths served (default: any path). */
  paths?: string[];
  /** Non-streaming answer shape (default `hf`). */
  rawShape?: RawShape;
}

/** `parameters` checks in TGI's order: the field, the test, the reason. */
const CHECKS: [string, (v: number) => boolean, string][] = [
  ['temperature', (v) => v > 0, '`temperature` must be strictly positive'],
  ['repetition_penalty', (v) => v > 0, '`repetition_penalty` must be strictly positive'],
  ['top_p', (v) => v > 0 && v < 1, '`top_p` must be > 0.0 and < 1.0'],
  ['top_k', (v) => v > 0, '`top_k` must be strictly positive'],
  ['typical_p', (v) => v > 0 && v < 1, '`typical_p` must be > 0.0 and < 1.0'],
  ['max_new_tokens', (v) => v > 0, '`max_new_tokens` must be strictly positive'],
];

/** Whether each shape includes the prompt in `generated_text` by default (HF pipeline vs TGI). */
const FULL_TEXT_DEFAULT: Record<RawShape, boolean> = { hf: true, kong: true, tgi: false };

function validation(reason: string): JsonReply {
  return { kind: 'json', status: 422, body: { error: `Input validation error: ${reason}`, error_type: 'validation' } };
}

export function tgiProvider(opts: TgiOptions & Record<string, unknown>): ProviderImpl {
  return {
    handle(ctx): Reply {
      if (ctx.req.method !== 'POST' || (opts.paths && !opts.paths.includes(ctx.path))) return { kind: 'json', status: 404, contentType: 'text/plain', body: '' };
      if (opts.key) {
        const header = ctx.req.headers.authorization;
        if (typeof header !== 'string' || header.replace(/^bearer\s+/i, '') !== opts.key) {
          return { kind: 'json', status: 401, body: { error: 'Invalid credentials in Authorization header' } };
        }
      }
      const json = ctx.req.json;
      if (!isObject(json)) {
        return { kind: 'json', status: 400, contentType: 'text/plain; charset=utf-8', body: 'Failed to parse the request body as JSON' };
      }
      if (json.inputs === undefined) {
        return { kind: 'json', status: 422, contentType: 'text/plain; charset=utf-8', body: 'Failed to deserialize the JSON body into the target type: missing field `inputs` at line 1 column 2' };
      }
      if (typeof json.inputs !== 'string') {
        return { kind: 'json', status: 422, contentType: 'text/plain; charset=utf-8', body: 'Failed to deserialize the JSON body into the target type: inputs: invalid type: expected a string at line 1 column 2' };
      }
      if (json.inputs === '') return validation('`inputs` cannot be empty');
      const params = isObject(json.parameters) ? json.parameters : {};
      for (const [name, ok, reason] of CHECKS) {
        const v = params[name];
        if (typeof v === 'number' && !ok(v)) return validation(reason);
      }
      return generate(ctx, json.inputs, params, json.stream === true || ctx.path.endsWith('/generate_stream'), opts.rawShape ?? 'hf');
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') return { kind: 'json', status: 429, body: { error: 'Model is overloaded', error_type: 'overloaded' } };
      return { kind: 'json', status, body: { error: 'Request failed during generation: Server error: CUDA out of memory', error_type: 'generation' } };
    },
  };
}

function generate(ctx: HandlerCtx, inputs: string, params: Record<string, unknown>, stream: boolean, shape: RawShape): Reply {
  const cut = truncateTokens(ctx.text, params.max_new_tokens as number | undefined);
  const fullText = (params.return_full_text as boolean | undefined) ?? FULL_TEXT_DEFAULT[shape];
  const generated = fullText ? `${inputs}${cut.text}` : cut.text;
  const details = { finish_reason: cut.truncated ? 'length' : 'eos_token', generated_tokens: countTokens(cut.text), seed: null };

  if (!(stream || ctx.forceStream)) {
    const item: Record<string, unknown> = { generated_text: generated };
    if (params.details === true) item.details = details;
    const body = shape === 'tgi' ? item : shape === 'kong' ? { data: [item] } : [item];
    return { kind: 'json', status: 200, body };
  }
  const pieces = splitChunks(cut.text, ctx.chunks);
  const event = (i: number, text: string, last: boolean): string =>
    `data:${JSON.stringify({
      index: i + 1,
      token: { id: 1000 + i, text, logprob: -0.25, special: false },
      generated_text: last ? (params.return_full_text === true ? `${inputs}${cut.text}` : cut.text) : null,
      details: last && params.details === true ? details : null,
    })}\n\n`;
  return {
    kind: 'stream',
    contentType: 'text/event-stream',
    frames: pieces.map((p, i) => event(i, p, i === pieces.length - 1)),
    filler: (i) => event(pieces.length + i, '.', false),
  };
}
