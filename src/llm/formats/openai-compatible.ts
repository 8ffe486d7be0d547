/**
 * The OpenAI wire format, spoken by OpenAI, Azure OpenAI, Mistral's API and self-hosted servers
 * (llama2/mistral `openai` format: vLLM, llama.cpp, TGI's Messages API, Ollama's /v1).
 *
 * This is the hot path, so it does as little as possible (Kong 3.7+ behaviour):
 * - request: for an OpenAI client, the client's body passes through (`CanonicalRequest.source`)
 *   with `model` set to the configured model, `stream` explicit and the configured options applied
 *   (they win, see params.ts); what the allow-list leaves out goes through the unsupported-params
 *   policy (ctx.unsupported), never silently; provider state meant for other providers
 *   (`reasoning_content`, `reasoning_details`, `cache_control` marks) is dropped cleanly;
 *   a request from another inbound API is built from the canonical request;
 * - response: parsed once to check `choices` and read usage/model; the upstream bytes are the
 *   client's answer, never re-serialised;
 * - stream: events are re-framed without parsing, except the few that carry what we must know
 *   (the first one for the model, the usage chunk, errors).
 */
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type PassthroughAnswer, type StreamEvent } from '../types.ts';
import { asArray, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { resolveSampling } from '../params.ts';
import { sseFrame } from '../../exchange/render/openai-chat.ts';
import { openAIUsage } from '../../exchange/usage.ts';
import { toolCallId } from '../../exchange/ids.ts';
import type { CanonicalChoice, CanonicalRequest, CanonicalResponse, FinishReason, ToolCallDelta, Usage } from '../../exchange/types.ts';
import { canonicalToOpenAI } from './openai-from-canonical.ts';
import type { WireFormat } from './format.ts';

export interface OpenAICompatibleOptions {
  /** Names the provider in stream error messages. */
  provider: string;
  /**
   * Ask for `stream_options.include_usage` upstream so streamed usage is exact. Only for servers
   * known to accept the field: Mistral's API and some self-hosted servers reject unknown fields.
   */
  requestStreamUsage: boolean;
  /** OpenAI model rules (reasoning models take `max_completion_tokens`), for OpenAI and Azure only. */
  openAIModelRules: boolean;
  /** A self-hosted server: also forwards the sampling fields such servers add (top_k, min_p ...). */
  selfHosted?: boolean;
  /** Provider-native request fields forwarded besides OpenAI's (e.g. Together's `repetition_penalty`). */
  extraFields?: readonly string[];
  /** OpenAI fields the provider answers 400 to (Groq: `logprobs`, `logit_bias`, `top_logprobs`): left out. */
  dropFields?: readonly string[];
  /** Message fields the provider answers 400 to (Groq: `name`): left out, through the policy. */
  dropMessageFields?: readonly string[];
  /** Provider-state message fields the provider takes (OpenRouter: `reasoning_details`, `cache_control`): kept, not dropped. */
  nativeMessageFields?: readonly string[];
  /** The provider only answers one choice (Groq: "n must be 1"): `n > 1` is a RequestError, `n: 1` is dropped. */
  singleChoice?: boolean;
  /** The provider only knows `max_tokens` (DeepSeek): a client's `max_completion_tokens` is sent under that name. */
  maxTokensOnly?: boolean;
  /**
   * Answers are OpenAI-shaped but not OpenAI's (TGI's finish reason `eos_token`, an empty `id`): each
   * answer and chunk is parsed and rewritten with OpenAI's values, instead of passed through.
   */
  normalize?: boolean;
  /**
   * The cost the provider reports in its usage object, in USD (OpenRouter's `usage.cost`, see
   * drivers/openrouter.ts): kept as the canonical usage's `reported_cost`, which prices the call.
   */
  reportedCost?: (usage: unknown) => number | undefined;
}

type UsageReader = (usage: unknown) => Usage | null;

/**
 * The canonical usage of an answer's or chunk's `usage` object, with the provider's reported cost
 * when it has one. The cost is not enumerable: paths that serialise canonical usage for a client
 * (a usage chunk written by a renderer, a JSON answer replayed as a stream) then never show it
 * a field its provider did not send, while pricing reads it like any other.
 */
function usageReader(options: OpenAICompatibleOptions): UsageReader {
  const reported = options.reportedCost;
  if (!reported) return openAIUsage;
  return (u) => {
    const usage = openAIUsage(u);
    const cost = usage ? reported(u) : undefined;
    if (usage && cost !== undefined) Object.defineProperty(usage, 'reported_cost', { value: cost, enumerable: false });
    return usage;
  };
}

/** OpenAI's reasoning models reject `max_tokens` and want `max_completion_tokens`. */
const MAX_COMPLETION_TOKENS_MODELS = /^(o\d|gpt-5)/;

/**
 * The request fields an OpenAI-compatible provider gets: OpenAI's documented parameters (Kong 3.7+
 * passes client fields through) and nothing else. An allow-list, not a pass-through: fields such
 * as `api_base`, `base_url` or `__proto__` mean nothing to a provider, make real APIs answer 400,
 * and have steered other gateways' upstreams (docs/decisions.md, T50, T69).
 */
const COMMON_FIELDS = [
  'model', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'n', 'stop', 'presence_penalty',
  'frequency_penalty', 'logit_bias', 'logprobs', 'seed', 'user',
];
const CHAT_FIELDS: ReadonlySet<string> = new Set([
  ...COMMON_FIELDS, 'messages', 'max_completion_tokens', 'top_logprobs', 'response_format', 'service_tier', 'tools',
  'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'modalities', 'audio', 'prediction',
  'reasoning_effort', 'metadata', 'store', 'web_search_options', 'verbosity', 'prompt_cache_key', 'safety_identifier',
]);
const COMPLETION_FIELDS: ReadonlySet<string> = new Set([...COMMON_FIELDS, 'prompt', 'echo', 'best_of', 'suffix']);
/** A message's fields in OpenAI's API. */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'function_call', 'refusal', 'audio']);
/** Sampling fields self-hosted OpenAI-compatible servers (vLLM, llama.cpp) accept beyond OpenAI's. */
const SELF_HOSTED_FIELDS = ['top_k', 'min_p', 'repetition_penalty'];

/**
 * Message fields that carry provider state or cache marks for other providers (Anthropic's
 * `cache_control`, reasoning echoed back): a provider that cannot use them does not get them. A
 * clean drop by design, not a client field the policy judges (docs/ai-proxy.md).
 */
const STATE_MESSAGE_FIELDS: ReadonlySet<string> = new Set(['reasoning_content', 'reasoning', 'reasoning_details', 'cache_control', 'annotations']);

/** Keys that name prototypes: never sent, whatever the policy (T50). */
const NEVER_SENT: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** A format's extra request fields, worked out once per format rather than per request. */
const extraFieldsOf = new WeakMap<OpenAICompatibleOptions, readonly string[]>();

function extraFields(options: OpenAICompatibleOptions): readonly string[] {
  let extra = extraFieldsOf.get(options);
  if (!extra) extraFieldsOf.set(options, (extra = [...(options.selfHosted ? SELF_HOSTED_FIELDS : []), ...(options.extraFields ?? [])]));
  return extra;
}

/** What a message needs done before it goes upstream: nothing, or rebuilt without what it may not carry. */
const Fix = { None: 0, Rebuild: 1 } as const;
type Fix = (typeof Fix)[keyof typeof Fix];

/** Whether a content array has a part with a cache mark (stripped for providers that cannot use it). */
function partsHaveCacheMark(content: unknown): boolean {
  if (!Array.isArray(content)) return false;
  for (const part of content) if (isObject(part) && part.cache_control !== undefined) return true;
  return false;
}

/**
 * Cache marks this provider does not take are left out, named under every policy (`ctx.drop`):
 * the OpenAI family caches prompts by itself, so a mark changes no answer and refusing it would
 * break every conversation that moves here from Anthropic, but leaving it out unnamed would hide
 * it from whoever reads the bill.
 */
function dropCacheMarks(content: unknown, path: string, ctx: DriverContext): void {
  if (!Array.isArray(content)) return;
  content.forEach((part, j) => {
    if (isObject(part) && part.cache_control !== undefined) ctx.drop(`${path}.content[${j}].cache_control`);
  });
}

/** Judges one message's fields; reports what cannot go through the policy and says whether the message must be rebuilt. */
function checkMessage(m: JsonObject, path: string, ctx: DriverContext, options: OpenAICompatibleOptions): Fix {
  const dropped = options.dropMessageFields ?? [];
  const native = options.nativeMessageFields ?? [];
  let fix: Fix = Fix.None;
  for (const key in m) {
    if (MESSAGE_FIELDS.has(key) && !dropped.includes(key)) continue;
    if (native.includes(key)) continue;
    if (!present(m[key])) {
      // null is unset (OpenAI's rule): nothing to judge, but strict servers refuse the key itself
      if (!MESSAGE_FIELDS.has(key)) fix = Fix.Rebuild;
      continue;
    }
    if (STATE_MESSAGE_FIELDS.has(key)) {
      if (key === 'cache_control') ctx.drop(`${path}.cache_control`);
      fix = Fix.Rebuild;
      continue;
    }
    if (dropped.includes(key)) {
      if (present(m[key])) ctx.unsupported(`${path}.${key}`);
      fix = Fix.Rebuild;
      continue;
    }
    if (ctx.policy === 'pass' && !NEVER_SENT.has(key)) continue;
    ctx.unsupported(`${path}.${key}`);
    fix = Fix.Rebuild;
  }
  if (!native.includes('cache_control') && partsHaveCacheMark(m.content)) {
    dropCacheMarks(m.content, path, ctx);
    fix = Fix.Rebuild;
  }
  return fix;
}

function rebuildMessage(m: JsonObject, ctx: DriverContext, options: OpenAICompatibleOptions): JsonObject {
  const dropped = options.dropMessageFields ?? [];
  const native = options.nativeMessageFields ?? [];
  const out: JsonObject = {};
  for (const key in m) {
    const keep = (MESSAGE_FIELDS.has(key) && !dropped.includes(key)) || native.includes(key) || (ctx.policy === 'pass' && present(m[key]) && !STATE_MESSAGE_FIELDS.has(key) && !dropped.includes(key) && !NEVER_SENT.has(key));
    if (keep) out[key] = m[key];
  }
  if (!native.includes('cache_control') && partsHaveCacheMark(out.content)) {
    out.content = (out.content as unknown[]).map((part) => {
      if (!isObject(part) || part.cache_control === undefined) return part;
      const { cache_control: _mark, ...rest } = part;
      return rest;
    });
  }
  return out;
}

/**
 * The client's own body, through the provider's allow-list. Fields the inbound API has and this
 * provider does not (`top_k` to OpenAI, Groq's `logprobs`) and message fields it does not take
 * go through the policy; fields the inbound API does not have are the policy's already
 * (src/exchange/policy.ts). The `messages` array is rebuilt only when a message needs it: otherwise
 * the client's own array goes upstream, and a long conversation is written as the client's bytes
 * (util/json-reuse.ts).
 */
function allowedFields(req: CanonicalRequest, ctx: DriverContext, options: OpenAICompatibleOptions): JsonObject {
  const source = req.source.body;
  const allowed = ctx.routeType === 'llm/v1/chat' ? CHAT_FIELDS : COMPLETION_FIELDS;
  const extra = extraFields(options);
  const body: JsonObject = {};
  for (const key of Object.keys(source)) {
    if (allowed.has(key) || extra.includes(key)) body[key] = source[key];
    else if (!Object.hasOwn(req.passthrough, key) && present(source[key])) ctx.unsupported(key);
  }
  for (const field of options.dropFields ?? []) {
    if (present(body[field])) ctx.unsupported(field);
    delete body[field];
  }
  if (Array.isArray(body.messages)) {
    const messages = body.messages;
    let rebuild: boolean[] | null = null;
    messages.forEach((m, i) => {
      if (isObject(m) && checkMessage(m, `messages[${i}]`, ctx, options) === Fix.Rebuild) (rebuild ??= [])[i] = true;
    });
    if (rebuild) {
      const marks = rebuild;
      body.messages = messages.map((m, i) => (marks[i] && isObject(m) ? rebuildMessage(m, ctx, options) : m));
    }
  }
  if (Array.isArray(body.tools) && !(options.nativeMessageFields ?? []).includes('cache_control') && body.tools.some((t) => isObject(t) && t.cache_control !== undefined)) {
    body.tools = body.tools.map((t, i) => {
      if (!isObject(t) || t.cache_control === undefined) return t;
      ctx.drop(`tools[${i}].cache_control`);
      const { cache_control: _mark, ...rest } = t;
      return rest;
    });
  }
  if (options.singleChoice && body.n !== undefined && body.n !== null) {
    if (body.n !== 1) throw new RequestError(`n: the ${options.provider} provider returns one choice; expected 1`);
    delete body.n;
  }
  if (options.maxTokensOnly && body.max_completion_tokens !== undefined) {
    body.max_tokens ??= body.max_completion_tokens;
    delete body.max_completion_tokens;
  }
  return body;
}

/** The body before the route's options: the client's own (OpenAI inbound), else built from the canonical request. */
function baseBody(req: CanonicalRequest, ctx: DriverContext, options: OpenAICompatibleOptions): JsonObject {
  if (req.source.format === 'openai-chat' || req.source.format === 'openai-completions') return allowedFields(req, ctx, options);
  return canonicalToOpenAI(req, ctx, {
    extraFields: extraFields(options),
    dropFields: options.dropFields ?? [],
    dropMessageFields: options.dropMessageFields ?? [],
    singleChoice: options.singleChoice === true,
    provider: options.provider,
    effortForBudget: options.openAIModelRules && MAX_COMPLETION_TOKENS_MODELS.test(ctx.model),
  });
}

export function openAICompatibleFormat(options: OpenAICompatibleOptions): WireFormat {
  const usageOf = usageReader(options);
  return {
    framing: 'sse',
    handlesUnmapped: true,
    nativeFields: () => extraFields(options),
    buildRequest: (req, ctx) => buildOpenAIRequest(baseBody(req, ctx, options), req, ctx, options),
    // the provider's own bytes go to an OpenAI client; a client of another API gets the answer through its renderer
    parseResponse: (body, ctx) => (options.normalize || !speaksOpenAI(ctx) ? parseNormalizedResponse(body, ctx, options.provider, usageOf) : parseOpenAIResponse(body, ctx, usageOf)),
    // response hooks read the text through the sink: no byte pass-through then (answerHooks)
    createStreamTranslator: (ctx) => (options.normalize || !speaksOpenAI(ctx) || ctx.answerHooks === true ? new NormalizingTranslator(ctx, options.provider, usageOf) : new OpenAIPassthroughTranslator(ctx, options.provider, usageOf)),
  };
}

/** The client speaks the provider's API (Chat Completions / Completions): its answer can be the provider's bytes. */
function speaksOpenAI(ctx: DriverContext): boolean {
  return ctx.inbound === 'openai-chat' || ctx.inbound === 'openai-completions';
}

/**
 * For a completions route on a server that only has chat completions (Mistral's API has no
 * `/v1/completions`): the prompt becomes one user message, the chat answer becomes a
 * `text_completion`. The same bridge Anthropic uses.
 */
export function chatBridgedCompletionsFormat(options: OpenAICompatibleOptions): WireFormat {
  const usageOf = usageReader(options);
  return {
    framing: 'sse',
    handlesUnmapped: true,
    nativeFields: () => extraFields(options),
    buildRequest: (req, ctx) => {
      const { prompt, ...rest } = baseBody(req, ctx, options);
      const body: JsonObject = { ...rest, messages: [{ role: 'user', content: prompt ?? req.prompt }] };
      for (const field of ['echo', 'best_of', 'suffix']) delete body[field]; // completions-only: chat has none of them
      return buildOpenAIRequest(body, req, ctx, options);
    },
    parseResponse: (body, ctx) => parseBridgedResponse(body, ctx, usageOf),
    createStreamTranslator: (ctx) => new ChatToCompletionsTranslator(ctx, options.provider, usageOf),
  };
}

function buildOpenAIRequest(body: JsonObject, req: CanonicalRequest, ctx: DriverContext, options: OpenAICompatibleOptions): JsonObject {
  body.model = ctx.model;
  body.stream = ctx.stream;
  applyConfiguredOptions(body, req, ctx, options);
  if (!ctx.stream) {
    // OpenAI rejects stream_options on a non-streamed request.
    delete body.stream_options;
  } else if (options.requestStreamUsage) {
    body.stream_options = { ...asObject(body.stream_options), include_usage: true };
  }
  return body;
}

/**
 * Kong 3.8+ `merge_config_defaults`: configured options win (params.ts; the body already carries the
 * client's values, so only the configured ones are written over it). `top_k` is not sent: OpenAI rejects it.
 */
function applyConfiguredOptions(body: JsonObject, req: CanonicalRequest, ctx: DriverContext, options: OpenAICompatibleOptions): void {
  const configured = resolveSampling({}, ctx.options);
  if (configured.maxTokens !== undefined) {
    const completionField =
      present(req.source.body.max_completion_tokens) ||
      (options.openAIModelRules && MAX_COMPLETION_TOKENS_MODELS.test(ctx.model));
    if (completionField && !options.maxTokensOnly) {
      body.max_completion_tokens = configured.maxTokens;
      delete body.max_tokens;
    } else {
      body.max_tokens = configured.maxTokens;
    }
  }
  if (configured.temperature !== undefined) body.temperature = configured.temperature;
  if (configured.topP !== undefined) body.top_p = configured.topP;
}

function parseOpenAIResponse(body: string, ctx: DriverContext, usageOf: UsageReader): PassthroughAnswer {
  const parsed = parseUpstreamJson(body, ctx.routeType);
  if (!isObject(parsed) || !Array.isArray(parsed.choices)) throw new TranslationError(`'choices' not in ${ctx.routeType} response`);
  return { passthrough: body, usage: usageOf(parsed.usage), responseModel: asString(parsed.model) ?? null, parsed };
}

function parseBridgedResponse(body: string, ctx: DriverContext, usageOf: UsageReader): CanonicalResponse {
  const parsed = parseUpstreamJson(body, 'llm/v1/chat');
  const choices = isObject(parsed) ? asArray(parsed.choices) : undefined;
  if (!isObject(parsed) || !choices) throw new TranslationError(`'choices' not in llm/v1/chat response`);
  return {
    id: asString(parsed.id) ?? ctx.id,
    created: asNumber(parsed.created) ?? ctx.now,
    model: asString(parsed.model) ?? ctx.model,
    choices: choices.map((choice) => ({
      parts: [{ type: 'text', text: textOfContent(dig(choice, 'message', 'content')) }],
      finishReason: finishReasonOf(dig(choice, 'finish_reason')),
    })),
    usage: usageOf(parsed.usage),
  };
}

/** Chat content as plain text: a string, or the text parts of an array (some servers answer with parts). */
function textOfContent(content: unknown): string {
  if (typeof content === 'string') return content;
  const parts = asArray(content);
  if (!parts) return '';
  return parts.map((part) => asString(dig(part, 'text')) ?? '').join('');
}

const OPENAI_FINISH_REASONS: ReadonlySet<string> = new Set(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);

/** A server's finish reason as OpenAI's; anything unknown still ends the answer normally. */
function finishReasonOf(value: unknown): FinishReason | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' && OPENAI_FINISH_REASONS.has(value) ? (value as FinishReason) : 'stop';
}

// ---------------------------------------------------------------------------------------------
// Streams

/**
 * Patterns on the raw event text, sound because JSON escapes every quote inside a string: an
 * unescaped `"usage":{` can only be the key of an object, never text the model wrote.
 */
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const ERROR_EVENT = /^\s*\{\s*"error"\s*:/;
/** The string values that make up generated text in chat and completion chunks. */
const TEXT_VALUE = /"(?:content|text|arguments|reasoning_content)"\s*:\s*"/g;

const EMPTY_CHOICES = /"choices"\s*:\s*\[\s*\]/;

class OpenAIPassthroughTranslator extends BaseStreamTranslator {
  protected readonly source: string;
  #sawFirstEvent = false;

  protected readonly usageOf: UsageReader;

  constructor(ctx: DriverContext, provider: string, usageOf: UsageReader) {
    super(ctx);
    this.source = provider;
    this.usageOf = usageOf;
  }

  protected translate(event: StreamEvent): string {
    const data = event.data;
    if (data === '[DONE]') {
      this.markDone();
      return '';
    }
    if (event.event === 'error' || ERROR_EVENT.test(data)) throw streamError(this.parse(event), this.source);
    // Azure opens with a chunk that only carries its prompt content-filter results (`object: ""`,
    // no choices): not an OpenAI chunk, and it would set an empty id and model.
    if (data.includes('"prompt_filter_results"') && EMPTY_CHOICES.test(data) && !USAGE_OBJECT.test(data)) return '';
    if (!this.#sawFirstEvent) {
      this.#sawFirstEvent = true;
      const first = this.parse(event);
      if (!isObject(first)) throw new TranslationError(`malformed ${this.source} stream event: not an object`);
      this.setModel(first.model);
      // A usage chunk finish() may have to add (estimated usage) then matches the stream's chunks.
      this.out.id = asString(first.id) ?? this.out.id;
      this.out.model = asString(first.model) || this.out.model;
      this.out.created = asNumber(first.created) ?? this.out.created;
    }
    if (USAGE_OBJECT.test(data)) {
      const chunk = this.parse(event);
      this.setUsage(this.usageOf(dig(chunk, 'usage')));
      const usageOnly = asArray(dig(chunk, 'choices'))?.length === 0;
      // We asked the upstream for usage; a client that did not ask must not get the extra chunk.
      if (usageOnly && !this.ctx.includeUsage) return '';
      if (this.ctx.includeUsage) this.markUsageSent();
    }
    this.#keepGeneratedText(data);
    return sseFrame(data);
  }

  /** Keeps the generated text for estimates without parsing the whole chunk. */
  #keepGeneratedText(data: string): void {
    TEXT_VALUE.lastIndex = 0;
    for (let match = TEXT_VALUE.exec(data); match; match = TEXT_VALUE.exec(data)) {
      const start = TEXT_VALUE.lastIndex;
      const end = closingQuote(data, start);
      if (end === -1) return;
      const raw = data.slice(start, end);
      this.keepText(raw.includes('\\') ? unescapeJsonString(raw) : raw);
      TEXT_VALUE.lastIndex = end + 1;
    }
  }
}

/** Index of the quote that ends the JSON string starting at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 34 /* " */) return i;
  }
  return -1;
}

function unescapeJsonString(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** An OpenAI-style error event (`{"error": {...}}`) as the typed error the plugin reports. */
function streamError(payload: unknown, provider: string): UpstreamStreamError {
  const error = dig(payload, 'error');
  const message = asString(dig(error, 'message')) ?? asString(error) ?? `${provider} reported an error in the stream`;
  return new UpstreamStreamError(message, asString(dig(error, 'type')) ?? asString(dig(error, 'code')) ?? 'upstream_error');
}

/** Translators that read every OpenAI-style chunk (rather than passing the bytes through). */
abstract class OpenAIChunkTranslator extends BaseStreamTranslator {
  protected readonly source: string;

  protected readonly usageOf: UsageReader;

  constructor(ctx: DriverContext, provider: string, usageOf: UsageReader) {
    super(ctx);
    this.source = provider;
    this.usageOf = usageOf;
  }

  /** The event's chunk; null for `[DONE]` (the stream is then done). Error events and non-objects throw. */
  protected chunkOf(event: StreamEvent): JsonObject | null {
    if (event.data === '[DONE]') {
      this.markDone();
      return null;
    }
    const chunk = this.parse(event);
    if (!isObject(chunk)) throw new TranslationError(`malformed ${this.source} stream event: not an object`);
    if (event.event === 'error' || chunk.error !== undefined) throw streamError(chunk, this.source);
    return chunk;
  }
}

/** Chat chunks turned into `text_completion` chunks: here every event must be parsed. */
class ChatToCompletionsTranslator extends OpenAIChunkTranslator {
  #started = false;

  protected translate(event: StreamEvent): string {
    const chunk = this.chunkOf(event);
    if (!chunk) return '';
    this.#adopt(chunk);
    this.setUsage(this.usageOf(chunk.usage));
    let frames = '';
    for (const choice of asArray(chunk.choices) ?? []) {
      const text = asString(dig(choice, 'delta', 'content')) ?? '';
      this.keepText(text);
      frames += this.out.text(text);
      const reason = dig(choice, 'finish_reason');
      if (reason != null) frames += this.out.finish(finishReasonOf(reason));
    }
    return frames;
  }

  /** The first chunk names the answer: its id, model and time are kept for every chunk we write. */
  #adopt(chunk: JsonObject): void {
    if (this.#started) return;
    this.#started = true;
    this.setModel(chunk.model);
    this.out.model = asString(chunk.model) || this.out.model;
    this.out.id = asString(chunk.id) ?? this.out.id;
    this.out.created = asNumber(chunk.created) ?? this.out.created;
  }
}

// ---------------------------------------------------------------------------------------------
// Normalizing: OpenAI-shaped answers rewritten with OpenAI's values (Hugging Face TGI)

/** Server finish reasons (TGI: `eos_token`, `stop_sequence`) as OpenAI's. */
const SERVER_FINISH_REASONS: Readonly<Record<string, FinishReason>> = { eos_token: 'stop', stop_sequence: 'stop', eos: 'stop', max_tokens: 'length' };

function normalizedFinish(value: unknown): FinishReason | null {
  if (typeof value === 'string' && Object.hasOwn(SERVER_FINISH_REASONS, value)) return SERVER_FINISH_REASONS[value];
  return finishReasonOf(value);
}

/** The reasoning text OpenAI-compatible servers answer with (DeepSeek and vLLM: `reasoning_content`; others: `reasoning`). */
function reasoningTextOf(message: unknown): string | undefined {
  return asString(dig(message, 'reasoning_content')) ?? asString(dig(message, 'reasoning'));
}

function parseNormalizedResponse(body: string, ctx: DriverContext, provider: string, usageOf: UsageReader): CanonicalResponse {
  const parsed = parseUpstreamJson(body, ctx.routeType);
  // TGI and the Inference API answer errors as `{"error": "..."}` (`{"message": ...}` from the router).
  const error = asString(dig(parsed, 'error')) ?? (isObject(parsed) && parsed.choices === undefined ? asString(parsed.message) : undefined);
  if (error !== undefined) throw new TranslationError(`${provider} endpoint error: ${error}`);
  const choices = isObject(parsed) ? asArray(parsed.choices) : undefined;
  if (!isObject(parsed) || !choices) throw new TranslationError(`'choices' not in ${ctx.routeType} response`);
  const model = asString(parsed.model) || undefined;
  const id = asString(parsed.id) || ctx.id;
  const chat = ctx.routeType === 'llm/v1/chat';
  const translated: CanonicalChoice[] = choices.map((choice) => {
    const parts: CanonicalChoice['parts'] = [];
    if (!chat) {
      parts.push({ type: 'text', text: asString(dig(choice, 'text')) ?? '' });
      return { parts, finishReason: normalizedFinish(dig(choice, 'finish_reason')) };
    }
    const message = dig(choice, 'message');
    const reasoning = reasoningTextOf(message);
    if (reasoning) parts.push({ type: 'reasoning', text: reasoning });
    const calls = asArray(dig(message, 'tool_calls')) ?? [];
    const text = textOfContent(dig(message, 'content'));
    if (text !== '' || calls.length === 0) parts.push({ type: 'text', text });
    const refusal = asString(dig(message, 'refusal'));
    if (refusal) parts.push({ type: 'refusal', text: refusal });
    calls.forEach((call, index) => {
      const args = dig(call, 'function', 'arguments');
      // TGI has answered arguments as an object; OpenAI's are JSON text.
      parts.push({ type: 'tool_call', id: toolCallId(dig(call, 'id'), id, index), name: asString(dig(call, 'function', 'name')) ?? '', arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) });
    });
    return { parts, finishReason: calls.length > 0 ? 'tool_calls' : normalizedFinish(dig(choice, 'finish_reason')) };
  });
  return { id, created: asNumber(parsed.created) ?? ctx.now, model: model ?? ctx.model, choices: translated, usage: usageOf(parsed.usage) };
}

/**
 * Every chunk parsed and written again with OpenAI's values. The end is `[DONE]` or, for TGI
 * versions that send none, the chunk with a finish reason; a usage chunk after it still counts.
 */
class NormalizingTranslator extends OpenAIChunkTranslator {
  #started = false;

  protected override get acceptsEventsAfterDone(): boolean {
    return true;
  }

  protected translate(event: StreamEvent): string {
    const chunk = this.chunkOf(event);
    if (!chunk) return '';
    let frames = '';
    if (!this.#started) {
      this.#started = true;
      this.setModel(chunk.model);
      this.out.model = asString(chunk.model) || this.out.model;
      this.out.id = asString(chunk.id) || this.out.id;
      this.out.created = asNumber(chunk.created) ?? this.out.created;
      frames += this.out.start();
    }
    this.setUsage(this.usageOf(chunk.usage));
    const chat = this.ctx.routeType === 'llm/v1/chat';
    for (const choice of asArray(chunk.choices) ?? []) {
      const reasoning = chat ? reasoningTextOf(dig(choice, 'delta')) : undefined;
      if (reasoning) {
        this.keepText(reasoning);
        frames += this.out.reasoning(reasoning);
      }
      const text = chat ? asString(dig(choice, 'delta', 'content')) : asString(dig(choice, 'text'));
      if (text) {
        this.keepText(text);
        frames += this.out.text(text);
      }
      const calls = asArray(dig(choice, 'delta', 'tool_calls')) ?? [];
      if (calls.length > 0) {
        const deltas: ToolCallDelta[] = calls.map((call, k) => {
          const args = dig(call, 'function', 'arguments');
          const argumentsText = typeof args === 'string' ? args : args === undefined || args === null ? '' : JSON.stringify(args);
          this.keepText(argumentsText);
          const delta: ToolCallDelta = { index: asNumber(dig(call, 'index')) ?? k, arguments: argumentsText };
          const id = asString(dig(call, 'id'));
          const name = asString(dig(call, 'function', 'name'));
          if (id) delta.id = toolCallId(id, this.out.id, delta.index);
          if (name !== undefined) delta.name = name;
          return delta;
        });
        frames += this.out.toolCalls(deltas);
      }
      const reason = dig(choice, 'finish_reason');
      if (reason != null && !this.done) {
        frames += this.out.finish(normalizedFinish(reason));
        this.markDone();
      }
    }
    return frames;
  }
}
