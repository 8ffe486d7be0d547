/**
 * The OpenAI inbound adapter: a Chat Completions (`llm/v1/chat`) or legacy Completions
 * (`llm/v1/completions`) body parsed into the CanonicalRequest.
 *
 * First Kong's format detection and the validation of what is forwarded (src/llm/validate.ts: its
 * messages are Kong's and the conformance tests hold them), then every documented Chat Completions
 * field mapped:
 *
 * | client field | canonical |
 * | --- | --- |
 * | `messages[]` (system, developer, user, assistant, tool, legacy function) | `messages` with typed parts |
 * | content parts `text`, `image_url`, `input_audio`, `file`, `refusal` | TextPart, ImagePart, AudioPart, FilePart, RefusalPart |
 * | `cache_control` on a part, a message or a tool (Anthropic-style marks, as LiteLLM takes them) | `cache` |
 * | assistant `tool_calls`, `function_call`, `refusal`, `reasoning_content`, `reasoning_details` | ToolCallPart, RefusalPart, ReasoningPart (signatures, redacted/encrypted state) |
 * | `tools` (`function`; other types as built-in tools), legacy `functions` | `tools` |
 * | `tool_choice`, legacy `function_call`, `parallel_tool_calls` | `toolChoice`, `parallelToolCalls` |
 * | `response_format` text / json_object / json_schema | `output` |
 * | `reasoning_effort` | `reasoning.effort` |
 * | `max_tokens` / `max_completion_tokens`, `temperature`, `top_p`, `top_k`, `stop`, `seed`, penalties, `n`, `logprobs`, `top_logprobs`, `logit_bias` | `sampling` |
 * | `user`, `safety_identifier` | `user` |
 * | `metadata` | `metadata` |
 * | `store`, `service_tier`, `prompt_cache_key`, `prediction`, `modalities`, `audio`, `web_search_options`, `verbosity`, other `stream_options`; completions' `echo`, `best_of`, `suffix` | `openai` |
 * | `stream`, `stream_options.include_usage` | `stream`, `includeUsage` |
 *
 * Anything else at the top level goes to `passthrough`, by name; whether it reaches a provider is
 * the route's `unsupported_params` policy, applied per target (src/exchange/policy.ts): providers
 * differ in what they take natively (vLLM's `min_p`). Fields inside messages and tools that no
 * canonical field carries are listed in `unmapped`. The adapter itself never drops anything.
 */
import { validateClientRequest } from '../../llm/validate.ts';
import { RequestError, type LlmRouteType } from '../../llm/types.ts';
import { isObject, type JsonObject } from '../../llm/json.ts';
import { stopSequences } from '../../llm/params.ts';
import { reasoningPartsOf } from '../openai-reasoning.ts';
import type {
  AudioPart,
  CacheMark,
  CanonicalRequest,
  FilePart,
  ImagePart,
  MediaSource,
  Message,
  OutputFormat,
  Part,
  ReasoningEffort,
  ReasoningPart,
  Role,
  Sampling,
  TextPart,
  Tool,
  ToolChoice,
  ToolResultPart,
} from '../types.ts';

/** Chat Completions' documented request fields (and `top_k`, which self-hosted servers take). */
export const CHAT_FIELDS: ReadonlySet<string> = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'n',
  'stop', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'seed', 'user', 'safety_identifier',
  'response_format', 'tools', 'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'reasoning_effort', 'metadata',
  'store', 'service_tier', 'prompt_cache_key', 'prediction', 'modalities', 'audio', 'web_search_options', 'verbosity',
]);

/** The legacy Completions API's fields. */
export const COMPLETIONS_FIELDS: ReadonlySet<string> = new Set([
  'model', 'prompt', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'top_k', 'n', 'stop', 'presence_penalty',
  'frequency_penalty', 'logit_bias', 'logprobs', 'seed', 'user', 'echo', 'best_of', 'suffix',
]);

/** Fields carried in `CanonicalRequest.openai` for formats that speak them. */
const OPENAI_CARRIED = ['store', 'service_tier', 'prompt_cache_key', 'prediction', 'modalities', 'audio', 'web_search_options', 'verbosity', 'echo', 'best_of', 'suffix'];

/**
 * A message's fields the adapter maps. `annotations` (an answer's URL citations, which clients echo
 * back with the assistant message) is output only: it means nothing as input, and is left out.
 */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'function_call', 'refusal', 'reasoning_content', 'reasoning', 'reasoning_details', 'cache_control', 'annotations']);

const EFFORTS: ReadonlySet<string> = new Set(['none', 'minimal', 'low', 'medium', 'high']);

/**
 * Parses a client body for its route type. Throws RequestError (Kong's messages for the format,
 * the field's path for the rest): the plugin answers 400.
 */
export function parseOpenAIRequest(body: unknown, routeType: LlmRouteType): CanonicalRequest {
  const request = validateClientRequest(body, routeType) as JsonObject;
  const chat = routeType === 'llm/v1/chat';
  const unmapped: string[] = [];
  const known = chat ? CHAT_FIELDS : COMPLETIONS_FIELDS;
  const passthrough: JsonObject = {};
  for (const key of Object.keys(request)) if (!known.has(key)) passthrough[key] = request[key];

  const canonical: CanonicalRequest = {
    kind: chat ? 'chat' : 'completions',
    messages: chat ? messagesOf(request.messages as unknown[], unmapped) : [{ role: 'user', parts: [{ type: 'text', text: request.prompt as string }] }],
    sampling: samplingOf(request, chat),
    stream: request.stream === true,
    includeUsage: isObject(request.stream_options) && request.stream_options.include_usage === true,
    passthrough,
    dropped: [],
    unmapped,
    source: { format: chat ? 'openai-chat' : 'openai-completions', body: request },
  };
  if (typeof request.model === 'string') canonical.model = request.model;
  if (!chat) canonical.prompt = request.prompt as string;
  if (chat) {
    const tools = toolsOf(request, unmapped);
    if (tools) canonical.tools = tools;
    const choice = toolChoiceOf(request, unmapped);
    if (choice) canonical.toolChoice = choice;
    if (typeof request.parallel_tool_calls === 'boolean') canonical.parallelToolCalls = request.parallel_tool_calls;
    else if (present(request.parallel_tool_calls)) throw new RequestError('parallel_tool_calls: expected a boolean');
    const output = outputOf(request.response_format);
    if (output) canonical.output = output;
    const effort = request.reasoning_effort;
    if (present(effort)) {
      if (typeof effort !== 'string' || !EFFORTS.has(effort)) throw new RequestError(`reasoning_effort: expected one of ${[...EFFORTS].join(', ')}`);
      canonical.reasoning = { effort: effort as ReasoningEffort };
    }
  }
  const user = request.safety_identifier ?? request.user;
  if (present(user)) {
    if (typeof user !== 'string') throw new RequestError(`${request.safety_identifier !== undefined && request.safety_identifier !== null ? 'safety_identifier' : 'user'}: expected a string`);
    canonical.user = user;
  }
  const metadata = metadataOf(request.metadata);
  if (metadata) canonical.metadata = metadata;
  let openai: JsonObject | undefined;
  for (const field of OPENAI_CARRIED) {
    if (known.has(field) && present(request[field])) (openai ??= {})[field] = request[field];
  }
  if (isObject(request.stream_options)) {
    const { include_usage: _usage, ...rest } = request.stream_options;
    if (Object.keys(rest).length > 0) (openai ??= {}).stream_options = rest;
  }
  if (openai) canonical.openai = openai;
  return canonical;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

// ---------------------------------------------------------------------------------------------
// Sampling

function samplingOf(request: JsonObject, chat: boolean): Sampling {
  const s: Sampling = {};
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const maxTokens = num(request.max_completion_tokens) ?? num(request.max_tokens);
  if (maxTokens !== undefined) s.maxTokens = maxTokens;
  if (num(request.temperature) !== undefined) s.temperature = request.temperature as number;
  if (num(request.top_p) !== undefined) s.topP = request.top_p as number;
  if (present(request.top_k)) {
    if (!Number.isInteger(request.top_k) || (request.top_k as number) < 0) throw new RequestError('top_k: expected an integer of at least 0');
    s.topK = request.top_k as number;
  }
  const stop = stopSequences(request.stop);
  if (stop) s.stop = stop;
  if (present(request.seed)) {
    if (!Number.isInteger(request.seed)) throw new RequestError('seed: expected an integer');
    s.seed = request.seed as number;
  }
  if (num(request.presence_penalty) !== undefined) s.presencePenalty = request.presence_penalty as number;
  if (num(request.frequency_penalty) !== undefined) s.frequencyPenalty = request.frequency_penalty as number;
  if (num(request.n) !== undefined) s.n = request.n as number;
  if (chat) {
    if (present(request.logprobs)) {
      if (typeof request.logprobs !== 'boolean') throw new RequestError('logprobs: expected a boolean');
      s.logprobs = request.logprobs;
    }
    if (present(request.top_logprobs)) {
      if (!Number.isInteger(request.top_logprobs) || (request.top_logprobs as number) < 0 || (request.top_logprobs as number) > 20) throw new RequestError('top_logprobs: expected an integer between 0 and 20');
      s.topLogprobs = request.top_logprobs as number;
    }
  } else if (present(request.logprobs)) {
    // the Completions API's `logprobs` is how many alternatives to return (0-5)
    if (!Number.isInteger(request.logprobs) || (request.logprobs as number) < 0) throw new RequestError('logprobs: expected an integer of at least 0');
    s.logprobs = true;
    s.topLogprobs = request.logprobs as number;
  }
  if (present(request.logit_bias)) {
    const bias = request.logit_bias;
    if (!isObject(bias) || !Object.values(bias).every((v) => typeof v === 'number')) throw new RequestError('logit_bias: expected an object of token ids to numbers');
    s.logitBias = bias as Record<string, number>;
  }
  return s;
}

function metadataOf(value: unknown): Record<string, string> | undefined {
  if (!present(value)) return undefined;
  if (!isObject(value)) throw new RequestError('metadata: expected an object');
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'string') throw new RequestError(`metadata.${k}: expected a string`);
  return value as Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Messages

function cacheOf(value: unknown, path: string): CacheMark | undefined {
  if (!present(value)) return undefined;
  if (!isObject(value) || value.type !== 'ephemeral') throw new RequestError(`${path}.cache_control: expected {"type": "ephemeral"}`);
  const mark: CacheMark = { type: 'ephemeral' };
  if (present(value.ttl)) {
    if (typeof value.ttl !== 'string') throw new RequestError(`${path}.cache_control.ttl: expected a string`);
    mark.ttl = value.ttl;
  }
  return mark;
}

/** `data:<type>;base64,<data>` as inline bytes; any other URL as a URL. */
function mediaOf(url: string): MediaSource {
  const match = /^data:([\w.+-]+\/[\w.+-]+);base64,/.exec(url);
  return match ? { kind: 'base64', mediaType: match[1], data: url.slice(match[0].length) } : { kind: 'url', url };
}

function withCache<T extends { cache?: CacheMark }>(part: T, raw: JsonObject, path: string): T {
  const cache = cacheOf(raw.cache_control, path);
  if (cache) part.cache = cache;
  return part;
}

/** One content part; null (and its path in `unmapped`) for a type no canonical part carries. */
function partOf(raw: unknown, path: string, unmapped: string[]): Part | null {
  const part = raw as JsonObject; // validated: an object with a string `type`
  switch (part.type) {
    case 'text':
      return withCache<TextPart>({ type: 'text', text: part.text as string }, part, path);
    case 'image_url': {
      const image = part.image_url as JsonObject;
      const out: ImagePart = { type: 'image', source: mediaOf(image.url as string) };
      if (typeof image.detail === 'string') out.detail = image.detail;
      return withCache(out, part, path);
    }
    case 'input_audio': {
      const audio = part.input_audio;
      if (!isObject(audio) || typeof audio.data !== 'string' || typeof audio.format !== 'string') throw new RequestError(`${path}.input_audio: expected {"data": string, "format": string}`);
      return withCache<AudioPart>({ type: 'audio', data: audio.data, format: audio.format }, part, path);
    }
    case 'file': {
      const file = part.file;
      if (!isObject(file)) throw new RequestError(`${path}.file: expected an object`);
      let source: MediaSource;
      if (typeof file.file_data === 'string') source = mediaOf(file.file_data.startsWith('data:') ? file.file_data : `data:application/octet-stream;base64,${file.file_data}`);
      else if (typeof file.file_id === 'string') source = { kind: 'file_id', fileId: file.file_id };
      else throw new RequestError(`${path}.file: expected file_data or file_id`);
      const out: FilePart = { type: 'file', source };
      if (typeof file.filename === 'string') out.filename = file.filename;
      return withCache(out, part, path);
    }
    case 'refusal':
      if (typeof part.refusal !== 'string') throw new RequestError(`${path}.refusal: expected a string`);
      return { type: 'refusal', text: part.refusal };
    default:
      unmapped.push(path);
      return null;
  }
}

function contentParts(content: unknown, path: string, unmapped: string[]): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  const parts: Part[] = [];
  content.forEach((raw, j) => {
    const part = partOf(raw, `${path}.content[${j}]`, unmapped);
    if (part) parts.push(part);
  });
  return parts;
}

function messagesOf(messages: unknown[], unmapped: string[]): Message[] {
  const out: Message[] = [];
  /** Legacy function calls get ids so that their results can name them. */
  const functionCallIds = new Map<string, string>();
  messages.forEach((raw, i) => {
    const m = raw as JsonObject;
    const path = `messages[${i}]`;
    for (const key of Object.keys(m)) if (!MESSAGE_FIELDS.has(key) && present(m[key])) unmapped.push(`${path}.${key}`);
    const role = m.role as string;
    let message: Message;
    if (role === 'tool' || role === 'function') {
      let id = m.tool_call_id as string;
      if (role === 'function') {
        // a legacy function result answers the assistant's last function_call of that name
        const called = typeof m.name === 'string' ? functionCallIds.get(m.name) : undefined;
        if (called === undefined) throw new RequestError(`${path}.name: no earlier assistant function_call has this name`);
        id = called;
      }
      const content = contentParts(m.content, path, unmapped).filter((p): p is TextPart | ImagePart => {
        if (p.type === 'text' || p.type === 'image') return true;
        unmapped.push(`${path}.content`);
        return false;
      });
      const result: ToolResultPart = { type: 'tool_result', toolCallId: id, content };
      if (typeof m.name === 'string') result.name = m.name;
      message = { role: 'tool', parts: [result] };
    } else if (role === 'assistant') {
      message = { role: 'assistant', parts: [...reasoningOf(m, path), ...contentParts(m.content, path, unmapped)] };
      if (typeof m.refusal === 'string' && m.refusal !== '') message.parts.push({ type: 'refusal', text: m.refusal });
      if (Array.isArray(m.tool_calls)) {
        m.tool_calls.forEach((c, k) => {
          const call = c as JsonObject;
          const fn = call.function as JsonObject;
          if (call.type !== undefined && call.type !== 'function') unmapped.push(`${path}.tool_calls[${k}]`);
          else message.parts.push({ type: 'tool_call', id: call.id as string, name: fn.name as string, arguments: fn.arguments as string });
        });
      }
      if (isObject(m.function_call)) {
        const fc = m.function_call;
        if (typeof fc.name !== 'string') throw new RequestError(`${path}.function_call.name: expected a string`);
        const id = `call_function_${i}`;
        functionCallIds.set(fc.name, id);
        message.parts.push({ type: 'tool_call', id, name: fc.name, arguments: typeof fc.arguments === 'string' ? fc.arguments : '{}' });
      }
    } else {
      message = { role: role as Role, parts: contentParts(m.content, path, unmapped) };
    }
    if (typeof m.name === 'string' && role !== 'function') message.name = m.name;
    const cache = cacheOf(m.cache_control, path);
    if (cache) message.cache = cache;
    out.push(message);
  });
  return out;
}

/**
 * An assistant message's reasoning: `reasoning_details` (OpenRouter's shape, with signatures and
 * opaque state) when present, else `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter)
 * as text. A streamed answer's client has the text in `reasoning_content` and the signature in a
 * detail without text: they are put back together.
 */
function reasoningOf(m: JsonObject, path: string): ReasoningPart[] {
  const text = typeof m.reasoning_content === 'string' ? m.reasoning_content : typeof m.reasoning === 'string' ? m.reasoning : undefined;
  if (present(m.reasoning_details)) {
    if (!Array.isArray(m.reasoning_details)) throw new RequestError(`${path}.reasoning_details: expected an array`);
    const { parts, skipped } = reasoningPartsOf(m.reasoning_details);
    if (skipped.length > 0) throw new RequestError(`${path}.reasoning_details[${skipped[0]}]: expected a reasoning.text, reasoning.summary or reasoning.encrypted entry`);
    if (text !== undefined && text !== '' && !parts.some((p) => p.text !== '')) {
      const signed = parts.find((p) => p.signature !== undefined);
      if (signed) signed.text = text;
      else parts.unshift({ type: 'reasoning', text });
    }
    return parts;
  }
  return text !== undefined && text !== '' ? [{ type: 'reasoning', text }] : [];
}

// ---------------------------------------------------------------------------------------------
// Tools and output

const EMPTY_PARAMETERS: JsonObject = { type: 'object', properties: {} };

function toolsOf(request: JsonObject, unmapped: string[]): Tool[] | undefined {
  const tools: Tool[] = [];
  if (Array.isArray(request.tools)) {
    request.tools.forEach((raw, i) => {
      const t = raw as JsonObject;
      const path = `tools[${i}]`;
      if (t.type === 'function') {
        const fn = t.function as JsonObject;
        if (present(fn.parameters) && !isObject(fn.parameters)) throw new RequestError(`${path}.function.parameters: expected an object`);
        const tool: Tool = { type: 'function', name: fn.name as string, parameters: (fn.parameters as JsonObject | undefined) ?? EMPTY_PARAMETERS };
        if (typeof fn.description === 'string') tool.description = fn.description;
        if (typeof fn.strict === 'boolean') tool.strict = fn.strict;
        const cache = cacheOf(t.cache_control, path);
        if (cache) tool.cache = cache;
        for (const key of Object.keys(t)) if (key !== 'type' && key !== 'function' && key !== 'cache_control') unmapped.push(`${path}.${key}`);
        tools.push(tool);
      } else {
        const { type, ...config } = t;
        tools.push({ type: 'builtin', name: type as string, config });
      }
    });
  }
  if (present(request.functions)) {
    if (!Array.isArray(request.functions)) throw new RequestError('functions: expected an array');
    request.functions.forEach((raw, i) => {
      if (!isObject(raw) || typeof raw.name !== 'string') throw new RequestError(`functions[${i}].name: expected a string`);
      const tool: Tool = { type: 'function', name: raw.name, parameters: isObject(raw.parameters) ? raw.parameters : EMPTY_PARAMETERS };
      if (typeof raw.description === 'string') tool.description = raw.description;
      tools.push(tool);
    });
  }
  return tools.length > 0 || Array.isArray(request.tools) ? tools : undefined;
}

function toolChoiceOf(request: JsonObject, unmapped: string[]): ToolChoice | undefined {
  const choice = present(request.tool_choice) ? request.tool_choice : request.function_call;
  const field = present(request.tool_choice) ? 'tool_choice' : 'function_call';
  if (!present(choice)) return undefined;
  if (choice === 'auto' || choice === 'none' || choice === 'required') return { type: choice };
  if (isObject(choice)) {
    const name = field === 'function_call' ? choice.name : choice.type === 'function' ? (choice.function as JsonObject | undefined)?.name : undefined;
    if (typeof name === 'string') return { type: 'tool', name };
    if (field === 'tool_choice' && typeof choice.type === 'string' && choice.type !== 'function') {
      // allowed_tools, custom, a built-in tool: no canonical choice carries them
      unmapped.push(field);
      return undefined;
    }
  }
  throw new RequestError(`${field}: expected "none", "auto", "required" or a named function`);
}

function outputOf(value: unknown): OutputFormat | undefined {
  if (!present(value)) return undefined;
  if (!isObject(value)) throw new RequestError('response_format: expected an object');
  switch (value.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const js = value.json_schema;
      if (!isObject(js) || typeof js.name !== 'string') throw new RequestError('response_format.json_schema.name: expected a string');
      if (present(js.schema) && !isObject(js.schema)) throw new RequestError('response_format.json_schema.schema: expected an object');
      const out: OutputFormat = { type: 'json_schema', name: js.name, schema: (js.schema as JsonObject | undefined) ?? {} };
      if (typeof js.strict === 'boolean') out.strict = js.strict;
      if (typeof js.description === 'string') out.description = js.description;
      return out;
    }
    default:
      throw new RequestError('response_format.type: expected one of text, json_object, json_schema');
  }
}
