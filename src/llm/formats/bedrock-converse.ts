/**
 * Amazon Bedrock's Converse API (`POST /model/{modelId}/converse`, `/converse-stream`): one
 * message format for every model Bedrock hosts. Both route types: a completions prompt becomes one
 * user message and the answer a `text_completion`. Streams use AWS's binary event stream
 * (stream/aws-eventstream.ts).
 *
 * Reference: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html and
 * API_runtime_ConverseStream.html (Message, ContentBlock, InferenceConfiguration, ToolConfiguration,
 * ConverseStreamOutput, TokenUsage).
 */
import { RequestError, TranslationError, UpstreamStreamError, type ChatMessage, type ChatRequest, type ClientRequest, type ContentPart, type DriverContext, type StreamEvent, type TranslatedResponse, type Usage } from '../types.ts';
import { asArray, asCount, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { completionBody, mapFinishReason, usageOf, type FinishReason, type ToolCall } from '../openai-shape.ts';
import { clamp, copyNativeFields, putDefined, samplingParams } from '../params.ts';
import { imageUrlOf, isTextPart, parseDataUrl, textOf, textOnly, unsupportedPart } from '../content.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import type { ToolCallDelta } from '../stream/openai-chunks.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'bedrock';

const STOP_REASONS: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

/** Converse-native request fields a client may send as they are. */
const NATIVE_FIELDS = ['guardrailConfig', 'additionalModelRequestFields', 'additionalModelResponseFieldPaths', 'performanceConfig', 'requestMetadata'] as const;

/** Image formats a Converse image block takes. */
const IMAGE_FORMATS: Readonly<Record<string, string>> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

export const bedrockConverseFormat: WireFormat = {
  framing: 'aws-eventstream',
  buildRequest: buildConverseRequest,
  parseResponse: parseConverseResponse,
  createStreamTranslator: (ctx) => new ConverseStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// Request

type Block = JsonObject;
interface Message {
  role: 'user' | 'assistant';
  content: Block[];
}

function buildConverseRequest(req: ClientRequest, ctx: DriverContext): JsonObject {
  if (typeof req.n === 'number' && req.n > 1) throw new RequestError('n: the bedrock provider returns one choice; expected 1');
  const chat = ctx.routeType === 'llm/v1/chat';
  const { system, messages } = chat ? toMessages((req as ChatRequest).messages) : { system: [], messages: [{ role: 'user' as const, content: [{ text: String(req.prompt) }] }] };
  if (messages.length === 0) throw new RequestError('messages: the bedrock provider needs at least one user or assistant message');

  const body: JsonObject = { messages };
  if (system.length > 0) body.system = system.map((text) => ({ text }));
  const params = samplingParams(req, ctx.options);
  const inferenceConfig: JsonObject = {};
  putDefined(inferenceConfig, {
    maxTokens: params.maxTokens,
    // Converse's range is 0..1 (OpenAI's 0..2, Kong's schema 0..5): clamped, as for Anthropic.
    temperature: params.temperature === undefined ? undefined : clamp(params.temperature, 0, 1),
    topP: params.topP,
    stopSequences: params.stop,
  });
  if (Object.keys(inferenceConfig).length > 0) body.inferenceConfig = inferenceConfig;
  if (chat) addTools(body, req, messages);
  copyNativeFields(body, req, NATIVE_FIELDS);
  return body;
}

function toMessages(input: ChatMessage[]): { system: string[]; messages: Message[] } {
  const system: string[] = [];
  const messages: Message[] = [];
  input.forEach((message, i) => {
    const path = `messages[${i}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(textOnly(message.content, path, PROVIDER));
        break;
      case 'user':
        append(messages, 'user', userBlocks(message.content, path));
        break;
      case 'assistant':
        append(messages, 'assistant', assistantBlocks(message, path));
        break;
      case 'tool':
        append(messages, 'user', [toolResult(message)]);
        break;
      default:
        throw new RequestError(`${path}.role: '${message.role}' messages are not supported by the bedrock provider; use 'tool'`);
    }
  });
  return { system, messages };
}

/** Converse wants user and assistant turns to alternate: consecutive messages of one role become one. */
function append(messages: Message[], role: Message['role'], content: Block[]): void {
  const last = messages[messages.length - 1];
  if (last && last.role === role) last.content.push(...content);
  else messages.push({ role, content });
}

function userBlocks(content: ChatMessage['content'], path: string): Block[] {
  if (!Array.isArray(content)) return [{ text: textOf(content) }];
  return content.map((part, j) => toBlock(part, `${path}.content[${j}]`));
}

function toBlock(part: ContentPart, path: string): Block {
  if (isTextPart(part)) return { text: part.text };
  const url = imageUrlOf(part);
  if (url !== undefined) {
    const inline = parseDataUrl(url);
    const format = inline ? IMAGE_FORMATS[inline.mediaType.toLowerCase()] : undefined;
    if (!inline || !format) throw new RequestError(`${path}.image_url.url: the bedrock provider takes base64 data URLs of PNG, JPEG, GIF or WebP images`);
    return { image: { format, source: { bytes: inline.data } } };
  }
  throw unsupportedPart(part, path, PROVIDER);
}

function assistantBlocks(message: ChatMessage, path: string): Block[] {
  const blocks: Block[] = [];
  const text = textOf(message.content);
  // Converse refuses blank text blocks; an assistant turn of only tool calls has none.
  if (text !== '') blocks.push({ text });
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  calls.forEach((call, k) => {
    blocks.push({
      toolUse: {
        toolUseId: dig(call, 'id'),
        name: dig(call, 'function', 'name'),
        input: toolInput(dig(call, 'function', 'arguments'), `${path}.tool_calls[${k}].function.arguments`),
      },
    });
  });
  if (blocks.length === 0) blocks.push({ text });
  return blocks;
}

/** A tool's result: JSON objects as a `json` block, anything else as text. */
function toolResult(message: ChatMessage): Block {
  const text = textOf(message.content);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  return { toolResult: { toolUseId: message.tool_call_id, content: [isObject(value) ? { json: value } : { text }] } };
}

/** OpenAI sends arguments as a JSON string; Converse wants the object. */
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

function hasToolBlocks(messages: Message[]): boolean {
  return messages.some((m) => m.content.some((b) => b.toolUse !== undefined || b.toolResult !== undefined));
}

function addTools(body: JsonObject, req: ClientRequest, messages: Message[]): void {
  const tools = asArray(req.tools);
  if (!tools || tools.length === 0) {
    if (hasToolBlocks(messages)) throw new RequestError('tools: the bedrock provider needs the tool definitions when the conversation has tool calls');
    return;
  }
  const specs = tools.map((tool, i) => {
    const fn = dig(tool, 'function');
    if (dig(tool, 'type') !== 'function' || !isObject(fn)) {
      throw new RequestError(`tools[${i}].type: only 'function' tools are supported by the bedrock provider`);
    }
    const spec: JsonObject = { name: fn.name, inputSchema: { json: asObject(fn.parameters) ?? { type: 'object', properties: {} } } };
    if (typeof fn.description === 'string' && fn.description !== '') spec.description = fn.description;
    return { toolSpec: spec };
  });
  const toolConfig: JsonObject = { tools: specs };
  const choice = req.tool_choice;
  if (choice === 'required') toolConfig.toolChoice = { any: {} };
  else if (choice === 'auto') toolConfig.toolChoice = { auto: {} };
  else if (choice !== undefined && choice !== null && choice !== 'none') {
    const name = dig(choice, 'function', 'name');
    if (dig(choice, 'type') !== 'function' || typeof name !== 'string') throw new RequestError("tool_choice: expected 'auto', 'none', 'required' or a function choice");
    toolConfig.toolChoice = { tool: { name } };
  }
  // 'none' has no Converse equivalent; the tools stay (a conversation with tool blocks needs them).
  body.toolConfig = toolConfig;
}

// ---------------------------------------------------------------------------------------------
// Response

/** Prompt tokens include cache reads and writes, as OpenAI's prompt_tokens include cached tokens. */
export function converseUsage(usage: unknown): Usage | null {
  const input = asCount(dig(usage, 'inputTokens'));
  if (input === undefined) return null;
  const prompt = input + (asCount(dig(usage, 'cacheReadInputTokens')) ?? 0) + (asCount(dig(usage, 'cacheWriteInputTokens')) ?? 0);
  return usageOf(prompt, dig(usage, 'outputTokens'));
}

function parseConverseResponse(text: string, ctx: DriverContext): TranslatedResponse {
  const response = asObject(parseUpstreamJson(text, PROVIDER));
  const content = asArray(dig(response, 'output', 'message', 'content'));
  if (!response || !content) {
    const message = asString(response?.message) ?? asString(response?.Message);
    if (message !== undefined) throw new TranslationError(`bedrock error: ${message}`);
    throw new TranslationError('no generation candidates received from Bedrock, or max_tokens too short');
  }
  let answer = '';
  const toolCalls: ToolCall[] = [];
  for (const block of content) {
    if (!isObject(block)) continue;
    if (typeof block.text === 'string') answer += block.text;
    const use = asObject(block.toolUse);
    if (use) {
      toolCalls.push({
        id: asString(use.toolUseId) ?? `call_${ctx.id}_${toolCalls.length}`,
        type: 'function',
        function: { name: asString(use.name) ?? '', arguments: JSON.stringify(use.input ?? {}) },
      });
    }
    // reasoningContent, citations, guardContent: no OpenAI equivalent.
  }
  const usage = converseUsage(response.usage);
  return {
    body: completionBody(ctx.routeType, {
      id: ctx.id,
      created: ctx.now,
      model: ctx.model,
      choices: [{ text: answer === '' && toolCalls.length > 0 ? null : answer, toolCalls, finishReason: toolCalls.length > 0 ? 'tool_calls' : mapFinishReason(STOP_REASONS, response.stopReason) }],
      usage,
    }),
    usage,
    responseModel: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Stream: messageStart, contentBlockStart (a tool use opens), contentBlockDelta (text or tool input),
// contentBlockStop, messageStop (the stop reason: the provider's end), then metadata (usage).

class ConverseStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  /** contentBlockIndex → OpenAI tool call index. */
  readonly #tools = new Map<number, number>();

  protected override get acceptsEventsAfterDone(): boolean {
    return true; // metadata (usage) follows messageStop
  }

  protected translate(event: StreamEvent): string {
    const type = event.event ?? '';
    if (type.startsWith('exception:') || type.startsWith('error:')) {
      const payload = this.parse(event);
      const kind = type.slice(type.indexOf(':') + 1);
      throw new UpstreamStreamError(asString(dig(payload, 'message')) ?? asString(dig(payload, 'Message')) ?? `bedrock reported ${kind}`, kind);
    }
    const data = this.parse(event);
    if (!isObject(data)) throw new TranslationError('malformed bedrock stream event: not an object');
    switch (type) {
      case 'messageStart':
        return this.done ? '' : this.out.role();
      case 'contentBlockStart':
        return this.#blockStart(data);
      case 'contentBlockDelta':
        return this.#blockDelta(data);
      case 'messageStop':
        if (this.done) return '';
        this.markDone();
        return this.out.finish(this.#tools.size > 0 ? 'tool_calls' : mapFinishReason(STOP_REASONS, data.stopReason));
      case 'metadata':
        this.setUsage(converseUsage(data.usage));
        return '';
      default:
        return ''; // contentBlockStop, and event types AWS may add
    }
  }

  #blockStart(data: JsonObject): string {
    const use = asObject(dig(data, 'start', 'toolUse'));
    if (!use || this.done) return '';
    const index = this.#tools.size;
    this.#tools.set(asNumber(data.contentBlockIndex) ?? index, index);
    const call: ToolCallDelta = { index, id: asString(use.toolUseId) ?? `call_${this.ctx.id}_${index}`, type: 'function', function: { name: asString(use.name) ?? '', arguments: '' } };
    return this.out.toolCalls([call]);
  }

  #blockDelta(data: JsonObject): string {
    if (this.done) return '';
    const delta = asObject(data.delta);
    if (typeof delta?.text === 'string') {
      this.keepText(delta.text);
      return this.out.text(delta.text);
    }
    const input = asString(dig(delta, 'toolUse', 'input'));
    if (input !== undefined) {
      const index = this.#tools.get(asNumber(data.contentBlockIndex) ?? -1);
      if (index === undefined || input === '') return '';
      this.keepText(input);
      return this.out.toolCalls([{ index, function: { arguments: input } }]);
    }
    return ''; // reasoningContent, citation deltas
  }
}
