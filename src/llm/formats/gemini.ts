/**
 * Google's Gemini API (`generateContent` / `streamGenerateContent?alt=sse`), the same body on Google
 * AI Studio and Vertex AI. Both route types: a completions prompt becomes one user turn and the
 * answer a `text_completion`.
 *
 * Reference: https://ai.google.dev/api/generate-content (GenerateContentRequest/Response,
 * Content, Part, GenerationConfig, FunctionDeclaration, ToolConfig, FinishReason, UsageMetadata),
 * https://ai.google.dev/gemini-api/docs/function-calling and .../thought-signatures.
 *
 * Gemini 2.5+ attaches a `thoughtSignature` to function calls, and Gemini 3 refuses a conversation
 * whose earlier function calls come back without it. OpenAI's tool calls have nowhere to keep it
 * but their `id`, which clients send back verbatim: the signature travels in the id after
 * `__thought__` and is restored on the way up (the same trick as LiteLLM's).
 */
import { RequestError, TranslationError, UpstreamStreamError, type ChatMessage, type ChatRequest, type ClientRequest, type ContentPart, type DriverContext, type EmbeddingsContext, type EmbeddingsRequest, type StreamEvent, type TranslatedResponse, type Usage } from '../types.ts';
import { asArray, asCount, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { completionBody, mapFinishReason, usageOf, type CompletionChoice, type FinishReason, type ToolCall } from '../openai-shape.ts';
import { clamp, copyNativeFields, putDefined, samplingParams } from '../params.ts';
import { imageUrlOf, isTextPart, parseDataUrl, textOf, textOnly, unsupportedPart } from '../content.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { embeddingsBody, embeddingsUsage, expectCount, textInputs, vectorOf } from '../embeddings.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'gemini';

/** Where a function call's thought signature travels inside an OpenAI tool call id. */
export const THOUGHT_SEPARATOR = '__thought__';

/** FinishReason (generate-content reference) → OpenAI. Function calls make it `tool_calls` whatever Gemini says. */
const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  LANGUAGE: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  OTHER: 'stop',
  MALFORMED_FUNCTION_CALL: 'stop',
  UNEXPECTED_TOOL_CALL: 'stop',
  TOO_MANY_TOOL_CALLS: 'stop',
  FINISH_REASON_UNSPECIFIED: 'stop',
};

/** Gemini-native request fields a client may send as they are. */
const NATIVE_FIELDS = ['safetySettings', 'cachedContent', 'labels'] as const;

/** At most this many stop sequences (GenerationConfig.stopSequences). */
const MAX_STOP_SEQUENCES = 5;

export const geminiFormat: WireFormat = {
  framing: 'sse',
  buildRequest: buildGeminiRequest,
  parseResponse: parseGeminiResponse,
  createStreamTranslator: (ctx) => new GeminiStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// Request

type Part = JsonObject;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

function buildGeminiRequest(req: ClientRequest, ctx: DriverContext): JsonObject {
  const chat = ctx.routeType === 'llm/v1/chat';
  const { system, contents } = chat ? toContents((req as ChatRequest).messages) : { system: [], contents: [{ role: 'user' as const, parts: [{ text: String(req.prompt) }] }] };
  if (contents.length === 0) throw new RequestError('messages: the gemini provider needs at least one user or assistant message');

  const body: JsonObject = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };

  const params = samplingParams(req, ctx.options);
  if (params.stop && params.stop.length > MAX_STOP_SEQUENCES) throw new RequestError(`stop: the gemini provider takes at most ${MAX_STOP_SEQUENCES} stop sequences`);
  const generationConfig: JsonObject = {};
  putDefined(generationConfig, {
    maxOutputTokens: params.maxTokens,
    // Gemini's range is 0..2 like OpenAI's; Kong's schema allows up to 5.
    temperature: params.temperature === undefined ? undefined : clamp(params.temperature, 0, 2),
    topP: params.topP,
    // top_k 0 (Kong 3.6's default) means unset; Gemini wants a positive integer.
    topK: params.topK !== undefined && Number.isInteger(params.topK) && params.topK >= 1 ? params.topK : undefined,
    stopSequences: params.stop,
    seed: params.seed,
    presencePenalty: params.presencePenalty,
    frequencyPenalty: params.frequencyPenalty,
    candidateCount: typeof req.n === 'number' && req.n > 1 ? req.n : undefined,
  });
  Object.assign(generationConfig, responseFormat(req.response_format));
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  if (chat) addTools(body, req);
  copyNativeFields(body, req, NATIVE_FIELDS);
  return body;
}

/** OpenAI's `response_format` as Gemini's JSON mode. */
function responseFormat(format: unknown): JsonObject {
  const type = dig(format, 'type');
  if (type === 'json_object') return { responseMimeType: 'application/json' };
  if (type === 'json_schema') {
    const schema = asObject(dig(format, 'json_schema', 'schema'));
    return schema ? { responseMimeType: 'application/json', responseJsonSchema: schema } : { responseMimeType: 'application/json' };
  }
  return {};
}

/**
 * OpenAI messages → Gemini contents: system/developer messages → `systemInstruction`; assistant →
 * role `model` with its tool calls as `functionCall` parts; tool results → `functionResponse` parts
 * in a user turn (consecutive results in one turn: Gemini wants as many responses as calls).
 */
function toContents(messages: ChatMessage[]): { system: string[]; contents: Content[] } {
  const system: string[] = [];
  const contents: Content[] = [];
  /** tool call id → function name: Gemini matches a response to its call by name. */
  const names = new Map<string, string>();
  let toolTurn: Content | null = null;

  messages.forEach((message, i) => {
    const path = `messages[${i}]`;
    if (message.role === 'tool' || message.role === 'function') {
      const part = functionResponse(message, names, path);
      if (toolTurn) toolTurn.parts.push(part);
      else contents.push((toolTurn = { role: 'user', parts: [part] }));
      return;
    }
    toolTurn = null;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(textOnly(message.content, path, PROVIDER));
        break;
      case 'user':
        contents.push({ role: 'user', parts: userParts(message.content, path) });
        break;
      case 'assistant':
        contents.push({ role: 'model', parts: modelParts(message, names, path) });
        break;
    }
  });
  return { system, contents };
}

function userParts(content: ChatMessage['content'], path: string): Part[] {
  if (!Array.isArray(content)) return [{ text: textOf(content) }];
  return content.map((part, j) => toPart(part, `${path}.content[${j}]`));
}

/** Extensions Gemini can be told the media type of, for images given by URL. */
const IMAGE_TYPES: Readonly<Record<string, string>> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic', heif: 'image/heif' };

function toPart(part: ContentPart, path: string): Part {
  if (isTextPart(part)) return { text: part.text };
  const url = imageUrlOf(part);
  if (url !== undefined) {
    const inline = parseDataUrl(url);
    if (inline) return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
    if (/^(https?|gs):\/\//i.test(url)) {
      const extension = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? '';
      return { fileData: { mimeType: IMAGE_TYPES[extension] ?? 'image/jpeg', fileUri: url } };
    }
    throw new RequestError(`${path}.image_url.url: expected an http(s) or gs:// URL, or a base64 data URL`);
  }
  if (part.type === 'input_audio') {
    const data = asString(dig(part, 'input_audio', 'data'));
    const format = asString(dig(part, 'input_audio', 'format'));
    if (data === undefined || format === undefined) throw new RequestError(`${path}.input_audio: expected data and format`);
    return { inlineData: { mimeType: `audio/${format}`, data } };
  }
  if (part.type === 'file') {
    const inline = parseDataUrl(asString(dig(part, 'file', 'file_data')) ?? '');
    if (!inline) throw new RequestError(`${path}.file.file_data: expected a base64 data URL`);
    return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
  }
  throw unsupportedPart(part, path, PROVIDER);
}

function modelParts(message: ChatMessage, names: Map<string, string>, path: string): Part[] {
  const parts: Part[] = [];
  const text = textOf(message.content);
  if (text !== '') parts.push({ text });
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  calls.forEach((call, k) => {
    const id = asString(dig(call, 'id')) ?? '';
    const name = asString(dig(call, 'function', 'name')) ?? '';
    names.set(id, name);
    const part: Part = { functionCall: { name, args: toolArguments(dig(call, 'function', 'arguments'), `${path}.tool_calls[${k}].function.arguments`) } };
    const signature = thoughtSignatureOf(id);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  const legacy = asObject(message.function_call);
  if (legacy) {
    const name = asString(legacy.name) ?? '';
    parts.push({ functionCall: { name, args: toolArguments(legacy.arguments, `${path}.function_call.arguments`) } });
  }
  // An assistant turn with nothing in it: Gemini refuses empty parts.
  if (parts.length === 0) parts.push({ text: '' });
  return parts;
}

function functionResponse(message: ChatMessage, names: Map<string, string>, path: string): Part {
  const name = (typeof message.tool_call_id === 'string' ? names.get(message.tool_call_id) : undefined) ?? asString(message.name);
  if (!name) throw new RequestError(`${path}.tool_call_id: no earlier assistant tool call has this id (gemini needs the function's name)`);
  const text = textOf(message.content);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // plain text stays text
  }
  return { functionResponse: { name, response: isObject(value) ? value : { content: value } } };
}

/** OpenAI sends arguments as a JSON string; Gemini wants the object. */
function toolArguments(args: unknown, path: string): JsonObject {
  if (typeof args !== 'string' || args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new RequestError(`${path}: expected a JSON object`);
  }
  if (!isObject(parsed)) throw new RequestError(`${path}: expected a JSON object`);
  return parsed;
}

function thoughtSignatureOf(id: string): string | undefined {
  const at = id.indexOf(THOUGHT_SEPARATOR);
  return at === -1 ? undefined : id.slice(at + THOUGHT_SEPARATOR.length) || undefined;
}

/**
 * The keys of the OpenAPI schema subset `FunctionDeclaration.parameters` takes. A schema using
 * anything else (`additionalProperties`, `$ref`, `const` ...) goes in `parametersJsonSchema`,
 * which takes full JSON Schema, instead of being refused by Gemini.
 */
const OPENAPI_SUBSET: ReadonlySet<string> = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);

function inOpenApiSubset(schema: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (Array.isArray(schema)) return schema.every((s) => inOpenApiSubset(s, depth + 1));
  if (!isObject(schema)) return true;
  for (const [key, value] of Object.entries(schema)) {
    if (!OPENAPI_SUBSET.has(key)) return false;
    if (key === 'properties') {
      if (!isObject(value) || !Object.values(value).every((s) => inOpenApiSubset(s, depth + 1))) return false;
    } else if ((key === 'items' || key === 'anyOf') && !inOpenApiSubset(value, depth + 1)) return false;
  }
  return true;
}

const TOOL_MODES: Readonly<Record<string, string>> = { auto: 'AUTO', none: 'NONE', required: 'ANY' };

function addTools(body: JsonObject, req: ClientRequest): void {
  const tools = asArray(req.tools);
  if (tools && tools.length > 0) {
    const declarations = tools.map((tool, i) => {
      const fn = dig(tool, 'function');
      if (dig(tool, 'type') !== 'function' || !isObject(fn)) {
        throw new RequestError(`tools[${i}].type: only 'function' tools are supported by the gemini provider`);
      }
      const declaration: JsonObject = { name: fn.name };
      if (typeof fn.description === 'string') declaration.description = fn.description;
      const parameters = asObject(fn.parameters);
      // An empty object schema means "no parameters": Gemini wants the field left out then.
      if (parameters && !(parameters.type === 'object' && Object.keys(asObject(parameters.properties) ?? {}).length === 0 && Object.keys(parameters).every((k) => k === 'type' || k === 'properties'))) {
        declaration[inOpenApiSubset(parameters) ? 'parameters' : 'parametersJsonSchema'] = parameters;
      }
      return declaration;
    });
    body.tools = [{ functionDeclarations: declarations }];
  }
  const choice = req.tool_choice;
  if (choice === undefined || choice === null || !body.tools) return;
  if (typeof choice === 'string' && Object.hasOwn(TOOL_MODES, choice)) {
    body.toolConfig = { functionCallingConfig: { mode: TOOL_MODES[choice] } };
    return;
  }
  const name = dig(choice, 'function', 'name');
  if (dig(choice, 'type') === 'function' && typeof name === 'string') {
    body.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [name] } };
    return;
  }
  throw new RequestError("tool_choice: expected 'auto', 'none', 'required' or a function choice");
}

// ---------------------------------------------------------------------------------------------
// Response

/**
 * Usage: prompt = promptTokenCount (cached content included, as OpenAI counts it); completion =
 * candidatesTokenCount + thoughtsTokenCount (thinking is billed as output). A blocked answer
 * reports no candidatesTokenCount: then completion = total - prompt.
 */
export function geminiUsage(metadata: unknown): Usage | null {
  const prompt = asCount(dig(metadata, 'promptTokenCount'));
  if (prompt === undefined) return null;
  const candidates = asCount(dig(metadata, 'candidatesTokenCount'));
  const thoughts = asCount(dig(metadata, 'thoughtsTokenCount')) ?? 0;
  const total = asCount(dig(metadata, 'totalTokenCount'));
  const completion = candidates !== undefined ? candidates + thoughts : total !== undefined && total >= prompt ? total - prompt : undefined;
  return usageOf(prompt, completion);
}

interface CandidateParts {
  text: string;
  calls: ToolCall[];
}

function readParts(parts: unknown, ctx: DriverContext, firstCall: number): CandidateParts {
  let text = '';
  const calls: ToolCall[] = [];
  for (const part of asArray(parts) ?? []) {
    if (!isObject(part)) continue;
    const call = asObject(part.functionCall);
    if (call) {
      calls.push(toolCallOf(call, asString(part.thoughtSignature), ctx, firstCall + calls.length));
    } else if (typeof part.text === 'string' && part.thought !== true) {
      // Thought summaries (`thought: true`) are not the answer.
      text += part.text;
    }
  }
  return { text, calls };
}

function toolCallOf(call: JsonObject, signature: string | undefined, ctx: DriverContext, index: number): ToolCall {
  const id = asString(call.id) ?? `call_${ctx.id}_${index}`;
  return {
    id: signature ? `${id}${THOUGHT_SEPARATOR}${signature}` : id,
    type: 'function',
    function: { name: asString(call.name) ?? '', arguments: JSON.stringify(call.args ?? {}) },
  };
}

function finishReasonOf(reason: unknown, toolCalls: boolean): FinishReason | null {
  if (toolCalls) return 'tool_calls';
  return mapFinishReason(FINISH_REASONS, reason);
}

function parseGeminiResponse(body: string, ctx: DriverContext): TranslatedResponse {
  const parsed = parseUpstreamJson(body, PROVIDER);
  // streamGenerateContent without alt=sse answers a JSON array of partial responses: merge them.
  const response = Array.isArray(parsed) ? mergeChunks(parsed) : asObject(parsed);
  if (!response) throw new TranslationError('no generation candidates received from Gemini, or max_tokens too short');
  const error = asObject(response.error);
  if (error) throw new TranslationError(`gemini error: ${asString(error.message) ?? asString(error.status) ?? 'unknown'}`);

  const usage = geminiUsage(response.usageMetadata);
  const model = asString(response.modelVersion) || null;
  const candidates = asArray(response.candidates) ?? [];
  let choices: CompletionChoice[];
  if (candidates.length === 0) {
    // The prompt itself was blocked: an answer with nothing in it, says why in finish_reason.
    if (dig(response, 'promptFeedback', 'blockReason') === undefined) {
      throw new TranslationError('no generation candidates received from Gemini, or max_tokens too short');
    }
    choices = [{ text: '', finishReason: 'content_filter' }];
  } else {
    let callIndex = 0;
    choices = candidates.map((candidate) => {
      const { text, calls } = readParts(dig(candidate, 'content', 'parts'), ctx, callIndex);
      callIndex += calls.length;
      return { text: text === '' && calls.length > 0 ? null : text, toolCalls: calls, finishReason: finishReasonOf(dig(candidate, 'finishReason'), calls.length > 0) };
    });
  }
  return {
    body: completionBody(ctx.routeType, { id: asString(response.responseId) ?? ctx.id, created: ctx.now, model: model ?? ctx.model, choices, usage }),
    usage,
    responseModel: model,
  };
}

/** The partial responses of a JSON-array stream as one response: texts and calls joined per candidate, the last finish reason and usage. */
function mergeChunks(chunks: unknown[]): JsonObject | undefined {
  if (chunks.length === 0 || !chunks.every(isObject)) return undefined;
  const merged: JsonObject = {};
  const byIndex = new Map<number, { parts: unknown[]; finishReason?: unknown }>();
  for (const chunk of chunks as JsonObject[]) {
    for (const key of ['usageMetadata', 'modelVersion', 'responseId', 'promptFeedback', 'error']) if (chunk[key] !== undefined) merged[key] = chunk[key];
    (asArray(chunk.candidates) ?? []).forEach((candidate, position) => {
      const index = asNumber(dig(candidate, 'index')) ?? position;
      const entry = byIndex.get(index) ?? { parts: [] };
      entry.parts.push(...(asArray(dig(candidate, 'content', 'parts')) ?? []));
      if (dig(candidate, 'finishReason') !== undefined) entry.finishReason = dig(candidate, 'finishReason');
      byIndex.set(index, entry);
    });
  }
  merged.candidates = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([index, entry]) => ({ index, content: { role: 'model', parts: entry.parts }, finishReason: entry.finishReason }));
  return merged;
}

// ---------------------------------------------------------------------------------------------
// Stream: `data: {GenerateContentResponse}` events (alt=sse), no terminator: the provider's end is
// the event that carries a finishReason. Old models put `finishReason: STOP` on every chunk, so the
// finish chunk is only written at the end.

class GeminiStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  #started = false;
  #calls = 0;
  #reason: FinishReason | null = null;

  protected override get acceptsEventsAfterDone(): boolean {
    return true;
  }

  protected translate(event: StreamEvent): string {
    const chunk = this.parse(event);
    if (!isObject(chunk)) throw new TranslationError('malformed gemini stream event: not an object');
    const error = asObject(chunk.error);
    if (error) throw new UpstreamStreamError(asString(error.message) ?? 'gemini reported an error in the stream', asString(error.status) ?? 'upstream_error');

    let frames = '';
    if (!this.#started) {
      this.#started = true;
      this.setModel(chunk.modelVersion);
      this.out.model = asString(chunk.modelVersion) || this.out.model;
      this.out.id = asString(chunk.responseId) ?? this.out.id;
      frames += this.out.role();
    }
    this.setUsage(geminiUsage(chunk.usageMetadata));

    const candidate = asArray(chunk.candidates)?.[0];
    if (candidate === undefined) {
      if (dig(chunk, 'promptFeedback', 'blockReason') !== undefined) this.#end('content_filter');
      return frames;
    }
    const { text, calls } = readParts(dig(candidate, 'content', 'parts'), this.ctx, this.#calls);
    this.keepText(text);
    frames += this.out.text(text);
    if (calls.length > 0) {
      frames += this.out.toolCalls(calls.map((call, k) => ({ index: this.#calls + k, ...call })));
      for (const call of calls) this.keepText(call.function.arguments);
      this.#calls += calls.length;
    }
    const reason = dig(candidate, 'finishReason');
    if (reason !== undefined && reason !== null) this.#end(mapFinishReason(FINISH_REASONS, reason));
    return frames;
  }

  #end(reason: FinishReason | null): void {
    this.#reason = reason;
    this.markDone();
  }

  protected override closingFrames(): string {
    return this.out.finish(this.#calls > 0 ? 'tool_calls' : this.#reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings: Google AI Studio `models/{model}:batchEmbedContents`, Vertex AI `...:predict`.
// References: https://ai.google.dev/api/embeddings, and Vertex AI's text embeddings API
// (`instances[].content`, `parameters.outputDimensionality`, `predictions[].embeddings.values`
// with `statistics.token_count`).

export type GeminiEmbeddingsApi = 'batchEmbedContents' | 'predict';

/** Gemini's task types, a native field clients may send (`task_type` or `taskType`). */
function taskType(req: EmbeddingsRequest): string | undefined {
  return asString(req.task_type) ?? asString(req.taskType);
}

export function buildGeminiEmbeddings(req: EmbeddingsRequest, ctx: EmbeddingsContext, api: GeminiEmbeddingsApi): JsonObject {
  const texts = textInputs(req, PROVIDER);
  const dimensions = asNumber(req.dimensions);
  const task = taskType(req);
  if (api === 'predict') {
    const body: JsonObject = { instances: texts.map((content) => (task ? { content, task_type: task } : { content })) };
    if (dimensions !== undefined) body.parameters = { outputDimensionality: dimensions };
    return body;
  }
  const model = `models/${ctx.model.replace(/^models\//, '')}`;
  return {
    requests: texts.map((text) => {
      const request: JsonObject = { model, content: { parts: [{ text }] } };
      if (task) request.taskType = task;
      if (dimensions !== undefined) request.outputDimensionality = dimensions;
      return request;
    }),
  };
}

export function parseGeminiEmbeddings(text: string, req: EmbeddingsRequest, ctx: EmbeddingsContext, api: GeminiEmbeddingsApi): TranslatedResponse {
  const parsed = asObject(parseUpstreamJson(text, 'llm/v1/embeddings'));
  const error = asObject(parsed?.error);
  if (error) throw new TranslationError(`gemini error: ${asString(error.message) ?? asString(error.status) ?? 'unknown'}`);
  const items = api === 'predict' ? asArray(parsed?.predictions) : asArray(parsed?.embeddings);
  if (!items) throw new TranslationError(`'${api === 'predict' ? 'predictions' : 'embeddings'}' not in gemini embeddings response`);
  expectCount(items, req, PROVIDER);
  const vectors = items.map((item) => vectorOf(api === 'predict' ? dig(item, 'embeddings', 'values') : dig(item, 'values'), PROVIDER));
  let usage: Usage | null = null;
  if (api === 'predict') {
    const counts = items.map((item) => asCount(dig(item, 'embeddings', 'statistics', 'token_count')));
    if (counts.every((n) => n !== undefined)) usage = embeddingsUsage(counts.reduce<number>((a, b) => a + (b ?? 0), 0));
  }
  return { body: embeddingsBody(vectors, ctx.model, usage, req), usage, responseModel: null };
}
