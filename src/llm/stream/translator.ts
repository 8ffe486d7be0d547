/**
 * What every stream translator shares: the sink it writes the client's frames through
 * (`this.out`, from ctx.createSink(): src/exchange/render/), the end-of-stream contract (`[DONE]` only after the
 * provider ended normally, T43), the usage chunk when the client asked for it, the text kept for
 * token estimation, and the guarantee that a malformed event is a TranslationError, never a
 * TypeError escaping into the proxy.
 */
import { TranslationError, UpstreamStreamError, type DriverContext, type StreamEvent, type StreamTranslator, type Usage } from '../types.ts';
import type { Carried, EventSink, StreamFailure } from '../../exchange/types.ts';
import type { JsonObject } from '../json.ts';

/**
 * Text kept for estimating completion tokens when a provider reports no usage. Bounded so that a
 * long stream costs bounded memory (T47); 512 Ki characters is ~128k tokens, beyond typical
 * `max_tokens` limits.
 */
export const MAX_KEPT_TEXT = 512 * 1024;

export abstract class BaseStreamTranslator implements StreamTranslator {
  protected readonly ctx: DriverContext;
  /** The client's renderer (ctx.createSink()): translators write canonical events to it and return its frames. */
  protected readonly out: EventSink;
  #done = false;
  #finished = false;
  #usage: Usage | null = null;
  #usageSent = false;
  #textParts: string[] = [];
  #textLength = 0;
  #model: string | null = null;

  constructor(ctx: DriverContext) {
    this.ctx = ctx;
    this.out = ctx.createSink();
  }

  /** Translates one event of the provider's stream into client frames (possibly ''). */
  protected abstract translate(event: StreamEvent): string;

  /** Names the provider in error messages. */
  protected abstract readonly source: string;

  /**
   * Whether events after the provider's end are still translated: Bedrock sends its usage
   * (`metadata`) after `messageStop`, and some Gemini streams put a finishReason on every chunk.
   * Those translators keep the finish chunk for `closingFrames()`.
   */
  protected get acceptsEventsAfterDone(): boolean {
    return false;
  }

  /** Frames owed before the usage chunk and `[DONE]` (a finish chunk deferred to the end). */
  protected closingFrames(): string {
    return '';
  }

  push(event: StreamEvent): string {
    // Nothing after the provider's end counts (some servers send trailing keep-alives), and an
    // event without data carries nothing.
    if ((this.#done && !this.acceptsEventsAfterDone) || this.#finished || event.data === '') return '';
    try {
      return this.translate(event);
    } catch (error) {
      if (error instanceof TranslationError || error instanceof UpstreamStreamError) throw error;
      // A safety net (e.g. RangeError from a pathological event): never an untyped error into the proxy.
      throw new TranslationError(`could not translate the ${this.source} stream event: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  get done(): boolean {
    return this.#done;
  }

  /**
   * After a normal end: the usage chunk (when the client asked and the provider's usage was not
   * already forwarded), then `[DONE]`. `estimated` is reported when the provider gave no usage.
   * Returns '' before a normal end (a truncated stream gets no `[DONE]`) and on a second call.
   */
  finish(estimated?: Usage | null): string {
    if (!this.#done || this.#finished) return '';
    this.#finished = true;
    let frames = this.closingFrames();
    const usage = this.#usage ?? estimated ?? null;
    if (this.ctx.includeUsage && !this.#usageSent && usage) frames += this.out.usage(usage);
    return frames + this.out.done();
  }

  usage(): Usage | null {
    return this.#usage;
  }

  get contentStarted(): boolean {
    return this.#textLength > 0;
  }

  get text(): string {
    if (this.#textParts.length > 1) this.#textParts = [this.#textParts.join('')];
    return this.#textParts[0] ?? '';
  }

  /** What the answer carried for the next turn (reasoning state, tool-call ids), as the sink saw it. */
  get carried(): Carried {
    return this.out.carried;
  }

  get responseModel(): string | null {
    return this.#model;
  }

  /** The client's error event, from the sink (it knows the stream's state: Responses' sequence numbers, an open Anthropic block). */
  errorFrame(failure: StreamFailure): string {
    return this.out.error(failure);
  }

  get answer(): JsonObject | null {
    return this.out.answer ?? null;
  }

  protected markDone(): void {
    this.#done = true;
  }

  protected setUsage(usage: Usage | null): void {
    if (usage) this.#usage = usage;
  }

  /** The provider's usage went to the client verbatim: finish() must not send it twice. */
  protected markUsageSent(): void {
    this.#usageSent = true;
  }

  protected setModel(model: unknown): void {
    if (typeof model === 'string' && model !== '') this.#model = model;
  }

  protected keepText(text: string): void {
    if (text === '' || this.#textLength >= MAX_KEPT_TEXT) return;
    const room = MAX_KEPT_TEXT - this.#textLength;
    const kept = text.length > room ? text.slice(0, room) : text;
    this.#textParts.push(kept);
    this.#textLength += kept.length;
  }

  /** Parses an event's JSON payload; anything else is a malformed event. */
  protected parse(event: StreamEvent): unknown {
    try {
      return JSON.parse(event.data);
    } catch {
      throw new TranslationError(`malformed ${this.source} stream event: not JSON`);
    }
  }
}
