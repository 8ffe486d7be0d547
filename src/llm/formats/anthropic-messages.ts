/**
 * Anthropic's Messages API (`POST /v1/messages`), for both route types: Kong 3.6 used the legacy
 * Text Completions API (`/v1/complete`), which current Claude models do not serve. A completions
 * prompt becomes one user message and the answer a `text_completion`.
 *
 * Reference: https://docs.anthropic.com/en/api/messages and .../messages-streaming.
 */
import { RequestError, TranslationError, UpstreamStreamError, type ChatMessage, type ChatRequest, type ClientRequest, type ContentPart, type DriverContext, type StreamEvent, type TranslatedResponse, type Usage } from '../types.ts';
import { asArray, asCount, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { completionBody, mapFinishReason, usageOf, type FinishReason, type ToolCall } from '../openai-shape.ts';
import { clamp, putDefined, samplingParams } from '../params.ts';
import { imageUrlOf, isTextPart, parseDataUrl, textOf, textOnly, unsupportedPart } from '../content.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import type { ToolCallDelta } from '../stream/openai-chunks.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'anthropic';

/** Anthropic requires `max_tokens`; Kong 3.6's schema default is used when neither side sets it. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 256;

const STOP_REASONS: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

const TOOL_CHOICES: Readonly<Record<string, JsonObject>> = {
  auto: { type: 'auto' },
  none: { type: 'none' },
  required: { type: 'any' },
};

export const anthropicMessagesFormat: WireFormat = {
  framing: 'sse',
  buildRequest: buildAnthropicRequest,
  parseResponse: parseAnthropicResponse,
  createStreamTranslator: (ctx) => new AnthropicStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// Request

type Role = 'user' | 'assistant';
type Block = JsonObject;
interface AnthropicMessage {
  role: Role;
  content: string | Block[];
}

function buildAnthropicRequest(req: ClientRequest, ctx: DriverContext): JsonObject {
  if (typeof req.n === 'number' && req.n > 1) throw new RequestError('n: the anthropic provider returns one choice; expected 1');
  const params = samplingParams(req, ctx.options);
  const chat = ctx.routeType === 'llm/v1/chat';
  const { system, messages } = chat
    ? toAnthropicMessages((req as ChatRequest).messages)
    : { system: undefined, messages: [{ role: 'user' as const, content: String(req.prompt) }] };

  const body: JsonObject = { model: ctx.model, messages, max_tokens: params.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS };
  // Anthropic's temperature range is 0..1 (OpenAI's is 0..2, Kong's schema allows 0..5): clamp, so a
  // route configured or called with OpenAI-style values keeps working.
  const temperature = params.temperature === undefined ? undefined : clamp(params.temperature, 0, 1);
  putDefined(body, {
    system,
    temperature,
    // Current Claude models reject temperature and top_p together; temperature is the one clients set.
    top_p: temperature === undefined ? params.topP : undefined,
    top_k: params.topK !== undefined && Number.isInteger(params.topK) && params.topK >= 1 ? params.topK : undefined,
    stop_sequences: params.stop,
    stream: ctx.stream,
  });
  if (chat) addTools(body, req);
  if (typeof req.user === 'string') body.metadata = { user_id: req.user };
  return body;
}

/** System and developer messages go to the top-level `system`; the rest alternate user/assistant. */
function toAnthropicMessages(messages: ChatMessage[]): { system: string | undefined; messages: AnthropicMessage[] } {
  const system: string[] = [];
  const out: AnthropicMessage[] = [];
  messages.forEach((message, i) => {
    const path = `messages[${i}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(textOnly(message.content, path, PROVIDER));
        break;
      case 'user':
        append(out, 'user', userContent(message.content, path));
        break;
      case 'assistant':
        append(out, 'assistant', assistantContent(message, path));
        break;
      case 'tool':
        append(out, 'user', [{ type: 'tool_result', tool_use_id: message.tool_call_id, content: textOf(message.content) }]);
        break;
      default:
        throw new RequestError(`${path}.role: '${message.role}' messages are not supported by the anthropic provider; use 'tool'`);
    }
  });
  if (out.length === 0) throw new RequestError('messages: the anthropic provider needs at least one user or assistant message');
  return { system: system.length > 0 ? system.join('\n\n') : undefined, messages: out };
}

/**
 * Consecutive messages of one role become one message: the API wants turns to alternate, and
 * parallel tool results (several `tool` messages) must travel in a single user turn.
 */
function append(out: AnthropicMessage[], role: Role, content: string | Block[]): void {
  const last = out[out.length - 1];
  if (last && last.role === role) {
    last.content = [...blocksOf(last.content), ...blocksOf(content)];
  } else {
    out.push({ role, content });
  }
}

function blocksOf(content: string | Block[]): Block[] {
  if (typeof content !== 'string') return content;
  return content === '' ? [] : [{ type: 'text', text: content }];
}

function userContent(content: ChatMessage['content'], path: string): string | Block[] {
  if (!Array.isArray(content)) return textOf(content);
  return content.map((part, j) => partToBlock(part, `${path}.content[${j}]`));
}

function partToBlock(part: ContentPart, path: string): Block {
  if (isTextPart(part)) return { type: 'text', text: part.text };
  const url = imageUrlOf(part);
  if (url !== undefined) {
    const inline = parseDataUrl(url);
    if (inline) return { type: 'image', source: { type: 'base64', media_type: inline.mediaType, data: inline.data } };
    if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
    throw new RequestError(`${path}.image_url.url: expected an http(s) URL or a base64 data URL`);
  }
  throw unsupportedPart(part, path, PROVIDER);
}

function assistantContent(message: ChatMessage, path: string): string | Block[] {
  const text = textOf(message.content);
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  if (calls.length === 0) return text;
  const blocks: Block[] = text === '' ? [] : [{ type: 'text', text }];
  calls.forEach((call, k) => {
    const fn = dig(call, 'function');
    blocks.push({
      type: 'tool_use',
      id: dig(call, 'id'),
      name: dig(fn, 'name'),
      input: toolInput(dig(fn, 'arguments'), `${path}.tool_calls[${k}].function.arguments`),
    });
  });
  return blocks;
}

/** OpenAI sends arguments as a JSON string; Anthropic wants the object. */
function toolInput(args: unknown, path: string): JsonObject {
  if (typeof args !== 'string' || args.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(args);
  } catch {
    throw new RequestError(`${path}: expected a JSON object`);
  }
  if (!isObject(input)) throw new RequestError(`${path}: expected a JSON object`);
  return input;
}

function addTools(body: JsonObject, req: ClientRequest): void {
  const tools = asArray(req.tools);
  if (!tools || tools.length === 0) return; // tool_choice without tools is an error at Anthropic
  body.tools = tools.map((tool, i) => {
    const fn = dig(tool, 'function');
    if (dig(tool, 'type') !== 'function' || !isObject(fn)) {
      throw new RequestError(`tools[${i}].type: only 'function' tools are supported by the anthropic provider`);
    }
    const out: JsonObject = { name: fn.name, input_schema: asObject(fn.parameters) ?? { type: 'object', properties: {} } };
    if (typeof fn.description === 'string') out.description = fn.description;
    return out;
  });
  const choice = toolChoice(req.tool_choice);
  const serial = req.parallel_tool_calls === false;
  if (choice || serial) {
    const merged = { ...(choice ?? { type: 'auto' }) };
    if (serial && merged.type !== 'none') merged.disable_parallel_tool_use = true;
    body.tool_choice = merged;
  }
}

function toolChoice(choice: unknown): JsonObject | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (typeof choice === 'string' && Object.hasOwn(TOOL_CHOICES, choice)) return TOOL_CHOICES[choice];
  const name = dig(choice, 'function', 'name');
  if (dig(choice, 'type') === 'function' && typeof name === 'string') return { type: 'tool', name };
  throw new RequestError("tool_choice: expected 'auto', 'none', 'required' or a function choice");
}

// ---------------------------------------------------------------------------------------------
// Response

function parseAnthropicResponse(text: string, ctx: DriverContext): TranslatedResponse {
  const parsed = parseUpstreamJson(text, PROVIDER);
  const response = asObject(parsed);
  const content = asArray(response?.content);
  if (!response || !content) {
    if (response && typeof response.completion === 'string') return parseLegacyCompletion(response, ctx);
    throw new TranslationError(`'content' not in anthropic://${ctx.routeType} response`);
  }

  let answer = '';
  const toolCalls: ToolCall[] = [];
  for (const block of content) {
    const type = dig(block, 'type');
    if (type === 'text') answer += asString(dig(block, 'text')) ?? '';
    else if (type === 'tool_use') toolCalls.push(toolCallOf(block, ctx, toolCalls.length));
    // thinking, redacted_thinking and server tool blocks have no OpenAI equivalent: skipped.
  }
  const usage = anthropicUsage(response.usage);
  const model = asString(response.model);
  return {
    body: completionBody(ctx.routeType, {
      id: asString(response.id) ?? ctx.id,
      created: ctx.now,
      model: model ?? ctx.model,
      choices: [
        {
          text: answer === '' && toolCalls.length > 0 ? null : answer,
          toolCalls,
          finishReason: mapFinishReason(STOP_REASONS, response.stop_reason),
        },
      ],
      usage,
    }),
    usage,
    responseModel: model ?? null,
  };
}

function toolCallOf(block: unknown, ctx: DriverContext, index: number): ToolCall {
  return {
    id: asString(dig(block, 'id')) ?? `call_${ctx.id}_${index}`,
    type: 'function',
    function: { name: asString(dig(block, 'name')) ?? '', arguments: JSON.stringify(dig(block, 'input') ?? {}) },
  };
}

function anthropicUsage(usage: unknown): Usage | null {
  return usageOf(promptTokens(usage), dig(usage, 'output_tokens'));
}

/** Prompt tokens include cache reads and writes, as OpenAI's prompt_tokens include cached tokens. */
function promptTokens(usage: unknown): number | undefined {
  const input = asCount(dig(usage, 'input_tokens'));
  if (input === undefined) return undefined;
  return input + (asCount(dig(usage, 'cache_creation_input_tokens')) ?? 0) + (asCount(dig(usage, 'cache_read_input_tokens')) ?? 0);
}

/** The legacy Text Completions shape (`{completion, stop_reason, model}`), accepted from old or compatible servers. */
function parseLegacyCompletion(response: JsonObject, ctx: DriverContext): TranslatedResponse {
  const model = asString(response.model);
  return {
    body: completionBody(ctx.routeType, {
      id: asString(response.id) ?? ctx.id,
      created: ctx.now,
      model: model ?? ctx.model,
      choices: [{ text: String(response.completion), finishReason: mapFinishReason(STOP_REASONS, response.stop_reason) }],
      usage: null,
    }),
    usage: null,
    responseModel: model ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Stream

class AnthropicStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  #inputTokens: number | undefined;
  #outputTokens: number | undefined;
  /** Content block index → OpenAI tool call index. */
  readonly #toolIndexes = new Map<number, number>();

  protected translate(event: StreamEvent): string {
    const data = this.parse(event);
    if (!isObject(data)) throw new TranslationError('malformed anthropic stream event: not an object');
    const type = event.event ?? asString(data.type);
    switch (type) {
      case 'message_start':
        return this.#start(asObject(data.message) ?? {});
      case 'content_block_start':
        return this.#blockStart(data);
      case 'content_block_delta':
        return this.#blockDelta(data);
      case 'message_delta':
        return this.#messageDelta(data);
      case 'message_stop':
        this.setUsage(usageOf(this.#inputTokens ?? 0, this.#outputTokens));
        this.markDone();
        return '';
      case 'error': {
        const error = asObject(data.error);
        throw new UpstreamStreamError(asString(error?.message) ?? 'anthropic reported an error in the stream', asString(error?.type) ?? 'upstream_error');
      }
      default:
        // ping, content_block_stop, and event types Anthropic may add: nothing for the client.
        return '';
    }
  }

  #start(message: JsonObject): string {
    this.setModel(message.model);
    this.out.id = asString(message.id) ?? this.out.id;
    this.out.model = asString(message.model) || this.out.model;
    this.#inputTokens = promptTokens(message.usage);
    this.#outputTokens = asCount(dig(message, 'usage', 'output_tokens'));
    return this.out.role();
  }

  #blockStart(data: JsonObject): string {
    const block = asObject(data.content_block);
    if (block?.type === 'text') {
      const text = asString(block.text) ?? '';
      this.keepText(text);
      return this.out.text(text);
    }
    if (block?.type === 'tool_use') {
      const index = this.#toolIndexes.size;
      this.#toolIndexes.set(asNumber(data.index) ?? index, index);
      const call: ToolCallDelta = {
        index,
        id: asString(block.id) ?? `call_${this.ctx.id}_${index}`,
        type: 'function',
        function: { name: asString(block.name) ?? '', arguments: '' },
      };
      return this.out.toolCalls([call]);
    }
    return '';
  }

  #blockDelta(data: JsonObject): string {
    const delta = asObject(data.delta);
    if (delta?.type === 'text_delta') {
      const text = asString(delta.text) ?? '';
      this.keepText(text);
      return this.out.text(text);
    }
    if (delta?.type === 'input_json_delta') {
      const index = this.#toolIndexes.get(asNumber(data.index) ?? -1);
      const json = asString(delta.partial_json) ?? '';
      if (index === undefined || json === '') return '';
      this.keepText(json);
      return this.out.toolCalls([{ index, function: { arguments: json } }]);
    }
    return ''; // thinking_delta, signature_delta, citations_delta
  }

  #messageDelta(data: JsonObject): string {
    // message_delta usage is cumulative; newer API versions repeat input_tokens here too.
    this.#outputTokens = asCount(dig(data, 'usage', 'output_tokens')) ?? this.#outputTokens;
    const input = promptTokens(data.usage);
    if (input !== undefined && input > 0) this.#inputTokens = input;
    const reason = dig(data, 'delta', 'stop_reason');
    return reason == null ? '' : this.out.finish(mapFinishReason(STOP_REASONS, reason));
  }
}
