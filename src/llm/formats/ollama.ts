/**
 * Ollama's native API (`/api/chat`, `/api/generate`), used by llama2 and mistral with the
 * `ollama` format. Streams are newline-delimited JSON ending with a `done: true` line that carries
 * the token counts.
 *
 * Reference: https://github.com/ollama/ollama/blob/main/docs/api.md
 */
import { RequestError, TranslationError, UpstreamStreamError, type ChatMessage, type ChatRequest, type ClientRequest, type ContentPart, type DriverContext, type EmbeddingsContext, type EmbeddingsRequest, type StreamEvent, type TranslatedResponse, type Usage } from '../types.ts';
import { asArray, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { completionBody, mapFinishReason, usageOf, type FinishReason, type ToolCall } from '../openai-shape.ts';
import { copyNativeFields, putDefined, samplingParams } from '../params.ts';
import { imageUrlOf, isTextPart, parseDataUrl, unsupportedPart } from '../content.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { embeddingsBody, embeddingsUsage, expectCount, textInputs, vectorOf } from '../embeddings.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'ollama';

const DONE_REASONS: Readonly<Record<string, FinishReason>> = {
  stop: 'stop',
  length: 'length',
  load: 'stop',
  unload: 'stop',
};

/** OpenAI roles Ollama does not have, mapped to the ones it does. */
const ROLE_MAP: Readonly<Record<string, string>> = { developer: 'system', function: 'tool' };

/** Ollama-native request fields a client may send. */
const NATIVE_FIELDS = ['keep_alive', 'think', 'format'] as const;

export const ollamaFormat: WireFormat = {
  framing: 'ndjson',
  buildRequest: buildOllamaRequest,
  parseResponse: parseOllamaResponse,
  createStreamTranslator: (ctx) => new OllamaStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// Request

function buildOllamaRequest(req: ClientRequest, ctx: DriverContext): JsonObject {
  if (typeof req.n === 'number' && req.n > 1) throw new RequestError('n: the ollama format returns one choice; expected 1');
  const chat = ctx.routeType === 'llm/v1/chat';
  const body: JsonObject = { model: ctx.model };
  if (chat) body.messages = toOllamaMessages((req as ChatRequest).messages);
  else body.prompt = req.prompt;
  // Ollama streams by default: `stream` is always explicit.
  body.stream = ctx.stream;
  copyNativeFields(body, req, NATIVE_FIELDS);
  putDefined(body, { format: responseFormat(req.response_format) });
  if (chat && Array.isArray(req.tools) && req.tools.length > 0) body.tools = req.tools; // Ollama takes OpenAI's tool shape

  const params = samplingParams(req, ctx.options);
  const options: JsonObject = {};
  putDefined(options, {
    num_predict: params.maxTokens,
    temperature: params.temperature,
    top_p: params.topP,
    top_k: params.topK,
    stop: params.stop,
    seed: params.seed,
    presence_penalty: params.presencePenalty,
    frequency_penalty: params.frequencyPenalty,
  });
  if (Object.keys(options).length > 0) body.options = options;
  return body;
}

/** OpenAI's `response_format` as Ollama's `format`: "json" or a JSON schema. */
function responseFormat(format: unknown): unknown {
  if (dig(format, 'type') === 'json_object') return 'json';
  if (dig(format, 'type') === 'json_schema') return asObject(dig(format, 'json_schema', 'schema'));
  return undefined;
}

function toOllamaMessages(messages: ChatMessage[]): JsonObject[] {
  const toolNames = new Map<string, string>();
  return messages.map((message, i) => {
    const path = `messages[${i}]`;
    const out: JsonObject = { role: ROLE_MAP[message.role] ?? message.role, content: '' };
    const content = message.content;
    if (typeof content === 'string') out.content = content;
    else if (Array.isArray(content)) Object.assign(out, splitParts(content, path));

    const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
    if (calls.length > 0) {
      out.tool_calls = calls.map((call, k) => {
        const name = asString(dig(call, 'function', 'name')) ?? '';
        const id = asString(dig(call, 'id'));
        if (id) toolNames.set(id, name);
        return { function: { name, arguments: toolArguments(dig(call, 'function', 'arguments'), `${path}.tool_calls[${k}].function.arguments`) } };
      });
    }
    // Ollama matches a tool result to its call by the tool's name, not by an id.
    const toolName = typeof message.tool_call_id === 'string' ? toolNames.get(message.tool_call_id) : undefined;
    if (message.role === 'tool' && toolName) out.tool_name = toolName;
    return out;
  });
}

/** Text parts become the content, base64 images the `images` list (Ollama cannot fetch URLs). */
function splitParts(parts: ContentPart[], path: string): JsonObject {
  const texts: string[] = [];
  const images: string[] = [];
  parts.forEach((part, j) => {
    const at = `${path}.content[${j}]`;
    if (isTextPart(part)) {
      texts.push(part.text);
      return;
    }
    const url = imageUrlOf(part);
    if (url === undefined) throw unsupportedPart(part, at, PROVIDER);
    const inline = parseDataUrl(url);
    if (!inline) throw new RequestError(`${at}.image_url.url: the ollama format takes base64 data URLs only`);
    images.push(inline.data);
  });
  const out: JsonObject = { content: texts.join('\n') };
  if (images.length > 0) out.images = images;
  return out;
}

function toolArguments(args: unknown, path: string): JsonObject {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (isObject(parsed)) return parsed;
  } catch {
    // reported below
  }
  throw new RequestError(`${path}: expected a JSON object`);
}

// ---------------------------------------------------------------------------------------------
// Response

function parseOllamaResponse(body: string, ctx: DriverContext): TranslatedResponse {
  const response = asObject(parseUpstreamJson(body, PROVIDER));
  if (response && typeof response.error === 'string') throw new TranslationError(`ollama error: ${response.error}`);
  const chat = ctx.routeType === 'llm/v1/chat';
  const message = asObject(response?.message);
  const text = chat ? asString(message?.content) : asString(response?.response);
  if (!response || text === undefined) {
    throw new TranslationError(`'${chat ? 'message' : 'response'}' missing from ollama response body`);
  }
  const toolCalls = toolCallsOf(message?.tool_calls, ctx.id);
  const usage = ollamaUsage(response);
  const model = asString(response.model);
  return {
    body: completionBody(ctx.routeType, {
      id: ctx.id,
      created: createdAt(response.created_at) ?? ctx.now,
      model: model ?? ctx.model,
      choices: [{ text: text === '' && toolCalls.length > 0 ? null : text, toolCalls, finishReason: doneReason(response, ctx, toolCalls.length > 0) }],
      usage,
    }),
    usage,
    responseModel: model ?? null,
  };
}

/** Ollama omits prompt_eval_count when the whole prompt came from its cache: that is 0 new prompt tokens. */
function ollamaUsage(response: JsonObject): Usage | null {
  if (asNumber(response.eval_count) === undefined) return null;
  return usageOf(response.prompt_eval_count ?? 0, response.eval_count);
}

/** Kong 3.6 put the ISO string here; OpenAI's `created` is epoch seconds. */
function createdAt(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** `done_reason` when Ollama reports it (0.1.3x+); else Kong's rule: all the tokens allowed were used. */
function doneReason(response: JsonObject, ctx: DriverContext, toolCalls: boolean): FinishReason | null {
  if (toolCalls) return 'tool_calls';
  if (typeof response.done_reason === 'string') return mapFinishReason(DONE_REASONS, response.done_reason);
  const limit = asNumber(ctx.options.max_tokens);
  return limit !== undefined && response.eval_count === limit ? 'length' : 'stop';
}

function toolCallsOf(calls: unknown, id: string): ToolCall[] {
  return (asArray(calls) ?? []).map((call, index) => ({
    id: asString(dig(call, 'id')) ?? `call_${id}_${index}`,
    type: 'function',
    function: { name: asString(dig(call, 'function', 'name')) ?? '', arguments: JSON.stringify(dig(call, 'function', 'arguments') ?? {}) },
  }));
}

// ---------------------------------------------------------------------------------------------
// Stream

class OllamaStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  #started = false;
  #toolCalls = 0;

  protected translate(event: StreamEvent): string {
    const line = this.parse(event);
    if (!isObject(line)) throw new TranslationError('malformed ollama stream event: not an object');
    if (typeof line.error === 'string') throw new UpstreamStreamError(line.error, 'upstream_error');
    let frames = this.#start(line);

    const text = this.out.chat ? asString(dig(line, 'message', 'content')) : asString(line.response);
    if (text) {
      this.keepText(text);
      frames += this.out.text(text);
    }
    const calls = toolCallsOf(dig(line, 'message', 'tool_calls'), `${this.ctx.id}_${this.#toolCalls}`);
    if (calls.length > 0) {
      frames += this.out.toolCalls(calls.map((call, k) => ({ index: this.#toolCalls + k, ...call })));
      this.#toolCalls += calls.length;
    }
    if (line.done === true) {
      this.setUsage(ollamaUsage(line));
      this.markDone();
      frames += this.out.finish(doneReason(line, this.ctx, this.#toolCalls > 0));
    }
    return frames;
  }

  #start(line: JsonObject): string {
    if (this.#started) return '';
    this.#started = true;
    this.setModel(line.model);
    this.out.model = asString(line.model) || this.out.model;
    this.out.created = createdAt(line.created_at) ?? this.out.created;
    return this.out.role();
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings: `POST /api/embed` `{model, input, dimensions?, truncate?, keep_alive?}` →
// `{model, embeddings: [[...]], prompt_eval_count}` (docs/api.md, "Generate Embeddings").

const NATIVE_EMBED_FIELDS = ['truncate', 'keep_alive', 'options'] as const;

export function buildOllamaEmbeddings(req: EmbeddingsRequest, ctx: EmbeddingsContext): JsonObject {
  const texts = textInputs(req, PROVIDER);
  const body: JsonObject = { model: ctx.model, input: texts };
  copyNativeFields(body, req as unknown as ClientRequest, NATIVE_EMBED_FIELDS);
  if (typeof req.dimensions === 'number') body.dimensions = req.dimensions;
  return body;
}

export function parseOllamaEmbeddings(text: string, req: EmbeddingsRequest, ctx: EmbeddingsContext): TranslatedResponse {
  const response = asObject(parseUpstreamJson(text, 'llm/v1/embeddings'));
  if (response && typeof response.error === 'string') throw new TranslationError(`ollama error: ${response.error}`);
  const list = asArray(response?.embeddings);
  if (!response || !list) throw new TranslationError("'embeddings' missing from ollama response body");
  expectCount(list, req, PROVIDER);
  const vectors = list.map((v) => vectorOf(v, PROVIDER));
  const usage = embeddingsUsage(response.prompt_eval_count);
  const model = asString(response.model) || null;
  return { body: embeddingsBody(vectors, model ?? ctx.model, usage, req), usage, responseModel: model };
}
