/**
 * The OpenAI Responses API as a provider's wire format, for OpenAI and Azure OpenAI when the client
 * speaks Responses too (`POST /v1/responses`): a near pass-through, as the chat path is for chat.
 *
 * References: https://platform.openai.com/docs/api-reference/responses/create,
 * https://platform.openai.com/docs/api-reference/responses-streaming.
 *
 * - request: the client's own body (`source.body`, which the plugin may already have expanded for
 *   `previous_response_id`) through the Responses field list (unknown top-level fields are the
 *   policy's: the plugin adds what it lets through), with `model` set to the model asked
 *   (`modelOf`: Azure's deployment), `stream` explicit and the route's configured options applied
 *   (configured wins, Kong 3.8: `max_tokens` → `max_output_tokens`, `temperature`, `top_p`);
 *   reasoning items holding another provider's state (inbound/openai-responses.ts encodes it into
 *   `encrypted_content`) are left out cleanly: OpenAI cannot read them. Everything inside items
 *   is OpenAI's own API, so the format judges `unmapped` itself (it sends it).
 * - response: parsed once to check it is a `response` object and read usage and model; the
 *   provider's bytes are the client's answer.
 * - stream: each event is passed on as received (`event:` line and data, re-framed); the terminal
 *   `response.completed` / `response.incomplete` / `response.failed` ends the stream normally (the
 *   client saw the provider's own terminal event) and gives usage, model and the final `response`
 *   object (`answer`, for the responses store); an `error` event is an UpstreamStreamError. There is
 *   no `[DONE]`.
 */
import { TranslationError, UpstreamStreamError, type DriverContext, type ModelOptions, type PassthroughAnswer, type ProviderName, type StreamEvent } from '../types.ts';
import { upstreamBase } from '../url.ts';
import { asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { resolveSampling } from '../params.ts';
import { canonicalUsage } from '../../exchange/usage.ts';
import { RESPONSES_FIELDS, isForeignReasoningState } from '../../exchange/inbound/openai-responses.ts';
import { responseErrorCode, responsesFrame } from '../../exchange/render/openai-responses.ts';
import type { CanonicalRequest, FinishReason, StreamFailure, Usage } from '../../exchange/types.ts';
import type { WireFormat } from './format.ts';

export interface OpenAIResponsesOptions {
  /** Names the provider in error messages. */
  provider: string;
  /** The body's `model`: the model asked (OpenAI), or the deployment (Azure's v1 API routes by it). */
  modelOf?(ctx: DriverContext): string;
}

/**
 * The Responses path for a configured chat path (`upstream_url`, `upstream_path`): a trailing
 * `/chat/completions` becomes `/responses`; any other path is not a Responses endpoint (null): the
 * request then goes to the configured path as a chat request, translated.
 */
export function responsesPathFor(chatPath: string): string | null {
  return /\/chat\/completions\/?$/.test(chatPath) ? chatPath.replace(/\/chat\/completions\/?$/, '/responses') : null;
}

/** The providers whose own API is the Responses API (drivers/openai.ts, drivers/azure.ts). */
const RESPONSES_PROVIDERS: ReadonlySet<ProviderName> = new Set(['openai', 'azure']);

/**
 * Whether a target answers a Responses client with its own Responses API (this format): OpenAI and
 * Azure, unless `upstream_url` / `upstream_path` names a path without a Responses sibling (one not
 * ending in `/chat/completions`), where the request goes as a translated chat request. The drivers'
 * `formatFor` and `endpoint` and the plugin all ask this one function.
 */
export function respondsNatively(provider: ProviderName, options: ModelOptions): boolean {
  if (!RESPONSES_PROVIDERS.has(provider)) return false;
  // asked per request (the driver's format and endpoint, the store): the answer depends on the route's options only
  const known = NATIVE_BY_OPTIONS.get(options);
  if (known !== undefined) return known;
  const native = nativePath(options);
  NATIVE_BY_OPTIONS.set(options, native);
  return native;
}

/** respondsNatively's answers by options object (compiled once per snapshot, so the entries go with it). */
const NATIVE_BY_OPTIONS = new WeakMap<ModelOptions, boolean>();

function nativePath(options: ModelOptions): boolean {
  if (options.upstream_url) {
    let path: string;
    try {
      path = new URL(upstreamBase(options.upstream_url)).pathname;
    } catch {
      return false; // the endpoint itself refuses the URL, with its message
    }
    return responsesPathFor(path) !== null;
  }
  if (options.upstream_path) return responsesPathFor(options.upstream_path) !== null;
  return true;
}

/** Usage as a Responses answer reports it: `input_tokens` includes cached reads, `output_tokens` reasoning. */
export function responsesUsageOf(usage: unknown): Usage | null {
  return canonicalUsage({
    input: dig(usage, 'input_tokens'),
    output: dig(usage, 'output_tokens'),
    cacheRead: dig(usage, 'input_tokens_details', 'cached_tokens'),
    reasoning: dig(usage, 'output_tokens_details', 'reasoning_tokens'),
  });
}

export function openAIResponsesFormat(options: OpenAIResponsesOptions): WireFormat {
  return {
    framing: 'sse',
    handlesUnmapped: true,
    buildRequest: (req, ctx) => buildResponsesRequest(req, ctx, options),
    parseResponse: (body, ctx) => parseResponsesAnswer(body, ctx),
    // response hooks read the text through the sink (the Responses renderer): no byte pass-through then
    createStreamTranslator: (ctx) => (ctx.answerHooks === true ? new ResponsesEventsTranslator(ctx, options.provider) : new ResponsesPassthroughTranslator(ctx, options.provider)),
  };
}

function buildResponsesRequest(req: CanonicalRequest, ctx: DriverContext, options: OpenAIResponsesOptions): JsonObject {
  const source = req.source.body;
  const body: JsonObject = {};
  for (const key of Object.keys(source)) if (RESPONSES_FIELDS.has(key)) body[key] = source[key];
  if (Array.isArray(body.input) && body.input.some(isForeignReasoning)) body.input = body.input.filter((item) => !isForeignReasoning(item));
  body.model = options.modelOf?.(ctx) ?? ctx.model;
  body.stream = ctx.stream;
  // OpenAI rejects stream_options on a request that does not stream
  if (!ctx.stream) delete body.stream_options;
  const configured = resolveSampling({}, ctx.options);
  if (configured.maxTokens !== undefined) body.max_output_tokens = configured.maxTokens;
  if (configured.temperature !== undefined) body.temperature = configured.temperature;
  if (configured.topP !== undefined) body.top_p = configured.topP;
  return body;
}

function isForeignReasoning(item: unknown): boolean {
  return isObject(item) && item.type === 'reasoning' && isForeignReasoningState(item.encrypted_content);
}

function parseResponsesAnswer(body: string, ctx: DriverContext): PassthroughAnswer {
  const parsed = parseUpstreamJson(body, 'responses');
  if (!isObject(parsed) || !Array.isArray(parsed.output)) throw new TranslationError(`'output' not in the ${ctx.provider} responses answer`);
  const previous = ctx.request?.previousResponseId;
  if (previous !== undefined && parsed.previous_response_id !== previous) {
    // the gateway's store sent the conversation itself: the answer still says which response it continues
    parsed.previous_response_id = previous;
    return { passthrough: JSON.stringify(parsed), usage: responsesUsageOf(parsed.usage), responseModel: asString(parsed.model) ?? null, parsed };
  }
  return { passthrough: body, usage: responsesUsageOf(parsed.usage), responseModel: asString(parsed.model) ?? null, parsed };
}

/**
 * A Responses stream event as an object with its type (the JSON `type`, else the SSE event name);
 * the provider's `error` event is thrown as the stream's failure, with its message and code.
 */
function responsesEvent(source: string, payload: unknown, event: StreamEvent) {
  if (!isObject(payload)) throw new TranslationError(`malformed ${source} stream event: not an object`);
  const type = asString(payload.type) ?? event.event;
  if (type === 'error' || event.event === 'error') {
    const message = asString(payload.message) ?? asString(dig(payload, 'error', 'message')) ?? `${source} reported an error in the stream`;
    throw new UpstreamStreamError(message, asString(payload.code) ?? asString(dig(payload, 'error', 'type')) ?? asString(dig(payload, 'error', 'code')) ?? 'upstream_error');
  }
  return { payload, type };
}

/** The events that end a Responses stream, each with the final `response` object. */
const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete', 'response.failed']);
const TEXT_DELTAS: ReadonlySet<string> = new Set(['response.output_text.delta', 'response.reasoning_summary_text.delta', 'response.reasoning_text.delta', 'response.refusal.delta', 'response.function_call_arguments.delta']);

class ResponsesPassthroughTranslator extends BaseStreamTranslator {
  protected readonly source: string;
  #answer: JsonObject | null = null;
  /** The latest response object the provider sent (created, in_progress): a gateway `response.failed` continues it. */
  #latest: JsonObject | null = null;
  /** The last sequence number the client saw: a gateway error event follows it. */
  #sequence = -1;

  constructor(ctx: DriverContext, provider: string) {
    super(ctx);
    this.source = provider;
  }

  protected translate(event: StreamEvent): string {
    const { payload, type } = responsesEvent(this.source, this.parse(event), event);
    if (typeof payload.sequence_number === 'number') this.#sequence = payload.sequence_number;
    if (type !== undefined && TEXT_DELTAS.has(type)) this.keepText(asString(payload.delta) ?? '');
    const previous = this.ctx.request?.previousResponseId;
    let data = event.data;
    if (isObject(payload.response)) this.#latest = payload.response;
    if (previous !== undefined && isObject(payload.response) && payload.response.previous_response_id !== previous) {
      // the gateway's store sent the conversation itself: every response object still says which response it continues
      payload.response.previous_response_id = previous;
      data = JSON.stringify(payload);
    }
    if (type !== undefined && TERMINAL_EVENTS.has(type)) {
      const response = payload.response;
      if (isObject(response)) {
        this.#answer = response;
        this.setModel(response.model);
        this.setUsage(responsesUsageOf(response.usage));
      }
      this.markDone();
    }
    return frame(event.event ?? type, data);
  }

  /** The provider's own terminal event was the end: nothing to add (no `[DONE]` in Responses). */
  override finish(): string {
    return '';
  }

  override get answer(): JsonObject | null {
    return this.#answer;
  }

  /** `error` then `response.failed`, numbered after the provider's last event, as the translated streams end (render/openai-responses.ts). */
  override errorFrame(failure: StreamFailure): string {
    const error = responsesFrame({ type: 'error', code: failure.code, message: failure.message, param: null, sequence_number: this.#sequence + 1 });
    const response = { ...(this.#latest ?? {}), status: 'failed', error: { code: responseErrorCode(failure.code), message: failure.message } };
    return `${error}event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', response, sequence_number: this.#sequence + 2 })}\n\n`;
  }
}

/** The event re-framed as received: its `event:` line and its data (one `data:` line per line). */
function frame(type: string | undefined, data: string): string {
  const head = type ? `event: ${type}\n` : '';
  if (!data.includes('\n')) return `${head}data: ${data}\n\n`;
  return `${head}${data
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}

/**
 * A Responses stream read event by event into the client's sink (the Responses renderer), for
 * requests whose answer goes through response hooks (DriverContext.answerHooks): text, reasoning
 * text, refusals and function calls are re-rendered from the deltas, so the final `response`
 * object says what the hooks released. Output items other than messages, reasoning and function
 * calls (built-in tools' calls) are not carried on this path (docs/plugins.md, response hooks).
 * Events: https://platform.openai.com/docs/api-reference/responses-streaming.
 */
class ResponsesEventsTranslator extends BaseStreamTranslator {
  protected readonly source: string;
  #started = false;
  /** output_index of a function_call item → the tool call's index in the answer. */
  readonly #calls = new Map<number, number>();

  constructor(ctx: DriverContext, provider: string) {
    super(ctx);
    this.source = provider;
  }

  protected translate(event: StreamEvent): string {
    const { payload, type } = responsesEvent(this.source, this.parse(event), event);
    let frames = '';
    const response = isObject(payload.response) ? payload.response : null;
    if (!this.#started) {
      this.#started = true;
      if (response) {
        this.setModel(response.model);
        if (typeof response.model === 'string' && response.model !== '') this.out.model = response.model;
        if (typeof response.created_at === 'number') this.out.created = response.created_at;
      }
      frames += this.out.start();
    }
    const delta = asString(payload.delta) ?? '';
    switch (type) {
      case 'response.output_text.delta':
        this.keepText(delta);
        return frames + this.out.text(delta);
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        this.keepText(delta);
        return frames + this.out.reasoning(delta);
      case 'response.refusal.delta':
        this.keepText(delta);
        return frames + this.out.refusal(delta);
      case 'response.output_item.added': {
        const item = payload.item;
        if (!isObject(item) || item.type !== 'function_call' || typeof payload.output_index !== 'number') return frames;
        const index = this.#calls.size;
        this.#calls.set(payload.output_index, index);
        return frames + this.out.toolCalls([{ index, id: asString(item.call_id) ?? asString(item.id), name: asString(item.name) ?? '', arguments: asString(item.arguments) ?? '' }]);
      }
      case 'response.function_call_arguments.delta': {
        const index = typeof payload.output_index === 'number' ? this.#calls.get(payload.output_index) : undefined;
        if (index === undefined) return frames;
        this.keepText(delta);
        return frames + this.out.toolCalls([{ index, arguments: delta }]);
      }
      case 'response.output_item.done': {
        const item = payload.item;
        const encrypted = isObject(item) && item.type === 'reasoning' ? asString(item.encrypted_content) : undefined;
        return encrypted ? frames + this.out.reasoningState({ type: 'reasoning', text: '', encrypted, provider: 'openai' }) : frames;
      }
      case 'response.completed':
      case 'response.incomplete': {
        if (response) {
          this.setModel(response.model);
          this.setUsage(responsesUsageOf(response.usage));
        }
        const reason: FinishReason =
          type === 'response.incomplete' ? (asString(dig(response, 'incomplete_details', 'reason')) === 'content_filter' ? 'content_filter' : 'length') : this.#calls.size > 0 ? 'tool_calls' : 'stop';
        this.markDone();
        return frames + this.out.finish(reason);
      }
      case 'response.failed': {
        const message = asString(dig(response, 'error', 'message')) ?? `${this.source} reported a failed response`;
        throw new UpstreamStreamError(message, asString(dig(response, 'error', 'code')) ?? 'upstream_error');
      }
      default:
        return frames; // the renderer makes its own lifecycle events (created, in_progress, part and item events)
    }
  }
}
