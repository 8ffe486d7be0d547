/**
 * The Anthropic Messages API for an Anthropic client (`inbound: anthropic-messages`): a pass-through.
 * The client's own body goes to `/v1/messages` with only `model` (the route's) and `stream` set, and
 * the route's configured sampling applied; the provider's answer and every event of its stream go
 * back byte for byte. The provider judges its own API: fields inside messages are its business
 * (`handlesUnmapped`), and the Anthropic-only fields the adapter carried are the client's to send.
 *
 * References: https://docs.anthropic.com/en/api/messages, https://docs.anthropic.com/en/docs/build-with-claude/streaming
 * (usage in `message_start`, cumulative usage in `message_delta`, `error` events),
 * https://docs.anthropic.com/en/api/messages-count-tokens (`POST /v1/messages/count_tokens`).
 */
import { TranslationError, UpstreamStreamError, type DriverContext, type PassthroughAnswer, type StreamEvent } from '../types.ts';
import { asCount, asObject, asString, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { clamp, resolveSampling } from '../params.ts';
import { maxTokensWithThinking } from '../thinking.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import type { CanonicalRequest, Usage } from '../../exchange/types.ts';
import { anthropicUsage, AnthropicStreamTranslator } from './anthropic-messages.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'anthropic';

/** `…/v1/messages` → `…/v1/messages/count_tokens` (the query string, if any, kept). */
export function countTokensUrl(messagesUrl: string): string {
  const query = messagesUrl.indexOf('?');
  const path = query < 0 ? messagesUrl : messagesUrl.slice(0, query);
  const rest = query < 0 ? '' : messagesUrl.slice(query);
  return `${path.replace(/\/+$/, '')}/count_tokens${rest}`;
}

export const anthropicNativeFormat: WireFormat = {
  framing: 'sse',
  handlesUnmapped: true,
  nativeFields: clientExtraFields,
  buildRequest: buildNativeRequest,
  parseResponse: parseNativeResponse,
  // response hooks read the text through the sink (the Anthropic renderer): no byte pass-through then
  createStreamTranslator: (ctx) => (ctx.answerHooks === true ? new AnthropicStreamTranslator(ctx) : new AnthropicPassthroughTranslator(ctx)),
};

// ---------------------------------------------------------------------------------------------
// Request

/**
 * The client's body with `model` and `stream` set and the configured sampling applied (params.ts:
 * a configured option wins, Kong 3.8). A field is written only when its value changes, so a body
 * nothing changes is the client's own, member for member (and its bytes can be reused).
 */
function buildNativeRequest(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const body: JsonObject = { ...req.source.body };
  // A top-level field the policy dropped (a context that does not say which request it serves) stays out.
  for (const key of Object.keys(req.passthrough)) if (ctx.dropped?.includes(key)) delete body[key];
  set(body, 'model', ctx.model);
  // `stream: false` is the API's default: not written into a body that does not say it
  if (ctx.stream || body.stream !== undefined) set(body, 'stream', ctx.stream);
  const configured = resolveSampling({}, ctx.options);
  const thinking = asObject(body.thinking);
  const thinkingOn = thinking?.type === 'enabled' || thinking?.type === 'adaptive';
  if (configured.maxTokens !== undefined) {
    // Thinking counts toward max_tokens, which must exceed the budget (llm/thinking.ts), as the translating format does.
    const budget = thinking?.type === 'enabled' ? asCount(thinking.budget_tokens) : undefined;
    set(body, 'max_tokens', budget === undefined ? configured.maxTokens : maxTokensWithThinking(configured.maxTokens, budget));
  }
  // Anthropic's ranges and its refusals with thinking, as the translating format applies them (anthropic-messages.ts).
  if (configured.temperature !== undefined) {
    const temperature = clamp(configured.temperature, 0, 1);
    if (thinkingOn && temperature !== 1) ctx.unsupported('temperature', 'a temperature other than 1 with extended thinking');
    else set(body, 'temperature', temperature);
  }
  if (configured.topP !== undefined) {
    if (thinkingOn && configured.topP < 0.95) ctx.unsupported('top_p', 'top_p below 0.95 with extended thinking');
    else set(body, 'top_p', configured.topP);
  }
  if (configured.topK !== undefined && Number.isInteger(configured.topK) && configured.topK >= 1) {
    if (thinkingOn) ctx.unsupported('top_k', 'top_k with extended thinking');
    else set(body, 'top_k', configured.topK);
  }
  return body;
}

/**
 * The client's top-level fields beyond the documented ones (`passthrough`) are Anthropic's to judge
 * in its own API (a beta field, or Anthropic's own 400): sent whatever the policy, as a provider's
 * native fields are. The plugin's ExchangeContext says which request it serves (`request`).
 */
function clientExtraFields(ctx: DriverContext): readonly string[] {
  const request = (ctx as DriverContext & { request?: CanonicalRequest }).request;
  return request ? Object.keys(request.passthrough) : [];
}

/** Sets `key` only when it changes the body (a body unchanged keeps the client's own member order). */
function set(body: JsonObject, key: string, value: unknown): void {
  if (body[key] !== value) body[key] = value;
}

// ---------------------------------------------------------------------------------------------
// Answer

function parseNativeResponse(text: string, _ctx: DriverContext): PassthroughAnswer {
  const parsed = parseUpstreamJson(text, PROVIDER);
  if (!isObject(parsed) || !Array.isArray(parsed.content)) throw new TranslationError('\'content\' not in anthropic response');
  return { passthrough: text, usage: anthropicUsage(parsed.usage), responseModel: asString(parsed.model) ?? null, parsed };
}

// ---------------------------------------------------------------------------------------------
// Stream

/** The usage counters Anthropic reports (message_start's, then message_delta's cumulative ones). */
const USAGE_KEYS = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'output_tokens'] as const;

/**
 * Every event of the provider's stream goes to the client as it came (`event:` and `data:` framed
 * again, line for line); usage, model and the text for estimates are read on the way. An `error`
 * event is the provider's failure: UpstreamStreamError with Anthropic's error type, which the relay
 * answers with the client API's error event.
 */
class AnthropicPassthroughTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  readonly #usage: JsonObject = {};
  #sawUsage = false;

  protected translate(event: StreamEvent): string {
    const data = this.parse(event);
    if (!isObject(data)) throw new TranslationError('malformed anthropic stream event: not an object');
    const type = event.event ?? asString(data.type);
    switch (type) {
      case 'message_start': {
        const message = asObject(data.message);
        this.setModel(message?.model);
        this.#mergeUsage(message?.usage);
        break;
      }
      case 'content_block_start': {
        const block = asObject(data.content_block);
        this.keepText(asString(block?.text) ?? asString(block?.thinking) ?? '');
        break;
      }
      case 'content_block_delta': {
        const delta = asObject(data.delta);
        this.keepText(asString(delta?.text) ?? asString(delta?.thinking) ?? asString(delta?.partial_json) ?? '');
        break;
      }
      case 'message_delta':
        this.#mergeUsage(data.usage);
        break;
      case 'message_stop':
        this.setUsage(this.#sawUsage ? anthropicUsage({ input_tokens: 0, ...this.#usage }) : null);
        this.markDone();
        break;
      case 'error': {
        const error = asObject(data.error);
        throw new UpstreamStreamError(asString(error?.message) ?? 'anthropic reported an error in the stream', asString(error?.type) ?? 'upstream_error');
      }
      default:
        break; // ping, and event types Anthropic may add: passed on as they are
    }
    return reframe(event);
  }

  /** message_delta's counts are cumulative: each one present replaces the last (a 0 input count never undoes message_start's). */
  #mergeUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    for (const key of USAGE_KEYS) {
      const value = asCount(usage[key]);
      if (value !== undefined && (key === 'output_tokens' || value > 0 || this.#usage[key] === undefined)) this.#usage[key] = value;
    }
    const details = asObject(usage.output_tokens_details);
    if (details) this.#usage.output_tokens_details = details;
    if (asCount(usage.output_tokens) !== undefined || asCount(usage.input_tokens) !== undefined) this.#sawUsage = true;
  }

  /** The provider's own events are the whole answer: nothing is added at the end (no usage chunk, no `[DONE]`). */
  override finish(_estimated?: Usage | null): string {
    return '';
  }
}

/** An SSE event framed as it came: its name, then one `data:` line per line of its data. */
function reframe(event: StreamEvent): string {
  const data = event.data.includes('\n') ? event.data.split('\n').map((line) => `data: ${line}`).join('\n') : `data: ${event.data}`;
  return event.event === undefined ? `${data}\n\n` : `event: ${event.event}\n${data}\n\n`;
}
