/**
 * Google's Gemini API (`generateContent` / `streamGenerateContent?alt=sse`), the same body on Google
 * AI Studio and Vertex AI, mapped from and to the canonical exchange (src/exchange/types.ts). Both
 * route types: a completions prompt becomes one user turn.
 *
 * References: https://ai.google.dev/api/generate-content (GenerateContentRequest/Response, Content,
 * Part, GenerationConfig, ThinkingConfig, FunctionDeclaration, ToolConfig, FinishReason,
 * UsageMetadata), .../gemini-api/docs/function-calling, .../thinking, .../thought-signatures,
 * .../structured-output, .../file-input-methods, and Vertex AI's GenerationConfig (the same fields).
 *
 * Request:
 * - system/developer messages → `systemInstruction` (text only); user parts → text, `inlineData`
 *   (base64 images, audio as `audio/<format>`, base64 files), `fileData` (http(s) and gs:// URLs: the
 *   Gemini API fetches public and signed URLs since January 2026, Vertex always did); a file id
 *   another provider issued means nothing here (unsupported). Images' OpenAI `detail` becomes
 *   `generationConfig.mediaResolution` (any `high` → HIGH, else any `low` → LOW).
 * - assistant messages → role `model`: text, `functionCall {id, name, args}` (the id the client
 *   knows the call by: Gemini's own when it gave one, else the gateway's or another provider's;
 *   `FunctionCall.id` and `FunctionResponse.id` are optional strings on AI Studio and Vertex, and
 *   pair a response with its call exactly when several calls share a name).
 * - tool results → `functionResponse {id, name, response}` parts in one user turn; the name is the
 *   result's own or the earlier call's with that id; `response` is the result's JSON object, or
 *   `{content: text}`, or `{error: ...}` for a failed tool (the documented `error` key).
 * - tools → `functionDeclarations` (`parameters` when the schema is in the OpenAPI subset, else
 *   `parametersJsonSchema`); tool choice → `toolConfig.functionCallingConfig` (AUTO, NONE, ANY,
 *   ANY + `allowedFunctionNames`). `strict` has no Gemini equivalent and is not sent.
 * - structured output: `json_schema` → `responseMimeType: application/json` + `responseJsonSchema`
 *   (JSON Schema, on AI Studio and Vertex; keywords Gemini does not know are ignored by it),
 *   `json_object` → `responseMimeType` only. The same body streams.
 * - reasoning → `thinkingConfig` with `includeThoughts: true` (see THINKING below): Gemini 3 takes
 *   `thinkingLevel`, earlier models `thinkingBudget`; an explicit budget is sent as it is.
 * - `n` → `candidateCount` (not streamed: the client's stream has one choice).
 * - Cache marks (`cache_control`): Gemini caches prompt prefixes implicitly (2.5 and later); an
 *   explicit cache is a separate resource (`cachedContent`) the gateway does not create. A mark is a
 *   hint that never changes the answer, so it is a *named drop* whatever the route's policy (in the
 *   call's dropped paths, hence `X-Modelgate-Dropped-Params` and the log): refusing it would break every
 *   conversation that moves from Anthropic to Gemini, and sending nothing in silence is what
 *   issue 17 forbids. Cached tokens come back in `prompt_tokens_details.cached_tokens`.
 * - Everything else without a Gemini equivalent (`logprobs`, `logit_bias`, `user`, `metadata`,
 *   `parallel_tool_calls: false`, participant names, OpenAI-only fields) goes through
 *   `ctx.unsupported`. `safetySettings`, `cachedContent` and `labels` are Gemini's own fields, sent
 *   as the client wrote them whatever the policy (`nativeFields`).
 *
 * Thought signatures (…/thought-signatures): Gemini 2.5+ signs its reasoning; the signature rides
 * on the first function call of a step (or on the last part of an answer without calls), and
 * Gemini 3 refuses a request whose current-turn function calls come back without theirs. An answer's
 * signature becomes a ReasoningPart `{text: '', signature, provider: 'gemini', toolCallId}` (no
 * toolCallId for one on a text part), never part of an id: the ids the client sees are neutral
 * (Gemini's own `functionCall.id` when it is, else `call_<answer id>_<n>`, exchange/ids.ts). On the
 * way up, a gemini ReasoningPart's signature goes back on its function call (or on the message's
 * last text part); other providers' reasoning is left out. Ids of older conversations that carry
 * `__thought__<signature>` are still read. A current-turn step whose calls have no signature at all
 * (a conversation that started elsewhere) gets Google's documented placeholder,
 * `skip_thought_signature_validator`, on its first call.
 *
 * Answers: `thought: true` parts → ReasoningPart text (OpenAI clients get `reasoning_content`);
 * usage: prompt = promptTokenCount (cached content included) + toolUsePromptTokenCount, completion
 * = candidatesTokenCount + thoughtsTokenCount, with `cached_tokens` (cachedContentTokenCount) and
 * `reasoning_tokens` (thoughtsTokenCount).
 */
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type EmbeddingsContext, type EmbeddingsRequest, type StreamEvent, type TranslatedResponse } from '../types.ts';
import { argumentsObject, asArray, asCount, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { mapFinishReason } from '../openai-shape.ts';
import { clamp, putDefined, resolveSampling } from '../params.ts';
import { parseDataUrl } from '../content.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { embeddingsBody, embeddingsUsage, expectCount, textInputs, vectorOf } from '../embeddings.ts';
import { toolCallId } from '../../exchange/ids.ts';
import { reportOpenAIFields } from '../../exchange/report.ts';
import type {
  CanonicalChoice,
  CanonicalRequest,
  CanonicalResponse,
  FinishReason,
  ImagePart,
  Message,
  Part as CanonicalPart,
  ReasoningEffort,
  ReasoningPart,
  TextPart,
  ToolCallPart,
  Usage,
} from '../../exchange/types.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'gemini';

/** Where older gateway versions put a function call's thought signature inside the tool call id: still read on the way up. */
export const LEGACY_THOUGHT_SEPARATOR = '__thought__';

/** Google's documented placeholder for a function call Gemini did not make (…/thought-signatures, FAQ; works on AI Studio and Vertex). */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

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

/** Gemini-native request fields a client may send as they are, whatever the policy (src/exchange/policy.ts). */
export const GEMINI_NATIVE_FIELDS: readonly string[] = ['safetySettings', 'cachedContent', 'labels'];

/** At most this many stop sequences (GenerationConfig.stopSequences). */
const MAX_STOP_SEQUENCES = 5;

export const geminiFormat: WireFormat = {
  framing: 'sse',
  buildRequest: buildGeminiRequest,
  parseResponse: parseGeminiResponse,
  createStreamTranslator: (ctx) => new GeminiStreamTranslator(ctx),
  nativeFields: () => GEMINI_NATIVE_FIELDS,
};

// ---------------------------------------------------------------------------------------------
// Models and thinking

/** The model's major version (`gemini-2.5-flash` → 2, `gemini-3-pro-preview` → 3), when its name says. */
function majorVersion(model: string): number | undefined {
  const m = /(?:^|\/)gemini-(\d+)(?:\.\d+)?(?:-|$)/.exec(model);
  return m ? Number(m[1]) : undefined;
}

/** Gemini before 2.5 (1.x, 2.0) does not think. */
function cannotThink(model: string): boolean {
  return /(?:^|\/)gemini-(?:1(?:\.\d+)?|2\.0)(?:-|$)/.test(model) || /(?:^|\/)gemini-pro(?:-vision)?$/.test(model);
}

/**
 * THINKING: reasoning effort → Gemini's thinking controls (…/gemini-api/docs/thinking).
 * - Gemini 3 and later: `thinkingLevel`. Thinking cannot be turned off; Pro models take `low` and
 *   `high` (3.1 Pro adds `medium`), Flash models `minimal`, `low`, `medium`, `high`. So: none and
 *   minimal → `minimal` (Pro: `low`), low → `low`, medium → `medium` (3 Pro: `high`), high → `high`.
 * - Gemini 2.5: `thinkingBudget` in tokens: none → 0 (2.5 Pro cannot turn thinking off: its
 *   minimum, 128), minimal → 512, low → 1024, medium → 8192, high → 24576 (the Flash maximum; Pro
 *   goes to 32768, Flash-Lite's minimum is 512).
 * - An explicit budget (Anthropic-style `budget_tokens`) is sent as `thinkingBudget`, which Gemini 3
 *   also accepts.
 * `includeThoughts: true` unless the effort is `none`, so the thoughts reach the client.
 */
const BUDGETS: Readonly<Record<ReasoningEffort, number>> = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576 };

function thinkingConfig(req: CanonicalRequest, ctx: DriverContext): JsonObject | undefined {
  const reasoning = req.reasoning;
  if (!reasoning || (reasoning.effort === undefined && reasoning.budgetTokens === undefined)) return undefined;
  const model = ctx.model;
  const off = reasoning.effort === 'none' && reasoning.budgetTokens === undefined;
  if (cannotThink(model)) {
    // Nothing to turn off on a model that does not think.
    if (!off) ctx.unsupported(reasoning.budgetTokens !== undefined ? 'reasoning.budget_tokens' : 'reasoning_effort', `thinking on ${model}`);
    return undefined;
  }
  const pro = /-pro(?:-|$)/.test(model);
  const config: JsonObject = {};
  if (reasoning.budgetTokens !== undefined) {
    config.thinkingBudget = reasoning.budgetTokens;
  } else if ((majorVersion(model) ?? 0) >= 3) {
    const effort = reasoning.effort!;
    const gemini3Pro = /(?:^|\/)gemini-3-pro(?:-|$)/.test(model);
    config.thinkingLevel =
      effort === 'none' || effort === 'minimal' ? (pro ? 'low' : 'minimal') : effort === 'medium' && gemini3Pro ? 'high' : effort;
  } else {
    config.thinkingBudget = reasoning.effort === 'none' && pro ? 128 : BUDGETS[reasoning.effort!];
  }
  if (!off) config.includeThoughts = true;
  return config;
}

// ---------------------------------------------------------------------------------------------
// Request

type GeminiPart = JsonObject;
interface Content {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/** A cache mark is dropped by name whatever the policy (see the header), never an error. */
function dropCacheMark(ctx: DriverContext, path: string): void {
  ctx.drop(`${path}.cache_control`);
}

function buildGeminiRequest(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const images: ImageDetails = { high: false, low: false };
  const { system, contents } =
    req.kind === 'completions' && req.prompt !== undefined
      ? { system: [] as GeminiPart[], contents: [{ role: 'user' as const, parts: [{ text: req.prompt }] }] }
      : toContents(req, ctx, images);
  if (contents.length === 0) throw new RequestError('messages: the gemini provider needs at least one user or assistant message');
  // Models that do not think never check signatures: nothing to stand in for.
  if (!cannotThink(ctx.model)) signCurrentTurn(contents);

  const body: JsonObject = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  const generationConfig = generation(req, ctx);
  if (images.high) generationConfig.mediaResolution = 'MEDIA_RESOLUTION_HIGH';
  else if (images.low) generationConfig.mediaResolution = 'MEDIA_RESOLUTION_LOW';
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  addTools(body, req, ctx);
  unmapped(req, ctx);
  // Passthrough fields the policy let through (and GEMINI_NATIVE_FIELDS) are added by the plugin.
  return body;
}

/** Sampling (params.ts: configured options win, Kong 3.8+), output format and thinking as GenerationConfig. */
function generation(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const s = req.sampling;
  const r = resolveSampling(s, ctx.options);
  const config: JsonObject = {};
  let stop = r.stop;
  if (stop && stop.length > MAX_STOP_SEQUENCES) {
    ctx.unsupported('stop', `more than ${MAX_STOP_SEQUENCES} stop sequences`);
    stop = stop.slice(0, MAX_STOP_SEQUENCES);
  }
  let n = s.n !== undefined && s.n > 1 ? s.n : undefined;
  if (n !== undefined && req.stream) {
    ctx.unsupported('n', 'several choices in a stream');
    n = undefined;
  }
  putDefined(config, {
    maxOutputTokens: r.maxTokens,
    // Gemini's range is 0..2 like OpenAI's; Kong's schema allows up to 5.
    temperature: r.temperature === undefined ? undefined : clamp(r.temperature, 0, 2),
    topP: r.topP,
    // top_k 0 (Kong 3.6's default) means unset; Gemini wants a positive integer.
    topK: r.topK !== undefined && Number.isInteger(r.topK) && r.topK >= 1 ? r.topK : undefined,
    stopSequences: stop,
    seed: r.seed,
    presencePenalty: r.presencePenalty,
    frequencyPenalty: r.frequencyPenalty,
    candidateCount: n,
  });
  // The canonical answer has no log probabilities to carry them back in.
  if (s.logprobs) ctx.unsupported('logprobs', 'log probabilities');
  if (s.topLogprobs !== undefined) ctx.unsupported('top_logprobs', 'log probabilities');
  if (s.logitBias !== undefined && Object.keys(s.logitBias).length > 0) ctx.unsupported('logit_bias');

  const output = req.output;
  if (output?.type === 'json_object') config.responseMimeType = 'application/json';
  else if (output?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    config.responseJsonSchema = output.description !== undefined && output.schema.description === undefined ? { ...output.schema, description: output.description } : output.schema;
  }
  const thinking = thinkingConfig(req, ctx);
  if (thinking) config.thinkingConfig = thinking;
  return config;
}

/** Canonical fields Gemini has nothing for. */
function unmapped(req: CanonicalRequest, ctx: DriverContext): void {
  if (req.parallelToolCalls === false && req.tools && req.tools.length > 0) ctx.unsupported('parallel_tool_calls', 'at most one tool call per turn');
  if (req.user !== undefined) ctx.unsupported('user', 'an end-user id');
  if (req.metadata !== undefined && Object.keys(req.metadata).length > 0) ctx.unsupported('metadata');
  // Text is all Gemini answers here anyway.
  reportOpenAIFields(req, ctx, undefined, (key, value) => key === 'modalities' && Array.isArray(value) && value.every((m) => m === 'text'));
}

interface ImageDetails {
  high: boolean;
  low: boolean;
}

/**
 * Canonical messages → Gemini contents: system/developer → `systemInstruction`; assistant → role
 * `model`; tool results → `functionResponse` parts in a user turn (consecutive results in one
 * turn: Gemini wants as many responses as calls).
 */
function toContents(req: CanonicalRequest, ctx: DriverContext, images: ImageDetails): { system: GeminiPart[]; contents: Content[] } {
  const system: GeminiPart[] = [];
  const contents: Content[] = [];
  /** tool call id → function name: Gemini matches a response to its call by name. */
  const names = new Map<string, string>();
  for (const message of req.messages) for (const part of message.parts) if (part.type === 'tool_call') names.set(part.id, part.name);
  let toolTurn: Content | null = null;

  req.messages.forEach((message, i) => {
    const path = `messages[${i}]`;
    // A tool message's `name` is its function's (OpenAI's legacy field, LangChain sends it): used below.
    if (message.name !== undefined && message.name !== '' && message.role !== 'tool') ctx.unsupported(`${path}.name`, 'participant names');
    if (message.cache) dropCacheMark(ctx, path);
    if (message.role === 'tool') {
      const parts = message.parts.flatMap((part, j) => functionResponse(req, part, names, `${path}.content[${j}]`, ctx, message.name));
      if (parts.length === 0) return;
      if (toolTurn) toolTurn.parts.push(...parts);
      else contents.push((toolTurn = { role: 'user', parts }));
      return;
    }
    toolTurn = null;
    switch (message.role) {
      case 'system':
      case 'developer':
        message.parts.forEach((part, j) => {
          const at = `${path}.content[${j}]`;
          if (part.type !== 'text') return ctx.unsupported(at, `${part.type} content in system instructions`);
          if (part.cache) dropCacheMark(ctx, at);
          system.push({ text: part.text });
        });
        break;
      case 'user': {
        const parts = message.parts.flatMap((part, j) => userPart(req, part, `${path}.content[${j}]`, ctx, images));
        contents.push({ role: 'user', parts: parts.length > 0 ? parts : [{ text: '' }] });
        break;
      }
      case 'assistant':
        contents.push({ role: 'model', parts: modelParts(req, message, path, ctx) });
        break;
    }
  });
  return { system, contents };
}

/** Extensions Gemini can be told the media type of, for media given by URL. */
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', heic: 'image/heic', heif: 'image/heif',
  pdf: 'application/pdf', txt: 'text/plain', mp3: 'audio/mp3', wav: 'audio/wav', mp4: 'video/mp4',
};

function mediaTypeOfUrl(url: string): string | undefined {
  const extension = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1]?.toLowerCase() ?? '';
  return MEDIA_TYPES[extension];
}

const FETCHABLE = /^(?:https?|gs):\/\//i;

function userPart(req: CanonicalRequest, part: CanonicalPart, path: string, ctx: DriverContext, images: ImageDetails): GeminiPart[] {
  if ('cache' in part && part.cache) dropCacheMark(ctx, path);
  switch (part.type) {
    case 'text':
      return [{ text: part.text }];
    case 'image': {
      if (part.detail === 'high') images.high = true;
      else if (part.detail === 'low') images.low = true;
      const source = part.source;
      if (source.kind === 'base64') return [{ inlineData: { mimeType: source.mediaType, data: source.data } }];
      if (source.kind === 'url') {
        const inline = parseDataUrl(source.url);
        if (inline) return [{ inlineData: { mimeType: inline.mediaType, data: inline.data } }];
        if (FETCHABLE.test(source.url)) return [{ fileData: { mimeType: mediaTypeOfUrl(source.url) ?? 'image/jpeg', fileUri: source.url } }];
        ctx.unsupported(`${path}.image_url.url`, 'an image URL that is not http(s), gs:// or a base64 data URL');
        return [];
      }
      ctx.unsupported(path, 'an image given by file id');
      return [];
    }
    case 'audio':
      return [{ inlineData: { mimeType: `audio/${part.format}`, data: part.data } }];
    case 'file': {
      const source = part.source;
      if (source.kind === 'base64') return [{ inlineData: { mimeType: source.mediaType, data: source.data } }];
      if (source.kind === 'url') {
        const inline = parseDataUrl(source.url);
        if (inline) return [{ inlineData: { mimeType: inline.mediaType, data: inline.data } }];
        const mimeType = mediaTypeOfUrl(source.url);
        if (FETCHABLE.test(source.url) && mimeType) return [{ fileData: { mimeType, fileUri: source.url } }];
      }
      ctx.unsupported(path, source.kind === 'file_id' ? 'a file given by file id' : 'a file URL of unknown type');
      return [];
    }
    default:
      ctx.unsupported(path, `${part.type} content in a user message`);
      return [];
  }
}

/** A function call's signature in a legacy id (`call_1__thought__<signature>`). */
function legacySignature(id: string): string | undefined {
  const at = id.indexOf(LEGACY_THOUGHT_SEPARATOR);
  return at === -1 ? undefined : id.slice(at + LEGACY_THOUGHT_SEPARATOR.length) || undefined;
}

/** The id a call goes back to Gemini with: a legacy id without the signature it carried. */
function plainId(id: string): string {
  const at = id.indexOf(LEGACY_THOUGHT_SEPARATOR);
  return at === -1 ? id : id.slice(0, at);
}

function isGeminiState(part: ReasoningPart): boolean {
  return part.provider === PROVIDER && part.signature !== undefined && part.signature !== '';
}

/**
 * An assistant message → a `model` turn: text and refusals as text, tool calls as functionCall
 * parts with their thought signatures restored; gemini reasoning state without a call goes on the
 * last text part (where Gemini put it); reasoning text and other providers' state are left out
 * (the signature is Gemini's state, and another provider's state means nothing here).
 */
function modelParts(req: CanonicalRequest, message: Message, path: string, ctx: DriverContext): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const byCall = new Map<string, string>();
  const loose: string[] = [];
  for (const part of message.parts) {
    if (part.type !== 'reasoning' || !isGeminiState(part)) continue;
    if (part.toolCallId !== undefined) byCall.set(part.toolCallId, part.signature!);
    else loose.push(part.signature!);
  }
  let lastText: GeminiPart | undefined;
  message.parts.forEach((part, j) => {
    const at = `${path}.content[${j}]`;
    if ('cache' in part && part.cache) dropCacheMark(ctx, at);
    switch (part.type) {
      case 'text':
      case 'refusal':
        if (part.text === '') return;
        parts.push((lastText = { text: part.text }));
        return;
      case 'tool_call': {
        const call: GeminiPart = { functionCall: { id: plainId(part.id), name: part.name, args: argumentsObject(part.arguments, `${path}.tool_calls.function.arguments`) } };
        const signature = byCall.get(part.id) ?? legacySignature(part.id);
        if (signature) call.thoughtSignature = signature;
        parts.push(call);
        return;
      }
      case 'reasoning':
        return;
      default:
        ctx.unsupported(at, `${part.type} content in an assistant message`);
    }
  });
  for (const signature of loose) {
    if (lastText && lastText.thoughtSignature === undefined) lastText.thoughtSignature = signature;
    else parts.push({ text: '', thoughtSignature: signature });
  }
  // An assistant turn with nothing in it: Gemini refuses empty parts.
  if (parts.length === 0) parts.push({ text: '' });
  return parts;
}

/** Arguments are JSON text of an object; Gemini wants the object. */
function functionResponse(req: CanonicalRequest, part: CanonicalPart, names: Map<string, string>, path: string, ctx: DriverContext, messageName?: string): GeminiPart[] {
  if (part.type !== 'tool_result') {
    ctx.unsupported(path, `${part.type} content in a tool message`);
    return [];
  }
  if (part.cache) dropCacheMark(ctx, path);
  const name = part.name || names.get(part.toolCallId) || messageName;
  if (!name) throw new RequestError(`${path.replace(/\.content\[\d+\]$/, '')}.tool_call_id: no earlier assistant tool call has this id (gemini needs the function's name)`);
  const texts: string[] = [];
  part.content.forEach((piece: TextPart | ImagePart, k) => {
    if (piece.type === 'text') texts.push(piece.text);
    else ctx.unsupported(`${path}.content[${k}]`, 'images in tool results');
  });
  const text = texts.join('\n');
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // plain text stays text
  }
  const response = part.isError ? { error: value } : isObject(value) ? value : { content: value };
  return [{ functionResponse: { id: plainId(part.toolCallId), name, response } }];
}

/** The contents after the last user turn with text in it: the current turn, where Gemini 3 checks signatures. */
function signCurrentTurn(contents: Content[]): void {
  let start = 0;
  contents.forEach((content, i) => {
    if (content.role === 'user' && content.parts.some((p) => p.functionResponse === undefined)) start = i + 1;
  });
  for (const content of contents.slice(start)) {
    if (content.role !== 'model') continue;
    const calls = content.parts.filter((p) => p.functionCall !== undefined);
    if (calls.length > 0 && !calls.some((p) => typeof p.thoughtSignature === 'string')) calls[0].thoughtSignature = SKIP_SIGNATURE;
  }
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
    // JSON Schema's type lists (`["string", "null"]`) are not the subset's.
    if (key === 'type' && typeof value !== 'string') return false;
    if (key === 'properties') {
      if (!isObject(value) || !Object.values(value).every((s) => inOpenApiSubset(s, depth + 1))) return false;
    } else if ((key === 'items' || key === 'anyOf') && !inOpenApiSubset(value, depth + 1)) return false;
  }
  return true;
}

function addTools(body: JsonObject, req: CanonicalRequest, ctx: DriverContext): void {
  const declarations: JsonObject[] = [];
  (req.tools ?? []).forEach((tool, i) => {
    if (tool.type !== 'function') {
      ctx.unsupported(`tools[${i}]`, `the built-in tool '${tool.name}'`);
      return;
    }
    if (tool.cache) dropCacheMark(ctx, `tools[${i}]`);
    const declaration: JsonObject = { name: tool.name };
    if (tool.description !== undefined) declaration.description = tool.description;
    const parameters = tool.parameters;
    // An empty object schema means "no parameters": Gemini wants the field left out then.
    const empty = parameters.type === 'object' && Object.keys(asObject(parameters.properties) ?? {}).length === 0 && Object.keys(parameters).every((k) => k === 'type' || k === 'properties');
    if (!empty && Object.keys(parameters).length > 0) declaration[inOpenApiSubset(parameters) ? 'parameters' : 'parametersJsonSchema'] = parameters;
    declarations.push(declaration);
  });
  if (declarations.length > 0) body.tools = [{ functionDeclarations: declarations }];
  const choice = req.toolChoice;
  if (choice === undefined || !body.tools) return;
  if (choice.type === 'tool') body.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
  else body.toolConfig = { functionCallingConfig: { mode: choice.type === 'required' ? 'ANY' : choice.type === 'none' ? 'NONE' : 'AUTO' } };
}

// ---------------------------------------------------------------------------------------------
// Response

/**
 * Usage: prompt = promptTokenCount (cached content included, as OpenAI counts it) +
 * toolUsePromptTokenCount; completion = candidatesTokenCount + thoughtsTokenCount (thinking is
 * billed as output). A blocked answer reports no candidatesTokenCount: then completion = total -
 * prompt. Cached and reasoning tokens are in the details when Gemini reports them.
 */
export function geminiUsage(metadata: unknown): Usage | null {
  const promptCount = asCount(dig(metadata, 'promptTokenCount'));
  if (promptCount === undefined) return null;
  const prompt = promptCount + (asCount(dig(metadata, 'toolUsePromptTokenCount')) ?? 0);
  const candidates = asCount(dig(metadata, 'candidatesTokenCount'));
  const thoughts = asCount(dig(metadata, 'thoughtsTokenCount'));
  const total = asCount(dig(metadata, 'totalTokenCount'));
  const completion = candidates !== undefined ? candidates + (thoughts ?? 0) : total !== undefined && total >= prompt ? total - prompt : undefined;
  if (completion === undefined) return null;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  const cached = asCount(dig(metadata, 'cachedContentTokenCount'));
  if (cached !== undefined) usage.prompt_tokens_details = { cached_tokens: cached };
  if (thoughts !== undefined) usage.completion_tokens_details = { reasoning_tokens: thoughts };
  return usage;
}

/** One Gemini part, read: what it says, and the thought signature it carries. */
type ReadPart =
  | { kind: 'thought'; text: string; signature?: string }
  | { kind: 'text'; text: string; signature?: string }
  | { kind: 'call'; call: ToolCallPart; signature?: string };

/** A candidate's parts; function calls get neutral ids (`answerId` and `firstCall` number the ones Gemini gave none). */
function readParts(parts: unknown, answerId: string, firstCall: number): ReadPart[] {
  const read: ReadPart[] = [];
  let calls = firstCall;
  for (const part of asArray(parts) ?? []) {
    if (!isObject(part)) continue;
    const signature = asString(part.thoughtSignature) || undefined;
    const call = asObject(part.functionCall);
    if (call) {
      const args = isObject(call.args) ? call.args : {};
      const id = toolCallId(asString(call.id), answerId, calls++);
      read.push({ kind: 'call', call: { type: 'tool_call', id, name: asString(call.name) ?? '', arguments: JSON.stringify(args) }, signature });
    } else if (typeof part.text === 'string') {
      read.push({ kind: part.thought === true ? 'thought' : 'text', text: part.text, signature });
    } else if (signature) {
      // A part of a kind this format does not read (executableCode ...) still carries the state.
      read.push({ kind: 'text', text: '', signature });
    }
  }
  return read;
}

function stateOf(signature: string, toolCallIdOf?: string): ReasoningPart {
  const part: ReasoningPart = { type: 'reasoning', text: '', signature, provider: PROVIDER };
  if (toolCallIdOf !== undefined) part.toolCallId = toolCallIdOf;
  return part;
}

/** A candidate as a canonical choice: reasoning (thoughts, then signatures), text, then tool calls. */
function choiceOf(read: ReadPart[], reason: unknown): CanonicalChoice {
  let thoughts = '';
  let text = '';
  const states: ReasoningPart[] = [];
  const calls: ToolCallPart[] = [];
  for (const part of read) {
    if (part.kind === 'thought') thoughts += part.text;
    else if (part.kind === 'text') text += part.text;
    else calls.push(part.call);
    if (part.signature) states.push(stateOf(part.signature, part.kind === 'call' ? part.call.id : undefined));
  }
  const parts: CanonicalChoice['parts'] = [];
  if (thoughts !== '') parts.push({ type: 'reasoning', text: thoughts, provider: PROVIDER });
  parts.push(...states);
  if (text !== '' || calls.length === 0) parts.push({ type: 'text', text });
  parts.push(...calls);
  return { parts, finishReason: calls.length > 0 ? 'tool_calls' : mapFinishReason(FINISH_REASONS, reason) };
}

function parseGeminiResponse(body: string, ctx: DriverContext): CanonicalResponse {
  const parsed = parseUpstreamJson(body, PROVIDER);
  // streamGenerateContent without alt=sse answers a JSON array of partial responses: merge them.
  const response = Array.isArray(parsed) ? mergeChunks(parsed) : asObject(parsed);
  if (!response) throw new TranslationError('no generation candidates received from Gemini, or max_tokens too short');
  const error = asObject(response.error);
  if (error) throw new TranslationError(`gemini error: ${asString(error.message) ?? asString(error.status) ?? 'unknown'}`);

  const usage = geminiUsage(response.usageMetadata);
  const model = asString(response.modelVersion) || ctx.model;
  const id = asString(response.responseId) || ctx.id;
  const candidates = asArray(response.candidates) ?? [];
  let choices: CanonicalChoice[];
  if (candidates.length === 0) {
    // The prompt itself was blocked: an answer with nothing in it, says why in finish_reason.
    if (dig(response, 'promptFeedback', 'blockReason') === undefined) {
      throw new TranslationError('no generation candidates received from Gemini, or max_tokens too short');
    }
    choices = [{ parts: [{ type: 'text', text: '' }], finishReason: 'content_filter' }];
  } else {
    let callIndex = 0;
    choices = candidates.map((candidate) => {
      const read = readParts(dig(candidate, 'content', 'parts'), id, callIndex);
      callIndex += read.filter((p) => p.kind === 'call').length;
      return choiceOf(read, dig(candidate, 'finishReason'));
    });
  }
  return { id, created: ctx.now, model, choices, usage };
}

/** The partial responses of a JSON-array stream as one response: parts joined per candidate, the last finish reason and usage. */
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
// finish is only written at the end. Thoughts stream as reasoning, signatures as reasoning state
// (kept for the next turn, not shown as text), calls whole (Gemini sends each call in one part).

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
      this.out.id = asString(chunk.responseId) || this.out.id;
      frames += this.out.start();
    }
    this.setUsage(geminiUsage(chunk.usageMetadata));

    const candidate = asArray(chunk.candidates)?.[0];
    if (candidate === undefined) {
      if (dig(chunk, 'promptFeedback', 'blockReason') !== undefined) this.#end('content_filter');
      return frames;
    }
    for (const part of readParts(dig(candidate, 'content', 'parts'), this.out.id, this.#calls)) {
      if (part.kind === 'thought' && part.text !== '') {
        this.keepText(part.text);
        frames += this.out.reasoning(part.text);
      } else if (part.kind === 'text' && part.text !== '') {
        this.keepText(part.text);
        frames += this.out.text(part.text);
      }
      if (part.signature) frames += this.out.reasoningState(stateOf(part.signature, part.kind === 'call' ? part.call.id : undefined));
      if (part.kind === 'call') {
        frames += this.out.toolCalls([{ index: this.#calls++, id: part.call.id, name: part.call.name, arguments: part.call.arguments }]);
        this.keepText(part.call.arguments);
      }
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
