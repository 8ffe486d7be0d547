/**
 * Client request validation for `llm/v1/chat` and `llm/v1/completions` routes.
 *
 * The first step is Kong's format detection, with Kong's messages: a body is chat-shaped when it
 * has a non-empty `messages` array, completions-shaped when `prompt` is a string. Beyond Kong, the
 * fields we forward are checked too, because a gateway in front of a paid API must not forward
 * garbage (T02): every message must be well formed and the sampling fields in range. Errors name
 * the field path (`messages[2].role: ...`). Unknown fields are kept untouched: Kong 3.7+ passes
 * them through to OpenAI-compatible upstreams. `model` is only type-checked here; whether the
 * client may choose it is the plugin's decision (a `null` model reaches it, T11).
 */
import { RequestError, type ClientRequest, type LlmRouteType } from './types.ts';
import { isObject, type JsonObject } from './json.ts';

export const MESSAGE_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;
const ROLE_SET: ReadonlySet<string> = new Set(MESSAGE_ROLES);

/** Numeric request fields: inclusive bounds (OpenAI's documented ranges) and whether they must be integers. */
const NUMERIC_FIELDS: Readonly<Record<string, { min: number; max: number; integer: boolean }>> = {
  max_tokens: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  max_completion_tokens: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  temperature: { min: 0, max: 2, integer: false },
  top_p: { min: 0, max: 1, integer: false },
  n: { min: 1, max: 128, integer: true },
  presence_penalty: { min: -2, max: 2, integer: false },
  frequency_penalty: { min: -2, max: 2, integer: false },
};

/** Walked for every request: the entries are taken once. */
const NUMERIC_ENTRIES = Object.entries(NUMERIC_FIELDS);

export function validateClientRequest(body: unknown, routeType: LlmRouteType): ClientRequest {
  const request = isObject(body) ? body : {};
  const format = detectFormat(request);
  if (format !== routeType) {
    throw new RequestError(`[${format}] message format is not compatible with [${routeType}] route type`);
  }
  if (format === 'llm/v1/chat') validateMessages(request.messages as unknown[]);
  validateCommonFields(request);
  return request as ClientRequest;
}

/** Kong's `identify_request`, with a precise message when the field is there but of the wrong type. */
function detectFormat(request: JsonObject): LlmRouteType {
  const chat = Array.isArray(request.messages) && request.messages.length > 0;
  const completions = typeof request.prompt === 'string';
  if (chat && completions) throw new RequestError('request matches multiple LLM request formats');
  if (chat) return 'llm/v1/chat';
  if (completions) return 'llm/v1/completions';
  if (request.messages !== undefined) throw new RequestError('messages: expected a non-empty array of messages');
  if (request.prompt !== undefined) throw new RequestError('prompt: expected a string');
  throw new RequestError('request format not recognised');
}

function validateMessages(messages: unknown[]): void {
  messages.forEach((message, i) => validateMessage(message, `messages[${i}]`));
}

function validateMessage(message: unknown, path: string): void {
  if (!isObject(message)) throw new RequestError(`${path}: expected an object`);
  const role = message.role;
  if (typeof role !== 'string' || !ROLE_SET.has(role)) {
    throw new RequestError(`${path}.role: expected one of ${MESSAGE_ROLES.join(', ')}`);
  }
  optionalString(message, 'name', path);

  const hasToolCalls = message.tool_calls !== undefined && message.tool_calls !== null;
  const hasFunctionCall = message.function_call !== undefined && message.function_call !== null;
  if (hasToolCalls) validateToolCalls(message.tool_calls, `${path}.tool_calls`, role);
  if (hasFunctionCall && role !== 'assistant') throw new RequestError(`${path}.function_call: only assistant messages make function calls`);

  // OpenAI: content may be null (or absent) only when the assistant answered with calls instead of text.
  const content = message.content;
  if (content === null || content === undefined) {
    if (role === 'assistant' && (hasToolCalls || hasFunctionCall)) return;
    throw new RequestError(`${path}.content: expected a string or an array of content parts`);
  }
  if (typeof content === 'string') {
    validateToolCallId(message, role, path);
    return;
  }
  if (!Array.isArray(content) || content.length === 0) {
    throw new RequestError(`${path}.content: expected a string or a non-empty array of content parts`);
  }
  content.forEach((part, j) => validateContentPart(part, `${path}.content[${j}]`));
  validateToolCallId(message, role, path);
}

function validateToolCallId(message: JsonObject, role: string, path: string): void {
  if (role === 'tool' && typeof message.tool_call_id !== 'string') {
    throw new RequestError(`${path}.tool_call_id: expected a string`);
  }
}

function validateToolCalls(toolCalls: unknown, path: string, role: string): void {
  if (role !== 'assistant') throw new RequestError(`${path}: only assistant messages make tool calls`);
  if (!Array.isArray(toolCalls)) throw new RequestError(`${path}: expected an array`);
  toolCalls.forEach((call, k) => {
    const at = `${path}[${k}]`;
    if (!isObject(call)) throw new RequestError(`${at}: expected an object`);
    if (typeof call.id !== 'string') throw new RequestError(`${at}.id: expected a string`);
    const fn = call.function;
    if (!isObject(fn)) throw new RequestError(`${at}.function: expected an object`);
    if (typeof fn.name !== 'string') throw new RequestError(`${at}.function.name: expected a string`);
    if (typeof fn.arguments !== 'string') throw new RequestError(`${at}.function.arguments: expected a string`);
  });
}

function validateContentPart(part: unknown, path: string): void {
  if (!isObject(part)) throw new RequestError(`${path}: expected an object`);
  if (typeof part.type !== 'string') throw new RequestError(`${path}.type: expected a string`);
  if (part.type === 'text' && typeof part.text !== 'string') throw new RequestError(`${path}.text: expected a string`);
  if (part.type === 'image_url') {
    const image = part.image_url;
    if (!isObject(image) || typeof image.url !== 'string') throw new RequestError(`${path}.image_url.url: expected a string`);
  }
}

function validateCommonFields(request: JsonObject): void {
  if (request.model !== undefined && request.model !== null && typeof request.model !== 'string') {
    throw new RequestError('model: expected a string');
  }
  if (present(request.stream) && typeof request.stream !== 'boolean') throw new RequestError('stream: expected a boolean');
  for (const [field, range] of NUMERIC_ENTRIES) validateNumber(request, field, range);
  validateStop(request.stop);
  validateStreamOptions(request.stream_options);
  validateTools(request.tools);
}

function validateNumber(request: JsonObject, field: string, range: { min: number; max: number; integer: boolean }): void {
  const value = request[field];
  if (!present(value)) return;
  const kind = range.integer ? 'an integer' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw new RequestError(`${field}: expected ${kind}`);
  }
  if (value < range.min || value > range.max) {
    const bound = range.max === Number.MAX_SAFE_INTEGER ? `at least ${range.min}` : `between ${range.min} and ${range.max}`;
    throw new RequestError(`${field}: expected ${kind} ${bound}`);
  }
}

function validateStop(stop: unknown): void {
  if (!present(stop) || typeof stop === 'string') return;
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string')) {
    throw new RequestError('stop: expected a string or an array of strings');
  }
}

function validateStreamOptions(options: unknown): void {
  if (!present(options)) return;
  if (!isObject(options)) throw new RequestError('stream_options: expected an object');
  if (present(options.include_usage) && typeof options.include_usage !== 'boolean') {
    throw new RequestError('stream_options.include_usage: expected a boolean');
  }
}

function validateTools(tools: unknown): void {
  if (!present(tools)) return;
  if (!Array.isArray(tools)) throw new RequestError('tools: expected an array');
  tools.forEach((tool, i) => {
    if (!isObject(tool)) throw new RequestError(`tools[${i}]: expected an object`);
    if (typeof tool.type !== 'string') throw new RequestError(`tools[${i}].type: expected a string`);
    if (tool.type === 'function') {
      if (!isObject(tool.function) || typeof tool.function.name !== 'string') {
        throw new RequestError(`tools[${i}].function.name: expected a string`);
      }
    }
  });
}

function optionalString(obj: JsonObject, field: string, path: string): void {
  if (present(obj[field]) && typeof obj[field] !== 'string') throw new RequestError(`${path}.${field}: expected a string`);
}

/** OpenAI accepts `null` for every optional field and treats it as absent; so do we. */
function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}
