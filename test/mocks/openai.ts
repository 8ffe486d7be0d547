/**
 * OpenAI (`api.openai.com`) and OpenAI-compatible self-hosted servers (vLLM, llama.cpp server).
 *
 * Sources:
 * - API reference, Chat Completions / Completions / Embeddings / Models:
 *   https://platform.openai.com/docs/api-reference/chat/create (and /completions, /embeddings, /models)
 * - The Responses API (`POST /v1/responses`) lives in openai-responses.ts, with its own sources.
 * - Error bodies are the ones the live API returns, as quoted verbatim in public bug reports:
 *   401 invalid_api_key "Incorrect API key provided: sk-PMafP***...E873. You can find your API key at ..."
 *   (openai-python, continuedev/continue #9358), 401 missing key "You didn't provide an API key. ..."
 *   (openai/openai-python#1434), 400 "Unrecognized request argument supplied: top_k" (code null),
 *   400 "you must provide a model parameter", 400 "Missing required parameter: 'messages'."
 *   (code missing_required_parameter), 400 "Invalid 'max_tokens': integer below minimum value.
 *   Expected a value >= 1, but got -1 instead." (code integer_below_min_value), 400 "Invalid value:
 *   'developer'. Supported values are: ..." (param messages[0].role, code invalid_value),
 *   404 "The model `gpt-4o` does not exist or you do not have access to it." (code model_not_found),
 *   400 "The 'stream_options' parameter is only allowed when 'stream' is enabled." (param stream_options).
 * - Tool calls (API reference, "tools", "tool_choice"): a forced choice (`required`: the first tool
 *   not yet called in the conversation, else the last; `{"type":"function","function":{"name"}}`:
 *   that one) is answered with one call whose arguments are built from the tool's `parameters`
 *   (`{}` for none), `content: null`, finish reason `tool_calls`, id `call_...`; streamed, the first
 *   delta has id, type and name with `arguments: ""`, then the arguments. `auto` / `none`: text.
 * - Structured outputs ("response_format"): `json_schema` answers JSON built from the schema,
 *   `json_object` a JSON object.
 * - Streaming: `chat.completion.chunk` objects as `data: {json}\n\n`, ending `data: [DONE]`; with
 *   `stream_options.include_usage` every chunk carries `usage: null` and a last chunk has
 *   `choices: []` and the usage (API reference, "stream_options").
 * - Prompt caching (guide "Prompt caching"): automatic on OpenAI (and Azure) for prompts of 1024
 *   tokens or more; a prompt this mock has seen before reports 1024 tokens plus each further
 *   128-token block in `usage.prompt_tokens_details.cached_tokens`.
 * - Thinking models behind OpenAI-compatible servers (vLLM's reasoning parsers, DeepSeek's
 *   `deepseek-reasoner`; docs "Reasoning Outputs"): the reasoning comes as
 *   `message.reasoning_content` (streamed as `delta.reasoning_content` before the content) and is
 *   counted in `completion_tokens_details.reasoning_tokens`.
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply, StreamReply } from './server.ts';
import { sse } from './server.ts';
import { countTokens, isObject, splitChunks, tokensOf, truncateTokens, type Ids } from './text.ts';
import { schemaValue } from './schema-value.ts';
import { responsesReply } from './openai-responses.ts';

export type ModelKind = 'chat' | 'completion' | 'embedding';

/** Models the OpenAI mock serves by default, and which endpoint each belongs to. */
export const OPENAI_MODELS: Record<string, ModelKind> = {
  'gpt-3.5-turbo': 'chat',
  'gpt-4': 'chat',
  'gpt-4-turbo': 'chat',
  'gpt-4o': 'chat',
  'gpt-4o-mini': 'chat',
  'gpt-4.1': 'chat',
  'gpt-4.1-mini': 'chat',
  'gpt-4.1-nano': 'chat',
  // reasoning models: they think before answering (usage.completion_tokens_details.reasoning_tokens)
  'gpt-5': 'chat',
  'gpt-5-mini': 'chat',
  'o4-mini': 'chat',
  'gpt-3.5-turbo-instruct': 'completion',
  'davinci-002': 'completion',
  'babbage-002': 'completion',
  'text-embedding-3-small': 'embedding',
  'text-embedding-3-large': 'embedding',
  'text-embedding-ada-002': 'embedding',
};

/** Vector sizes of the embedding models (API reference, Embeddings; `dimensions` shortens v3 models). */
const EMBEDDING_DIMS: Record<string, number> = { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 };

/** Top-level request fields each endpoint accepts (API reference, request body of each endpoint). */
export const PARAMS: Record<ModelKind, ReadonlySet<string>> = {
  chat: new Set([
    'messages', 'model', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs',
    'max_completion_tokens', 'max_tokens', 'metadata', 'modalities', 'n', 'parallel_tool_calls', 'prediction',
    'presence_penalty', 'prompt_cache_key', 'reasoning_effort', 'response_format', 'safety_identifier', 'seed',
    'service_tier', 'stop', 'store', 'stream', 'stream_options', 'temperature', 'tool_choice', 'tools',
    'top_logprobs', 'top_p', 'user', 'verbosity', 'web_search_options',
  ]),
  completion: new Set([
    'model', 'prompt', 'best_of', 'echo', 'frequency_penalty', 'logit_bias', 'logprobs', 'max_tokens', 'n',
    'presence_penalty', 'seed', 'stop', 'stream', 'stream_options', 'suffix', 'temperature', 'top_p', 'user',
  ]),
  embedding: new Set(['input', 'model', 'dimensions', 'encoding_format', 'user']),
};

export interface Range {
  min?: number;
  max?: number;
  int?: boolean;
}

/** Numeric limits (API reference: temperature 0–2, top_p 0–1, penalties −2–2, n ≥ 1, ...). */
export const RANGES: Record<string, Range> = {
  temperature: { min: 0, max: 2 },
  top_p: { min: 0, max: 1 },
  frequency_penalty: { min: -2, max: 2 },
  presence_penalty: { min: -2, max: 2 },
  max_tokens: { min: 1, int: true },
  max_completion_tokens: { min: 1, int: true },
  n: { min: 1, max: 128, int: true },
  top_logprobs: { min: 0, max: 20, int: true },
  best_of: { min: 0, max: 20, int: true },
  dimensions: { min: 1, int: true },
};

/** Message roles of Chat Completions (API reference, "messages"). */
export const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'] as const;

// ---------------------------------------------------------------------------------------------
// Errors

export interface OpenAIErrorFields {
  message: string;
  type?: string;
  param?: string | null;
  code?: string | null;
}

export function openaiError(status: number, e: OpenAIErrorFields, headers?: Record<string, string>): JsonReply {
  return { kind: 'json', status, headers, body: { error: { message: e.message, type: e.type ?? 'invalid_request_error', param: e.param ?? null, code: e.code ?? null } } };
}

/** How OpenAI shows a wrong key: the first 8 and last 4 characters, asterisks between. */
export function redactKey(key: string): string {
  return key.length <= 12 ? key : `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}`;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a decimal number';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  return 'an object';
}

/** OpenAI's wording for a number out of range or of the wrong type. */
export function rangeError(name: string, v: unknown, r: Range): OpenAIErrorFields | null {
  const want = r.int ? 'integer' : 'decimal';
  if (typeof v !== 'number' || (r.int && !Number.isInteger(v))) {
    return { message: `Invalid type for '${name}': expected ${r.int ? 'an integer' : 'a decimal'}, but got ${typeName(v)} instead.`, param: name, code: 'invalid_type' };
  }
  if (r.min !== undefined && v < r.min) {
    return { message: `Invalid '${name}': ${want} below minimum value. Expected a value >= ${r.min}, but got ${v} instead.`, param: name, code: `${want}_below_min_value` };
  }
  if (r.max !== undefined && v > r.max) {
    return { message: `Invalid '${name}': ${want} above maximum value. Expected a value <= ${r.max}, but got ${v} instead.`, param: name, code: `${want}_above_max_value` };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Validation (shared with Azure)

export interface ValidateOptions {
  kind: ModelKind;
  /** Reject fields the endpoint does not know (OpenAI, Azure); self-hosted servers ignore them. */
  strictParams: boolean;
  /** `model` must be present (OpenAI); Azure takes the model from the deployment. */
  requireModel: boolean;
  /** Text appended to "Unrecognized request argument supplied" (Azure adds a support link). */
  unknownSuffix?: string;
}

export const INVALID_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

/** The first thing wrong with a request body, as OpenAI reports it, or null. */
export function validateBody(json: unknown, o: ValidateOptions): OpenAIErrorFields | null {
  if (!isObject(json)) return { message: INVALID_JSON };
  if (o.strictParams) {
    const unknown = Object.keys(json).filter((k) => !PARAMS[o.kind].has(k));
    if (unknown.length) {
      const what = unknown.length === 1 ? 'argument' : 'arguments';
      return { message: `Unrecognized request ${what} supplied: ${unknown.join(', ')}${o.unknownSuffix ?? ''}` };
    }
  }
  if (o.requireModel && (json.model === undefined || json.model === null || json.model === '')) return { message: 'you must provide a model parameter' };
  if (json.model !== undefined && typeof json.model !== 'string') return { message: `Invalid type for 'model': expected a string, but got ${typeName(json.model)} instead.`, param: 'model', code: 'invalid_type' };

  const required = { chat: 'messages', completion: 'prompt', embedding: 'input' }[o.kind];
  if (json[required] === undefined) return { message: `Missing required parameter: '${required}'.`, param: required, code: 'missing_required_parameter' };
  if (o.kind === 'chat') {
    const err = validateMessages(json.messages);
    if (err) return err;
  }
  for (const [name, range] of Object.entries(RANGES)) {
    if (json[name] === undefined || json[name] === null) continue;
    const err = rangeError(name, json[name], range);
    if (err) return err;
  }
  if (json.stream !== undefined && json.stream !== null && typeof json.stream !== 'boolean') {
    return { message: `Invalid type for 'stream': expected a boolean, but got ${typeName(json.stream)} instead.`, param: 'stream', code: 'invalid_type' };
  }
  if (json.stream_options != null && json.stream !== true) {
    return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options' };
  }
  return null;
}

function validateMessages(messages: unknown): OpenAIErrorFields | null {
  if (!Array.isArray(messages)) return { message: `Invalid type for 'messages': expected an array of objects, but got ${typeName(messages)} instead.`, param: 'messages', code: 'invalid_type' };
  if (messages.length === 0) return { message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: 'messages', code: 'empty_array' };
  for (const [i, m] of messages.entries()) {
    const at = `messages[${i}]`;
    if (!isObject(m)) return { message: `Invalid type for '${at}': expected an object, but got ${typeName(m)} instead.`, param: at, code: 'invalid_type' };
    if (m.role === undefined) return { message: `Missing required parameter: '${at}.role'.`, param: `${at}.role`, code: 'missing_required_parameter' };
    if (!(ROLES as readonly unknown[]).includes(m.role)) {
      return { message: `Invalid value: '${String(m.role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`, param: `${at}.role`, code: 'invalid_value' };
    }
    if (m.role !== 'assistant' && m.content === undefined) return { message: `Missing required parameter: '${at}.content'.`, param: `${at}.content`, code: 'missing_required_parameter' };
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string') return { message: `Missing required parameter: '${at}.tool_call_id'.`, param: `${at}.tool_call_id`, code: 'missing_required_parameter' };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Answers (shared with Azure)

export interface Answer {
  id: string;
  created: number;
  model: string;
  text: string;
  finish: 'stop' | 'length' | 'tool_calls';
  promptTokens: number;
  n: number;
  /** A forced tool call (tool_choice), instead of text. */
  call?: { id: string; name: string; arguments: string };
  /** Reasoning models: the tokens spent thinking (by `reasoning_effort`), counted in completion_tokens. */
  reasoningTokens: number;
  /** Self-hosted thinking models (DeepSeek-R1, Qwen3, QwQ, gpt-oss ...): the reasoning as text (`reasoning_content`). */
  reasoningText?: string;
  /** Automatic prompt caching: the prompt's tokens read from the cache. */
  cachedTokens?: number;
}

/** OpenAI's reasoning models (o-series, gpt-5): they reason before answering. */
export const REASONING_MODEL = /^(o\d|gpt-5)/;
export const REASONING_TOKENS: Record<string, number> = { minimal: 0, low: 8, medium: 16, high: 32 };

export function usageOf(a: Answer): Record<string, unknown> {
  const completion = (countTokens(a.call ? a.call.arguments : a.text) + a.reasoningTokens) * a.n;
  return {
    prompt_tokens: a.promptTokens,
    completion_tokens: completion,
    total_tokens: a.promptTokens + completion,
    prompt_tokens_details: { cached_tokens: a.cachedTokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: a.reasoningTokens * a.n, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** Prompts each mock instance has seen (its Ids object is its own), for automatic prompt caching. */
const SEEN_PROMPTS = new WeakMap<Ids, Set<string>>();

/**
 * Automatic prompt caching (guide "Prompt caching"): prompts of 1024 tokens or more are cached;
 * a prompt seen before reads 1024 tokens plus each further full 128-token block from the cache.
 */
export function cachedTokens(ctx: HandlerCtx, prompt: unknown, tokens: number): number {
  if (tokens < 1024) return 0;
  const key = JSON.stringify(prompt);
  const seen = SEEN_PROMPTS.get(ctx.ids) ?? new Set<string>();
  SEEN_PROMPTS.set(ctx.ids, seen);
  const hit = seen.has(key);
  seen.add(key);
  return hit ? 1024 + Math.floor((tokens - 1024) / 128) * 128 : 0;
}

/** Self-hosted models that think aloud and return it as `reasoning_content` (vLLM's reasoning parsers, DeepSeek's API). */
export const THINKING_MODEL = /reasoner|(^|[/-])r1\b|qwen3|qwq|thinking|magistral|gpt-oss/i;
export const THINKING_TEXT = 'The user asks a sum; one and one make two.';

export interface AnswerOptions {
  /** OpenAI and Azure cache long prompts by themselves and report it (default true). */
  promptCaching?: boolean;
  /** OpenAI-compatible servers: thinking models answer with `reasoning_content`. */
  reasoningContent?: boolean;
}

/** The prompt's tokens and the answer text cut to the token limit. */
export function makeAnswer(ctx: HandlerCtx, kind: ModelKind, json: Record<string, unknown>, model: string, idPrefix: string, options: AnswerOptions = {}): Answer {
  const prompt = kind === 'chat' ? tokensOf(...(json.messages as { content?: unknown }[]).map((m) => m.content)) : tokensOf(json.prompt);
  const limit = (json.max_completion_tokens ?? json.max_tokens) as number | undefined;
  const id = ctx.ids.next(idPrefix);
  const effort = typeof json.reasoning_effort === 'string' ? json.reasoning_effort : 'medium';
  const reasoningTokens = kind === 'chat' && REASONING_MODEL.test(model) ? (REASONING_TOKENS[effort] ?? 16) : 0;
  const cached = kind === 'chat' && options.promptCaching !== false ? cachedTokens(ctx, json.messages ?? json.prompt, prompt) : 0;
  const thinking = kind === 'chat' && options.reasoningContent === true && THINKING_MODEL.test(model);
  const base = {
    id,
    created: ctx.ids.seconds(),
    model,
    promptTokens: prompt,
    n: (json.n as number | undefined) ?? 1,
    reasoningTokens: thinking ? countTokens(THINKING_TEXT) : reasoningTokens,
    ...(thinking ? { reasoningText: THINKING_TEXT } : {}),
    ...(cached > 0 ? { cachedTokens: cached } : {}),
  };
  if (kind === 'chat') {
    const call = forcedCall(json, ctx.text, id);
    if (call) return { ...base, text: '', finish: 'tool_calls', call };
    const format = json.response_format;
    if (isObject(format) && format.type === 'json_schema' && isObject(format.json_schema)) return { ...base, text: JSON.stringify(schemaValue(format.json_schema.schema, ctx.text)), finish: 'stop' };
    if (isObject(format) && format.type === 'json_object') return { ...base, text: JSON.stringify({ answer: ctx.text }), finish: 'stop' };
  }
  const cut = truncateTokens(ctx.text, limit);
  return { ...base, text: cut.text, finish: cut.truncated ? 'length' : 'stop' };
}

/** The call a forced tool_choice makes: `required` the first tool not yet called (else the last), a named function that one. */
function forcedCall(json: Record<string, unknown>, text: string, answerId: string): Answer['call'] | undefined {
  const tools = Array.isArray(json.tools) ? json.tools.filter((t): t is Record<string, any> => isObject(t) && isObject(t.function) && typeof t.function.name === 'string').map((t) => ({ name: t.function.name as string, parameters: t.function.parameters })) : [];
  const choice = json.tool_choice;
  const called = new Set<string>();
  for (const m of (json.messages as unknown[]) ?? []) if (isObject(m) && Array.isArray(m.tool_calls)) for (const c of m.tool_calls) if (isObject(c) && isObject(c.function)) called.add(String(c.function.name));
  const named = isObject(choice) && choice.type === 'function' && isObject(choice.function) ? String(choice.function.name) : undefined;
  return pickToolCall(tools, choice === 'required' ? 'required' : named, called, text, answerId);
}

/**
 * The tool call a forced choice makes, whatever the API's shapes (Chat Completions and Responses
 * share it): `'required'` calls the first tool the conversation has not called yet (else the last),
 * a name calls that tool; its arguments are built from the tool's `parameters` (`{}` for none).
 */
export function pickToolCall(tools: { name: string; parameters: unknown }[], choice: 'required' | string | undefined, called: ReadonlySet<string>, text: string, answerId: string): Answer['call'] | undefined {
  if (tools.length === 0 || choice === undefined) return undefined;
  const tool = choice === 'required' ? (tools.find((t) => !called.has(t.name)) ?? tools.at(-1)) : tools.find((t) => t.name === choice);
  if (!tool) return undefined;
  const parameters = tool.parameters;
  const empty = !isObject(parameters) || !isObject(parameters.properties) || Object.keys(parameters.properties).length === 0;
  return { id: `call_${answerId.replace(/[^A-Za-z0-9]/g, '')}`, name: tool.name, arguments: empty ? '{}' : JSON.stringify(schemaValue(parameters, text)) };
}

export function chatCompletion(a: Answer): Record<string, unknown> {
  return {
    id: a.id,
    object: 'chat.completion',
    created: a.created,
    model: a.model,
    choices: Array.from({ length: a.n }, (_, index) => ({
      index,
      message: a.call
        ? { role: 'assistant', content: null, tool_calls: [{ id: a.call.id, type: 'function', function: { name: a.call.name, arguments: a.call.arguments } }], refusal: null, annotations: [] }
        : { role: 'assistant', content: a.text, ...(a.reasoningText ? { reasoning_content: a.reasoningText } : {}), refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: a.finish,
    })),
    usage: usageOf(a),
    service_tier: 'default',
    system_fingerprint: 'fp_mock',
  };
}

export function textCompletion(a: Answer): Record<string, unknown> {
  return {
    id: a.id,
    object: 'text_completion',
    created: a.created,
    model: a.model,
    choices: Array.from({ length: a.n }, (_, index) => ({ text: a.text, index, logprobs: null, finish_reason: a.finish })),
    usage: usageOf(a),
    system_fingerprint: 'fp_mock',
  };
}

/** The chunk objects of a streamed answer, before framing (Azure adds its own fields). */
export function streamChunks(a: Answer, kind: 'chat' | 'completion', pieces: string[], includeUsage: boolean): Record<string, unknown>[] {
  const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const usageNull = includeUsage ? { usage: null } : {};
  const chunk = (choices: unknown[]): Record<string, unknown> => ({ id: a.id, object, created: a.created, model: a.model, system_fingerprint: 'fp_mock', choices, ...usageNull });
  const out: Record<string, unknown>[] = [];
  const each = (make: (index: number) => unknown): unknown[] => Array.from({ length: a.n }, (_, index) => make(index));
  if (kind === 'chat') out.push(chunk(each((index) => ({ index, delta: { role: 'assistant', content: a.call ? null : '', refusal: null }, logprobs: null, finish_reason: null }))));
  if (kind === 'chat' && a.call) {
    const call = a.call;
    for (let index = 0; index < a.n; index++) {
      out.push(chunk([{ index, delta: { tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }, logprobs: null, finish_reason: null }]));
      for (const piece of splitChunks(call.arguments, 3)) out.push(chunk([{ index, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }]));
    }
    pieces = [];
  }
  if (kind === 'chat' && a.reasoningText) {
    for (const piece of splitChunks(a.reasoningText, null)) out.push(chunk(each((index) => ({ index, delta: { reasoning_content: piece }, logprobs: null, finish_reason: null }))));
  }
  for (const piece of pieces) {
    for (let index = 0; index < a.n; index++) {
      out.push(chunk([kind === 'chat' ? { index, delta: { content: piece }, logprobs: null, finish_reason: null } : { text: piece, index, logprobs: null, finish_reason: null }]));
    }
  }
  out.push(chunk(each((index) => (kind === 'chat' ? { index, delta: {}, logprobs: null, finish_reason: a.finish } : { text: '', index, logprobs: null, finish_reason: a.finish }))));
  if (includeUsage) out.push({ ...chunk([]), usage: usageOf(a) });
  return out;
}

export function streamReply(chunks: Record<string, unknown>[], a: Answer, kind: 'chat' | 'completion', headers?: Record<string, string>): StreamReply {
  return {
    kind: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    headers,
    frames: [...chunks.map((c) => sse(c)), 'data: [DONE]\n\n'],
    filler: () => sse(streamChunks(a, kind, ['.'], false)[1]),
  };
}

/** A deterministic embedding vector (unit-ish values derived from the text and position). */
export function embedding(text: string, dims: number): number[] {
  let seed = 0;
  for (const ch of text) seed = (seed * 31 + ch.codePointAt(0)!) >>> 0;
  return Array.from({ length: dims }, (_, i) => Math.round(Math.sin(seed + i) * 1e6) / 1e7);
}

export function embeddingsResponse(json: Record<string, unknown>, model: string): Record<string, unknown> {
  const inputs = Array.isArray(json.input) ? json.input : [json.input];
  const dims = (json.dimensions as number | undefined) ?? EMBEDDING_DIMS[model] ?? 1536;
  const data = inputs.map((input, index) => {
    const vector = embedding(typeof input === 'string' ? input : JSON.stringify(input), dims);
    const value = json.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding: value };
  });
  const tokens = inputs.reduce<number>((n, i) => n + (typeof i === 'string' ? countTokens(i) : Array.isArray(i) ? i.length : 0), 0);
  return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

// ---------------------------------------------------------------------------------------------
// Providers

export interface OpenAIOptions {
  key?: string | null;
  /** openai-compatible: fields answered 400 (Groq: `logprobs`, `logit_bias`, `top_logprobs`). */
  rejectFields?: string[];
  /** openai-compatible: message fields answered 400 (Groq: `name`). */
  rejectMessageFields?: string[];
  /** openai-compatible: `n` must be 1 (Groq). */
  singleChoice?: boolean;
  /** Models served; `'*'` serves any name (as chat, completion and embedding). */
  models?: Record<string, ModelKind> | string[] | '*';
  /** Path prefix of the API (default `/v1`). */
  pathPrefix?: string;
}

const ENDPOINTS: Record<string, ModelKind | 'models' | 'responses'> = { '/chat/completions': 'chat', '/completions': 'completion', '/embeddings': 'embedding', '/models': 'models', '/responses': 'responses' };

/** The kind of a served model, `'*'` when any model serves any endpoint, undefined when unknown. */
function kindOf(models: OpenAIOptions['models'], name: string): ModelKind | '*' | undefined {
  if (models === '*') return '*';
  if (Array.isArray(models)) return models.includes(name) ? '*' : undefined;
  return (models ?? OPENAI_MODELS)[name];
}

/** Kind mismatches between model and endpoint (live API messages, status 404). */
const WRONG_ENDPOINT: Partial<Record<ModelKind, string>> = {
  chat: 'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?',
  completion: 'This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?',
};

interface Flavor {
  /** Bearer key required (OpenAI); optional for self-hosted servers (enforced only when set). */
  keyRequired: boolean;
  strictParams: boolean;
  defaultModels: OpenAIOptions['models'];
}

function makeOpenAI(opts: OpenAIOptions & Record<string, unknown>, flavor: Flavor): ProviderImpl {
  const models = (): OpenAIOptions['models'] => opts.models ?? flavor.defaultModels;
  return {
    handle(ctx): Reply {
      const prefix = opts.pathPrefix ?? '/v1';
      const rest = ctx.path.startsWith(prefix) ? ctx.path.slice(prefix.length) : null;
      const endpoint = rest === null ? undefined : rest.startsWith('/models/') ? 'models' : ENDPOINTS[rest];
      const method = ctx.req.method;

      const auth = checkBearer(ctx, opts.key, flavor.keyRequired);
      if (auth) return auth;
      if (!endpoint || (endpoint === 'models') !== (method === 'GET')) {
        return openaiError(404, { message: `Invalid URL (${method} ${ctx.path})`, type: 'invalid_request_error' });
      }
      if (endpoint === 'models') return listModels(rest!, models());
      if (endpoint === 'responses') {
        // only api.openai.com's flavour speaks the Responses API here
        if (!flavor.strictParams) return openaiError(404, { message: `Invalid URL (${method} ${ctx.path})`, type: 'invalid_request_error' });
        return responsesReply(ctx, models() ?? OPENAI_MODELS, { 'x-request-id': ctx.ids.next('req_mock'), 'openai-processing-ms': '1' });
      }

      const json = ctx.req.json;
      const err = validateBody(json, { kind: endpoint, strictParams: flavor.strictParams, requireModel: true });
      if (err) return openaiError(400, err);
      const body = json as Record<string, unknown>;
      const model = body.model as string;
      const kind = kindOf(models(), model);
      if (kind === undefined) return openaiError(404, { message: `The model \`${model}\` does not exist or you do not have access to it.`, code: 'model_not_found' });
      if (kind !== '*' && kind !== endpoint && WRONG_ENDPOINT[endpoint]) return openaiError(404, { message: WRONG_ENDPOINT[endpoint]!, param: 'model' });

      const headers = { 'x-request-id': ctx.ids.next('req_mock'), 'openai-processing-ms': '1' };
      if (endpoint === 'embedding') return { kind: 'json', status: 200, headers, body: embeddingsResponse(body, model) };
      const answer = makeAnswer(ctx, endpoint, body, model, endpoint === 'chat' ? 'chatcmpl-mock' : 'cmpl-mock', { promptCaching: flavor.strictParams, reasoningContent: !flavor.strictParams });
      if (ctx.forceStream || body.stream === true) {
        const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
        return streamReply(streamChunks(answer, endpoint, splitChunks(answer.text, ctx.chunks), includeUsage), answer, endpoint, headers);
      }
      return { kind: 'json', status: 200, headers, body: endpoint === 'chat' ? chatCompletion(answer) : textCompletion(answer) };
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') {
        return openaiError(429, {
          message: 'Rate limit reached for gpt-4o-mini in organization org-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.',
          type: 'requests',
          code: 'rate_limit_exceeded',
        });
      }
      return openaiError(status, { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' });
    },
  };
}

/** `Authorization: Bearer <key>` check with OpenAI's two 401 bodies. */
function checkBearer(ctx: HandlerCtx, key: string | null | undefined, required: boolean): JsonReply | null {
  if (!key) return null;
  const header = ctx.req.headers.authorization;
  const given = typeof header === 'string' && /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '').trim() : '';
  if (!given) {
    if (!required) return openaiError(401, { message: 'Unauthorized', type: 'invalid_request_error' });
    return openaiError(401, {
      message:
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
    });
  }
  if (given !== key) {
    if (!required) return openaiError(401, { message: 'Unauthorized', type: 'invalid_request_error' });
    return openaiError(401, { message: `Incorrect API key provided: ${redactKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`, code: 'invalid_api_key' });
  }
  return null;
}

function listModels(rest: string, models: OpenAIOptions['models']): JsonReply {
  const names = models === '*' ? [] : Array.isArray(models) ? models : Object.keys(models ?? OPENAI_MODELS);
  const entry = (id: string): Record<string, unknown> => ({ id, object: 'model', created: 1686935002, owned_by: 'system' });
  if (rest.startsWith('/models/')) {
    const id = decodeURIComponent(rest.slice('/models/'.length));
    if (models !== '*' && !names.includes(id)) return openaiError(404, { message: `The model '${id}' does not exist`, param: 'model', code: 'model_not_found' });
    return { kind: 'json', status: 200, body: entry(id) };
  }
  return { kind: 'json', status: 200, body: { object: 'list', data: names.map(entry) } };
}

/** api.openai.com: Bearer key required, unknown fields rejected, only known models. */
export function openaiProvider(opts: OpenAIOptions & Record<string, unknown>): ProviderImpl {
  return makeOpenAI(opts, { keyRequired: true, strictParams: true, defaultModels: OPENAI_MODELS });
}

/**
 * vLLM / llama.cpp server in OpenAI format: no key unless one is configured (vLLM `--api-key`
 * answers 401 {"error": "Unauthorized"}), any model name, unknown fields ignored (vLLM logs and
 * drops them), API under a configurable prefix (`pathPrefix`, default `/v1`).
 */
export function openaiCompatibleProvider(opts: OpenAIOptions & Record<string, unknown>): ProviderImpl {
  const inner = makeOpenAI(opts, { keyRequired: false, strictParams: false, defaultModels: '*' });
  return {
    handle(ctx) {
      const refused = refusedField(ctx.req.json, opts);
      if (refused) return openaiError(400, { message: refused, type: 'invalid_request_error' });
      const r = inner.handle(ctx);
      // vLLM's 401 is `{"error": "Unauthorized"}`, not OpenAI's object.
      if (r.kind === 'json' && r.status === 401) return { kind: 'json', status: 401, body: { error: 'Unauthorized' } };
      return r;
    },
    errorReply: inner.errorReply,
  };
}


/**
 * The fields a stricter OpenAI-compatible API (Groq, console.groq.com/docs/openai) answers 400 to:
 * "'logprobs' : property 'logprobs' is unsupported", "'messages.0' : for 'role:user' the following
 * must be satisfied[('messages.0.name' : property 'name' is unsupported)]", "'n' : number must be at most 1".
 */
function refusedField(json: unknown, opts: OpenAIOptions): string | null {
  if (!isObject(json)) return null;
  for (const field of opts.rejectFields ?? []) if (json[field] !== undefined) return `'${field}' : property '${field}' is unsupported`;
  if (opts.singleChoice && json.n !== undefined && json.n !== null && json.n !== 1) return "'n' : number must be at most 1";
  if (Array.isArray(json.messages)) {
    for (const [i, m] of json.messages.entries()) {
      for (const field of opts.rejectMessageFields ?? []) {
        if (isObject(m) && m[field] !== undefined) return `'messages.${i}' : for 'role:${String(m.role)}' the following must be satisfied[('messages.${i}.${field}' : property '${field}' is unsupported)]`;
      }
    }
  }
  return null;
}
