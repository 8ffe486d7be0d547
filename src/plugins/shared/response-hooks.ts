/**
 * Response hooks: how plugins read, change or refuse the ANSWER's text whatever API the client
 * speaks (OpenAI chat / completions, OpenAI Responses, Anthropic Messages), JSON or streamed
 * (issue 22). Used by ai-prompt-guard (`check_response`), ai-guardrail-webhook and ai-sanitizer.
 *
 * ## Registering
 * In its access phase a plugin pushes a ResponseHookFactory on `ctx.responseHooks` (as prompt
 * plugins push on `ctx.promptHooks`); nothing else. The AI exchange then, for each answer:
 * - makes one hook per text stream of the answer (`create(stream)`): one per channel
 *   (`text`: the content the client shows; `reasoning`: reasoning text streamed to the client)
 *   of each choice. A hook instance therefore sees ONE continuous text, in order, and keeps ONE
 *   pending tail. `create` may return null (this hook has nothing to do for that stream);
 * - feeds it the text, in order, by `push(text)`, then calls `flush()` once at the end of that
 *   stream (the end of the answer, or a boundary: the text is followed by a tool call or another
 *   channel — see "Order" below). A JSON answer is one `push(whole)` and one `flush()`;
 * - takes what each call returns as released text: the text the client may now see, possibly
 *   changed (redacted, placeholders recovered, replaced). What a hook has not released yet is its
 *   pending tail: it owns it, and must give all of it (changed or not) back by `flush()`.
 *
 * ## The window
 * A hook decides how much it holds back: `window` says the most it keeps pending after a push
 * (e.g. the longest secret or placeholder, a deny pattern's longest match, a webhook's chunk
 * size). It is what bounds the stream's added latency and memory; the machinery uses it only to
 * report and to test (SlidingWindow below implements the usual policy). Chunk boundaries are
 * invisible to a hook's verdict: a phrase split over any number of pushes must be judged as if it
 * came whole (the tests cut every banned phrase at every boundary).
 *
 * ## Refusing
 * A hook refuses by throwing (or rejecting with) a ResponseBlockedError naming its rule (the
 * plugin instance) and the client-facing message, never the matched text. Any other error
 * thrown by a hook is a failure of the check and blocks too (fail closed): a plugin that wants
 * `fail_mode: open` catches its own errors and releases the text unchanged. The client gets, for a
 * JSON answer, the client API's error body with `status` (400); for a stream, the client API's
 * SSE error event, with nothing after it (no `[DONE]`, no stop / `message_stop` /
 * `response.completed`).
 *
 * ## Sync and async
 * `push` and `flush` return a string (sync: in-process checks, no promise, no microtask) or a
 * Promise of one (a webhook). The stream relay awaits a promise before it reads the provider's
 * next chunk: other requests keep running (the event loop is not blocked), and the provider is
 * back-pressured through TCP while a check is in flight, exactly as a slow client does. Text is
 * rendered strictly in the order it was produced; a hook never sees two calls at once.
 *
 * ## Chaining
 * Hooks run in plugin order (Kong's priority order, higher first): the text one hook releases is
 * what the next one is pushed; at a flush, each hook's flushed text is pushed into the next, which
 * is then flushed. So a sanitizer that recovers placeholders before a guard makes the guard see
 * the recovered answer, and a guard before a sanitizer sees the answer with placeholders.
 *
 * ## Order with the rest of the answer
 * Only text and reasoning go through hooks. Any other part of a streamed answer (a tool call, a
 * refusal, the finish reason, usage, the end) first flushes the pending text of every chain and
 * is rendered after it, so what the client sees is in the provider's order.
 *
 * ## What hooks do not see
 * Tool-call arguments: they are JSON fragments the client's program parses, not text a person
 * reads; a hook that rewrote a fragment could break the JSON, and a deny pattern on a fragment
 * would match escapes. They pass unchanged (documented in docs/plugins.md). Refusals pass too
 * (the provider's own refusal text). Images and audio are not text.
 *
 * ## Cost
 * A request without response hooks costs one length check: `ctx.responseHooks.length === 0`
 * keeps every byte-for-byte pass-through path (OpenAI → OpenAI, Anthropic → Anthropic,
 * Responses → OpenAI) as it is. With hooks, streams are decoded and rendered through the client
 * API's renderer (src/exchange/render/), so released text is what is framed.
 *
 * Request side: `ctx.requestChecks` are asynchronous checks run by the exchange after the prompt
 * hooks and before any provider is called (RequestCheck below): none registered, nothing awaited.
 */
import type { CanonicalRequest, InboundFormat } from '../../exchange/types.ts';

/** Which text of an answer a hook reads. */
export type AnswerChannel = 'text' | 'reasoning';

/** Text released by a hook: now, or once an asynchronous check answered. */
export type Released = string | Promise<string>;

/** One text stream of one answer, as a hook is made for it. */
export interface AnswerStream {
  channel: AnswerChannel;
  /** The choice it belongs to (OpenAI `n`), 0 for every other API. */
  choice: number;
  /** True for a JSON answer (one push of the whole text, then flush), false for a stream. */
  whole: boolean;
  /** The client's API. */
  api: InboundFormat;
  /** The request being answered, after the prompt hooks (a webhook sends its messages; a sanitizer finds its placeholders). */
  request: CanonicalRequest;
  /** The provider and the model asked. */
  provider: string;
  model: string;
  /** The request id, for a hook's own logs. */
  requestId: string;
}

/** One hook over one text stream: keeps its own pending tail (see the header). */
export interface ResponseHook {
  /** The most text (characters) it keeps pending after a push. */
  readonly window: number;
  /** Text appended to the stream; returns the text now released (possibly ''). */
  push(text: string): Released;
  /** The stream ended: returns everything still pending (changed or not). Called once; no push follows. */
  flush(): Released;
}

/** What a plugin registers on `ctx.responseHooks` in its access phase. */
export interface ResponseHookFactory {
  /** The rule: the plugin instance (`ai-prompt-guard`, `ai-guardrail-webhook:<id>` ...), for logs and metrics. */
  readonly rule: string;
  /** The channels it reads; default `['text']`. */
  readonly channels?: readonly AnswerChannel[];
  /** A hook for one text stream of one answer, or null when there is nothing to do for it. */
  create(stream: AnswerStream): ResponseHook | null;
}

/** A hook's refusal of the answer: the client gets `message` in its API's error shape, the log and metrics get `rule`. */
export class ResponseBlockedError extends Error {
  override readonly name = 'ResponseBlockedError';
  readonly rule: string;
  /** What the client reads (never the matched text). */
  readonly clientMessage: string;
  /** The status of a JSON answer's error (a stream's error event takes its type from it). */
  readonly status: number;
  /** modelgate's cause code in the error body and the log. */
  readonly code: string;
  constructor(rule: string, clientMessage: string, options: { status?: number; code?: string; reason?: string } = {}) {
    super(options.reason ?? clientMessage);
    this.rule = rule;
    this.clientMessage = clientMessage;
    this.status = options.status ?? 400;
    this.code = options.code ?? 'response_blocked';
  }
}

/**
 * An asynchronous request-side check (a webhook): run by the exchange after the prompt hooks,
 * before any provider is called, in plugin order, each awaited. It may refuse (throw the plugin's
 * ClientError, a 400) or change the request as prompt hooks do (new values, never edits in place:
 * prompt-hooks.ts), returning true when it changed it.
 */
export interface RequestCheck {
  readonly rule: string;
  check(req: CanonicalRequest): Promise<boolean>;
}

/** Where plugins register them (RequestContext implements it). */
export interface GuardRegistry {
  readonly responseHooks: ResponseHookFactory[];
  readonly requestChecks: RequestCheck[];
}

// ---------------------------------------------------------------------------------------------
// The chain over one text stream

const isPromise = (r: Released): r is Promise<string> => typeof r !== 'string';

/**
 * The hooks of one text stream, in plugin order. `push` / `flush` return the text the client may
 * now see: a string when every hook answered synchronously, else a promise. Any error from a hook
 * becomes a ResponseBlockedError naming its rule (fail closed).
 */
export class ResponseChain {
  readonly #hooks: ResponseHook[];
  readonly #rules: string[];
  #flushed = false;

  constructor(hooks: ResponseHook[], rules: string[]) {
    this.#hooks = hooks;
    this.#rules = rules;
  }

  /** The chain for one stream, or null when no factory makes a hook for it. */
  static create(factories: readonly ResponseHookFactory[], stream: AnswerStream): ResponseChain | null {
    let hooks: ResponseHook[] | null = null;
    let rules: string[] | null = null;
    for (const f of factories) {
      if (!(f.channels ?? TEXT_ONLY).includes(stream.channel)) continue;
      let hook: ResponseHook | null;
      try {
        hook = f.create(stream);
      } catch (e) {
        throw blocked(f.rule, e);
      }
      if (hook === null) continue;
      (hooks ??= []).push(hook);
      (rules ??= []).push(f.rule);
    }
    return hooks === null ? null : new ResponseChain(hooks, rules!);
  }

  /** What the chain may hold back at most: each hook holds its window of what the one before released. */
  get window(): number {
    let w = 0;
    for (const h of this.#hooks) w += h.window;
    return w;
  }

  push(text: string): Released {
    if (this.#flushed) throw new Error('push after flush');
    return this.#from(0, text, false);
  }

  flush(): Released {
    if (this.#flushed) return '';
    this.#flushed = true;
    return this.#from(0, '', true);
  }

  /** Runs hooks i.. on `text`; `end`: each is flushed after its push. Synchronous while the hooks are. */
  #from(i: number, text: string, end: boolean): Released {
    for (; i < this.#hooks.length; i++) {
      const hook = this.#hooks[i];
      let r: Released;
      try {
        r = end ? joinFlush(hook, text) : text === '' ? '' : hook.push(text);
      } catch (e) {
        throw blocked(this.#rules[i], e);
      }
      if (isPromise(r)) {
        const at = i;
        return r.then(
          (released) => this.#from(at + 1, released, end),
          (e: unknown) => {
            throw blocked(this.#rules[at], e);
          },
        );
      }
      text = r;
    }
    return text;
  }
}

const TEXT_ONLY: readonly AnswerChannel[] = ['text'];

/** At a flush, what the previous hook released goes in first, then the hook gives back its tail. */
function joinFlush(hook: ResponseHook, text: string): Released {
  const head = text === '' ? '' : hook.push(text);
  if (isPromise(head)) return head.then((h) => then(hook.flush(), (t) => h + t));
  return then(hook.flush(), (t) => head + t);
}

function then(r: Released, f: (s: string) => string): Released {
  return isPromise(r) ? r.then(f) : f(r);
}

/** Any error of a hook as a refusal naming its rule; a hook's own refusal passes as it is. */
export function blocked(rule: string, e: unknown): ResponseBlockedError {
  if (e instanceof ResponseBlockedError) return e;
  return new ResponseBlockedError(rule, 'the answer could not be checked', { code: 'response_check_failed', reason: (e as Error)?.message ?? String(e) });
}

/** Runs a whole text through a chain (the JSON path): one push, one flush. */
export function throughChain(chain: ResponseChain, text: string): Released {
  const head = chain.push(text);
  if (isPromise(head)) return head.then((h) => then(chain.flush(), (t) => h + t));
  return then(chain.flush(), (t) => head + t);
}

// ---------------------------------------------------------------------------------------------
// The usual window policy, for hooks that judge or rewrite a bounded span of text

/**
 * A sliding window for a check whose matches are at most `window` characters long: each push
 * judges the pending tail plus the new text (`check(pending, final)`, which returns the text,
 * possibly changed, or throws to refuse), then releases all of it but the last `window`
 * characters. A match of at most `window` characters ending in new text starts inside what was
 * kept, so it is seen whole whatever the chunking. The kept tail is checked again with the next
 * push: `check` must be idempotent on text it already released-or-kept (a pure test, or a
 * rewrite whose output it does not match again).
 *
 * A check that rewrites must not move a match across the cut: for redaction, use `cut(text)` to
 * say where the released part may end (default: `text.length - window`, never inside a
 * surrogate pair).
 */
export class SlidingWindow implements ResponseHook {
  readonly window: number;
  #pending = '';
  readonly #check: (text: string, final: boolean) => string;
  readonly #cut: ((text: string, window: number) => number) | undefined;

  constructor(window: number, check: (text: string, final: boolean) => string, cut?: (text: string, window: number) => number) {
    this.window = window;
    this.#check = check;
    this.#cut = cut;
  }

  push(text: string): string {
    const checked = this.#check(this.#pending + text, false);
    let at = this.#cut ? this.#cut(checked, this.window) : checked.length - this.window;
    if (at <= 0) {
      this.#pending = checked;
      return '';
    }
    at = surrogateSafe(checked, at);
    this.#pending = checked.slice(at);
    return checked.slice(0, at);
  }

  flush(): string {
    const rest = this.#pending;
    this.#pending = '';
    // called even with nothing pending: `final` is where a check learns the stream passed (a count, a log)
    return this.#check(rest, true);
  }
}

/** A cut never splits a surrogate pair (a client would get a lone half). */
export function surrogateSafe(text: string, at: number): number {
  if (at > 0 && at < text.length) {
    const c = text.charCodeAt(at - 1);
    if (c >= 0xd800 && c <= 0xdbff) return at - 1;
  }
  return at;
}
