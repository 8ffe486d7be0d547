/**
 * Anthropic Messages API: `POST /v1/messages` (and the retired `POST /v1/complete`).
 *
 * Sources:
 * - Messages API reference / SDK params (anthropic-sdk-python `types/message_create_params.py`):
 *   required `model`, `max_tokens`, `messages`; roles `user` and `assistant` only (consecutive
 *   same-role turns are merged, the first turn may be `assistant` on the first-party API); the system
 *   prompt is the top-level `system`; `temperature` 0.0–1.0; `top_p`, `top_k`; unknown fields are
 *   refused ("<field>: Extra inputs are not permitted").
 * - Errors (docs.anthropic.com/en/api/errors): `{"type":"error","error":{"type":...,"message":...},"request_id":...}`,
 *   400 invalid_request_error, 401 authentication_error, 404 not_found_error, 429 rate_limit_error,
 *   500 api_error, 529 overloaded_error. Messages quoted from the live API in public reports:
 *   "x-api-key header is required" / "invalid x-api-key" (401), "anthropic-version: header is required" (400,
 *   envoyproxy/ai-gateway#1909), "messages: Unexpected role \"system\". The Messages API accepts a top-level
 *   `system` parameter, not \"system\" as an input message role." (ChainForge#271), "temperature: range: 0..1"
 *   (anthropic-sdk-python#893), "model: <name>" 404 not_found_error, "\"claude-3-...\" is not supported on this
 *   API. Please use the Messages API instead." for `/v1/complete` with a current model.
 * - Streaming (docs "Streaming Messages"): SSE with `event:` lines: message_start, content_block_start,
 *   ping, content_block_delta (text_delta)..., content_block_stop, message_delta (stop_reason, usage.output_tokens),
 *   message_stop.
 * - Versions (docs "Versioning"): `anthropic-version` is `2023-06-01` (or the older `2023-01-01`).
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { sse } from './server.ts';
import { countTokens, cutAtStop, isObject, splitChunks, tokensOf, truncateTokens } from './text.ts';

export interface AnthropicOptions {
  key?: string | null;
  /** Models served, or `'*'` for any. */
  models?: string[] | '*';
}

export const ANTHROPIC_MODELS = [
  'claude-3-haiku-20240307', 'claude-3-opus-20240229', 'claude-3-5-haiku-20241022', 'claude-3-5-haiku-latest',
  'claude-3-5-sonnet-20241022', 'claude-3-5-sonnet-latest', 'claude-3-7-sonnet-20250219', 'claude-3-7-sonnet-latest',
  'claude-sonnet-4-20250514', 'claude-sonnet-4-0', 'claude-opus-4-20250514', 'claude-opus-4-0',
  'claude-opus-4-1-20250805', 'claude-opus-4-1', 'claude-sonnet-4-5-20250929', 'claude-sonnet-4-5',
  'claude-haiku-4-5-20251001', 'claude-haiku-4-5',
];

const VERSIONS = ['2023-06-01', '2023-01-01'];

/** Top-level fields of Create a Message (SDK `MessageCreateParamsBase`). */
const FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'cache_control', 'container', 'inference_geo', 'metadata', 'output_config',
  'service_tier', 'stop_sequences', 'stream', 'system', 'temperature', 'thinking', 'tool_choice', 'tools', 'top_k', 'top_p',
]);

/** Numeric fields and their documented bounds; the message text follows the live API ("temperature: range: 0..1"). */
const RANGES: Record<string, { min: number; max?: number; int?: boolean }> = {
  temperature: { min: 0, max: 1 },
  top_p: { min: 0, max: 1 },
  top_k: { min: 0, int: true },
};

function anthropicError(status: number, type: string, message: string, ctx: HandlerCtx): JsonReply {
  const requestId = ctx.ids.next('req_mock');
  return { kind: 'json', status, headers: { 'request-id': requestId }, body: { type: 'error', error: { type, message }, request_id: requestId } };
}

/** The first problem with a Messages body, as `[status, type, message]`, or null. */
function validate(json: unknown, models: string[] | '*'): [number, string, string] | null {
  if (!isObject(json)) return [400, 'invalid_request_error', 'There was an error parsing the body of your request. Please make sure it is valid JSON.'];
  const extra = Object.keys(json).find((k) => !FIELDS.has(k));
  if (extra) return [400, 'invalid_request_error', `${extra}: Extra inputs are not permitted`];
  for (const field of ['model', 'max_tokens', 'messages']) {
    if (json[field] === undefined) return [400, 'invalid_request_error', `${field}: Field required`];
  }
  if (typeof json.model !== 'string') return [400, 'invalid_request_error', 'model: Input should be a valid string'];
  if (typeof json.max_tokens !== 'number' || !Number.isInteger(json.max_tokens)) return [400, 'invalid_request_error', 'max_tokens: Input should be a valid integer'];
  if (json.max_tokens < 0) return [400, 'invalid_request_error', 'max_tokens: Input should be greater than or equal to 0'];
  if (!Array.isArray(json.messages)) return [400, 'invalid_request_error', 'messages: Input should be a valid list'];
  if (json.messages.length === 0) return [400, 'invalid_request_error', 'messages: at least one message is required'];
  for (const [i, m] of json.messages.entries()) {
    if (!isObject(m)) return [400, 'invalid_request_error', `messages.${i}: Input should be a valid dictionary`];
    if (m.role === 'system') {
      return [400, 'invalid_request_error', 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.'];
    }
    if (m.role !== 'user' && m.role !== 'assistant') return [400, 'invalid_request_error', `messages.${i}.role: Input should be 'user' or 'assistant'`];
    if (m.content === undefined) return [400, 'invalid_request_error', `messages.${i}.content: Field required`];
    if (m.content === '' || (Array.isArray(m.content) && m.content.length === 0)) return [400, 'invalid_request_error', 'messages: text content blocks must be non-empty'];
  }
  if (json.system !== undefined && typeof json.system !== 'string' && !Array.isArray(json.system)) return [400, 'invalid_request_error', 'system: Input should be a valid string'];
  for (const [name, r] of Object.entries(RANGES)) {
    const v = json[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || (r.int && !Number.isInteger(v))) return [400, 'invalid_request_error', `${name}: Input should be a valid ${r.int ? 'integer' : 'number'}`];
    if (v < r.min || (r.max !== undefined && v > r.max)) return [400, 'invalid_request_error', r.max !== undefined ? `${name}: range: ${r.min}..${r.max}` : `${name}: Input should be greater than or equal to ${r.min}`];
  }
  if (models !== '*' && !models.includes(json.model)) return [404, 'not_found_error', `model: ${json.model}`];
  return null;
}

export function anthropicProvider(opts: AnthropicOptions & Record<string, unknown>): ProviderImpl {
  const models = (): string[] | '*' => opts.models ?? ANTHROPIC_MODELS;
  return {
    handle(ctx): Reply {
      const known = ctx.path === '/v1/messages' || ctx.path === '/v1/complete';
      if (!known || ctx.req.method !== 'POST') return anthropicError(404, 'not_found_error', 'Not Found', ctx);

      // Authentication first, then the version header (both checked before the body).
      const given = ctx.req.headers['x-api-key'];
      if (opts.key) {
        if (typeof given !== 'string' || given === '') return anthropicError(401, 'authentication_error', 'x-api-key header is required', ctx);
        if (given !== opts.key) return anthropicError(401, 'authentication_error', 'invalid x-api-key', ctx);
      }
      const version = ctx.req.headers['anthropic-version'];
      if (typeof version !== 'string' || version === '') return anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required', ctx);
      if (!VERSIONS.includes(version)) return anthropicError(400, 'invalid_request_error', `anthropic-version: unknown version \`${version}\``, ctx);

      if (ctx.path === '/v1/complete') return legacyComplete(ctx, models());

      const problem = validate(ctx.req.json, models());
      if (problem) return anthropicError(problem[0], problem[1], problem[2], ctx);
      return messages(ctx, ctx.req.json as Record<string, unknown>);
    },
    errorReply(status, kind, ctx) {
      if (kind === 'rate-limit') return anthropicError(429, 'rate_limit_error', 'This request would exceed the rate limit for your organization of 50 requests per minute. Please try again later.', ctx);
      if (status === 529) return anthropicError(529, 'overloaded_error', 'Overloaded', ctx);
      return anthropicError(status, 'api_error', 'Internal server error', ctx);
    },
  };
}

/** The Text Completions API no longer serves current models (docs "Migrating from Text Completions"). */
function legacyComplete(ctx: HandlerCtx, models: string[] | '*'): Reply {
  const model = isObject(ctx.req.json) ? ctx.req.json.model : undefined;
  if (typeof model !== 'string') return anthropicError(400, 'invalid_request_error', 'model: Field required', ctx);
  if (models === '*' || models.includes(model)) return anthropicError(400, 'invalid_request_error', `"${model}" is not supported on this API. Please use the Messages API instead.`, ctx);
  return anthropicError(404, 'not_found_error', `model: ${model}`, ctx);
}

function messages(ctx: HandlerCtx, body: Record<string, unknown>): Reply {
  const input = tokensOf(body.system, ...(body.messages as { content: unknown }[]).map((m) => m.content));
  let text = ctx.text;
  let stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence' = 'end_turn';
  let stopSequence: string | null = null;
  const stopped = cutAtStop(text, body.stop_sequences);
  if (stopped) [text, stopReason, stopSequence] = [stopped.text, 'stop_sequence', stopped.stop];
  const cut = truncateTokens(text, body.max_tokens as number);
  if (cut.truncated) [text, stopReason, stopSequence] = [cut.text, 'max_tokens', null];
  const output = countTokens(text);

  const id = ctx.ids.next('msg_mock');
  const model = body.model as string;
  const headers = { 'request-id': ctx.ids.next('req_mock') };
  const usage = { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output };

  if (!(ctx.forceStream || body.stream === true)) {
    return {
      kind: 'json',
      status: 200,
      headers,
      body: { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text }], stop_reason: stopReason, stop_sequence: stopSequence, usage },
    };
  }
  const frames = [
    sse({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }, 'message_start'),
    sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
    sse({ type: 'ping' }, 'ping'),
    ...splitChunks(text, ctx.chunks).map((piece) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }, 'content_block_delta')),
    sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
    sse({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: stopSequence }, usage: { output_tokens: output } }, 'message_delta'),
    sse({ type: 'message_stop' }, 'message_stop'),
  ];
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', headers, frames, filler: () => sse({ type: 'ping' }, 'ping') };
}

