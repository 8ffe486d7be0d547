/**
 * Answers for OpenAI Responses clients: the EventSink stream translators write to (Responses
 * streaming events), whole answers (the `response` object), and the stream error events.
 *
 * References: https://platform.openai.com/docs/api-reference/responses/object and
 * https://platform.openai.com/docs/api-reference/responses-streaming (the `openai` npm package's
 * `ResponseStreamEvent` types: the unit tests check these shapes against them).
 *
 * A stream is, each event `event: <type>\ndata: <json>\n\n` with `sequence_number` from 0:
 *   response.created, response.in_progress,
 *   per output item: response.output_item.added, then
 *     message: response.content_part.added, response.output_text.delta… (or refusal.delta…),
 *              response.output_text.done, response.content_part.done
 *     reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta…,
 *                response.reasoning_summary_text.done, response.reasoning_summary_part.done
 *     function_call: response.function_call_arguments.delta…, response.function_call_arguments.done
 *   response.output_item.done;
 *   finally response.completed, or response.incomplete (finish `length` → `max_output_tokens`,
 *   `content_filter` → `content_filter`); a failure is `error` then `response.failed`.
 *
 * What the renderer guarantees, whatever the provider: item ids `rs_`, `msg_`, `fc_` derived from
 * the response id (the same in a stream and in a whole answer); function calls have a
 * provider-neutral `call_id` (ids.ts) and arguments that are JSON text of an object (`{}` for
 * none); reasoning state (signatures, redacted or encrypted content) goes into the reasoning item's
 * `encrypted_content` when the client asked (`include: ["reasoning.encrypted_content"]`), encoded
 * so that it comes back as the same ReasoningPart (inbound/openai-responses.ts), and is always
 * kept in `carried` for the gateway's provider-state cache.
 */
import type { CanonicalResponse, Carried, EventSink, FinishReason, ReasoningPart, StreamFailure, ToolCallDelta, Usage } from '../types.ts';
import type { SinkContext } from '../apis/types.ts';
import type { JsonObject } from '../../llm/json.ts';
import { isObject } from '../../llm/json.ts';
import { neutralId, toolCallId } from '../ids.ts';
import { encodeReasoningState } from '../inbound/openai-responses.ts';
import { objectArguments } from './openai-chat.ts';
import { openAiErrorBody } from '../../plugins/ai-proxy/openai-error.ts';

// ---------------------------------------------------------------------------------------------
// The shapes written (a subset of the openai package's types; the unit tests assign each to them)

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: never[];
}
export interface OutputRefusal {
  type: 'refusal';
  refusal: string;
}
export interface MessageItem {
  type: 'message';
  id: string;
  status: ItemStatus;
  role: 'assistant';
  content: (OutputText | OutputRefusal)[];
}
export interface SummaryText {
  type: 'summary_text';
  text: string;
}
export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: SummaryText[];
  encrypted_content?: string;
  status?: ItemStatus;
}
export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  status: ItemStatus;
  call_id: string;
  name: string;
  arguments: string;
}
export type OutputItem = MessageItem | ReasoningItem | FunctionCallItem;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';
export type ResponseErrorCode = 'server_error' | 'rate_limit_exceeded';

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  completed_at?: number | null;
  error: { code: ResponseErrorCode; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  model: string;
  output: OutputItem[];
  usage?: ResponsesUsage;
  // the request's parameters, echoed (typed loosely: they are the client's own values)
  instructions: string | null;
  tools: any[];
  tool_choice: any;
  temperature: number | null;
  top_p: number | null;
  max_output_tokens: number | null;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: any;
  text: any;
  metadata: Record<string, string> | null;
  store: boolean;
  truncation: 'auto' | 'disabled' | null;
  background: boolean;
  service_tier?: any;
  prompt_cache_key?: string | null;
  safety_identifier?: string | null;
  user?: string;
  top_logprobs?: number | null;
  max_tool_calls?: number | null;
}

interface Seq {
  sequence_number: number;
}
export type ResponsesEvent =
  | ({ type: 'response.created' | 'response.in_progress' | 'response.completed' | 'response.incomplete' | 'response.failed'; response: ResponseObject } & Seq)
  | ({ type: 'response.output_item.added' | 'response.output_item.done'; output_index: number; item: OutputItem } & Seq)
  | ({ type: 'response.content_part.added' | 'response.content_part.done'; item_id: string; output_index: number; content_index: number; part: OutputText | OutputRefusal } & Seq)
  | ({ type: 'response.output_text.delta'; item_id: string; output_index: number; content_index: number; delta: string; logprobs: never[] } & Seq)
  | ({ type: 'response.output_text.done'; item_id: string; output_index: number; content_index: number; text: string; logprobs: never[] } & Seq)
  | ({ type: 'response.refusal.delta'; item_id: string; output_index: number; content_index: number; delta: string } & Seq)
  | ({ type: 'response.refusal.done'; item_id: string; output_index: number; content_index: number; refusal: string } & Seq)
  | ({ type: 'response.reasoning_summary_part.added' | 'response.reasoning_summary_part.done'; item_id: string; output_index: number; summary_index: number; part: SummaryText } & Seq)
  | ({ type: 'response.reasoning_summary_text.delta'; item_id: string; output_index: number; summary_index: number; delta: string } & Seq)
  | ({ type: 'response.reasoning_summary_text.done'; item_id: string; output_index: number; summary_index: number; text: string } & Seq)
  | ({ type: 'response.function_call_arguments.delta'; item_id: string; output_index: number; delta: string } & Seq)
  | ({ type: 'response.function_call_arguments.done'; item_id: string; output_index: number; arguments: string } & Seq)
  | ({ type: 'error'; code: string | null; message: string; param: string | null } & Seq);

/** Distributes Omit over the union (each member keeps its own fields). */
type WithoutSeq<T> = T extends unknown ? Omit<T, 'sequence_number'> : never;

/** One server-sent event of the Responses API. */
export function responsesFrame(event: ResponsesEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

// ---------------------------------------------------------------------------------------------
// Shared by streams and whole answers

const INCOMPLETE_REASONS: Partial<Record<FinishReason, 'max_output_tokens' | 'content_filter'>> = {
  length: 'max_output_tokens',
  content_filter: 'content_filter',
};

/** Item ids: the response id's own part, so that they are unique per answer and the same however it was delivered. */
function itemId(prefix: 'msg' | 'rs' | 'fc', responseId: string, outputIndex: number): string {
  return `${prefix}_${responseId.replace(/^resp_/, '')}_${outputIndex}`;
}

/** Canonical usage as the Responses API reports it (cache writes: modelgate's extra detail, as in chat). */
export function responsesUsage(usage: Usage): ResponsesUsage {
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0, cache_write_tokens: usage.prompt_tokens_details?.cache_write_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens,
  };
}

function field<T>(body: JsonObject | undefined, key: string, fallback: T): T {
  const v = body?.[key];
  return v === undefined || v === null ? fallback : (v as T);
}

/**
 * The response object without output and usage: the request's parameters echoed as OpenAI does,
 * from the client's own body when it spoke Responses (the canonical request otherwise).
 */
function responseShell(id: string, createdAt: number, model: string, ctx: SinkContext): ResponseObject {
  const req = ctx.request;
  const body = req?.source.format === 'openai-responses' ? req.source.body : undefined;
  const reasoning = isObject(body?.reasoning) ? body.reasoning : undefined;
  const text = isObject(body?.text) ? body.text : undefined;
  const shell: ResponseObject = {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    model,
    output: [],
    instructions: field(body, 'instructions', null),
    tools: field(body, 'tools', []),
    tool_choice: field(body, 'tool_choice', 'auto'),
    temperature: field(body, 'temperature', req?.sampling.temperature ?? null),
    top_p: field(body, 'top_p', req?.sampling.topP ?? null),
    max_output_tokens: field(body, 'max_output_tokens', req?.sampling.maxTokens ?? null),
    parallel_tool_calls: field(body, 'parallel_tool_calls', req?.parallelToolCalls ?? true),
    previous_response_id: req?.previousResponseId ?? field(body, 'previous_response_id', null),
    reasoning: { effort: reasoning?.effort ?? req?.reasoning?.effort ?? null, summary: reasoning?.summary ?? null },
    text: { format: text?.format ?? { type: 'text' }, ...(text?.verbosity !== undefined ? { verbosity: text.verbosity } : {}) },
    metadata: field(body, 'metadata', req?.metadata ?? {}),
    store: field(body, 'store', true),
    truncation: field(body, 'truncation', 'disabled'),
    background: false,
  };
  for (const key of ['service_tier', 'prompt_cache_key', 'safety_identifier', 'user', 'top_logprobs', 'max_tool_calls'] as const) {
    if (body?.[key] !== undefined && body[key] !== null) (shell as unknown as JsonObject)[key] = body[key];
  }
  return shell;
}

/** The reasoning item's `encrypted_content` for a part with state, when the client asked for it. */
function encryptedContent(part: ReasoningPart, ctx: SinkContext): string | undefined {
  if (ctx.request?.reasoning?.includeEncrypted !== true) return undefined;
  return encodeReasoningState(part) ?? undefined;
}

function hasState(part: ReasoningPart): boolean {
  return part.signature !== undefined || part.redacted !== undefined || part.encrypted !== undefined;
}

function terminal(reason: FinishReason | null): { status: 'completed' | 'incomplete'; incomplete: ResponseObject['incomplete_details'] } {
  const why = reason !== null ? INCOMPLETE_REASONS[reason] : undefined;
  return why ? { status: 'incomplete', incomplete: { reason: why } } : { status: 'completed', incomplete: null };
}

/** Modelgate's failure codes in the Responses error's `code` (an enum of OpenAI's). */
export function responseErrorCode(code: string): ResponseErrorCode {
  return code === 'rate_limit_exceeded' ? 'rate_limit_exceeded' : 'server_error';
}

// ---------------------------------------------------------------------------------------------
// Streams

interface OpenMessage {
  kind: 'message';
  index: number;
  item: MessageItem;
  /** The open content part: its index in `item.content`, or -1. */
  part: number;
}
interface OpenReasoning {
  kind: 'reasoning';
  index: number;
  item: ReasoningItem;
  text: string;
}
interface OpenCall {
  kind: 'call';
  index: number;
  item: FunctionCallItem;
}

/** The stream of one answer, in Responses events. */
export class ResponsesSink implements EventSink {
  id: string;
  created: number;
  model: string;
  readonly #ctx: SinkContext;
  /** The response id the client sees (`resp_…`): the provider's own id (`this.id`, which translators set) is not one. */
  readonly #responseId: string;
  #sequence = 0;
  #started = false;
  #finished = false;
  #answer: ResponseObject | null = null;
  #usage: Usage | null = null;
  #reason: FinishReason | null = null;
  readonly #output: OutputItem[] = [];
  #current: OpenMessage | OpenReasoning | null = null;
  /** Function calls stay open until another kind of item, or the end, comes (providers may interleave their argument fragments). */
  readonly #calls = new Map<number, OpenCall>();
  readonly #carried: Carried = { reasoning: [], toolCallIds: [] };

  constructor(ctx: SinkContext) {
    this.#ctx = ctx;
    this.id = ctx.id;
    this.#responseId = ctx.id;
    this.created = ctx.now;
    this.model = ctx.model;
  }

  get carried(): Carried {
    return this.#carried;
  }

  get answer(): JsonObject | null {
    return this.#answer as unknown as JsonObject | null;
  }

  start(): string {
    return this.#open();
  }

  text(text: string): string {
    if (text === '') return '';
    let frames = this.#messagePart('output_text');
    const open = this.#current as OpenMessage;
    const part = open.item.content[open.part] as OutputText;
    part.text += text;
    frames += this.#emit({ type: 'response.output_text.delta', item_id: open.item.id, output_index: open.index, content_index: open.part, delta: text, logprobs: [] });
    return frames;
  }

  refusal(text: string): string {
    if (text === '') return '';
    let frames = this.#messagePart('refusal');
    const open = this.#current as OpenMessage;
    const part = open.item.content[open.part] as OutputRefusal;
    part.refusal += text;
    frames += this.#emit({ type: 'response.refusal.delta', item_id: open.item.id, output_index: open.index, content_index: open.part, delta: text });
    return frames;
  }

  reasoning(text: string): string {
    if (text === '') return '';
    let frames = this.#open();
    if (this.#current?.kind !== 'reasoning') frames += this.#closeAll() + this.#openReasoning();
    const open = this.#current as OpenReasoning;
    if (open.item.summary.length === 0) {
      open.item.summary.push({ type: 'summary_text', text: '' });
      frames += this.#emit({ type: 'response.reasoning_summary_part.added', item_id: open.item.id, output_index: open.index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    }
    open.text += text;
    open.item.summary[0].text = open.text;
    frames += this.#emit({ type: 'response.reasoning_summary_text.delta', item_id: open.item.id, output_index: open.index, summary_index: 0, delta: text });
    return frames;
  }

  /**
   * State for the reasoning streamed so far (a part whose `text` is '' gets that text, as in the
   * chat sink): it closes the open reasoning item, or makes one of its own (redacted thinking, a
   * Gemini signature on a function call).
   */
  reasoningState(part: ReasoningPart): string {
    let frames = this.#open();
    if (this.#current?.kind !== 'reasoning') frames += this.#closeAll() + this.#openReasoning();
    const open = this.#current as OpenReasoning;
    const kept: ReasoningPart = part.text === '' && open.text !== '' ? { ...part, text: open.text } : { ...part };
    if (kept.toolCallId !== undefined) kept.toolCallId = neutralId(kept.toolCallId);
    if (hasState(kept)) this.#carried.reasoning.push(kept);
    const encrypted = encryptedContent(kept, this.#ctx);
    if (encrypted !== undefined) open.item.encrypted_content = encrypted;
    return frames + this.#closeCurrent();
  }

  toolCalls(calls: ToolCallDelta[]): string {
    let frames = '';
    for (const call of calls) {
      let open = this.#calls.get(call.index);
      if (!open) {
        frames += this.#open() + this.#closeCurrent();
        const index = this.#output.length;
        const callId = toolCallId(call.id, this.id, call.index);
        const item: FunctionCallItem = { type: 'function_call', id: itemId('fc', this.#responseId, index), status: 'in_progress', call_id: callId, name: call.name ?? '', arguments: '' };
        this.#output.push(item);
        this.#carried.toolCallIds.push(callId);
        open = { kind: 'call', index, item };
        this.#calls.set(call.index, open);
        frames += this.#emit({ type: 'response.output_item.added', output_index: index, item: { ...item } });
      } else if (call.name !== undefined && call.name !== '') open.item.name = call.name;
      if (call.arguments !== '') {
        open.item.arguments += call.arguments;
        frames += this.#emit({ type: 'response.function_call_arguments.delta', item_id: open.item.id, output_index: open.index, delta: call.arguments });
      }
    }
    return frames;
  }

  /** Closes every open item (incomplete when the answer was cut short); the terminal event is done()'s. */
  finish(reason: FinishReason | null): string {
    this.#reason = reason;
    return this.#open() + this.#closeAll();
  }

  /** Kept for `response.completed`: a Responses stream has no usage event of its own. */
  usage(usage: Usage): string {
    this.#usage = usage;
    return '';
  }

  done(): string {
    if (this.#finished) return '';
    let frames = this.#open() + this.#closeAll();
    this.#finished = true;
    const { status, incomplete } = terminal(this.#reason);
    const response = this.#response(status);
    response.incomplete_details = incomplete;
    if (status === 'completed') response.completed_at = this.created;
    this.#answer = response;
    frames += this.#emit({ type: status === 'completed' ? 'response.completed' : 'response.incomplete', response });
    return frames;
  }

  /** `error` (the OpenAI SDK raises it) then `response.failed` with what was produced so far. */
  error(failure: StreamFailure): string {
    if (this.#finished) return '';
    let frames = this.#open();
    this.#finished = true;
    for (const item of this.#output) if (item.status === 'in_progress') item.status = 'incomplete';
    frames += this.#emit({ type: 'error', code: failure.code, message: failure.message, param: null });
    const response = this.#response('failed');
    response.error = { code: responseErrorCode(failure.code), message: failure.message };
    frames += this.#emit({ type: 'response.failed', response });
    return frames;
  }

  #response(status: ResponseStatus): ResponseObject {
    const response = responseShell(this.#responseId, this.created, this.model, this.#ctx);
    response.status = status;
    response.output = this.#output.map((item) => structuredClone(item));
    if (this.#usage) response.usage = responsesUsage(this.#usage);
    return response;
  }

  #emit(event: WithoutSeq<ResponsesEvent>): string {
    return responsesFrame({ ...event, sequence_number: this.#sequence++ } as ResponsesEvent);
  }

  /** `response.created` and `response.in_progress`, once, before anything else. */
  #open(): string {
    if (this.#started) return '';
    this.#started = true;
    const response = this.#response('in_progress');
    return this.#emit({ type: 'response.created', response }) + this.#emit({ type: 'response.in_progress', response });
  }

  #openReasoning(): string {
    const index = this.#output.length;
    const item: ReasoningItem = { type: 'reasoning', id: itemId('rs', this.#responseId, index), summary: [] };
    this.#output.push(item);
    this.#current = { kind: 'reasoning', index, item, text: '' };
    return this.#emit({ type: 'response.output_item.added', output_index: index, item: { ...item, summary: [] } });
  }

  /** The open message's part of this kind, opening the message and the part as needed. */
  #messagePart(kind: 'output_text' | 'refusal'): string {
    let frames = this.#open();
    if (this.#current?.kind !== 'message') {
      frames += this.#closeAll();
      const index = this.#output.length;
      const item: MessageItem = { type: 'message', id: itemId('msg', this.#responseId, index), status: 'in_progress', role: 'assistant', content: [] };
      this.#output.push(item);
      this.#current = { kind: 'message', index, item, part: -1 };
      frames += this.#emit({ type: 'response.output_item.added', output_index: index, item: { ...item, content: [] } });
    }
    const open = this.#current as OpenMessage;
    if (open.part >= 0 && open.item.content[open.part].type === kind) return frames;
    frames += this.#closePart(open);
    const part: OutputText | OutputRefusal = kind === 'output_text' ? { type: 'output_text', text: '', annotations: [] } : { type: 'refusal', refusal: '' };
    open.item.content.push(part);
    open.part = open.item.content.length - 1;
    frames += this.#emit({ type: 'response.content_part.added', item_id: open.item.id, output_index: open.index, content_index: open.part, part: { ...part } });
    return frames;
  }

  #closePart(open: OpenMessage): string {
    if (open.part < 0) return '';
    const part = open.item.content[open.part];
    const where = { item_id: open.item.id, output_index: open.index, content_index: open.part };
    const frames =
      part.type === 'output_text'
        ? this.#emit({ type: 'response.output_text.done', ...where, text: part.text, logprobs: [] })
        : this.#emit({ type: 'response.refusal.done', ...where, refusal: part.refusal });
    open.part = -1;
    return frames + this.#emit({ type: 'response.content_part.done', ...where, part: { ...part } });
  }

  #itemStatus(): ItemStatus {
    return terminal(this.#reason).status === 'incomplete' ? 'incomplete' : 'completed';
  }

  #closeCurrent(): string {
    const open = this.#current;
    if (!open) return '';
    this.#current = null;
    let frames = '';
    if (open.kind === 'message') {
      frames += this.#closePart(open);
      open.item.status = this.#itemStatus();
    } else {
      const where = { item_id: open.item.id, output_index: open.index, summary_index: 0 };
      if (open.item.summary.length > 0) {
        frames += this.#emit({ type: 'response.reasoning_summary_text.done', ...where, text: open.text });
        frames += this.#emit({ type: 'response.reasoning_summary_part.done', ...where, part: { type: 'summary_text', text: open.text } });
      }
      open.item.status = this.#itemStatus();
    }
    return frames + this.#emit({ type: 'response.output_item.done', output_index: open.index, item: structuredClone(open.item) });
  }

  /** Closes the open message or reasoning item and every open function call (`{}` for one that got no arguments). */
  #closeAll(): string {
    let frames = this.#closeCurrent();
    for (const open of this.#calls.values()) {
      if (open.item.status !== 'in_progress') continue;
      if (open.item.arguments.trim() === '') {
        open.item.arguments = '{}';
        frames += this.#emit({ type: 'response.function_call_arguments.delta', item_id: open.item.id, output_index: open.index, delta: '{}' });
      }
      frames += this.#emit({ type: 'response.function_call_arguments.done', item_id: open.item.id, output_index: open.index, arguments: open.item.arguments });
      open.item.status = this.#itemStatus();
      frames += this.#emit({ type: 'response.output_item.done', output_index: open.index, item: { ...open.item } });
    }
    return frames;
  }
}

export function createResponsesSink(ctx: SinkContext): ResponsesSink {
  return new ResponsesSink(ctx);
}

/** The error event of a stream no sink tracked (a pass-through translator): `error`, numbered after nothing. */
export function responsesStreamError(failure: StreamFailure): string {
  return responsesFrame({ type: 'error', code: failure.code, message: failure.message, param: null, sequence_number: 0 });
}

// ---------------------------------------------------------------------------------------------
// Whole answers

/** The output items of a whole answer (its first choice: Responses has no `n`). */
export function responsesOutput(response: CanonicalResponse, ctx: SinkContext, responseId: string): OutputItem[] {
  const choice = response.choices[0];
  const output: OutputItem[] = [];
  if (!choice) return output;
  const status: ItemStatus = terminal(choice.finishReason).status === 'incomplete' ? 'incomplete' : 'completed';
  let message: MessageItem | null = null;
  let k = 0;
  for (const part of choice.parts) {
    if (part.type === 'text' || part.type === 'refusal') {
      if (part.type === 'text' && part.text === '' && choice.parts.length > 1) continue;
      if (!message) {
        message = { type: 'message', id: itemId('msg', responseId, output.length), status, role: 'assistant', content: [] };
        output.push(message);
      }
      const last = message.content.at(-1);
      if (part.type === 'text') {
        if (last?.type === 'output_text') last.text += part.text;
        else message.content.push({ type: 'output_text', text: part.text, annotations: [] });
      } else if (last?.type === 'refusal') last.refusal += part.text;
      else message.content.push({ type: 'refusal', refusal: part.text });
      continue;
    }
    message = null;
    if (part.type === 'reasoning') {
      const kept = part.toolCallId !== undefined ? { ...part, toolCallId: neutralId(part.toolCallId) } : part;
      const item: ReasoningItem = { type: 'reasoning', id: itemId('rs', responseId, output.length), summary: kept.text !== '' ? [{ type: 'summary_text', text: kept.text }] : [], status };
      const encrypted = encryptedContent(kept, ctx);
      if (encrypted !== undefined) item.encrypted_content = encrypted;
      output.push(item);
    } else {
      // the same ids carriedOf (render/openai-chat.ts) keeps for the next turn
      output.push({ type: 'function_call', id: itemId('fc', responseId, output.length), status, call_id: toolCallId(part.id, response.id, k++), name: part.name, arguments: objectArguments(part.arguments) });
    }
  }
  return output;
}

/** A whole answer as the `response` object. */
export function responsesResponseObject(response: CanonicalResponse, ctx: SinkContext): ResponseObject {
  const { status, incomplete } = terminal(response.choices[0]?.finishReason ?? null);
  const out = responseShell(ctx.id, response.created, response.model, ctx);
  out.status = status;
  out.incomplete_details = incomplete;
  if (status === 'completed') out.completed_at = response.created;
  out.output = responsesOutput(response, ctx, ctx.id);
  if (response.usage) out.usage = responsesUsage(response.usage);
  return out;
}

export function renderResponsesResponse(response: CanonicalResponse, ctx: SinkContext): string {
  return JSON.stringify(responsesResponseObject(response, ctx));
}

/** The Responses API's errors are OpenAI's `{"error": {...}}` envelope. */
export const responsesErrorBody = openAiErrorBody;
