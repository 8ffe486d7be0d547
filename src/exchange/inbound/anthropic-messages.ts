/**
 * The Anthropic Messages inbound adapter: a `POST /v1/messages` body (and `/v1/messages/count_tokens`)
 * parsed into the CanonicalRequest.
 *
 * References: https://docs.anthropic.com/en/api/messages (Create a Message),
 * https://docs.anthropic.com/en/api/messages-count-tokens, and the request types of `@anthropic-ai/sdk`
 * (`resources/messages/messages.ts`: MessageCreateParams, ContentBlockParam, ToolUnion,
 * ThinkingConfigParam, OutputConfig).
 *
 * | client field | canonical |
 * | --- | --- |
 * | `model` | `model` |
 * | `max_tokens` (required), `temperature`, `top_p`, `top_k`, `stop_sequences` | `sampling` |
 * | `system` (a string, or text blocks with `cache_control`) | a system message of TextParts (`cache`) |
 * | `messages[]` user / assistant content: a string, or blocks | messages of typed parts |
 * | `text`, `image` (base64 / url / file), `document` (PDF base64 / url, plain text, file) | TextPart, ImagePart, FilePart |
 * | `tool_use` (id, name, input) | ToolCallPart (`arguments` = the input's JSON text) |
 * | `tool_result` (tool_use_id, content, is_error) | a `tool` message of ToolResultParts (a user turn that mixes results and other blocks is split, in order) |
 * | `thinking` (thinking, signature), `redacted_thinking` (data) | ReasoningPart, provider `anthropic` |
 * | `cache_control` on any block, a tool or the request | `cache` (the request's goes on the last message) |
 * | `tools[]`: custom tools; server tools (`web_search_20250305`, `bash_20250124` ...) | FunctionTool; BuiltinTool (its `type` as the name) |
 * | `tool_choice` auto / any / tool / none, `disable_parallel_tool_use` | `toolChoice`, `parallelToolCalls: false` |
 * | `thinking` enabled (budget_tokens) / adaptive / disabled, `output_config.effort` | `reasoning` |
 * | `output_config.format`, beta `output_format` (json_schema) | `output` |
 * | `metadata.user_id` | `user` |
 * | `stream` | `stream`; `includeUsage` is always true (Anthropic always reports usage) |
 * | `service_tier`, `container`, `mcp_servers`, `context_management`, `inference_geo`, `speed`, `diagnostics` | `anthropic` |
 *
 * The Anthropic-only fields are carried in `anthropic` for the Anthropic provider (whose native
 * format passes the client's own body on). No wire format reads `anthropic` (unlike `openai`, which
 * `reportOpenAIFields` walks), so a non-default one is also listed in `unmapped` by its top-level
 * name: the native format judges it itself (`handlesUnmapped`), and every other provider puts it
 * through the route's policy (error by default) instead of losing it in silence.
 *
 * Unknown top-level fields go to `passthrough`; block types and block fields no canonical field
 * carries (citations, `search_result`, server tool blocks ...) are listed in `unmapped` by their path.
 * What Anthropic itself refuses (no `max_tokens`, a malformed block) is a RequestError naming the path.
 */
import { RequestError } from '../../llm/types.ts';
import { isObject, type JsonObject } from '../../llm/json.ts';
import { MIN_THINKING_BUDGET } from '../../llm/thinking.ts';
import type {
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
  ReasoningRequest,
  Sampling,
  TextPart,
  Tool,
  ToolCallPart,
  ToolChoice,
  ToolResultPart,
} from '../types.ts';

const PROVIDER = 'anthropic';

/** The Messages API's documented request fields (MessageCreateParams). */
export const MESSAGES_FIELDS: ReadonlySet<string> = new Set([
  'model', 'max_tokens', 'messages', 'system', 'stream', 'metadata', 'stop_sequences', 'temperature', 'top_p', 'top_k',
  'tools', 'tool_choice', 'thinking', 'output_config', 'output_format', 'cache_control',
  'service_tier', 'container', 'mcp_servers', 'context_management', 'inference_geo', 'speed', 'diagnostics',
]);

/**
 * Anthropic-only request fields, carried in `CanonicalRequest.anthropic`, each with the test of a
 * value that asks for nothing (the API's default): those are not reported to other providers.
 */
const ANTHROPIC_CARRIED: Readonly<Record<string, (value: unknown) => boolean>> = {
  service_tier: (v) => v === 'auto',
  container: (v) => v === null,
  mcp_servers: (v) => Array.isArray(v) && v.length === 0,
  context_management: (v) => v === null,
  inference_geo: (v) => v === null,
  speed: (v) => v === null || v === 'standard',
  diagnostics: (v) => v === null,
};

/** `output_config.effort` → canonical effort. `xhigh` and `max` have no canonical step above `high`. */
const EFFORTS: Readonly<Record<string, ReasoningEffort>> = { low: 'low', medium: 'medium', high: 'high', xhigh: 'high', max: 'high' };

/**
 * Adaptive thinking without an effort: Anthropic's default effort is `high`
 * (https://docs.anthropic.com/en/docs/build-with-claude/effort).
 */
const ADAPTIVE_DEFAULT_EFFORT: ReasoningEffort = 'high';

/** The name an `output_config.format` schema gets (Anthropic's has none; OpenAI-style formats need one). */
const OUTPUT_NAME = 'response';

/** Parses a Messages API body. Throws RequestError (400) for what Anthropic itself refuses. */
export function parseAnthropicRequest(value: unknown): CanonicalRequest {
  return parseBody(value, false);
}

/**
 * Parses a `POST /v1/messages/count_tokens` body: the Messages body without `max_tokens` and
 * `stream` (MessageCountTokensParams). What count_tokens does not take is in `passthrough`.
 */
export function parseCountTokensRequest(value: unknown): CanonicalRequest {
  return parseBody(value, true);
}

function parseBody(value: unknown, counting: boolean): CanonicalRequest {
  if (!isObject(value)) throw new RequestError('request body: expected a JSON object');
  const body = value;
  const known = counting ? COUNT_FIELDS : MESSAGES_FIELDS;
  const passthrough: JsonObject = {};
  for (const key of Object.keys(body)) if (!known.has(key)) passthrough[key] = body[key];
  const unmapped: string[] = [];

  if (!counting && !present(body.max_tokens)) throw new RequestError('max_tokens: Field required');
  if (!present(body.messages)) throw new RequestError('messages: Field required');
  if (!Array.isArray(body.messages)) throw new RequestError('messages: Input should be a valid list');
  if (present(body.model) && typeof body.model !== 'string') throw new RequestError('model: Input should be a valid string');

  const messages = [...systemOf(body.system, unmapped), ...messagesOf(body.messages, unmapped)];
  const topCache = cacheOf(body.cache_control, '');
  if (topCache) {
    // Automatic caching: the mark goes on the last cacheable block, that is the last message's last part.
    const last = messages.at(-1);
    if (last && !last.cache) last.cache = topCache;
  }

  const canonical: CanonicalRequest = {
    kind: 'chat',
    messages,
    sampling: counting ? {} : samplingOf(body),
    stream: !counting && body.stream === true,
    includeUsage: true,
    passthrough,
    dropped: [],
    unmapped,
    source: { format: 'anthropic-messages', body },
  };
  if (!counting && present(body.stream) && typeof body.stream !== 'boolean') throw new RequestError('stream: Input should be a valid boolean');
  if (typeof body.model === 'string') canonical.model = body.model;
  const tools = toolsOf(body.tools, unmapped);
  if (tools) canonical.tools = tools;
  const choice = toolChoiceOf(body.tool_choice);
  if (choice?.choice) canonical.toolChoice = choice.choice;
  if (choice?.serial) canonical.parallelToolCalls = false;
  const reasoning = reasoningOf(body, unmapped);
  if (reasoning) canonical.reasoning = reasoning;
  const output = outputOf(body);
  if (output) canonical.output = output;
  const user = userOf(body.metadata, unmapped);
  if (user !== undefined) canonical.user = user;

  let anthropic: JsonObject | undefined;
  for (const [field, isDefault] of Object.entries(ANTHROPIC_CARRIED)) {
    if (!known.has(field) || body[field] === undefined) continue;
    (anthropic ??= {})[field] = body[field];
    if (!isDefault(body[field])) unmapped.push(field);
  }
  if (anthropic) canonical.anthropic = anthropic;
  return canonical;
}

/** count_tokens' fields (MessageCountTokensParams, with the beta `mcp_servers` / `context_management` / `output_format`). */
const COUNT_FIELDS: ReadonlySet<string> = new Set([
  'model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'output_config', 'output_format', 'cache_control',
  'mcp_servers', 'context_management', 'speed',
]);

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

// ---------------------------------------------------------------------------------------------
// Sampling and request-level fields

function samplingOf(body: JsonObject): Sampling {
  const s: Sampling = {};
  const max = body.max_tokens;
  if (!Number.isInteger(max) || (max as number) < 0) throw new RequestError('max_tokens: Input should be a valid integer of at least 0');
  s.maxTokens = max as number;
  if (present(body.temperature)) {
    const t = body.temperature;
    if (typeof t !== 'number' || !(t >= 0 && t <= 1)) throw new RequestError('temperature: Input should be a number between 0 and 1');
    s.temperature = t;
  }
  if (present(body.top_p)) {
    const p = body.top_p;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RequestError('top_p: Input should be a number between 0 and 1');
    s.topP = p;
  }
  if (present(body.top_k)) {
    if (!Number.isInteger(body.top_k) || (body.top_k as number) < 0) throw new RequestError('top_k: Input should be a valid integer of at least 0');
    s.topK = body.top_k as number;
  }
  if (present(body.stop_sequences)) {
    const stop = body.stop_sequences;
    if (!Array.isArray(stop) || !stop.every((x) => typeof x === 'string')) throw new RequestError('stop_sequences: Input should be a valid list of strings');
    if (stop.length > 0) s.stop = stop as string[];
  }
  return s;
}

function userOf(metadata: unknown, unmapped: string[]): string | undefined {
  if (!present(metadata)) return undefined;
  if (!isObject(metadata)) throw new RequestError('metadata: Input should be a valid dictionary');
  for (const key of Object.keys(metadata)) if (key !== 'user_id') unmapped.push(`metadata.${key}`);
  const id = metadata.user_id;
  if (!present(id)) return undefined;
  if (typeof id !== 'string') throw new RequestError('metadata.user_id: Input should be a valid string');
  return id;
}

function reasoningOf(body: JsonObject, unmapped: string[]): ReasoningRequest | undefined {
  const thinking = body.thinking;
  const config = body.output_config;
  if (present(config) && !isObject(config)) throw new RequestError('output_config: Input should be a valid dictionary');
  const rawEffort = isObject(config) ? config.effort : undefined;
  let effort: ReasoningEffort | undefined;
  if (present(rawEffort)) {
    effort = typeof rawEffort === 'string' ? EFFORTS[rawEffort] : undefined;
    if (!effort) throw new RequestError(`output_config.effort: Input should be one of ${Object.keys(EFFORTS).join(', ')}`);
  }
  if (!present(thinking)) return effort ? { effort } : undefined;
  if (!isObject(thinking)) throw new RequestError('thinking: Input should be a valid dictionary');
  if (present(thinking.display) && thinking.display !== 'summarized') unmapped.push('thinking.display');
  switch (thinking.type) {
    case 'enabled': {
      const budget = thinking.budget_tokens;
      if (!Number.isInteger(budget) || (budget as number) < MIN_THINKING_BUDGET) throw new RequestError(`thinking.budget_tokens: Input should be an integer of at least ${MIN_THINKING_BUDGET}`);
      return effort ? { budgetTokens: budget as number, effort } : { budgetTokens: budget as number };
    }
    case 'adaptive':
      return { effort: effort ?? ADAPTIVE_DEFAULT_EFFORT };
    case 'disabled':
      return { effort: 'none' };
    case 'between_tools':
      // Thinking only between tool calls: no canonical request says "only then".
      unmapped.push('thinking');
      return effort ? { effort } : undefined;
    default:
      throw new RequestError('thinking.type: Input should be one of enabled, adaptive, disabled');
  }
}

function outputOf(body: JsonObject): OutputFormat | undefined {
  const config = body.output_config;
  const fromConfig = isObject(config) && present(config.format) ? { value: config.format, path: 'output_config.format' } : undefined;
  const picked = fromConfig ?? (present(body.output_format) ? { value: body.output_format, path: 'output_format' } : undefined);
  if (!picked) return undefined;
  const format = picked.value;
  if (!isObject(format) || format.type !== 'json_schema') throw new RequestError(`${picked.path}.type: Input should be 'json_schema'`);
  if (!isObject(format.schema)) throw new RequestError(`${picked.path}.schema: Input should be a valid dictionary`);
  return { type: 'json_schema', name: OUTPUT_NAME, schema: format.schema, strict: true };
}

// ---------------------------------------------------------------------------------------------
// Cache marks and media

function cacheOf(value: unknown, path: string): CacheMark | undefined {
  if (!present(value)) return undefined;
  const at = path === '' ? 'cache_control' : `${path}.cache_control`;
  if (!isObject(value) || value.type !== 'ephemeral') throw new RequestError(`${at}.type: Input should be 'ephemeral'`);
  const mark: CacheMark = { type: 'ephemeral' };
  if (present(value.ttl)) {
    if (typeof value.ttl !== 'string') throw new RequestError(`${at}.ttl: Input should be '5m' or '1h'`);
    mark.ttl = value.ttl;
  }
  return mark;
}

function withCache<T extends { cache?: CacheMark }>(part: T, block: JsonObject, path: string): T {
  const cache = cacheOf(block.cache_control, path);
  if (cache) part.cache = cache;
  return part;
}

/** Fields of a block beyond the ones mapped, each listed in `unmapped` unless unset. */
function reportExtra(block: JsonObject, mapped: readonly string[], path: string, unmapped: string[]): void {
  for (const key of Object.keys(block)) if (!mapped.includes(key) && present(block[key])) unmapped.push(`${path}.${key}`);
}

function stringField(block: JsonObject, field: string, path: string): string {
  const value = block[field];
  if (typeof value !== 'string') throw new RequestError(`${path}.${field}: Input should be a valid string`);
  return value;
}

/** An image or document `source`; null (its path in `unmapped`) for one no MediaSource carries. */
function sourceOf(block: JsonObject, path: string, kinds: readonly string[]): MediaSource | { text: string } | null {
  const source = block.source;
  const at = `${path}.source`;
  if (!isObject(source)) throw new RequestError(`${at}: Input should be a valid dictionary`);
  if (!kinds.includes(source.type as string)) return null;
  switch (source.type) {
    case 'base64':
      return { kind: 'base64', mediaType: stringField(source, 'media_type', at), data: stringField(source, 'data', at) };
    case 'url':
      return { kind: 'url', url: stringField(source, 'url', at) };
    case 'file':
      return { kind: 'file_id', fileId: stringField(source, 'file_id', at) };
    case 'text':
      return { text: stringField(source, 'data', at) };
    default:
      return null;
  }
}

const IMAGE_FIELDS = ['type', 'source', 'cache_control'];
const DOCUMENT_FIELDS = ['type', 'source', 'cache_control', 'title'];

function imageOf(block: JsonObject, path: string, unmapped: string[]): ImagePart | null {
  const source = sourceOf(block, path, ['base64', 'url', 'file']);
  if (!source || !('kind' in source)) {
    unmapped.push(`${path}.source`);
    return null;
  }
  reportExtra(block, IMAGE_FIELDS, path, unmapped);
  return withCache<ImagePart>({ type: 'image', source }, block, path);
}

function documentOf(block: JsonObject, path: string, unmapped: string[]): FilePart | null {
  const source = sourceOf(block, path, ['base64', 'url', 'file', 'text']);
  if (!source) {
    // `content` sources (a document made of blocks, for citations): no canonical part carries one.
    unmapped.push(`${path}.source`);
    return null;
  }
  const media: MediaSource = 'kind' in source ? source : { kind: 'base64', mediaType: 'text/plain', data: Buffer.from(source.text, 'utf8').toString('base64') };
  // `citations: {enabled: false}` asks for nothing; `context` and enabled citations have no canonical field.
  const extra = { ...block };
  if (isObject(extra.citations) && extra.citations.enabled !== true) delete extra.citations;
  reportExtra(extra, DOCUMENT_FIELDS, path, unmapped);
  const part: FilePart = { type: 'file', source: media };
  if (typeof block.title === 'string') part.filename = block.title;
  return withCache(part, block, path);
}

function textOf(block: JsonObject, path: string, unmapped: string[]): TextPart {
  const text = stringField(block, 'text', path);
  // Citations on an earlier answer's text: no canonical part carries them (an empty list is none).
  const citations = Array.isArray(block.citations) && block.citations.length === 0 ? null : block.citations;
  reportExtra({ ...block, citations }, ['type', 'text', 'cache_control'], path, unmapped);
  return withCache<TextPart>({ type: 'text', text }, block, path);
}

// ---------------------------------------------------------------------------------------------
// System and messages

function systemOf(system: unknown, unmapped: string[]): Message[] {
  if (!present(system)) return [];
  if (typeof system === 'string') return system === '' ? [] : [{ role: 'system', parts: [{ type: 'text', text: system }] }];
  if (!Array.isArray(system)) throw new RequestError('system: Input should be a valid string or list of text blocks');
  const parts = system.map((raw, j) => {
    const path = `system[${j}]`;
    if (!isObject(raw) || raw.type !== 'text') throw new RequestError(`${path}.type: Input should be 'text'`);
    return textOf(raw, path, unmapped);
  });
  return parts.length > 0 ? [{ role: 'system', parts }] : [];
}

type BlockKind = 'content' | 'tool_result';

/** One content block of a user (or system) turn; null when no canonical part carries it (its path in `unmapped`). */
function userPart(block: JsonObject, path: string, unmapped: string[]): { kind: BlockKind; part: Part } | null {
  switch (block.type) {
    case 'text':
      return { kind: 'content', part: textOf(block, path, unmapped) };
    case 'image': {
      const part = imageOf(block, path, unmapped);
      return part ? { kind: 'content', part } : null;
    }
    case 'document': {
      const part = documentOf(block, path, unmapped);
      return part ? { kind: 'content', part } : null;
    }
    case 'tool_result':
      return { kind: 'tool_result', part: toolResultOf(block, path, unmapped) };
    default:
      // search_result, container_upload, server tool results, and types Anthropic may add
      unmapped.push(path);
      return null;
  }
}

function toolResultOf(block: JsonObject, path: string, unmapped: string[]): ToolResultPart {
  const id = stringField(block, 'tool_use_id', path);
  const content: (TextPart | ImagePart)[] = [];
  const raw = block.content;
  if (typeof raw === 'string') {
    if (raw !== '') content.push({ type: 'text', text: raw });
  } else if (Array.isArray(raw)) {
    raw.forEach((item, k) => {
      const at = `${path}.content[${k}]`;
      if (!isObject(item) || typeof item.type !== 'string') throw new RequestError(`${at}.type: Field required`);
      if (item.type === 'text') content.push(textOf(item, at, unmapped));
      else if (item.type === 'image') {
        const image = imageOf(item, at, unmapped);
        if (image) content.push(image);
      } else unmapped.push(at); // documents, search results, tool references inside a result
    });
  } else if (present(raw)) throw new RequestError(`${path}.content: Input should be a valid string or list`);
  const part: ToolResultPart = { type: 'tool_result', toolCallId: id, content };
  if (present(block.is_error)) {
    if (typeof block.is_error !== 'boolean') throw new RequestError(`${path}.is_error: Input should be a valid boolean`);
    if (block.is_error) part.isError = true;
  }
  reportExtra(block, ['type', 'tool_use_id', 'content', 'is_error', 'cache_control'], path, unmapped);
  return withCache(part, block, path);
}

/** One content block of an assistant turn; null when no canonical part carries it. */
function assistantPart(block: JsonObject, path: string, unmapped: string[]): Part | null {
  switch (block.type) {
    case 'text':
      return textOf(block, path, unmapped);
    case 'thinking': {
      const text = stringField(block, 'thinking', path);
      const signature = typeof block.signature === 'string' ? block.signature : '';
      // A block without a signature (a gateway answer from another provider) is reasoning text only.
      const part: ReasoningPart = signature === '' ? { type: 'reasoning', text } : { type: 'reasoning', text, signature, provider: PROVIDER };
      reportExtra(block, ['type', 'thinking', 'signature'], path, unmapped);
      return part;
    }
    case 'redacted_thinking':
      reportExtra(block, ['type', 'data'], path, unmapped);
      return { type: 'reasoning', text: '', redacted: stringField(block, 'data', path), provider: PROVIDER };
    case 'tool_use': {
      const id = stringField(block, 'id', path);
      const name = stringField(block, 'name', path);
      const input = block.input ?? {};
      if (!isObject(input)) throw new RequestError(`${path}.input: Input should be a valid dictionary`);
      // `caller: {type: 'direct'}` is the default: the client called the tool itself.
      const extra = isObject(block.caller) && block.caller.type === 'direct' ? { ...block, caller: null } : block;
      reportExtra(extra, ['type', 'id', 'name', 'input', 'cache_control'], path, unmapped);
      return withCache<ToolCallPart>({ type: 'tool_call', id, name, arguments: JSON.stringify(input) }, block, path);
    }
    default:
      // server_tool_use, web_search_tool_result and the other server tool blocks, and types Anthropic may add
      unmapped.push(path);
      return null;
  }
}

function messagesOf(messages: unknown[], unmapped: string[]): Message[] {
  const out: Message[] = [];
  messages.forEach((raw, i) => {
    const path = `messages[${i}]`;
    if (!isObject(raw)) throw new RequestError(`${path}: Input should be a valid dictionary`);
    const role = raw.role;
    if (role !== 'user' && role !== 'assistant' && role !== 'system') throw new RequestError(`${path}.role: Input should be 'user' or 'assistant'`);
    reportExtra(raw, ['role', 'content'], path, unmapped);
    const content = raw.content;
    if (typeof content === 'string') {
      out.push({ role, parts: content === '' ? [] : [{ type: 'text', text: content }] });
      return;
    }
    if (!Array.isArray(content)) throw new RequestError(`${path}.content: Input should be a valid string or list of content blocks`);
    const blocks = content.map((block, j) => {
      const at = `${path}.content[${j}]`;
      if (!isObject(block) || typeof block.type !== 'string') throw new RequestError(`${at}.type: Field required`);
      return { block, at };
    });
    if (role === 'assistant') {
      const parts: Part[] = [];
      for (const { block, at } of blocks) {
        const part = assistantPart(block, at, unmapped);
        if (part) parts.push(part);
      }
      out.push({ role, parts });
      return;
    }
    if (role === 'system') {
      out.push({ role, parts: blocks.map(({ block, at }) => (block.type === 'text' ? textOf(block, at, unmapped) : badSystemBlock(at))) });
      return;
    }
    // A user turn: runs of tool results become `tool` messages, the rest user messages, in order.
    let current: Message | null = null;
    for (const { block, at } of blocks) {
      const mapped = userPart(block, at, unmapped);
      if (!mapped) continue;
      const wanted = mapped.kind === 'tool_result' ? 'tool' : 'user';
      if (!current || current.role !== wanted) {
        current = { role: wanted, parts: [] };
        out.push(current);
      }
      current.parts.push(mapped.part);
    }
    if (!current) out.push({ role: 'user', parts: [] });
  });
  return out;
}

function badSystemBlock(path: string): never {
  throw new RequestError(`${path}.type: Input should be 'text'`);
}

// ---------------------------------------------------------------------------------------------
// Tools

const CUSTOM_TOOL_FIELDS = ['type', 'name', 'description', 'input_schema', 'cache_control', 'strict'];

function toolsOf(value: unknown, unmapped: string[]): Tool[] | undefined {
  if (!present(value)) return undefined;
  if (!Array.isArray(value)) throw new RequestError('tools: Input should be a valid list');
  return value.map((raw, i): Tool => {
    const path = `tools[${i}]`;
    if (!isObject(raw)) throw new RequestError(`${path}: Input should be a valid dictionary`);
    if (raw.type === undefined || raw.type === null || raw.type === 'custom') {
      const name = stringField(raw, 'name', path);
      if (!isObject(raw.input_schema)) throw new RequestError(`${path}.input_schema: Field required`);
      const tool: Tool = { type: 'function', name, parameters: raw.input_schema };
      if (present(raw.description)) tool.description = stringField(raw, 'description', path);
      if (typeof raw.strict === 'boolean') tool.strict = raw.strict;
      // allowed_callers, defer_loading, eager_input_streaming, input_examples: Anthropic's tool runtime only
      reportExtra(raw, CUSTOM_TOOL_FIELDS, path, unmapped);
      return withCache(tool, raw, path);
    }
    if (typeof raw.type !== 'string') throw new RequestError(`${path}.type: Input should be a valid string`);
    // A server tool (web_search_20250305, bash_20250124, text_editor_..., computer_..., code_execution_...)
    const { type, ...config } = raw;
    return { type: 'builtin', name: type, config };
  });
}

function toolChoiceOf(value: unknown): { choice?: ToolChoice; serial: boolean } | undefined {
  if (!present(value)) return undefined;
  if (!isObject(value)) throw new RequestError('tool_choice: Input should be a valid dictionary');
  const serial = value.disable_parallel_tool_use === true;
  if (present(value.disable_parallel_tool_use) && typeof value.disable_parallel_tool_use !== 'boolean') throw new RequestError('tool_choice.disable_parallel_tool_use: Input should be a valid boolean');
  switch (value.type) {
    case 'auto':
      return { choice: { type: 'auto' }, serial };
    case 'any':
      return { choice: { type: 'required' }, serial };
    case 'none':
      return { choice: { type: 'none' }, serial: false };
    case 'tool':
      return { choice: { type: 'tool', name: stringField(value, 'name', 'tool_choice') }, serial };
    default:
      throw new RequestError("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
  }
}
