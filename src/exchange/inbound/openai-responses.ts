/**
 * The OpenAI Responses inbound adapter: a `POST /v1/responses` body parsed into the
 * CanonicalRequest (kind `chat`, source `openai-responses`).
 *
 * Reference: https://platform.openai.com/docs/api-reference/responses/create (and the `openai`
 * npm package's `resources/responses/responses.d.ts`, which the unit tests type-check against).
 *
 * | client field | canonical |
 * | --- | --- |
 * | `input` (a string: one user message; or items) | `messages` |
 * | message items (`user`, `system`, `developer`, `assistant`; content a string or parts `input_text`, `input_image`, `input_file`, `input_audio`, echoed `output_text` / `refusal`) | messages of TextPart, ImagePart, FilePart, AudioPart, RefusalPart |
 * | `function_call` (call_id, name, arguments) | ToolCallPart in the assistant turn |
 * | `function_call_output` (call_id, output text or parts) | a `tool` message with a ToolResultPart |
 * | `reasoning` (summary, `encrypted_content`) | ReasoningPart (state decoded, see below) |
 * | `item_reference` and every other item type (built-in tool calls echoed back ...) | `unmapped` (the native OpenAI format takes them; the policy judges them elsewhere) |
 * | `instructions` | a leading `system` message |
 * | `tools` (`function`; others as built-in tools) | `tools` |
 * | `tool_choice` | `toolChoice` (a built-in tool's choice: `unmapped`) |
 * | `text.format`, `text.verbosity` | `output`, `openai.verbosity` |
 * | `reasoning.effort`, `reasoning.summary` | `reasoning.effort`, `openai.reasoning_summary` |
 * | `include` | `reasoning.encrypted_content` → `reasoning.includeEncrypted`; the rest `openai.include` |
 * | `max_output_tokens`, `temperature`, `top_p`, `top_logprobs` | `sampling` |
 * | `metadata`, `parallel_tool_calls`, `safety_identifier` / `user` | `metadata`, `parallelToolCalls`, `user` |
 * | `truncation`, `service_tier`, `prompt_cache_key`, `prompt_cache_retention`, `max_tool_calls`, `conversation`, `prompt`, `stream_options` | `openai` (only values that ask for something: `truncation: "disabled"`, `service_tier: "auto"` are the defaults) |
 * | `store`, `previous_response_id` | read by the gateway's responses store from `source.body` (the provider is not where the state lives) |
 * | `stream` | `stream`; `includeUsage` is always true (a Responses answer always reports usage) |
 * | `background: true` | refused: the gateway does not run background responses |
 *
 * Unknown top-level fields go to `passthrough`; unknown fields inside items and parts to `unmapped`.
 *
 * Reasoning state of other providers (an Anthropic thinking signature, redacted thinking, a Gemini
 * thought signature) reaches a Responses client in a reasoning item's `encrypted_content`, encoded
 * by `encodeReasoningState` below; it comes back as the same ReasoningPart. Any other
 * `encrypted_content` is OpenAI's own.
 */
import { RequestError } from '../../llm/types.ts';
import { isObject, type JsonObject } from '../../llm/json.ts';
import type {
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

/** The Responses API's documented request fields. */
export const RESPONSES_FIELDS: ReadonlySet<string> = new Set([
  'model', 'input', 'instructions', 'tools', 'tool_choice', 'text', 'reasoning', 'max_output_tokens', 'temperature', 'top_p',
  'top_logprobs', 'metadata', 'parallel_tool_calls', 'include', 'store', 'previous_response_id', 'truncation', 'service_tier',
  'prompt_cache_key', 'prompt_cache_retention', 'safety_identifier', 'user', 'background', 'stream', 'stream_options',
  'conversation', 'max_tool_calls', 'prompt',
]);

/** OpenAI-only fields carried in `openai`, with the value that asks for nothing (left out). */
const OPENAI_CARRIED: Readonly<Record<string, unknown>> = {
  truncation: 'disabled',
  service_tier: 'auto',
  prompt_cache_key: undefined,
  prompt_cache_retention: undefined,
  max_tool_calls: undefined,
  conversation: undefined,
  prompt: undefined,
};

const EFFORTS: ReadonlySet<string> = new Set(['none', 'minimal', 'low', 'medium', 'high']);
const MESSAGE_ROLES: ReadonlySet<string> = new Set(['user', 'assistant', 'system', 'developer']);
const INCLUDE_ENCRYPTED = 'reasoning.encrypted_content';

/** Item fields that are output only (an answer's item echoed back): accepted, meaning nothing as input. */
const ECHOED = ['id', 'status'];
const MESSAGE_ITEM_FIELDS: ReadonlySet<string> = new Set(['type', 'role', 'content', ...ECHOED, 'phase']);
const CALL_ITEM_FIELDS: ReadonlySet<string> = new Set(['type', 'call_id', 'name', 'arguments', ...ECHOED]);
const OUTPUT_ITEM_FIELDS: ReadonlySet<string> = new Set(['type', 'call_id', 'output', ...ECHOED]);
const REASONING_ITEM_FIELDS: ReadonlySet<string> = new Set(['type', 'summary', 'content', 'encrypted_content', ...ECHOED]);

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function fail(path: string, message: string): never {
  throw new RequestError(`${path}: ${message}`);
}

export function parseResponsesRequest(value: unknown): CanonicalRequest {
  if (!isObject(value)) throw new RequestError('request body: expected a JSON object');
  const body = value;
  if (body.background === true) fail('background', 'background responses are not supported by the gateway');
  const unmapped: string[] = [];
  const passthrough: JsonObject = {};
  for (const key of Object.keys(body)) if (!RESPONSES_FIELDS.has(key)) passthrough[key] = body[key];

  const messages: Message[] = [];
  if (present(body.instructions)) {
    if (typeof body.instructions !== 'string') fail('instructions', 'expected a string');
    messages.push({ role: 'system', parts: [{ type: 'text', text: body.instructions }] });
  }
  messages.push(...inputMessages(body.input, unmapped));

  if (present(body.stream) && typeof body.stream !== 'boolean') fail('stream', 'expected a boolean');
  const canonical: CanonicalRequest = {
    kind: 'chat',
    messages,
    sampling: samplingOf(body),
    stream: body.stream === true,
    includeUsage: true,
    passthrough,
    dropped: [],
    unmapped,
    source: { format: 'openai-responses', body },
  };
  if (present(body.model)) {
    if (typeof body.model !== 'string') fail('model', 'expected a string');
    canonical.model = body.model;
  }
  const tools = toolsOf(body.tools);
  if (tools) canonical.tools = tools;
  const choice = toolChoiceOf(body.tool_choice, unmapped);
  if (choice) canonical.toolChoice = choice;
  if (present(body.parallel_tool_calls)) {
    if (typeof body.parallel_tool_calls !== 'boolean') fail('parallel_tool_calls', 'expected a boolean');
    canonical.parallelToolCalls = body.parallel_tool_calls;
  }
  let openai: JsonObject | undefined;
  const carry = (key: string, v: unknown): void => {
    (openai ??= {})[key] = v as JsonObject[string];
  };
  if (present(body.text)) {
    if (!isObject(body.text)) fail('text', 'expected an object');
    const output = outputOf(body.text.format);
    if (output) canonical.output = output;
    if (present(body.text.verbosity)) {
      if (typeof body.text.verbosity !== 'string') fail('text.verbosity', 'expected a string');
      carry('verbosity', body.text.verbosity);
    }
    for (const key of Object.keys(body.text)) if (key !== 'format' && key !== 'verbosity' && present(body.text[key])) unmapped.push(`text.${key}`);
  }
  if (present(body.reasoning)) {
    if (!isObject(body.reasoning)) fail('reasoning', 'expected an object');
    const { effort, summary, generate_summary: legacySummary } = body.reasoning;
    if (present(effort)) {
      if (typeof effort !== 'string') fail('reasoning.effort', 'expected a string');
      // efforts beyond the canonical scale (`xhigh`, `max`) only the native format can send
      if (EFFORTS.has(effort)) canonical.reasoning = { effort: effort as ReasoningEffort };
      else unmapped.push('reasoning.effort');
    }
    const wanted = summary ?? legacySummary;
    if (present(wanted)) {
      if (typeof wanted !== 'string') fail(present(summary) ? 'reasoning.summary' : 'reasoning.generate_summary', 'expected a string');
      carry('reasoning_summary', wanted);
    }
  }
  if (present(body.include)) {
    if (!Array.isArray(body.include) || !body.include.every((v) => typeof v === 'string')) fail('include', 'expected an array of strings');
    const rest = (body.include as string[]).filter((v) => v !== INCLUDE_ENCRYPTED);
    if (rest.length < body.include.length) canonical.reasoning = { ...canonical.reasoning, includeEncrypted: true };
    if (rest.length > 0) carry('include', rest);
  }
  const user = body.safety_identifier ?? body.user;
  if (present(user)) {
    if (typeof user !== 'string') fail(present(body.safety_identifier) ? 'safety_identifier' : 'user', 'expected a string');
    canonical.user = user;
  }
  if (present(body.metadata)) {
    if (!isObject(body.metadata)) fail('metadata', 'expected an object');
    for (const [k, v] of Object.entries(body.metadata)) if (typeof v !== 'string') fail(`metadata.${k}`, 'expected a string');
    canonical.metadata = body.metadata as Record<string, string>;
  }
  for (const [key, ignored] of Object.entries(OPENAI_CARRIED)) {
    if (present(body[key]) && body[key] !== ignored) carry(key, body[key]);
  }
  if (present(body.stream_options)) {
    if (!isObject(body.stream_options)) fail('stream_options', 'expected an object');
    // obfuscation is a field OpenAI adds to its own deltas; asking for none asks for nothing
    if (body.stream_options.include_obfuscation === true || Object.keys(body.stream_options).some((k) => k !== 'include_obfuscation')) carry('stream_options', body.stream_options);
  }
  for (const field of ['store', 'previous_response_id']) {
    const v = body[field];
    if (present(v) && typeof v !== (field === 'store' ? 'boolean' : 'string')) fail(field, `expected a ${field === 'store' ? 'boolean' : 'string'}`);
  }
  if (openai) canonical.openai = openai;
  return canonical;
}

// ---------------------------------------------------------------------------------------------
// Sampling

function samplingOf(body: JsonObject): Sampling {
  const s: Sampling = {};
  const number = (field: string): number | undefined => {
    const v = body[field];
    if (!present(v)) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, 'expected a number');
    return v;
  };
  const maxTokens = number('max_output_tokens');
  if (maxTokens !== undefined) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) fail('max_output_tokens', 'expected a positive integer');
    s.maxTokens = maxTokens;
  }
  const temperature = number('temperature');
  if (temperature !== undefined) s.temperature = temperature;
  const topP = number('top_p');
  if (topP !== undefined) s.topP = topP;
  const topLogprobs = number('top_logprobs');
  if (topLogprobs !== undefined) {
    if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > 20) fail('top_logprobs', 'expected an integer between 0 and 20');
    s.topLogprobs = topLogprobs;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Input items

/** `data:<type>;base64,<data>` as inline bytes; any other URL as a URL. */
function mediaOf(url: string): MediaSource {
  const match = /^data:([\w.+-]+\/[\w.+-]+);base64,/.exec(url);
  return match ? { kind: 'base64', mediaType: match[1], data: url.slice(match[0].length) } : { kind: 'url', url };
}

function stringField(raw: JsonObject, field: string, path: string): string {
  if (typeof raw[field] !== 'string') fail(`${path}.${field}`, 'expected a string');
  return raw[field] as string;
}

/** Fields of an object that no canonical field carries, listed in `unmapped`. */
function reportExtra(raw: JsonObject, known: ReadonlySet<string>, path: string, unmapped: string[]): void {
  for (const key of Object.keys(raw)) if (!known.has(key) && present(raw[key])) unmapped.push(`${path}.${key}`);
}

const TEXT_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'text', 'annotations', 'logprobs']);
const IMAGE_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'image_url', 'file_id', 'detail']);
const FILE_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'file_data', 'file_id', 'file_url', 'filename']);
const AUDIO_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'input_audio']);
const REFUSAL_PART_FIELDS: ReadonlySet<string> = new Set(['type', 'refusal']);

/** One content part; null (its path in `unmapped`) for a type no canonical part carries. */
function partOf(raw: unknown, path: string, unmapped: string[]): Part | null {
  if (!isObject(raw) || typeof raw.type !== 'string') fail(path, 'expected a content part object with a string type');
  switch (raw.type) {
    case 'input_text':
    case 'output_text': // an earlier answer echoed back; its annotations and logprobs are output only
      reportExtra(raw, TEXT_PART_FIELDS, path, unmapped);
      return { type: 'text', text: stringField(raw, 'text', path) };
    case 'input_image': {
      reportExtra(raw, IMAGE_PART_FIELDS, path, unmapped);
      let source: MediaSource;
      if (typeof raw.image_url === 'string') source = mediaOf(raw.image_url);
      else if (typeof raw.file_id === 'string') source = { kind: 'file_id', fileId: raw.file_id };
      else fail(path, 'expected image_url or file_id');
      const image: ImagePart = { type: 'image', source };
      if (present(raw.detail)) image.detail = stringField(raw, 'detail', path);
      return image;
    }
    case 'input_file': {
      reportExtra(raw, FILE_PART_FIELDS, path, unmapped);
      let source: MediaSource;
      if (typeof raw.file_data === 'string') source = mediaOf(raw.file_data.startsWith('data:') ? raw.file_data : `data:application/octet-stream;base64,${raw.file_data}`);
      else if (typeof raw.file_id === 'string') source = { kind: 'file_id', fileId: raw.file_id };
      else if (typeof raw.file_url === 'string') source = { kind: 'url', url: raw.file_url };
      else fail(path, 'expected file_data, file_id or file_url');
      const file: FilePart = { type: 'file', source };
      if (present(raw.filename)) file.filename = stringField(raw, 'filename', path);
      return file;
    }
    case 'input_audio': {
      reportExtra(raw, AUDIO_PART_FIELDS, path, unmapped);
      const audio = raw.input_audio;
      if (!isObject(audio) || typeof audio.data !== 'string' || typeof audio.format !== 'string') fail(`${path}.input_audio`, 'expected {"data": string, "format": string}');
      return { type: 'audio', data: audio.data, format: audio.format };
    }
    case 'refusal':
      reportExtra(raw, REFUSAL_PART_FIELDS, path, unmapped);
      return { type: 'refusal', text: stringField(raw, 'refusal', path) };
    default:
      unmapped.push(path);
      return null;
  }
}

function contentParts(content: unknown, path: string, unmapped: string[]): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) fail(`${path}.content`, 'expected a string or an array of content parts');
  const parts: Part[] = [];
  content.forEach((raw, j) => {
    const part = partOf(raw, `${path}.content[${j}]`, unmapped);
    if (part) parts.push(part);
  });
  return parts;
}

/**
 * The items as messages. An assistant turn is one message: its reasoning items, its message and
 * its function calls, in order, until a user, system, or tool message (or a new reasoning item
 * after text or a call: the next turn) comes.
 */
function inputMessages(input: unknown, unmapped: string[]): Message[] {
  if (typeof input === 'string') return [{ role: 'user', parts: [{ type: 'text', text: input }] }];
  if (!present(input)) return [];
  if (!Array.isArray(input)) fail('input', 'expected a string or an array of items');
  const out: Message[] = [];
  let turn: Message | null = null;
  const assistantTurn = (startsTurn: boolean): Message => {
    if (!turn || (startsTurn && turn.parts.some((p) => p.type !== 'reasoning'))) {
      turn = { role: 'assistant', parts: [] };
      out.push(turn);
    }
    return turn;
  };
  input.forEach((raw, i) => {
    const path = `input[${i}]`;
    if (!isObject(raw)) fail(path, 'expected an item object');
    const type = raw.type ?? (present(raw.role) ? 'message' : undefined);
    switch (type) {
      case 'message': {
        reportExtra(raw, MESSAGE_ITEM_FIELDS, path, unmapped);
        const role = raw.role;
        if (typeof role !== 'string' || !MESSAGE_ROLES.has(role)) fail(`${path}.role`, `expected one of ${[...MESSAGE_ROLES].join(', ')}`);
        const parts = contentParts(raw.content, path, unmapped);
        if (role === 'assistant') assistantTurn(false).parts.push(...parts);
        else {
          out.push({ role: role as Role, parts });
          turn = null;
        }
        return;
      }
      case 'function_call': {
        reportExtra(raw, CALL_ITEM_FIELDS, path, unmapped);
        const args = stringField(raw, 'arguments', path);
        assistantTurn(false).parts.push({ type: 'tool_call', id: stringField(raw, 'call_id', path), name: stringField(raw, 'name', path), arguments: args });
        return;
      }
      case 'function_call_output': {
        reportExtra(raw, OUTPUT_ITEM_FIELDS, path, unmapped);
        const result: ToolResultPart = { type: 'tool_result', toolCallId: stringField(raw, 'call_id', path), content: toolOutput(raw.output, path, unmapped) };
        out.push({ role: 'tool', parts: [result] });
        turn = null;
        return;
      }
      case 'reasoning': {
        reportExtra(raw, REASONING_ITEM_FIELDS, path, unmapped);
        assistantTurn(true).parts.push(reasoningPart(raw, path));
        return;
      }
      default:
        // item_reference (an item OpenAI stored), built-in tool calls and their outputs echoed back:
        // only OpenAI itself knows what they mean
        if (typeof type !== 'string') fail(`${path}.type`, 'expected a string');
        unmapped.push(path);
    }
  });
  return out;
}

/** A function call's output: text, or a list of `input_text` / `input_image` parts (files: `unmapped`). */
function toolOutput(output: unknown, path: string, unmapped: string[]): (TextPart | ImagePart)[] {
  if (typeof output === 'string') return [{ type: 'text', text: output }];
  if (!Array.isArray(output)) fail(`${path}.output`, 'expected a string or an array of content parts');
  const parts: (TextPart | ImagePart)[] = [];
  output.forEach((raw, j) => {
    const partPath = `${path}.output[${j}]`;
    const part = partOf(raw, partPath, unmapped);
    if (!part) return;
    if (part.type === 'text' || part.type === 'image') parts.push(part);
    else unmapped.push(partPath);
  });
  return parts;
}

function reasoningPart(raw: JsonObject, path: string): ReasoningPart {
  const texts: string[] = [];
  for (const field of ['summary', 'content'] as const) {
    const list = raw[field];
    if (!present(list)) continue;
    if (!Array.isArray(list)) fail(`${path}.${field}`, 'expected an array');
    list.forEach((entry, k) => {
      if (!isObject(entry) || typeof entry.text !== 'string') fail(`${path}.${field}[${k}].text`, 'expected a string');
      texts.push(entry.text);
    });
    if (field === 'summary' && texts.length > 0) break; // the summary stands for the reasoning when both are echoed
  }
  const part: ReasoningPart = { type: 'reasoning', text: texts.join('\n\n') };
  if (present(raw.encrypted_content)) {
    if (typeof raw.encrypted_content !== 'string') fail(`${path}.encrypted_content`, 'expected a string');
    const state = decodeReasoningState(raw.encrypted_content);
    if (state) Object.assign(part, state);
    else {
      part.encrypted = raw.encrypted_content;
      part.provider = 'openai';
    }
  }
  return part;
}

// ---------------------------------------------------------------------------------------------
// Reasoning state of other providers in `encrypted_content`

/** Marks modelgate's encoding: OpenAI's own encrypted content is opaque base64 and never starts with it. */
const STATE_PREFIX = 'mg1.';

type ReasoningState = Pick<ReasoningPart, 'signature' | 'redacted' | 'encrypted' | 'provider' | 'toolCallId'>;

/**
 * A reasoning part's state as `encrypted_content`: OpenAI's own encrypted content as it is; any
 * other provider's state (signature, redacted content, the tool call it belongs to) as `mg1.` and
 * the base64url of a small JSON object. Null when the part has no state.
 */
export function encodeReasoningState(part: ReasoningPart): string | null {
  if (part.signature === undefined && part.redacted === undefined && part.encrypted === undefined) return null;
  if (part.encrypted !== undefined && (part.provider === 'openai' || part.provider === 'azure') && part.signature === undefined && part.redacted === undefined && part.toolCallId === undefined) {
    return part.encrypted;
  }
  const state: Record<string, string> = {};
  if (part.provider !== undefined) state.p = part.provider;
  if (part.signature !== undefined) state.s = part.signature;
  if (part.redacted !== undefined) state.r = part.redacted;
  if (part.encrypted !== undefined) state.e = part.encrypted;
  if (part.toolCallId !== undefined) state.t = part.toolCallId;
  return STATE_PREFIX + Buffer.from(JSON.stringify(state)).toString('base64url');
}

/** The state `encodeReasoningState` made, or null for anything else (OpenAI's own content). */
export function decodeReasoningState(content: string): ReasoningState | null {
  if (!content.startsWith(STATE_PREFIX)) return null;
  let state: unknown;
  try {
    state = JSON.parse(Buffer.from(content.slice(STATE_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(state)) return null;
  const out: ReasoningState = {};
  const keys = { p: 'provider', s: 'signature', r: 'redacted', e: 'encrypted', t: 'toolCallId' } as const;
  for (const [short, long] of Object.entries(keys)) if (typeof state[short] === 'string') out[long] = state[short] as string;
  return out;
}

/** Whether `encrypted_content` holds another provider's state (which OpenAI itself cannot read). */
export function isForeignReasoningState(content: unknown): boolean {
  return typeof content === 'string' && content.startsWith(STATE_PREFIX);
}

// ---------------------------------------------------------------------------------------------
// Tools and output

const EMPTY_PARAMETERS: JsonObject = { type: 'object', properties: {} };

function toolsOf(value: unknown): Tool[] | undefined {
  if (!present(value)) return undefined;
  if (!Array.isArray(value)) fail('tools', 'expected an array');
  return value.map((raw, i): Tool => {
    const path = `tools[${i}]`;
    if (!isObject(raw) || typeof raw.type !== 'string') fail(`${path}.type`, 'expected a string');
    if (raw.type !== 'function') {
      // web_search, file_search, code_interpreter, computer_use, image_generation, mcp ...: only a provider that has the tool can take it
      const { type, ...config } = raw;
      return { type: 'builtin', name: type as string, config };
    }
    const tool: Tool = { type: 'function', name: stringField(raw, 'name', path), parameters: EMPTY_PARAMETERS };
    if (present(raw.parameters)) {
      if (!isObject(raw.parameters)) fail(`${path}.parameters`, 'expected an object');
      tool.parameters = raw.parameters;
    }
    if (present(raw.description)) tool.description = stringField(raw, 'description', path);
    if (present(raw.strict)) {
      if (typeof raw.strict !== 'boolean') fail(`${path}.strict`, 'expected a boolean');
      tool.strict = raw.strict;
    }
    return tool;
  });
}

function toolChoiceOf(value: unknown, unmapped: string[]): ToolChoice | undefined {
  if (!present(value)) return undefined;
  if (value === 'auto' || value === 'none' || value === 'required') return { type: value };
  if (isObject(value) && typeof value.type === 'string') {
    if (value.type === 'function') return { type: 'tool', name: stringField(value, 'name', 'tool_choice') };
    // a built-in tool (`{"type": "web_search"}`), allowed_tools, mcp, custom: no canonical choice carries them
    unmapped.push('tool_choice');
    return undefined;
  }
  fail('tool_choice', 'expected "none", "auto", "required" or an object with a type');
}

function outputOf(value: unknown): OutputFormat | undefined {
  if (!present(value)) return undefined;
  if (!isObject(value)) fail('text.format', 'expected an object');
  switch (value.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const name = stringField(value, 'name', 'text.format');
      if (!isObject(value.schema)) fail('text.format.schema', 'expected an object');
      const out: OutputFormat = { type: 'json_schema', name, schema: value.schema };
      if (present(value.strict)) {
        if (typeof value.strict !== 'boolean') fail('text.format.strict', 'expected a boolean');
        out.strict = value.strict;
      }
      if (present(value.description)) out.description = stringField(value, 'description', 'text.format');
      return out;
    }
    default:
      fail('text.format.type', 'expected one of text, json_object, json_schema');
  }
}
