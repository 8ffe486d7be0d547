/**
 * Answers for Anthropic Messages clients: the EventSink stream translators write to (Anthropic's
 * server-sent events), whole answers (a `message` object), and Anthropic's error shape.
 *
 * References: https://docs.anthropic.com/en/docs/build-with-claude/streaming (event flow, `ping`,
 * `text_delta`, `input_json_delta`, `thinking_delta`, `signature_delta`, `error` events),
 * https://docs.anthropic.com/en/api/messages (the Message object, stop reasons, usage),
 * https://docs.anthropic.com/en/api/errors (error types by status, `{"type":"error","error":{type,message},"request_id"}`),
 * and the `@anthropic-ai/sdk` types (RawMessageStreamEvent, Message, ErrorResponse).
 *
 * A stream is `message_start` (content [], usage zero: the counts come at the end), `ping`, then
 * per content block `content_block_start` / `content_block_delta`... / `content_block_stop`, then
 * `message_delta` (stop reason, and the whole usage: the SDKs overwrite message_start's counts
 * with the non-null ones) and `message_stop`. Translators call `finish(reason)`, `usage(u)` and
 * `done()` in that order; the stop reason is held until `done()` writes message_delta with the usage.
 *
 * What the renderer guarantees, whatever the provider:
 * - a `tool_use` block starts with `input: {}` and its arguments come as `input_json_delta`
 *   fragments (none for a call without arguments: the input stays `{}`);
 * - tool-call ids are provider-neutral (ids.ts), which Anthropic's `^[a-zA-Z0-9_-]+$` accepts;
 * - reasoning text is a `thinking` block; its `signature_delta` carries only Anthropic's own
 *   signature (another provider's state, Gemini's thought signatures, OpenAI's encrypted
 *   reasoning, stays in `carried`: the gateway's provider-state cache puts it back next turn);
 *   redacted thinking is its own `redacted_thinking` block;
 * - a refusal is text (Anthropic has no refusal block; the stop reason says `refusal`).
 */
import type { CanonicalResponse, Carried, EventSink, FinishReason, ReasoningPart, StreamFailure, ToolCallDelta, Usage } from '../types.ts';
import type { SinkContext } from '../apis/types.ts';
import type { JsonObject } from '../../llm/json.ts';
import { TranslationError } from '../../llm/types.ts';
import { describeUpstreamFailure } from '../../plugins/ai-proxy/openai-error.ts';
import { neutralId, toolCallId } from '../ids.ts';

const PROVIDER = 'anthropic';
const ID_PREFIX = 'msg_';

/** FinishReason → Anthropic's `stop_reason` (`stop` with a known stop sequence is `stop_sequence`). */
const STOP_REASONS: Readonly<Record<FinishReason, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function stopReason(reason: FinishReason | null, stopSequence?: string): string {
  if (reason === 'stop' && stopSequence !== undefined) return 'stop_sequence';
  return STOP_REASONS[reason ?? 'stop'];
}

/** Anthropic's usage object from canonical usage: input tokens leave cache reads and writes out. */
export function anthropicUsageOf(usage: Usage | null): { input_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; output_tokens: number } {
  const read = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  const written = usage?.prompt_tokens_details?.cache_write_tokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - read - written),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: read,
    output_tokens: usage?.completion_tokens ?? 0,
  };
}

/** One server-sent event, as Anthropic frames them: the event name, then its JSON (which repeats the name as `type`). */
export function anthropicEvent(type: string, payload: JsonObject): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

/** The answer id the client sees: the provider's own when it is Anthropic's (`msg_…`), else the gateway's. */
function messageId(providerId: string, gatewayId: string): string {
  return providerId.startsWith(ID_PREFIX) ? providerId : gatewayId;
}

/** Anthropic's own thinking state: the only kind an Anthropic client can send back to Anthropic. */
function isAnthropicState(part: ReasoningPart): boolean {
  return part.provider === PROVIDER;
}

type OpenBlock = { kind: 'text' | 'thinking'; index: number } | { kind: 'tool'; index: number; call: number };

/** The stream of one answer, in Anthropic's events. */
export class AnthropicMessagesSink implements EventSink {
  id: string;
  created: number;
  model: string;
  readonly #gatewayId: string;
  #started = false;
  #ended = false;
  #open: OpenBlock | null = null;
  #blocks = 0;
  /** Tool-call index → its block (a call's fragments can only go to its block while it is open). */
  readonly #calls = new Map<number, { block: number; id: string }>();
  #reasoningText = '';
  #stopReason: FinishReason | null = null;
  #usage: Usage | null = null;
  readonly #carried: Carried = { reasoning: [], toolCallIds: [] };

  constructor(ctx: SinkContext) {
    this.id = ctx.id;
    this.#gatewayId = ctx.id;
    this.created = ctx.now;
    this.model = ctx.model;
  }

  get carried(): Carried {
    return this.#carried;
  }

  start(): string {
    if (this.#started) return '';
    this.#started = true;
    const message = {
      id: messageId(this.id, this.#gatewayId),
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: anthropicUsageOf(null),
    };
    return anthropicEvent('message_start', { message }) + anthropicEvent('ping', {});
  }

  text(text: string): string {
    if (text === '') return '';
    return this.#into('text') + this.#delta({ type: 'text_delta', text });
  }

  reasoning(text: string): string {
    if (text === '') return '';
    this.#reasoningText += text;
    return this.#into('thinking') + this.#delta({ type: 'thinking_delta', thinking: text });
  }

  /** State to keep: a part whose `text` is '' gets the reasoning text streamed since the last state part. */
  reasoningState(part: ReasoningPart): string {
    const kept: ReasoningPart = part.text === '' && this.#reasoningText !== '' ? { ...part, text: this.#reasoningText } : { ...part };
    this.#reasoningText = '';
    if (kept.toolCallId !== undefined) kept.toolCallId = neutralId(kept.toolCallId);
    this.#carried.reasoning.push(kept);
    if (part.redacted !== undefined) {
      if (!isAnthropicState(part)) return '';
      const index = this.#blocks;
      return this.#close() + this.#startBlock({ type: 'redacted_thinking', data: part.redacted }) + this.#stopBlock(index);
    }
    let frames = '';
    if (part.text !== '') frames += this.#into('thinking') + this.#delta({ type: 'thinking_delta', thinking: part.text });
    if (part.signature !== undefined && isAnthropicState(part) && this.#open?.kind === 'thinking') {
      frames += this.#delta({ type: 'signature_delta', signature: part.signature });
    }
    return frames;
  }

  refusal(text: string): string {
    return this.text(text);
  }

  toolCalls(calls: ToolCallDelta[]): string {
    let frames = '';
    for (const call of calls) {
      let open = this.#calls.get(call.index);
      if (!open) {
        frames += this.#ensureStarted() + this.#close();
        const id = toolCallId(call.id, this.id, call.index);
        open = { block: this.#blocks, id };
        this.#calls.set(call.index, open);
        this.#carried.toolCallIds.push(id);
        this.#open = { kind: 'tool', index: this.#blocks, call: call.index };
        frames += this.#startBlock({ type: 'tool_use', id, name: call.name ?? '', input: {} });
      }
      if (call.arguments === '') continue;
      if (this.#open?.kind !== 'tool' || this.#open.call !== call.index) {
        // Anthropic cannot reopen a block: a provider interleaving two calls' arguments cannot be rendered.
        throw new TranslationError(`tool call ${call.index} continued after another block started: an Anthropic stream cannot reopen a block`);
      }
      frames += this.#delta({ type: 'input_json_delta', partial_json: call.arguments });
    }
    return frames;
  }

  finish(reason: FinishReason | null): string {
    this.#stopReason = reason;
    return this.#ensureStarted() + this.#close();
  }

  usage(usage: Usage): string {
    this.#usage = usage;
    return '';
  }

  done(): string {
    if (this.#ended) return '';
    this.#ended = true;
    const frames = this.#ensureStarted() + this.#close();
    const delta = { stop_reason: stopReason(this.#stopReason), stop_sequence: null };
    return frames + anthropicEvent('message_delta', { delta, usage: anthropicUsageOf(this.#usage) }) + anthropicEvent('message_stop', {});
  }

  error(failure: StreamFailure): string {
    this.#ended = true;
    return anthropicStreamError(failure);
  }

  #ensureStarted(): string {
    return this.#started ? '' : this.start();
  }

  /** Frames to make the open block one of `kind` (closing another, opening a new one). */
  #into(kind: 'text' | 'thinking'): string {
    if (this.#open?.kind === kind) return '';
    const frames = this.#ensureStarted() + this.#close();
    this.#open = { kind, index: this.#blocks };
    return frames + this.#startBlock(kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' });
  }

  #startBlock(block: JsonObject): string {
    return anthropicEvent('content_block_start', { index: this.#blocks++, content_block: block });
  }

  #delta(delta: JsonObject): string {
    return anthropicEvent('content_block_delta', { index: this.#open?.index ?? this.#blocks - 1, delta });
  }

  #stopBlock(index: number): string {
    return anthropicEvent('content_block_stop', { index });
  }

  #close(): string {
    if (!this.#open) return '';
    const index = this.#open.index;
    this.#open = null;
    return this.#stopBlock(index);
  }
}

export function createAnthropicSink(ctx: SinkContext): AnthropicMessagesSink {
  return new AnthropicMessagesSink(ctx);
}

// ---------------------------------------------------------------------------------------------
// Whole answers

type Block = JsonObject;

/** A whole answer as the JSON text of Anthropic's `message` object. */
export function renderAnthropicResponse(response: CanonicalResponse, ctx: SinkContext): string {
  const choice = response.choices[0];
  const id = messageId(response.id, ctx.id);
  const content: Block[] = [];
  let call = 0;
  for (const part of choice?.parts ?? []) {
    switch (part.type) {
      case 'reasoning':
        if (part.redacted !== undefined) {
          if (isAnthropicState(part)) content.push({ type: 'redacted_thinking', data: part.redacted });
        } else if (part.text !== '' || (part.signature !== undefined && isAnthropicState(part))) {
          content.push({ type: 'thinking', thinking: part.text, signature: isAnthropicState(part) ? (part.signature ?? '') : '' });
        }
        break;
      case 'text':
      case 'refusal': {
        if (part.text === '') break;
        const last = content.at(-1);
        if (last?.type === 'text') last.text = `${last.text as string}${part.text}`;
        else content.push({ type: 'text', text: part.text });
        break;
      }
      case 'tool_call':
        content.push({ type: 'tool_use', id: toolCallId(part.id, id, call++), name: part.name, input: inputOf(part.arguments) });
        break;
    }
  }
  return JSON.stringify({
    id,
    type: 'message',
    role: 'assistant',
    model: response.model || ctx.model,
    content,
    stop_reason: stopReason(choice?.finishReason ?? null, choice?.stopSequence),
    stop_sequence: choice?.stopSequence ?? null,
    usage: anthropicUsageOf(response.usage),
  });
}

/** A tool call's arguments as the `input` object ('' is none; text that is not an object is kept under `arguments`, never lost). */
function inputOf(args: string): unknown {
  if (args.trim() === '') return {};
  try {
    const input: unknown = JSON.parse(args);
    if (typeof input === 'object' && input !== null && !Array.isArray(input)) return input;
  } catch {
    // falls through
  }
  return { arguments: args };
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Status → Anthropic's error `type` (the errors page; 402, 409 and 504 from the SDK's ErrorType). */
const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** Every `error.type` Anthropic documents: a provider's own type is kept when it is one of these. */
const ANTHROPIC_TYPES: ReadonlySet<string> = new Set([...Object.values(ERROR_TYPES)]);

/** The error type for a status: the table, else `invalid_request_error` for 4xx ("other 4XX") and `api_error` for the rest. */
export function anthropicErrorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error');
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Any error body the gateway writes, in Anthropic's shape `{"type":"error","error":{type,message},
 * "request_id"?}`. `body` is Kong's `{"message"}` and/or OpenAI's `{"error":{message,type,code,param}}`
 * (openai-error.ts). modelgate's cause code goes in `error.details.error_code`, where the Anthropic
 * SDKs read a stable cause code (`APIError.errorCode`, shown in the message) and treat one they do
 * not know as the bare type; a provider's own error (`error.provider`) goes beside it in `details`.
 * Text and other shapes (an operator's own `request-termination` body) are left as written.
 */
export function anthropicErrorBody(status: number, body: unknown, failureCode: string | null): unknown {
  if (!isObject(body)) return body;
  if (body.type === 'error' && isObject(body.error)) return body; // already Anthropic's
  const openai = isObject(body.error) ? body.error : null;
  const kong = typeof body.message === 'string' ? body.message : null;
  if (!openai && kong === null) return body;
  const failure = describeUpstreamFailure(failureCode);
  const message = typeof openai?.message === 'string' ? openai.message : (kong ?? failure?.message ?? `HTTP ${status}`);
  const code = typeof openai?.code === 'string' ? openai.code : (failure?.code ?? null);
  const error: JsonObject = { type: anthropicErrorType(status), message };
  const details: JsonObject = {};
  if (code !== null) details.error_code = code;
  if (openai?.provider !== undefined) details.provider = openai.provider;
  if (Object.keys(details).length > 0) error.details = details;
  const out: JsonObject = { type: 'error', error };
  if (typeof body.request_id === 'string') out.request_id = body.request_id;
  return out;
}

/** The `error` event of a stream that failed after it started (Anthropic's own, as its SDKs raise it). */
export function anthropicStreamError(failure: StreamFailure): string {
  const providerType = failure.provider?.type;
  const type = providerType && ANTHROPIC_TYPES.has(providerType) ? providerType : anthropicErrorType(failure.status);
  const error: JsonObject = { type, message: failure.message, details: { error_code: failure.code } };
  return anthropicEvent('error', { error });
}
