/**
 * OpenAI's Responses API in the OpenAI mock: `POST /v1/responses`, plain and streamed.
 *
 * Sources:
 * - API reference "Create a model response": https://platform.openai.com/docs/api-reference/responses/create
 *   (request fields as the `openai` npm package types them, `ResponseCreateParamsBase`; `input` a
 *   string or items: messages (EasyInputMessage: role user/assistant/system/developer, content a
 *   string or parts `input_text`/`input_image`/`input_file`, assistant parts `output_text`/`refusal`),
 *   `function_call` {call_id, name, arguments}, `function_call_output` {call_id, output},
 *   `reasoning` {id, summary, encrypted_content}, `item_reference` {id}; function tools
 *   {type, name, parameters, strict, description}; `text.format` text | json_object |
 *   json_schema {name, schema, strict, description}; `reasoning` {effort, summary};
 *   `max_output_tokens` >= 16; `include` values (`ResponseIncludable`)).
 * - The response object and usage: https://platform.openai.com/docs/api-reference/responses/object
 *   (`output` items message/function_call/reasoning; `usage` {input_tokens, input_tokens_details.cached_tokens,
 *   output_tokens, output_tokens_details.reasoning_tokens, total_tokens}; `status` incomplete with
 *   `incomplete_details.reason: max_output_tokens`).
 * - Streaming events: https://platform.openai.com/docs/api-reference/responses-streaming
 *   (https://developers.openai.com/api/reference/resources/beta/subresources/responses/streaming-events):
 *   `event: <type>` SSE with a `sequence_number` from 0 on every event, no `[DONE]`; response.created,
 *   response.in_progress, per item output_item.added … output_item.done (a message with
 *   content_part.added, output_text.delta…, output_text.done, content_part.done; a function call with
 *   function_call_arguments.delta…, function_call_arguments.done; a reasoning item with its summary
 *   part events), then response.completed (or response.incomplete).
 * - Errors as the live API words them (quoted in public reports): "Unknown parameter: 'x'."
 *   (code unknown_parameter), "Missing required parameter: 'x'.", "Invalid 'max_output_tokens':
 *   integer below minimum value. Expected a value >= 16, but got N instead.", "Previous response with
 *   id 'resp_…' not found." (param previous_response_id), "No tool call found for function call
 *   output with call_id …", "No tool output found for function call …", "Unsupported parameter:
 *   'reasoning.effort' is not supported with this model.", "Item with id 'rs_…' not found. Items are
 *   not persisted when `store` is set to false. …", "The encrypted content … could not be verified."
 *   (code invalid_encrypted_content). Other wording here is the mock's own.
 *
 * The mock stores nothing: a `previous_response_id` or an `item_reference` is always unknown to it
 * (a gateway that keeps conversations must send the history itself), and a reasoning item coming
 * back needs the `encrypted_content` the mock gave (checked, as the real API checks it).
 * Tool calls follow the chat mock's rule (`pickToolCall`): a forced `tool_choice` calls a tool.
 */
import { createHash } from 'node:crypto';
import type { HandlerCtx, JsonReply, Reply } from './server.ts';
import { sse } from './server.ts';
import { countTokens, isObject, splitChunks, textOf, truncateTokens } from './text.ts';
import { schemaValue } from './schema-value.ts';
import {
  INVALID_JSON, REASONING_MODEL, REASONING_TOKENS, THINKING_TEXT, cachedTokens, openaiError, pickToolCall, rangeError, typeName,
  type ModelKind, type OpenAIErrorFields, type Range,
} from './openai.ts';

/** Top-level fields of Create a model response (`ResponseCreateParamsBase`). */
export const RESPONSES_PARAMS: ReadonlySet<string> = new Set([
  'background', 'context_management', 'conversation', 'include', 'input', 'instructions', 'max_output_tokens', 'max_tool_calls', 'metadata', 'model',
  'parallel_tool_calls', 'previous_response_id', 'prompt', 'prompt_cache_key', 'prompt_cache_retention', 'reasoning', 'safety_identifier',
  'service_tier', 'store', 'stream', 'stream_options', 'temperature', 'text', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'truncation', 'user',
]);

const RESPONSES_RANGES: Record<string, Range> = {
  temperature: { min: 0, max: 2 },
  top_p: { min: 0, max: 1 },
  top_logprobs: { min: 0, max: 20, int: true },
  max_output_tokens: { min: 16, int: true },
  max_tool_calls: { min: 1, int: true },
};

export const INCLUDABLE = [
  'file_search_call.results', 'web_search_call.results', 'web_search_call.action.sources', 'message.input_image.image_url',
  'computer_call_output.output.image_url', 'code_interpreter_call.outputs', 'reasoning.encrypted_content', 'message.output_text.logprobs',
];
const BUILT_IN_TOOLS = ['file_search', 'web_search', 'web_search_preview', 'computer_use_preview', 'code_interpreter', 'image_generation', 'mcp', 'local_shell', 'shell', 'custom', 'apply_patch'];
const FUNCTION_TOOL_FIELDS = new Set(['type', 'name', 'parameters', 'strict', 'description', 'defer_loading']);
const ROLES = ['user', 'assistant', 'system', 'developer'];
const INPUT_PARTS = ['input_text', 'input_image', 'input_file'];
const ASSISTANT_PARTS = ['output_text', 'refusal'];
const EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'];
const SUMMARIES = ['auto', 'concise', 'detailed'];
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const list = (values: string[]): string => (values.length === 1 ? `'${values[0]}'` : `${values.slice(0, -1).map((v) => `'${v}'`).join(', ')}, and '${values.at(-1)}'`);
const invalidValue = (v: unknown, supported: string[], param: string): OpenAIErrorFields => ({ message: `Invalid value: '${String(v)}'. Supported values are: ${list(supported)}.`, param, code: 'invalid_value' });
const missing = (param: string): OpenAIErrorFields => ({ message: `Missing required parameter: '${param}'.`, param, code: 'missing_required_parameter' });
const unknownParam = (param: string): OpenAIErrorFields => ({ message: `Unknown parameter: '${param}'.`, param, code: 'unknown_parameter' });
const wrongType = (param: string, want: string, v: unknown): OpenAIErrorFields => ({ message: `Invalid type for '${param}': expected ${want}, but got ${typeName(v)} instead.`, param, code: 'invalid_type' });

/** The reasoning the mock's reasoning models do, and the opaque token that carries it between turns. */
export function encryptedReasoning(itemId: string): string {
  const payload = Buffer.from(JSON.stringify({ id: itemId, text: THINKING_TEXT })).toString('base64url');
  return `gAAAAAB${payload}.${createHash('sha256').update(`mock-reasoning:${payload}`).digest('base64url')}`;
}

function verifiesReasoning(itemId: string, content: string): boolean {
  const m = /^gAAAAAB([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(content);
  if (!m || createHash('sha256').update(`mock-reasoning:${m[1]}`).digest('base64url') !== m[2]) return false;
  try {
    return JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')).id === itemId;
  } catch {
    return false;
  }
}

/** What a valid request asks of the answer. */
interface Ask {
  tools: { name: string; parameters: unknown }[];
  /** `'required'`, a function name, or undefined (the model chooses: text). */
  forced: 'required' | string | undefined;
  called: Set<string>;
  /** Every text the prompt carries, for the token count. */
  texts: string[];
  format: Record<string, unknown> | undefined;
  include: string[];
}

type Problem = { status: number; error: OpenAIErrorFields };
const bad = (error: OpenAIErrorFields, status = 400): Problem => ({ status, error });

function checkContent(content: unknown, role: string, at: string, texts: string[]): OpenAIErrorFields | null {
  if (typeof content === 'string') {
    texts.push(content);
    return null;
  }
  if (!Array.isArray(content)) return wrongType(`${at}.content`, 'one of a string or array of objects', content);
  const allowed = role === 'assistant' ? ASSISTANT_PARTS : INPUT_PARTS;
  for (const [k, part] of content.entries()) {
    const p = `${at}.content[${k}]`;
    if (!isObject(part)) return wrongType(p, 'an object', part);
    if (!allowed.includes(String(part.type))) return invalidValue(part.type, allowed, `${p}.type`);
    if (part.type === 'input_text' || part.type === 'output_text') {
      if (typeof part.text !== 'string') return missing(`${p}.text`);
      texts.push(part.text);
    }
    if (part.type === 'refusal' && typeof part.refusal !== 'string') return missing(`${p}.refusal`);
    if (part.type === 'input_image' && typeof part.image_url !== 'string' && typeof part.file_id !== 'string') return missing(`${p}.image_url`);
  }
  return null;
}

/** The input items, checked as the API checks them; what they say goes into `ask`. */
function checkInput(input: unknown, ask: Ask, store: boolean): Problem | null {
  if (typeof input === 'string') {
    ask.texts.push(input);
    return null;
  }
  if (!Array.isArray(input)) return bad(wrongType('input', 'one of a string or array of input items', input));
  const calls = new Set<string>();
  const answered = new Set<string>();
  for (const [i, item] of input.entries()) {
    const at = `input[${i}]`;
    if (!isObject(item)) return bad(wrongType(at, 'an object', item));
    const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
    switch (type) {
      case 'message': {
        if (!ROLES.includes(String(item.role))) return bad(invalidValue(item.role, ROLES, `${at}.role`));
        if (item.content === undefined) return bad(missing(`${at}.content`));
        const e = checkContent(item.content, String(item.role), at, ask.texts);
        if (e) return bad(e);
        break;
      }
      case 'function_call':
        for (const f of ['call_id', 'name', 'arguments']) if (typeof item[f] !== 'string') return bad(item[f] === undefined ? missing(`${at}.${f}`) : wrongType(`${at}.${f}`, 'a string', item[f]));
        calls.add(item.call_id as string);
        ask.called.add(item.name as string);
        ask.texts.push(item.arguments as string);
        break;
      case 'function_call_output':
        if (typeof item.call_id !== 'string') return bad(missing(`${at}.call_id`));
        if (item.output === undefined) return bad(missing(`${at}.output`));
        if (typeof item.output !== 'string' && !Array.isArray(item.output)) return bad(wrongType(`${at}.output`, 'one of a string or array of objects', item.output));
        if (!calls.has(item.call_id)) return bad({ message: `No tool call found for function call output with call_id ${item.call_id}.`, param: 'input' });
        answered.add(item.call_id);
        ask.texts.push(typeof item.output === 'string' ? item.output : textOf(item.output));
        break;
      case 'reasoning':
        if (typeof item.id !== 'string') return bad(missing(`${at}.id`));
        if (!Array.isArray(item.summary)) return bad(missing(`${at}.summary`));
        if (typeof item.encrypted_content === 'string') {
          if (!verifiesReasoning(item.id, item.encrypted_content)) return bad({ message: `The encrypted content ${item.encrypted_content.slice(0, 12)}... could not be verified.`, param: null, code: 'invalid_encrypted_content' });
        } else {
          // nothing is kept here, so a reasoning item is only ever found through its encrypted content
          const hint = store ? '' : ' Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.';
          return bad({ message: `Item with id '${item.id}' not found.${hint}`, param: 'input' }, 404);
        }
        break;
      case 'item_reference':
        return bad({ message: `Item with id '${String(item.id)}' not found.`, param: 'input' }, 404);
      default:
        return bad(invalidValue(type, ['message', 'function_call', 'function_call_output', 'reasoning', 'item_reference'], `${at}.type`));
    }
  }
  for (const id of calls) if (!answered.has(id)) return bad({ message: `No tool output found for function call ${id}.`, param: 'input' });
  return null;
}

function checkTools(json: Record<string, unknown>, ask: Ask): OpenAIErrorFields | null {
  if (json.tools !== undefined && json.tools !== null) {
    if (!Array.isArray(json.tools)) return wrongType('tools', 'an array', json.tools);
    for (const [i, t] of json.tools.entries()) {
      const at = `tools[${i}]`;
      if (!isObject(t)) return wrongType(at, 'an object', t);
      if (t.type === 'function') {
        const extra = Object.keys(t).find((k) => !FUNCTION_TOOL_FIELDS.has(k));
        if (extra) return unknownParam(`${at}.${extra}`);
        if (t.name === undefined) return missing(`${at}.name`);
        if (typeof t.name !== 'string' || !TOOL_NAME.test(t.name)) return { message: `Invalid '${at}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, param: `${at}.name`, code: 'invalid_value' };
        if (t.parameters !== undefined && t.parameters !== null && !isObject(t.parameters)) return wrongType(`${at}.parameters`, 'an object', t.parameters);
        ask.tools.push({ name: t.name, parameters: t.parameters });
      } else if (!BUILT_IN_TOOLS.includes(String(t.type))) return invalidValue(t.type, ['function', ...BUILT_IN_TOOLS], `${at}.type`);
    }
  }
  const c = json.tool_choice;
  if (c === undefined || c === null || c === 'auto' || c === 'none') return null;
  if (c === 'required') {
    if (!Array.isArray(json.tools) || json.tools.length === 0) return { message: "Tool choice 'required' must be specified with 'tools' parameter.", param: 'tool_choice' };
    ask.forced = 'required';
    return null;
  }
  if (typeof c === 'string') return invalidValue(c, ['none', 'auto', 'required'], 'tool_choice');
  if (!isObject(c)) return wrongType('tool_choice', 'one of a string or an object', c);
  if (c.type === 'function') {
    if (typeof c.name !== 'string') return missing('tool_choice.name');
    if (!ask.tools.some((t) => t.name === c.name)) return { message: `Tool choice '${c.name}' not found in 'tools' parameter.`, param: 'tool_choice' };
    ask.forced = c.name;
  } else if (c.type !== 'allowed_tools' && !BUILT_IN_TOOLS.includes(String(c.type))) return invalidValue(c.type, ['function', 'allowed_tools', ...BUILT_IN_TOOLS], 'tool_choice.type');
  return null;
}

function checkText(text: unknown, ask: Ask): OpenAIErrorFields | null {
  if (text === undefined || text === null) return null;
  if (!isObject(text)) return wrongType('text', 'an object', text);
  const extra = Object.keys(text).find((k) => k !== 'format' && k !== 'verbosity');
  if (extra) return unknownParam(`text.${extra}`);
  if (text.verbosity !== undefined && text.verbosity !== null && !['low', 'medium', 'high'].includes(String(text.verbosity))) return invalidValue(text.verbosity, ['low', 'medium', 'high'], 'text.verbosity');
  const f = text.format;
  if (f === undefined || f === null) return null;
  if (!isObject(f)) return wrongType('text.format', 'an object', f);
  if (!['text', 'json_object', 'json_schema'].includes(String(f.type))) return invalidValue(f.type, ['text', 'json_object', 'json_schema'], 'text.format.type');
  const fields = f.type === 'json_schema' ? ['type', 'name', 'schema', 'strict', 'description'] : ['type'];
  const unknown = Object.keys(f).find((k) => !fields.includes(k));
  if (unknown) return unknownParam(`text.format.${unknown}`);
  if (f.type === 'json_schema') {
    if (typeof f.name !== 'string') return missing('text.format.name');
    if (!isObject(f.schema)) return missing('text.format.schema');
  }
  ask.format = f;
  return null;
}

function checkReasoning(json: Record<string, unknown>, reasoningModel: boolean): OpenAIErrorFields | null {
  const r = json.reasoning;
  if (r !== undefined && r !== null) {
    if (!isObject(r)) return wrongType('reasoning', 'an object', r);
    const extra = Object.keys(r).find((k) => !['effort', 'summary', 'generate_summary'].includes(k));
    if (extra) return unknownParam(`reasoning.${extra}`);
    if (r.effort !== undefined && r.effort !== null) {
      if (!EFFORTS.includes(String(r.effort))) return invalidValue(r.effort, EFFORTS, 'reasoning.effort');
      if (!reasoningModel) return { message: "Unsupported parameter: 'reasoning.effort' is not supported with this model.", param: 'reasoning.effort', code: 'unsupported_parameter' };
    }
    for (const k of ['summary', 'generate_summary']) if (r[k] !== undefined && r[k] !== null && !SUMMARIES.includes(String(r[k]))) return invalidValue(r[k], SUMMARIES, `reasoning.${k}`);
  }
  if (reasoningModel) {
    for (const k of ['temperature', 'top_p']) if (json[k] !== undefined && json[k] !== null) return { message: `Unsupported parameter: '${k}' is not supported with this model.`, param: k, code: 'unsupported_parameter' };
  }
  return null;
}

/** The first thing wrong with a Responses request body, or what it asks of the answer. */
export function validateResponses(json: unknown, models: Record<string, ModelKind> | string[] | '*'): Problem | Ask {
  if (!isObject(json)) return bad({ message: INVALID_JSON });
  const unknown = Object.keys(json).find((k) => !RESPONSES_PARAMS.has(k));
  if (unknown) return bad(unknownParam(unknown));
  if (json.model === undefined || json.model === null || json.model === '') return bad(missing('model'));
  if (typeof json.model !== 'string') return bad(wrongType('model', 'a string', json.model));
  const served = models === '*' || (Array.isArray(models) ? models.includes(json.model) : models[json.model] === 'chat');
  if (!served) return bad({ message: `The requested model '${json.model}' does not exist.`, param: 'model', code: 'model_not_found' });
  for (const [name, range] of Object.entries(RESPONSES_RANGES)) {
    if (json[name] === undefined || json[name] === null) continue;
    const err = rangeError(name, json[name], range);
    if (err) return bad(err);
  }
  for (const name of ['stream', 'store', 'parallel_tool_calls', 'background']) {
    if (json[name] !== undefined && json[name] !== null && typeof json[name] !== 'boolean') return bad(wrongType(name, 'a boolean', json[name]));
  }
  if (json.stream_options != null && json.stream !== true) return bad({ message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options' });
  if (json.instructions !== undefined && json.instructions !== null && typeof json.instructions !== 'string') return bad(wrongType('instructions', 'a string', json.instructions));
  if (json.metadata !== undefined && json.metadata !== null) {
    if (!isObject(json.metadata)) return bad(wrongType('metadata', 'an object', json.metadata));
    if (Object.keys(json.metadata).length > 16) return bad({ message: "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with " + Object.keys(json.metadata).length + ' properties instead.', param: 'metadata', code: 'object_above_max_properties' });
    for (const [k, v] of Object.entries(json.metadata)) if (typeof v !== 'string') return bad(wrongType(`metadata.${k}`, 'a string', v));
  }
  const include = json.include ?? [];
  if (!Array.isArray(include)) return bad(wrongType('include', 'an array', include));
  for (const [i, v] of include.entries()) if (!INCLUDABLE.includes(String(v))) return bad(invalidValue(v, INCLUDABLE, `include[${i}]`));

  const ask: Ask = { tools: [], forced: undefined, called: new Set(), texts: [], format: undefined, include: include as string[] };
  if (typeof json.instructions === 'string') ask.texts.push(json.instructions);
  const problem = checkTools(json, ask) ?? checkText(json.text, ask) ?? checkReasoning(json, REASONING_MODEL.test(json.model));
  if (problem) return bad(problem);
  if (json.previous_response_id !== undefined && json.previous_response_id !== null) {
    if (typeof json.previous_response_id !== 'string') return bad(wrongType('previous_response_id', 'a string', json.previous_response_id));
    return bad({ message: `Previous response with id '${json.previous_response_id}' not found.`, param: 'previous_response_id', code: 'previous_response_not_found' });
  }
  if (json.input === undefined || json.input === null) return bad(missing('input'));
  return checkInput(json.input, ask, json.store !== false) ?? ask;
}

// ---------------------------------------------------------------------------------------------
// The answer

interface Built {
  response: Record<string, unknown>;
  /** Output items as they end; the stream adds their pieces. */
  items: Record<string, any>[];
}

function buildResponse(ctx: HandlerCtx, json: Record<string, any>, ask: Ask): Built {
  const model = json.model as string;
  const id = ctx.ids.next('resp_mock');
  const prompt = ask.texts.reduce((n, t) => n + countTokens(t), 0);
  const reasoningModel = REASONING_MODEL.test(model);
  const effort = isObject(json.reasoning) && typeof json.reasoning.effort === 'string' ? json.reasoning.effort : 'medium';
  const reasoningTokens = reasoningModel ? (REASONING_TOKENS[effort] ?? 0) : 0;
  const items: Record<string, any>[] = [];

  if (reasoningModel) {
    const rsId = ctx.ids.next('rs_mock');
    const summary = isObject(json.reasoning) && (json.reasoning.summary ?? json.reasoning.generate_summary) ? [{ type: 'summary_text', text: THINKING_TEXT }] : [];
    items.push({ id: rsId, type: 'reasoning', summary, ...(ask.include.includes('reasoning.encrypted_content') ? { encrypted_content: encryptedReasoning(rsId) } : {}) });
  }
  const call = pickToolCall(ask.tools, ask.forced, ask.called, ctx.text, id);
  let status = 'completed';
  let outputTokens = reasoningTokens;
  if (call) {
    items.push({ id: ctx.ids.next('fc_mock'), type: 'function_call', status: 'completed', arguments: call.arguments, call_id: call.id, name: call.name });
    outputTokens += countTokens(call.arguments.replace(/[{}":,]/g, ' ')) || 1;
  } else {
    const f = ask.format;
    let text = f?.type === 'json_schema' ? JSON.stringify(schemaValue(f.schema, ctx.text)) : f?.type === 'json_object' ? JSON.stringify({ answer: ctx.text }) : ctx.text;
    if (typeof json.max_output_tokens === 'number' && !f) {
      const cut = truncateTokens(text, Math.max(0, json.max_output_tokens - reasoningTokens));
      if (cut.truncated) [text, status] = [cut.text, 'incomplete'];
    }
    items.push({ id: ctx.ids.next('msg_mock'), type: 'message', status, content: [{ type: 'output_text', annotations: [], logprobs: [], text }], role: 'assistant' });
    outputTokens += countTokens(text);
  }
  const cached = cachedTokens(ctx, [json.instructions, json.input], prompt);
  const response = {
    id,
    object: 'response',
    created_at: ctx.ids.seconds(),
    status,
    background: false,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: json.instructions ?? null,
    max_output_tokens: json.max_output_tokens ?? null,
    max_tool_calls: json.max_tool_calls ?? null,
    model,
    output: items,
    parallel_tool_calls: json.parallel_tool_calls ?? true,
    previous_response_id: null,
    prompt_cache_key: json.prompt_cache_key ?? null,
    reasoning: { effort: reasoningModel ? effort : null, summary: isObject(json.reasoning) ? (json.reasoning.summary ?? null) : null },
    safety_identifier: json.safety_identifier ?? null,
    service_tier: 'default',
    store: json.store ?? true,
    temperature: json.temperature ?? 1,
    text: { format: ask.format ?? { type: 'text' }, verbosity: isObject(json.text) ? (json.text.verbosity ?? 'medium') : 'medium' },
    tool_choice: json.tool_choice ?? 'auto',
    tools: json.tools ?? [],
    top_logprobs: json.top_logprobs ?? 0,
    top_p: json.top_p ?? 1,
    truncation: json.truncation ?? 'disabled',
    usage: {
      input_tokens: prompt,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: prompt + outputTokens,
    },
    user: json.user ?? null,
    metadata: json.metadata ?? {},
  };
  return { response, items };
}

/** The documented event sequence for a built response, each event numbered from 0. */
export function responseEvents(built: Built, chunks: number | null): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  const emit = (type: string, fields: Record<string, unknown>): void => {
    events.push({ type, sequence_number: events.length, ...fields });
  };
  const pending = { ...built.response, status: 'in_progress', output: [], usage: null, incomplete_details: null };
  emit('response.created', { response: pending });
  emit('response.in_progress', { response: pending });
  for (const [output_index, item] of built.items.entries()) {
    const item_id = item.id;
    if (item.type === 'message') {
      const part = item.content[0];
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
      emit('response.content_part.added', { item_id, output_index, content_index: 0, part: { ...part, text: '' } });
      for (const delta of splitChunks(part.text, chunks)) emit('response.output_text.delta', { item_id, output_index, content_index: 0, delta, logprobs: [] });
      emit('response.output_text.done', { item_id, output_index, content_index: 0, text: part.text, logprobs: [] });
      emit('response.content_part.done', { item_id, output_index, content_index: 0, part });
    } else if (item.type === 'function_call') {
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
      for (const delta of splitChunks(item.arguments, 3)) emit('response.function_call_arguments.delta', { item_id, output_index, delta });
      emit('response.function_call_arguments.done', { item_id, output_index, name: item.name, arguments: item.arguments });
    } else {
      emit('response.output_item.added', { output_index, item: { ...item, summary: [] } });
      for (const [summary_index, s] of item.summary.entries()) {
        emit('response.reasoning_summary_part.added', { item_id, output_index, summary_index, part: { type: 'summary_text', text: '' } });
        for (const delta of splitChunks(s.text, null)) emit('response.reasoning_summary_text.delta', { item_id, output_index, summary_index, delta });
        emit('response.reasoning_summary_text.done', { item_id, output_index, summary_index, text: s.text });
        emit('response.reasoning_summary_part.done', { item_id, output_index, summary_index, part: s });
      }
    }
    emit('response.output_item.done', { output_index, item });
  }
  emit(built.response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: built.response });
  return events;
}

/** `POST /v1/responses` on the OpenAI mock. */
export function responsesReply(ctx: HandlerCtx, models: Record<string, ModelKind> | string[] | '*', headers: Record<string, string>): Reply {
  const checked = validateResponses(ctx.req.json, models);
  if ('error' in checked) return openaiError(checked.status, checked.error);
  const json = ctx.req.json as Record<string, unknown>;
  const built = buildResponse(ctx, json, checked);
  if (!(ctx.forceStream || json.stream === true)) return { kind: 'json', status: 200, headers, body: built.response } satisfies JsonReply;
  const events = responseEvents(built, ctx.chunks);
  return {
    kind: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    headers,
    frames: events.map((e) => sse(e, e.type as string)),
    filler: (i) => sse({ type: 'response.output_text.delta', sequence_number: events.length + i, item_id: 'msg_filler', output_index: 0, content_index: 0, delta: '.', logprobs: [] }, 'response.output_text.delta'),
  };
}
