/**
 * The answer through the request's response hooks (src/plugins/shared/response-hooks.ts: the
 * contract), for both relays:
 *
 * - JSON (`guardJsonAnswer`): each text of the answer in the client's API (OpenAI chat `content`
 *   and `reasoning_content` per choice, completions `text`, Anthropic `text` / `thinking` blocks,
 *   Responses `output_text` / reasoning text) goes whole through a chain, and the body is written
 *   again with what the chains released. Working on the client's body keeps every provider field
 *   of a pass-through answer (OpenAI → OpenAI) as it came.
 * - Streams (`StreamGuard`): the translator writes to a recording sink instead of the client's
 *   renderer; `drain()` then runs the recorded text through the chains and renders only released
 *   text, every other event after the pending text is flushed (the contract's "Order"). It returns
 *   frames synchronously while every hook does, else a promise the relay awaits before reading the
 *   provider again (back-pressure). Byte pass-through translators are not used while hooks exist
 *   (DriverContext.answerHooks).
 */
import type { CanonicalRequest, CanonicalResponse, Carried, EventSink, FinishReason, ReasoningPart, StreamFailure, ToolCallDelta, Usage } from '../../exchange/types.ts';
import type { JsonObject } from '../../llm/json.ts';
import type { TranslatedResponse } from '../../llm/types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { ExchangeContext } from '../../exchange/context.ts';
import { ResponseBlockedError, ResponseChain, throughChain, type AnswerChannel, type AnswerStream, type Released } from '../shared/response-hooks.ts';
import { countDecision } from '../shared/guardrail-metrics.ts';
import { logger } from '../../observability/logger.ts';
import { isObject } from '../../llm/json.ts';
import { aiError } from './openai-error.ts';

const isPromise = (r: Released): r is Promise<string> => typeof r !== 'string';

function streamOf(ctx: RequestContext, driver: ExchangeContext, request: CanonicalRequest, channel: AnswerChannel, choice: number, whole: boolean): AnswerStream {
  return { channel, choice, whole, api: driver.inbound, request, provider: driver.provider, model: driver.model, requestId: ctx.requestId };
}

/** Logs and counts a refusal of the answer (the rule, never the text). */
export function noteBlocked(ctx: RequestContext, e: ResponseBlockedError): void {
  ctx.error = { status: e.status, code: e.code, message: `answer blocked by ${e.rule}` };
  ctx.logFields.guardrail = { phase: 'response', rule: e.rule, decision: 'block', code: e.code };
  if (e.code === 'response_check_failed') countDecision(e.rule, 'response', 'error');
  logger().info({ request_id: ctx.requestId, rule: e.rule, code: e.code, phase: 'response' }, 'answer blocked');
}

// ---------------------------------------------------------------------------------------------
// JSON answers

/** One text slot of a client-shaped answer: where it is read and written back. */
interface Slot {
  channel: AnswerChannel;
  choice: number;
  get(): string;
  set(text: string): void;
}

function slotOf(obj: JsonObject, key: string, channel: AnswerChannel, choice: number): Slot | null {
  if (typeof obj[key] !== 'string') return null;
  return { channel, choice, get: () => obj[key] as string, set: (t) => (obj[key] = t) };
}

/** Every text of a parsed answer in the client's API, in order. */
function slotsOf(format: string, body: JsonObject): Slot[] {
  const slots: Slot[] = [];
  const push = (s: Slot | null) => s && slots.push(s);
  if (format === 'openai-chat' || format === 'openai-completions') {
    const choices = Array.isArray(body.choices) ? body.choices : [];
    choices.forEach((c, i) => {
      if (!isObject(c)) return;
      const index = typeof c.index === 'number' ? c.index : i;
      if (format === 'openai-completions') {
        push(slotOf(c, 'text', 'text', index));
        return;
      }
      const m = c.message;
      if (!isObject(m)) return;
      push(slotOf(m, 'reasoning_content', 'reasoning', index));
      if (Array.isArray(m.content)) {
        for (const part of m.content) if (isObject(part) && part.type === 'text') push(slotOf(part, 'text', 'text', index));
      } else {
        push(slotOf(m, 'content', 'text', index));
      }
    });
  } else if (format === 'anthropic-messages') {
    for (const block of Array.isArray(body.content) ? body.content : []) {
      if (!isObject(block)) continue;
      if (block.type === 'text') push(slotOf(block, 'text', 'text', 0));
      else if (block.type === 'thinking') push(slotOf(block, 'thinking', 'reasoning', 0));
    }
  } else if (format === 'openai-responses') {
    for (const item of Array.isArray(body.output) ? body.output : []) {
      if (!isObject(item)) continue;
      if (item.type === 'message') {
        for (const part of Array.isArray(item.content) ? item.content : []) if (isObject(part) && part.type === 'output_text') push(slotOf(part, 'text', 'text', 0));
      } else if (item.type === 'reasoning') {
        for (const list of [item.summary, item.content]) for (const part of Array.isArray(list) ? list : []) if (isObject(part)) push(slotOf(part, 'text', 'reasoning', 0));
      }
    }
  }
  return slots;
}

/**
 * The JSON answer with its texts as the hooks released them (the same object when no hook had
 * anything to do). Throws ResponseBlockedError when a hook refused.
 */
/**
 * A whole answer (JSON, or JSON a stream route got) through the request's response hooks. A
 * refusal is noted, `recordPaid` records the exchange (the provider answered and was paid), and
 * the client API's error is thrown in place of the answer. No hooks: the answer as it is.
 */
export async function guardedWholeAnswer(ctx: RequestContext, driver: ExchangeContext, request: CanonicalRequest, translated: TranslatedResponse, recordPaid: () => void): Promise<TranslatedResponse> {
  if (ctx.responseHooks.length === 0) return translated;
  try {
    return await guardJsonAnswer(ctx, driver, request, translated);
  } catch (e) {
    if (!(e instanceof ResponseBlockedError)) throw e;
    noteBlocked(ctx, e);
    recordPaid();
    throw aiError(e.status, e.clientMessage, { code: e.code });
  }
}

export async function guardJsonAnswer(ctx: RequestContext, driver: ExchangeContext, request: CanonicalRequest, translated: TranslatedResponse): Promise<TranslatedResponse> {
  if (translated.canonical) {
    // a translated answer: the canonical parts are changed and rendered again (the stream-from-JSON path replays them)
    const canonical = await guardCanonical(ctx, driver, request, translated.canonical);
    if (canonical === translated.canonical) return translated;
    return { ...translated, canonical, body: driver.renderResponse(canonical), parsed: undefined };
  }
  let body: JsonObject;
  try {
    const parsed: unknown = JSON.parse(translated.body);
    if (!isObject(parsed)) return translated;
    body = parsed;
  } catch {
    return translated;
  }
  let changed = false;
  for (const slot of slotsOf(driver.inbound, body)) {
    const chain = ResponseChain.create(ctx.responseHooks, streamOf(ctx, driver, request, slot.channel, slot.choice, true));
    if (chain === null) continue;
    const before = slot.get();
    const r = throughChain(chain, before);
    const after = isPromise(r) ? await r : r;
    if (after !== before) {
      slot.set(after);
      changed = true;
    }
  }
  return changed ? { ...translated, body: JSON.stringify(body), parsed: undefined } : translated;
}

async function guardCanonical(ctx: RequestContext, driver: ExchangeContext, request: CanonicalRequest, response: CanonicalResponse): Promise<CanonicalResponse> {
  let changed = false;
  const choices = [];
  for (let i = 0; i < response.choices.length; i++) {
    const choice = response.choices[i];
    const parts = [];
    for (const part of choice.parts) {
      const channel: AnswerChannel | null = part.type === 'text' ? 'text' : part.type === 'reasoning' && part.text !== '' ? 'reasoning' : null;
      const chain = channel === null ? null : ResponseChain.create(ctx.responseHooks, streamOf(ctx, driver, request, channel, i, true));
      if (chain === null) {
        parts.push(part);
        continue;
      }
      const before = (part as { text: string }).text;
      const r = throughChain(chain, before);
      const after = isPromise(r) ? await r : r;
      if (after === before) parts.push(part);
      else {
        parts.push({ ...part, text: after } as typeof part);
        changed = true;
      }
    }
    choices.push({ ...choice, parts });
  }
  return changed ? { ...response, choices } : response;
}

// ---------------------------------------------------------------------------------------------
// Streams

type Op = { channel: AnswerChannel; text: string } | (() => string);

/** The client's renderer behind a recorder: translators write here, StreamGuard.drain renders. */
class RecordingSink implements EventSink {
  readonly ops: Op[] = [];
  readonly inner: EventSink;
  constructor(inner: EventSink) {
    this.inner = inner;
  }
  get id(): string {
    return this.inner.id;
  }
  set id(v: string) {
    this.inner.id = v;
  }
  get created(): number {
    return this.inner.created;
  }
  set created(v: number) {
    this.inner.created = v;
  }
  get model(): string {
    return this.inner.model;
  }
  set model(v: string) {
    this.inner.model = v;
  }
  start(): string {
    this.ops.push(() => this.inner.start());
    return '';
  }
  text(text: string): string {
    if (text !== '') this.ops.push({ channel: 'text', text });
    return '';
  }
  reasoning(text: string): string {
    if (text !== '') this.ops.push({ channel: 'reasoning', text });
    return '';
  }
  reasoningState(part: ReasoningPart): string {
    this.ops.push(() => this.inner.reasoningState(part));
    return '';
  }
  refusal(text: string): string {
    this.ops.push(() => this.inner.refusal(text));
    return '';
  }
  toolCalls(calls: ToolCallDelta[]): string {
    this.ops.push(() => this.inner.toolCalls(calls));
    return '';
  }
  finish(reason: FinishReason | null): string {
    this.ops.push(() => this.inner.finish(reason));
    return '';
  }
  usage(usage: Usage): string {
    this.ops.push(() => this.inner.usage(usage));
    return '';
  }
  done(): string {
    this.ops.push(() => this.inner.done());
    return '';
  }
  /** Written at once: nothing recorded before it is the client's any more (held text is dropped, fail closed). */
  error(failure: StreamFailure): string {
    this.ops.length = 0;
    return this.inner.error(failure);
  }
  get answer(): JsonObject | null {
    return this.inner.answer ?? null;
  }
  get carried(): Carried {
    return this.inner.carried;
  }
}

/** Released text kept for the payload log, bounded as the translators' text is. */
const MAX_RELEASED = 512 * 1024;

export class StreamGuard {
  readonly #ctx: RequestContext;
  readonly #driver: ExchangeContext;
  readonly #request: CanonicalRequest;
  #sink: RecordingSink | null = null;
  /** The chain of the text stream now open (one at a time: a switch of channel is a boundary). */
  #active: { channel: AnswerChannel; chain: ResponseChain | null } | null = null;
  #released = '';

  constructor(ctx: RequestContext, driver: ExchangeContext, request: CanonicalRequest) {
    this.#ctx = ctx;
    this.#driver = driver;
    this.#request = request;
  }

  /** Put between the translator and the client's renderer (ExchangeContext.wrapSink). */
  wrap = (sink: EventSink): EventSink => (this.#sink = new RecordingSink(sink));

  /** The text the client was given (for the payload log). */
  get released(): string {
    return this.#released;
  }

  /**
   * Renders what the translator recorded since the last call, in order, through the chains:
   * frames now, or a promise of them while an asynchronous hook answers. Throws (or rejects with)
   * ResponseBlockedError.
   */
  drain(): string | Promise<string> {
    const sink = this.#sink;
    if (sink === null || sink.ops.length === 0) return '';
    const ops = sink.ops.splice(0);
    return this.#run(ops, 0, '');
  }

  #run(ops: Op[], i: number, frames: string): string | Promise<string> {
    const inner = this.#sink!.inner;
    for (; i < ops.length; i++) {
      const op = ops[i];
      if (typeof op === 'function') {
        if (this.#active !== null) {
          // the pending text goes first; then this op (re-run with nothing open when the flush was async)
          const r = this.#close();
          if (isPromise(r)) return r.then((f) => this.#run(ops, i, frames + f));
          frames += r;
        }
        frames += op();
        continue;
      }
      if (this.#active !== null && this.#active.channel !== op.channel) {
        const r = this.#close();
        if (isPromise(r)) return r.then((f) => this.#run(ops, i, frames + f));
        frames += r;
      }
      if (this.#active === null) {
        this.#active = { channel: op.channel, chain: ResponseChain.create(this.#ctx.responseHooks, streamOf(this.#ctx, this.#driver, this.#request, op.channel, 0, false)) };
      }
      const { channel, chain } = this.#active;
      if (chain === null) {
        frames += this.#render(inner, channel, op.text);
        continue;
      }
      const r = chain.push(op.text);
      if (isPromise(r)) return r.then((t) => this.#run(ops, i + 1, frames + this.#render(inner, channel, t)));
      frames += this.#render(inner, channel, r);
    }
    return frames;
  }

  /** Flushes the open chain: its released text rendered. */
  #close(): string | Promise<string> {
    const { channel, chain } = this.#active!;
    this.#active = null;
    if (chain === null) return '';
    const inner = this.#sink!.inner;
    const r = chain.flush();
    return isPromise(r) ? r.then((t) => this.#render(inner, channel, t)) : this.#render(inner, channel, r);
  }

  #render(inner: EventSink, channel: AnswerChannel, text: string): string {
    if (text === '') return '';
    if (channel === 'text' && this.#released.length < MAX_RELEASED) this.#released += text;
    return channel === 'text' ? inner.text(text) : inner.reasoning(text);
  }
}
