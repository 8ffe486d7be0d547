/**
 * Anthropic Messages API: `POST /v1/messages`, `POST /v1/messages/count_tokens` (and the retired `POST /v1/complete`).
 *
 * Sources:
 * - Count tokens (https://docs.claude.com/en/api/messages-count-tokens, SDK `MessageCountTokensParams`):
 *   `POST /v1/messages/count_tokens` takes the Messages body without `max_tokens`, sampling or
 *   `stream` (those are "Extra inputs") and answers `{"input_tokens": N}`: here the same count the
 *   usage of a Message splits into input, cache writes and cache reads.
 * - Messages API reference / SDK params (anthropic-sdk-python `types/message_create_params.py`):
 *   required `model`, `max_tokens`, `messages`; roles `user` and `assistant` only (consecutive
 *   same-role turns are merged, the first turn may be `assistant` on the first-party API); the system
 *   prompt is the top-level `system`; `temperature` 0.0–1.0; `top_p`, `top_k`; unknown fields are
 *   refused ("<field>: Extra inputs are not permitted").
 * - Errors (docs.anthropic.com/en/api/errors): `{"type":"error","error":{"type":...,"message":...},"request_id":...}`,
 *   400 invalid_request_error, 401 authentication_error, 404 not_found_error, 429 rate_limit_error,
 *   500 api_error, 529 overloaded_error. Messages quoted from the live API in public reports:
 *   "x-api-key header is required" / "invalid x-api-key" (401), "anthropic-version: header is required" (400,
 *   envoyproxy/ai-gateway#1909), "messages: Unexpected role \"system\". The Messages API accepts a top-level
 *   `system` parameter, not \"system\" as an input message role." (ChainForge#271), "temperature: range: 0..1"
 *   (anthropic-sdk-python#893), "model: <name>" 404 not_found_error, "\"claude-3-...\" is not supported on this
 *   API. Please use the Messages API instead." for `/v1/complete` with a current model.
 * - Streaming (docs "Streaming Messages"): SSE with `event:` lines: message_start, content_block_start,
 *   ping, content_block_delta (text_delta)..., content_block_stop, message_delta (stop_reason, usage.output_tokens),
 *   message_stop.
 * - Versions (docs "Versioning"): `anthropic-version` is `2023-06-01` (or the older `2023-01-01`).
 * - Issue 17's features, from the API reference and the request types of `@anthropic-ai/sdk`
 *   (`resources/messages/messages.ts`, `resources/beta/messages/messages.ts`):
 *   - Extended thinking ("Extended thinking", "Adaptive thinking"): `thinking` {type:'enabled',
 *     budget_tokens >= 1024 and < max_tokens} | {type:'disabled'} | {type:'adaptive'} (Claude Opus/
 *     Sonnet 4.6 and later; Opus 4.7 and Mythos take only adaptive); `output_config.effort`
 *     (Opus 4.5 and later); with thinking: temperature only 1, no top_k, top_p >= 0.95, no forced
 *     tool_choice ("Thinking may not be enabled when tool_choice forces tool use."); thinking blocks
 *     need their `signature` (checked against the thinking text, as the real API verifies it), come
 *     first in their assistant turn, are refused in a final assistant turn when thinking is off, and
 *     are required at the start of the assistant turn of an open tool loop when it is on (the live
 *     API's messages, quoted in public reports). Answers start with a `thinking` block (streamed:
 *     thinking_delta ..., signature_delta) and report `usage.output_tokens_details.thinking_tokens`.
 *   - Tool use: `tools` (name `^[a-zA-Z0-9_-]{1,128}$`, `input_schema` of type object),
 *     `tool_choice` auto/any/tool/none (+ disable_parallel_tool_use), only with tools; tool_use ids
 *     `^[a-zA-Z0-9_-]+$`; every tool_use answered by a tool_result in the next user turn and the other
 *     way round. The mock calls a tool when tool_choice forces one (`tool`: that one; `any`: the first
 *     not yet called in the conversation, else the last), with an input built from its schema;
 *     streamed, `input_json_delta` starts with an empty `partial_json` (all a zero-argument tool gets).
 *   - Prompt caching: `cache_control` {type:'ephemeral', ttl '5m'|'1h'} on tools, system blocks and
 *     content blocks, at most 4 ("A maximum of 4 blocks with cache_control may be provided. Found
 *     N."), not on empty text blocks. A prefix up to a breakpoint of at least 1024 tokens is written to
 *     the mock's cache the first time (`cache_creation_input_tokens`) and read afterwards
 *     (`cache_read_input_tokens`); `input_tokens` counts the rest.
 *   - Structured outputs: `output_config.format` {type:'json_schema', schema} (GA, Claude 4.5 models
 *     and later; objects need `additionalProperties: false`), or the beta `output_format` only with
 *     `anthropic-beta: structured-outputs-2025-11-13` (or -2025-12-15); the answer is JSON built
 *     from the schema. Messages for model-capability refusals are the mock's own wording.
 */
import { createHash } from 'node:crypto';
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { sse } from './server.ts';
import { countTokens, cutAtStop, isObject, splitChunks, textOf, tokensOf, truncateTokens } from './text.ts';
import { schemaValue } from './schema-value.ts';

export interface AnthropicOptions {
  key?: string | null;
  /** Models served, or `'*'` for any. */
  models?: string[] | '*';
}

export const ANTHROPIC_MODELS = [
  'claude-3-haiku-20240307', 'claude-3-opus-20240229', 'claude-3-5-haiku-20241022', 'claude-3-5-haiku-latest',
  'claude-3-5-sonnet-20241022', 'claude-3-5-sonnet-latest', 'claude-3-7-sonnet-20250219', 'claude-3-7-sonnet-latest',
  'claude-sonnet-4-20250514', 'claude-sonnet-4-0', 'claude-opus-4-20250514', 'claude-opus-4-0',
  'claude-opus-4-1-20250805', 'claude-opus-4-1', 'claude-sonnet-4-5-20250929', 'claude-sonnet-4-5',
  'claude-haiku-4-5-20251001', 'claude-haiku-4-5', 'claude-opus-4-5-20251101', 'claude-opus-4-5',
  'claude-opus-4-6', 'claude-sonnet-4-6', 'claude-opus-4-7',
];

const VERSIONS = ['2023-06-01', '2023-01-01'];

/** Beta headers that enable the beta `output_format` parameter. */
export const STRUCTURED_OUTPUT_BETAS = ['structured-outputs-2025-11-13', 'structured-outputs-2025-12-15'];

/** Top-level fields of Create a Message (SDK `MessageCreateParamsBase`). */
const FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'cache_control', 'container', 'inference_geo', 'metadata', 'output_config',
  'service_tier', 'stop_sequences', 'stream', 'system', 'temperature', 'thinking', 'tool_choice', 'tools', 'top_k', 'top_p',
]);

/** Top-level fields of Count tokens in a Message (SDK `MessageCountTokensParams`): no `max_tokens`, no sampling, no `stream`. */
const COUNT_FIELDS = new Set(['model', 'messages', 'cache_control', 'output_config', 'speed', 'system', 'thinking', 'tool_choice', 'tools']);

/** Numeric fields and their documented bounds; the message text follows the live API ("temperature: range: 0..1"). */
const RANGES: Record<string, { min: number; max?: number; int?: boolean }> = {
  temperature: { min: 0, max: 1 },
  top_p: { min: 0, max: 1 },
  top_k: { min: 0, int: true },
};

const TOOL_FIELDS = new Set(['name', 'description', 'input_schema', 'cache_control', 'strict', 'type', 'defer_loading', 'eager_input_streaming', 'input_examples', 'allowed_callers']);
const BLOCK_TYPES = new Set(['text', 'image', 'document', 'thinking', 'redacted_thinking', 'tool_use', 'tool_result', 'search_result']);
const THINKING_DOCS = 'Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking';
/** The smallest prefix Anthropic caches (Claude Sonnet/Opus: 1024 tokens). */
export const MIN_CACHEABLE_TOKENS = 1024;
/** The thinking every thinking answer starts with. */
export const MOCK_THINKING = 'The user asks a question. I will answer it briefly.';

/** What the mock knows of a model (the models overview / feature pages); unknown names get none of these. */
function capabilities(model: string): { thinking: boolean; adaptive: boolean; adaptiveOnly: boolean; effort: boolean; structured: boolean } {
  const m = /claude-(opus|sonnet|haiku|mythos)-(\d+)(?:-(\d)(?!\d))?/.exec(model);
  const legacy = /claude-3-7-sonnet/.test(model);
  if (!m) return { thinking: legacy, adaptive: false, adaptiveOnly: false, effort: false, structured: false };
  const family = m[1];
  const v = m[2] === undefined ? 99 : Number(m[2]) + (m[3] === undefined ? 0 : Number(m[3]) / 10);
  const mythos = family === 'mythos';
  return {
    thinking: mythos || v >= 4,
    adaptive: mythos || (family !== 'haiku' && v >= 4.6),
    adaptiveOnly: mythos || (family === 'opus' && v >= 4.7),
    effort: mythos || (family === 'opus' && v >= 4.5) || (family === 'sonnet' && v >= 4.6),
    structured: mythos || v >= 4.5,
  };
}

/** The signature of a thinking text: the mock verifies a thinking block came back unmodified. */
export function thinkingSignature(thinking: string): string {
  return `EqMock${createHash('sha256').update(`mock-thinking:${thinking}`).digest('base64')}`;
}

function anthropicError(status: number, type: string, message: string, ctx: HandlerCtx): JsonReply {
  const requestId = ctx.ids.next('req_mock');
  return { kind: 'json', status, headers: { 'request-id': requestId }, body: { type: 'error', error: { type, message }, request_id: requestId } };
}

type Problem = [number, string, string];
const invalid = (message: string): Problem => [400, 'invalid_request_error', message];

/** What a valid request asks of the answer. */
interface Ask {
  thinking: { display: string } | null;
  tools: { name: string; schema: unknown }[];
  choice: Record<string, unknown> | undefined;
  /** The JSON schema the answer must follow (structured outputs). */
  format: unknown;
  /** Each cache breakpoint: the prefix up to it (a key) and its tokens. */
  breakpoints: { key: string; tokens: number }[];
  /** Tool names the conversation already called. */
  called: Set<string>;
}

function blocksOf(content: unknown): unknown[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : Array.isArray(content) ? content : [];
}

function cacheProblem(value: unknown, at: string): Problem | null {
  if (!isObject(value)) return invalid(`${at}.cache_control: Input should be a valid dictionary`);
  if (value.type !== 'ephemeral') return invalid(`${at}.cache_control.type: Input should be 'ephemeral'`);
  if (value.ttl !== undefined && value.ttl !== '5m' && value.ttl !== '1h') return invalid(`${at}.cache_control.ttl: Input should be '5m' or '1h'`);
  const extra = Object.keys(value).find((k) => k !== 'type' && k !== 'ttl');
  return extra ? invalid(`${at}.cache_control.${extra}: Extra inputs are not permitted`) : null;
}

/** Objects in a structured-outputs schema must close their properties. */
function schemaProblem(schema: unknown, at: string): Problem | null {
  if (!isObject(schema)) return null;
  if ((schema.type === 'object' || isObject(schema.properties)) && schema.additionalProperties !== false) {
    return invalid(`${at}: For 'object' type, 'additionalProperties' must be explicitly set to false`);
  }
  for (const key of ['properties', '$defs', 'definitions']) {
    if (isObject(schema[key])) for (const [name, sub] of Object.entries(schema[key])) {
      const p = schemaProblem(sub, `${at}.${key}.${name}`);
      if (p) return p;
    }
  }
  for (const key of ['items', 'anyOf', 'oneOf', 'allOf']) {
    const subs = Array.isArray(schema[key]) ? schema[key] : schema[key] !== undefined ? [schema[key]] : [];
    for (const sub of subs) {
      const p = schemaProblem(sub, `${at}.${key}`);
      if (p) return p;
    }
  }
  return null;
}

/** The first problem with a Messages body, as `[status, type, message]`, or what it asks of the answer. */
function validate(json: unknown, models: string[] | '*', betas: string[], count = false): Problem | Ask {
  if (!isObject(json)) return invalid('There was an error parsing the body of your request. Please make sure it is valid JSON.');
  const betaFormat = STRUCTURED_OUTPUT_BETAS.some((b) => betas.includes(b));
  const fields = count ? COUNT_FIELDS : FIELDS;
  const extra = Object.keys(json).find((k) => !fields.has(k) && !(k === 'output_format' && betaFormat));
  if (extra) return invalid(`${extra}: Extra inputs are not permitted`);
  for (const field of count ? ['model', 'messages'] : ['model', 'max_tokens', 'messages']) {
    if (json[field] === undefined) return invalid(`${field}: Field required`);
  }
  if (typeof json.model !== 'string') return invalid('model: Input should be a valid string');
  if (!count) {
    if (typeof json.max_tokens !== 'number' || !Number.isInteger(json.max_tokens)) return invalid('max_tokens: Input should be a valid integer');
    if (json.max_tokens < 0) return invalid('max_tokens: Input should be greater than or equal to 0');
  }
  if (!Array.isArray(json.messages)) return invalid('messages: Input should be a valid list');
  if (json.messages.length === 0) return invalid('messages: at least one message is required');
  for (const [i, m] of json.messages.entries()) {
    if (!isObject(m)) return invalid(`messages.${i}: Input should be a valid dictionary`);
    if (m.role === 'system') {
      return invalid('messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.');
    }
    if (m.role !== 'user' && m.role !== 'assistant') return invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (m.content === undefined) return invalid(`messages.${i}.content: Field required`);
    if (m.content === '' || (Array.isArray(m.content) && m.content.length === 0)) return invalid('messages: text content blocks must be non-empty');
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) return invalid(`messages.${i}.content: Input should be a valid string or list`);
  }
  if (json.system !== undefined && typeof json.system !== 'string' && !Array.isArray(json.system)) return invalid('system: Input should be a valid string');
  for (const [name, r] of Object.entries(RANGES)) {
    const v = json[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || (r.int && !Number.isInteger(v))) return invalid(`${name}: Input should be a valid ${r.int ? 'integer' : 'number'}`);
    if (v < r.min || (r.max !== undefined && v > r.max)) return invalid(r.max !== undefined ? `${name}: range: ${r.min}..${r.max}` : `${name}: Input should be greater than or equal to ${r.min}`);
  }
  if (models !== '*' && !models.includes(json.model)) return [404, 'not_found_error', `model: ${json.model}`];
  return validateFeatures(json, json.model, json.messages as Record<string, unknown>[]);
}

function validateFeatures(json: Record<string, unknown>, model: string, messages: Record<string, unknown>[]): Problem | Ask {
  const caps = capabilities(model);
  let cacheMarks = 0;
  const breakpoints: Ask['breakpoints'] = [];
  const prefix: unknown[] = [];
  let prefixTokens = 0;
  const mark = (value: unknown, at: string): Problem | null => {
    if (value === undefined || value === null) return null;
    const p = cacheProblem(value, at);
    if (p) return p;
    cacheMarks++;
    breakpoints.push({ key: createHash('sha256').update(JSON.stringify(prefix)).digest('hex'), tokens: prefixTokens });
    return null;
  };

  // tools
  const tools: Ask['tools'] = [];
  if (json.tools !== undefined) {
    if (!Array.isArray(json.tools)) return invalid('tools: Input should be a valid list');
    for (const [i, t] of json.tools.entries()) {
      if (!isObject(t)) return invalid(`tools.${i}: Input should be a valid dictionary`);
      const field = Object.keys(t).find((k) => !TOOL_FIELDS.has(k));
      if (field) return invalid(`tools.${i}.custom.${field}: Extra inputs are not permitted`);
      if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) return invalid(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (!isObject(t.input_schema)) return invalid(`tools.${i}.custom.input_schema: Field required`);
      if (t.input_schema.type !== 'object') return invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
      if (t.strict === true) {
        const p = schemaProblem(t.input_schema, `tools.${i}.custom.input_schema`);
        if (p) return p;
      }
      tools.push({ name: t.name, schema: t.input_schema });
      prefix.push(t);
      const p = mark(t.cache_control, `tools.${i}.custom`);
      if (p) return p;
    }
  }
  let choice: Record<string, unknown> | undefined;
  if (json.tool_choice !== undefined) {
    const c = json.tool_choice;
    if (!isObject(c) || !['auto', 'any', 'tool', 'none'].includes(String(c.type))) return invalid("tool_choice: Input tag found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
    if (tools.length === 0) return invalid('tool_choice: tool_choice may only be specified while providing tools.');
    if (c.type === 'tool' && !tools.some((t) => t.name === c.name)) return invalid(`tool_choice.tool.name: Tool '${String(c.name)}' not found in tools`);
    if (c.disable_parallel_tool_use !== undefined && (typeof c.disable_parallel_tool_use !== 'boolean' || c.type === 'none')) return invalid(`tool_choice.${String(c.type)}.disable_parallel_tool_use: Extra inputs are not permitted`);
    choice = c;
  }

  // system
  if (Array.isArray(json.system)) {
    for (const [j, b] of json.system.entries()) {
      if (!isObject(b) || b.type !== 'text' || typeof b.text !== 'string') return invalid(`system.${j}: Input should be a valid text block`);
      if (b.text === '') return invalid(b.cache_control ? 'system: cache_control cannot be set for empty text blocks' : 'system: text content blocks must be non-empty');
      prefix.push(b.text);
      prefixTokens += countTokens(b.text);
      const p = mark(b.cache_control, `system.${j}`);
      if (p) return p;
    }
  } else if (typeof json.system === 'string') {
    prefix.push(json.system);
    prefixTokens += countTokens(json.system);
  }

  // thinking
  let thinking: Ask['thinking'] = null;
  if (json.thinking !== undefined) {
    const t = json.thinking;
    if (!isObject(t) || !['enabled', 'disabled', 'adaptive'].includes(String(t.type))) return invalid("thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'");
    if (t.type !== 'disabled' && !caps.thinking) return invalid(`thinking: '${model}' does not support thinking.`);
    if (t.type === 'enabled') {
      if (caps.adaptiveOnly) return invalid(`thinking.type.enabled is not supported for this model. Use thinking.type.adaptive and output_config.effort to control thinking behavior.`);
      if (typeof t.budget_tokens !== 'number' || !Number.isInteger(t.budget_tokens)) return invalid('thinking.enabled.budget_tokens: Field required');
      if (t.budget_tokens < 1024) return invalid('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      if (json.max_tokens !== undefined && (json.max_tokens as number) <= t.budget_tokens) return invalid(`\`max_tokens\` must be greater than \`thinking.budget_tokens\`. ${THINKING_DOCS}#max-tokens-and-context-window-size`);
    }
    if (t.type === 'adaptive' && !caps.adaptive) return invalid(`thinking.type.adaptive is not supported for this model.`);
    if (t.type === 'disabled' && caps.adaptiveOnly) return invalid('thinking.type.disabled is not supported for this model.');
    if (t.display !== undefined && t.display !== 'summarized' && t.display !== 'omitted') return invalid(`thinking.${String(t.type)}.display: Input should be 'summarized' or 'omitted'`);
    // Opus 4.7 and later omit the thinking text by default ("What's new in Claude Opus 4.7").
    if (t.type !== 'disabled') thinking = { display: typeof t.display === 'string' ? t.display : caps.adaptiveOnly ? 'omitted' : 'summarized' };
  }
  if (thinking) {
    if (json.temperature !== undefined && json.temperature !== 1) return invalid(`\`temperature\` may only be set to 1 when thinking is enabled. ${THINKING_DOCS}#feature-compatibility`);
    if (json.top_k !== undefined) return invalid(`\`top_k\` may not be set when thinking is enabled. ${THINKING_DOCS}#feature-compatibility`);
    if (typeof json.top_p === 'number' && json.top_p < 0.95) return invalid(`\`top_p\` must be greater than or equal to 0.95 when thinking is enabled. ${THINKING_DOCS}#feature-compatibility`);
    if (choice && (choice.type === 'any' || choice.type === 'tool')) return invalid('Thinking may not be enabled when tool_choice forces tool use.');
  }
  if (caps.structured && json.temperature !== undefined && json.top_p !== undefined) return invalid('`temperature` and `top_p` cannot both be specified for this model. Please use only one.');

  // output_config / output_format
  let format: unknown;
  if (json.output_config !== undefined) {
    const oc = json.output_config;
    if (!isObject(oc)) return invalid('output_config: Input should be a valid dictionary');
    const field = Object.keys(oc).find((k) => k !== 'format' && k !== 'effort');
    if (field) return invalid(`output_config.${field}: Extra inputs are not permitted`);
    if (oc.effort !== undefined && oc.effort !== null) {
      if (!['low', 'medium', 'high', 'xhigh', 'max'].includes(String(oc.effort))) return invalid("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'");
      if (!caps.effort) return invalid(`output_config.effort: '${model}' does not support the effort parameter.`);
    }
    if (oc.format !== undefined && oc.format !== null) format = oc.format;
  }
  if (json.output_format !== undefined && json.output_format !== null) {
    if (format !== undefined) return invalid('output_format: output_format and output_config.format cannot both be given; output_format is deprecated.');
    format = json.output_format;
  }
  let formatSchema: unknown;
  if (format !== undefined) {
    if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema)) return invalid("output_config.format: Input should be {'type': 'json_schema', 'schema': {...}}");
    if (!caps.structured) return invalid(`output_config.format: '${model}' does not support structured outputs.`);
    const p = schemaProblem(format.schema, 'output_config.format.schema');
    if (p) return p;
    formatSchema = format.schema;
  }

  // messages: blocks, thinking rules, tool pairing, cache marks
  const called = new Set<string>();
  const toolUses: (string[] | null)[] = [];
  for (const [i, m] of messages.entries()) {
    const blocks = blocksOf(m.content);
    const ids: string[] = [];
    let sawThinking = false;
    let firstType: string | undefined;
    for (const [j, b] of blocks.entries()) {
      const at = `messages.${i}.content.${j}`;
      if (!isObject(b)) return invalid(`${at}: Input should be a valid dictionary`);
      const type = String(b.type);
      if (!BLOCK_TYPES.has(type)) return invalid(`${at}: Input tag '${type}' found using 'type' does not match any of the expected tags`);
      firstType ??= type;
      switch (type) {
        case 'text':
          if (typeof b.text !== 'string') return invalid(`${at}.text.text: Field required`);
          if (b.text === '') return invalid(b.cache_control ? `${at}.text: cache_control cannot be set for empty text blocks` : 'messages: text content blocks must be non-empty');
          prefixTokens += countTokens(b.text);
          break;
        case 'thinking':
        case 'redacted_thinking':
          if (m.role !== 'assistant') return invalid(`${at}: thinking blocks are only allowed in assistant messages`);
          if (type === 'thinking') {
            if (typeof b.thinking !== 'string') return invalid(`${at}.thinking.thinking: Field required`);
            if (typeof b.signature !== 'string') return invalid(`${at}.thinking.signature: Field required`);
            if (b.signature !== thinkingSignature(b.thinking)) return invalid(`${at}: Invalid \`signature\` in \`thinking\` block`);
          } else if (typeof b.data !== 'string') return invalid(`${at}.redacted_thinking.data: Field required`);
          if (b.cache_control !== undefined) return invalid(`${at}.${type}.cache_control: Extra inputs are not permitted`);
          sawThinking = true;
          break;
        case 'tool_use':
          if (m.role !== 'assistant') return invalid(`${at}: tool_use blocks are only allowed in assistant messages`);
          if (typeof b.id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(b.id)) return invalid(`${at}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
          if (typeof b.name !== 'string') return invalid(`${at}.tool_use.name: Field required`);
          if (!isObject(b.input)) return invalid(`${at}.tool_use.input: Input should be a valid dictionary`);
          ids.push(b.id);
          called.add(b.name);
          break;
        case 'tool_result': {
          if (m.role !== 'user') return invalid(`${at}: tool_result blocks are only allowed in user messages`);
          if (typeof b.tool_use_id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(b.tool_use_id)) return invalid(`${at}.tool_result.tool_use_id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
          const previous = toolUses[i - 1];
          if (!previous || !previous.includes(b.tool_use_id)) {
            return invalid(`${at}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
          }
          if (b.is_error !== undefined && typeof b.is_error !== 'boolean') return invalid(`${at}.tool_result.is_error: Input should be a valid boolean`);
          for (const [k, inner] of blocksOf(b.content).entries()) {
            if (isObject(inner) && inner.cache_control !== undefined) {
              const p = mark(inner.cache_control, `${at}.tool_result.content.${k}`);
              if (p) return p;
            }
          }
          prefixTokens += countTokens(textOf(b.content));
          break;
        }
        default:
          break;
      }
      prefix.push(b);
      const p = mark(b.cache_control, `${at}.${type}`);
      if (p) return p;
    }
    if (sawThinking && firstType !== 'thinking' && firstType !== 'redacted_thinking') {
      return invalid(`messages.${i}.content.0: If an assistant message contains any thinking blocks, the first block must be thinking or redacted_thinking. Found ${firstType}.`);
    }
    // every tool_use of an assistant turn is answered in the next (user) turn
    const previous = toolUses[i - 1];
    if (m.role === 'user' && previous && previous.length > 0) {
      const answered = new Set(blocks.flatMap((b) => (isObject(b) && b.type === 'tool_result' ? [b.tool_use_id] : [])));
      const missing = previous.filter((id) => !answered.has(id));
      if (missing.length > 0) return invalid(`messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
    toolUses.push(m.role === 'assistant' ? ids : null);
  }
  if (cacheMarks > 4) return invalid(`A maximum of 4 blocks with cache_control may be provided. Found ${cacheMarks}.`);

  const last = messages[messages.length - 1];
  const lastBlocks = blocksOf(last.content);
  if (!thinking && last.role === 'assistant' && lastBlocks.some((b) => isObject(b) && (b.type === 'thinking' || b.type === 'redacted_thinking'))) {
    return invalid(`messages.${messages.length - 1}.content.0: When thinking is disabled, an \`assistant\` message in the final position cannot contain \`thinking\`. To use thinking blocks, enable \`thinking\` in your request.`);
  }
  if (thinking && last.role === 'user' && lastBlocks.some((b) => isObject(b) && b.type === 'tool_result')) {
    // the open tool loop's assistant turn must start with its thinking
    const k = messages.length - 2;
    const first = k >= 0 ? blocksOf(messages[k].content)[0] : undefined;
    const type = isObject(first) ? String(first.type) : 'nothing';
    if (type !== 'thinking' && type !== 'redacted_thinking') {
      return invalid(`messages.${k}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. ${THINKING_DOCS}`);
    }
  }
  return { thinking, tools, choice, format: formatSchema, breakpoints, called };
}

export function anthropicProvider(opts: AnthropicOptions & Record<string, unknown>): ProviderImpl {
  const models = (): string[] | '*' => opts.models ?? ANTHROPIC_MODELS;
  /** Prompt-cache entries: prefix key → its tokens (this mock instance's cache). */
  const cache = new Map<string, number>();
  return {
    handle(ctx): Reply {
      const known = ctx.path === '/v1/messages' || ctx.path === '/v1/messages/count_tokens' || ctx.path === '/v1/complete';
      if (!known || ctx.req.method !== 'POST') return anthropicError(404, 'not_found_error', 'Not Found', ctx);

      // Authentication first, then the version header (both checked before the body).
      const given = ctx.req.headers['x-api-key'];
      if (opts.key) {
        if (typeof given !== 'string' || given === '') return anthropicError(401, 'authentication_error', 'x-api-key header is required', ctx);
        if (given !== opts.key) return anthropicError(401, 'authentication_error', 'invalid x-api-key', ctx);
      }
      const version = ctx.req.headers['anthropic-version'];
      if (typeof version !== 'string' || version === '') return anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required', ctx);
      if (!VERSIONS.includes(version)) return anthropicError(400, 'invalid_request_error', `anthropic-version: unknown version \`${version}\``, ctx);

      if (ctx.path === '/v1/complete') return legacyComplete(ctx, models());

      const beta = ctx.req.headers['anthropic-beta'];
      const betas = (Array.isArray(beta) ? beta.join(',') : (beta ?? '')).split(',').map((b) => b.trim()).filter(Boolean);
      const count = ctx.path === '/v1/messages/count_tokens';
      const checked = validate(ctx.req.json, models(), betas, count);
      if (Array.isArray(checked)) return anthropicError(checked[0], checked[1], checked[2], ctx);
      if (count) return { kind: 'json', status: 200, headers: { 'request-id': ctx.ids.next('req_mock') }, body: { input_tokens: promptTokens(ctx.req.json as Record<string, unknown>) } };
      return messages(ctx, ctx.req.json as Record<string, unknown>, checked, cache);
    },
    errorReply(status, kind, ctx) {
      if (kind === 'rate-limit') return anthropicError(429, 'rate_limit_error', 'This request would exceed the rate limit for your organization of 50 requests per minute. Please try again later.', ctx);
      if (status === 529) return anthropicError(529, 'overloaded_error', 'Overloaded', ctx);
      return anthropicError(status, 'api_error', 'Internal server error', ctx);
    },
  };
}

/** The Text Completions API no longer serves current models (docs "Migrating from Text Completions"). */
function legacyComplete(ctx: HandlerCtx, models: string[] | '*'): Reply {
  const model = isObject(ctx.req.json) ? ctx.req.json.model : undefined;
  if (typeof model !== 'string') return anthropicError(400, 'invalid_request_error', 'model: Field required', ctx);
  if (models === '*' || models.includes(model)) return anthropicError(400, 'invalid_request_error', `"${model}" is not supported on this API. Please use the Messages API instead.`, ctx);
  return anthropicError(404, 'not_found_error', `model: ${model}`, ctx);
}

/** Cache reads and writes for a request's breakpoints: the longest cached prefix is read, the longest new one (>= 1024 tokens) written. */
function cacheUsage(ask: Ask, cache: Map<string, number>): { read: number; written: number } {
  let read = 0;
  for (const b of ask.breakpoints) if (cache.has(b.key)) read = Math.max(read, b.tokens);
  let written = 0;
  for (const b of ask.breakpoints) {
    if (cache.has(b.key) || b.tokens < MIN_CACHEABLE_TOKENS) continue;
    cache.set(b.key, b.tokens);
    written = Math.max(written, b.tokens - read);
  }
  return { read, written };
}

/** The tool the answer calls, if tool_choice forces one. */
function toolToCall(ask: Ask): { name: string; schema: unknown } | null {
  if (ask.tools.length === 0 || !ask.choice) return null;
  if (ask.choice.type === 'tool') return ask.tools.find((t) => t.name === ask.choice!.name) ?? null;
  if (ask.choice.type === 'any') return ask.tools.find((t) => !ask.called.has(t.name)) ?? ask.tools[ask.tools.length - 1];
  return null;
}

/** The prompt's tokens: what count_tokens answers, and what usage splits into input, cache writes and cache reads. */
function promptTokens(body: Record<string, unknown>): number {
  return tokensOf(body.system, ...(body.messages as { content: unknown }[]).map((m) => m.content));
}

function messages(ctx: HandlerCtx, body: Record<string, unknown>, ask: Ask, cache: Map<string, number>): Reply {
  const total = promptTokens(body);
  const { read, written } = cacheUsage(ask, cache);
  const input = Math.max(0, total - read - written);
  const thinking = ask.thinking ? (ask.thinking.display === 'omitted' ? '' : MOCK_THINKING) : null;
  const thinkingTokens = ask.thinking ? countTokens(MOCK_THINKING) : 0;
  const call = toolToCall(ask);
  const toolInput = call ? (schemaValue(call.schema, ctx.text) as Record<string, unknown>) : null;

  let text = ask.format !== undefined ? JSON.stringify(schemaValue(ask.format, ctx.text)) : ctx.text;
  let stopReason: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' = call ? 'tool_use' : 'end_turn';
  let stopSequence: string | null = null;
  if (!call) {
    const stopped = cutAtStop(text, body.stop_sequences);
    if (stopped) [text, stopReason, stopSequence] = [stopped.text, 'stop_sequence', stopped.stop];
    const cut = truncateTokens(text, (body.max_tokens as number) - thinkingTokens);
    if (cut.truncated) [text, stopReason, stopSequence] = [cut.text, 'max_tokens', null];
  }
  const toolJson = toolInput ? JSON.stringify(toolInput) : '';
  const output = (call ? countTokens(toolJson.replace(/[{}":,]/g, ' ')) || 1 : countTokens(text)) + thinkingTokens;

  const id = ctx.ids.next('msg_mock');
  const toolUseId = ctx.ids.next('toolu_mock');
  const model = body.model as string;
  const headers = { 'request-id': ctx.ids.next('req_mock') };
  const usage: Record<string, unknown> = { input_tokens: input, cache_creation_input_tokens: written, cache_read_input_tokens: read, output_tokens: output };
  if (ask.thinking) usage.output_tokens_details = { thinking_tokens: thinkingTokens };
  const thinkingBlock = thinking !== null ? { type: 'thinking', thinking, signature: thinkingSignature(thinking) } : null;

  if (!(ctx.forceStream || body.stream === true)) {
    const content: unknown[] = [];
    if (thinkingBlock) content.push(thinkingBlock);
    content.push(call ? { type: 'tool_use', id: toolUseId, name: call.name, input: toolInput } : { type: 'text', text });
    return { kind: 'json', status: 200, headers, body: { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: stopSequence, usage } };
  }
  const frames = [sse({ type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }, 'message_start')];
  let index = 0;
  if (thinkingBlock) {
    frames.push(sse({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }, 'content_block_start'));
    for (const piece of thinking ? splitChunks(thinking, null) : []) frames.push(sse({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } }, 'content_block_delta'));
    frames.push(sse({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: thinkingBlock.signature } }, 'content_block_delta'));
    frames.push(sse({ type: 'content_block_stop', index }, 'content_block_stop'));
    index++;
  }
  if (call) {
    frames.push(sse({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolUseId, name: call.name, input: {} } }, 'content_block_start'));
    // the first fragment is empty; a tool without arguments gets nothing else
    const pieces = toolJson === '{}' ? [''] : ['', ...splitChunks(toolJson, 2)];
    for (const piece of pieces) frames.push(sse({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }, 'content_block_delta'));
  } else {
    frames.push(sse({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }, 'content_block_start'));
    if (index === 0) frames.push(sse({ type: 'ping' }, 'ping'));
    for (const piece of splitChunks(text, ctx.chunks)) frames.push(sse({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }, 'content_block_delta'));
  }
  frames.push(sse({ type: 'content_block_stop', index }, 'content_block_stop'));
  const deltaUsage: Record<string, unknown> = { output_tokens: output };
  if (ask.thinking) deltaUsage.output_tokens_details = { thinking_tokens: thinkingTokens };
  frames.push(sse({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: stopSequence }, usage: deltaUsage }, 'message_delta'));
  frames.push(sse({ type: 'message_stop' }, 'message_stop'));
  return { kind: 'stream', contentType: 'text/event-stream; charset=utf-8', headers, frames, filler: () => sse({ type: 'ping' }, 'ping') };
}
