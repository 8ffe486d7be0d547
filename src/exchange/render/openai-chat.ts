/**
 * Answers for OpenAI clients (`openai-chat` and `openai-completions`): the EventSink stream
 * translators write to (`chat.completion.chunk` / `text_completion` server-sent events), and whole
 * answers (`chat.completion` / `text_completion` JSON). Every frame is already SSE-framed.
 *
 * What the renderer guarantees, whatever the provider:
 * - a tool call's arguments are JSON text of an object: a call whose fragments were all '' gets
 *   `{}` (streamed: when the call is closed by the next call or by the finish; whole: at once);
 * - tool-call ids are provider-neutral (ids.ts), and every call's first delta has one;
 * - reasoning text is `delta.reasoning_content` / `message.reasoning_content` (DeepSeek's and vLLM's
 *   field, which the OpenAI-compatible SDKs read); reasoning state (signatures, redacted or
 *   encrypted content) is `reasoning_details` in OpenRouter's shape (openai-reasoning.ts), which
 *   clients echo back next turn;
 * - usage keeps every kind the provider reported (`prompt_tokens_details.cached_tokens`,
 *   `cache_write_tokens`, `completion_tokens_details.reasoning_tokens`).
 */
import type { CanonicalResponse, Carried, EventSink, FinishReason, ReasoningPart, StreamFailure, ToolCallDelta, ToolCallPart, Usage } from '../types.ts';
import type { DriverContext } from '../../llm/types.ts';
import { openAiError } from '../../plugins/ai-proxy/openai-error.ts';
import { neutralId, toolCallId } from '../ids.ts';
import { reasoningDetail } from '../openai-reasoning.ts';

export const DONE_FRAME = 'data: [DONE]\n\n';

/** Frames one event's data for the client; a multi-line payload gets one `data:` line per line. */
export function sseFrame(data: string): string {
  if (!data.includes('\n')) return `data: ${data}\n\n`;
  return `${data
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}

type SinkContext = Pick<DriverContext, 'id' | 'now' | 'model' | 'routeType' | 'includeUsage'>;

interface OpenCall {
  id: string;
  /** Some fragment had content. */
  hasArguments: boolean;
  /** `{}` was written for it. */
  closed: boolean;
}

/** The stream of one answer, in OpenAI's chunks. */
export class OpenAIChatSink implements EventSink {
  id: string;
  created: number;
  model: string;
  private readonly chat: boolean;
  /** OpenAI puts `"usage": null` on every chunk when the client asked for usage; so do we. */
  private readonly usageField: boolean;
  private readonly calls = new Map<number, OpenCall>();
  private reasoningText = '';
  private detailIndex = 0;
  private readonly carriedState: Carried = { reasoning: [], toolCallIds: [] };

  constructor(ctx: SinkContext) {
    this.id = ctx.id;
    this.created = ctx.now;
    this.model = ctx.model;
    this.chat = ctx.routeType === 'llm/v1/chat';
    this.usageField = ctx.includeUsage;
  }

  get carried(): Carried {
    return this.carriedState;
  }

  /** The opening chunk of a chat answer: the assistant role with empty content (completions have none). */
  start(): string {
    return this.chat ? this.choice({ delta: { role: 'assistant', content: '' } }, null) : '';
  }

  text(text: string): string {
    if (text === '') return '';
    return this.chat ? this.choice({ delta: { content: text } }, null) : this.choice({ text }, null);
  }

  reasoning(text: string): string {
    if (text === '') return '';
    this.reasoningText += text;
    return this.chat ? this.choice({ delta: { reasoning_content: text } }, null) : '';
  }

  /** State to keep: a part whose `text` is '' gets the reasoning text streamed since the last state part. */
  reasoningState(part: ReasoningPart): string {
    const kept: ReasoningPart = part.text === '' && this.reasoningText !== '' ? { ...part, text: this.reasoningText } : { ...part };
    this.reasoningText = '';
    if (kept.toolCallId !== undefined) kept.toolCallId = neutralId(kept.toolCallId);
    this.carriedState.reasoning.push(kept);
    if (!this.chat) return '';
    // the text already went out as reasoning_content: the detail carries only the state
    const detail = reasoningDetail({ ...kept, text: part.text }, this.detailIndex);
    if (!detail) return '';
    this.detailIndex++;
    return this.choice({ delta: { reasoning_details: [detail] } }, null);
  }

  refusal(text: string): string {
    if (text === '' || !this.chat) return '';
    return this.choice({ delta: { refusal: text } }, null);
  }

  toolCalls(calls: ToolCallDelta[]): string {
    if (!this.chat || calls.length === 0) return '';
    let frames = '';
    const deltas: Record<string, unknown>[] = [];
    for (const call of calls) {
      let open = this.calls.get(call.index);
      if (!open) {
        frames += this.closeEmptyCalls();
        open = { id: toolCallId(call.id, this.id, call.index), hasArguments: false, closed: false };
        this.calls.set(call.index, open);
        this.carriedState.toolCallIds.push(open.id);
        if (call.arguments !== '') open.hasArguments = true;
        deltas.push({ index: call.index, id: open.id, type: 'function', function: { name: call.name ?? '', arguments: call.arguments } });
        continue;
      }
      if (call.arguments === '' && call.name === undefined) continue;
      if (call.arguments !== '') open.hasArguments = true;
      const fn: Record<string, unknown> = call.name !== undefined ? { name: call.name, arguments: call.arguments } : { arguments: call.arguments };
      deltas.push({ index: call.index, function: fn });
    }
    if (deltas.length > 0) frames += this.choice({ delta: { tool_calls: deltas } }, null);
    return frames;
  }

  finish(reason: FinishReason | null): string {
    const closing = this.closeEmptyCalls();
    return closing + (this.chat ? this.choice({ delta: {} }, reason) : this.choice({ text: '' }, reason));
  }

  usage(usage: Usage): string {
    return sseFrame(
      JSON.stringify({
        id: this.id,
        object: this.chat ? 'chat.completion.chunk' : 'text_completion',
        created: this.created,
        model: this.model,
        choices: [],
        usage,
      }),
    );
  }

  done(): string {
    return this.closeEmptyCalls() + DONE_FRAME;
  }

  error(failure: StreamFailure): string {
    return openAIStreamError(failure);
  }

  /** `{}` for every open call that got no argument text: its arguments must parse as an object. */
  private closeEmptyCalls(): string {
    let deltas: Record<string, unknown>[] | null = null;
    for (const [index, call] of this.calls) {
      if (call.hasArguments || call.closed) continue;
      call.closed = true;
      (deltas ??= []).push({ index, function: { arguments: '{}' } });
    }
    return deltas ? this.choice({ delta: { tool_calls: deltas } }, null) : '';
  }

  private choice(body: Record<string, unknown>, finishReason: FinishReason | null): string {
    const choice = this.chat ? { index: 0, ...body, logprobs: null, finish_reason: finishReason } : { ...body, index: 0, logprobs: null, finish_reason: finishReason };
    const chunk: Record<string, unknown> = {
      id: this.id,
      object: this.chat ? 'chat.completion.chunk' : 'text_completion',
      created: this.created,
      model: this.model,
      choices: [choice],
    };
    if (this.usageField) chunk.usage = null;
    return sseFrame(JSON.stringify(chunk));
  }
}

/** An error event after the stream started: OpenAI's envelope, as the OpenAI SDKs raise it (`data.error`). */
export function openAIStreamError(failure: StreamFailure): string {
  const { error } = openAiError(failure.status, failure.message, { code: failure.code });
  if (failure.provider) error.provider = failure.provider;
  return `data: ${JSON.stringify({ error })}\n\n`;
}

export function createOpenAISink(ctx: SinkContext): OpenAIChatSink {
  return new OpenAIChatSink(ctx);
}

/** Arguments as JSON text of an object: '' (or only whitespace) becomes `{}`. */
export function objectArguments(args: string): string {
  return args.trim() === '' ? '{}' : args;
}

/** A whole answer as the JSON text of OpenAI's `chat.completion` (chat routes) or `text_completion`. */
export function renderOpenAIResponse(response: CanonicalResponse, routeType: DriverContext['routeType']): string {
  const chat = routeType === 'llm/v1/chat';
  const choices = response.choices.map((choice, index) =>
    chat
      ? { index, message: chatMessage(choice.parts, response.id, index), logprobs: null, finish_reason: choice.finishReason }
      : { index, text: textOf(choice.parts), logprobs: null, finish_reason: choice.finishReason },
  );
  return JSON.stringify({
    id: response.id,
    object: chat ? 'chat.completion' : 'text_completion',
    created: response.created,
    model: response.model,
    choices,
    usage: response.usage,
  });
}

function textOf(parts: CanonicalResponse['choices'][number]['parts']): string {
  let text = '';
  for (const part of parts) if (part.type === 'text') text += part.text;
  return text;
}

function chatMessage(parts: CanonicalResponse['choices'][number]['parts'], answerId: string, choiceIndex: number): Record<string, unknown> {
  let text: string | null = null;
  let reasoning: string | null = null;
  let refusal: string | null = null;
  const details: Record<string, unknown>[] = [];
  const calls: ToolCallPart[] = [];
  for (const part of parts) {
    if (part.type === 'text') text = (text ?? '') + part.text;
    else if (part.type === 'reasoning') {
      if (part.text !== '') reasoning = (reasoning ?? '') + part.text;
      const detail = reasoningDetail(part.toolCallId !== undefined ? { ...part, toolCallId: neutralId(part.toolCallId) } : part, details.length);
      if (detail && (part.signature !== undefined || part.redacted !== undefined || part.encrypted !== undefined)) details.push(detail);
    } else if (part.type === 'refusal') refusal = (refusal ?? '') + part.text;
    else if (part.type === 'tool_call') calls.push(part);
  }
  const message: Record<string, unknown> = { role: 'assistant', content: text ?? (calls.length > 0 || refusal !== null ? null : '') };
  if (reasoning !== null) message.reasoning_content = reasoning;
  if (details.length > 0) message.reasoning_details = details;
  if (refusal !== null) message.refusal = refusal;
  if (calls.length > 0) {
    message.tool_calls = calls.map((call, k) => ({
      id: toolCallId(call.id, answerId, choiceIndex === 0 ? k : choiceIndex * 1000 + k),
      type: 'function',
      function: { name: call.name, arguments: objectArguments(call.arguments) },
    }));
  }
  return message;
}

/** What a whole answer carries for the next turn (provider-state.ts): its reasoning state and its tool-call ids, as the client sees them. */
export function carriedOf(response: CanonicalResponse): Carried {
  const carried: Carried = { reasoning: [], toolCallIds: [] };
  for (const [c, choice] of response.choices.entries()) {
    let k = 0;
    for (const part of choice.parts) {
      if (part.type === 'tool_call') carried.toolCallIds.push(toolCallId(part.id, response.id, c === 0 ? k++ : c * 1000 + k++));
      else if (part.type === 'reasoning' && (part.signature !== undefined || part.redacted !== undefined || part.encrypted !== undefined)) {
        carried.reasoning.push(part.toolCallId !== undefined ? { ...part, toolCallId: neutralId(part.toolCallId) } : part);
      }
    }
  }
  return carried;
}

/** The text of a whole answer (for estimating tokens when the provider counted none). */
export function responseText(response: CanonicalResponse): string {
  let text = '';
  for (const choice of response.choices) {
    for (const part of choice.parts) {
      if (part.type === 'text' || part.type === 'reasoning' || part.type === 'refusal') text += part.text;
      else if (part.type === 'tool_call') text += part.arguments;
    }
  }
  return text;
}
