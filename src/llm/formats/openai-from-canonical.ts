/**
 * A Chat Completions (or Completions) body built from the canonical request, for clients that did
 * not speak OpenAI's API (issue 18's inbound formats). An OpenAI client's own body takes the fast
 * path instead (openai-compatible.ts: the client's bytes, through the allow-list).
 *
 * Every canonical field is mapped or put through the policy (ctx.unsupported): reasoning state is
 * left out cleanly (it belongs to the provider that made it), as are cache marks.
 */
import { CHAT_FIELDS } from '../../exchange/inbound/openai-chat.ts';
import { effortOfBudget } from '../thinking.ts';
import { DISPLAY_HINTS } from '../../exchange/report.ts';
import type { DriverContext } from '../types.ts';
import type { JsonObject } from '../json.ts';
import type { CanonicalRequest, MediaSource, Message, Part } from '../../exchange/types.ts';
import { RequestError } from '../types.ts';

export interface FromCanonicalOptions {
  provider: string;
  extraFields: readonly string[];
  dropFields: readonly string[];
  dropMessageFields: readonly string[];
  singleChoice: boolean;
  /**
   * The model takes `reasoning_effort` (OpenAI's reasoning models): a thinking budget (an Anthropic
   * client's `thinking.budget_tokens`, Claude Code's default) is sent as the effort it corresponds
   * to (llm/thinking.ts) instead of refused. A budget is a cap either way.
   */
  effortForBudget?: boolean;
}

function url(source: MediaSource): string | null {
  if (source.kind === 'url') return source.url;
  if (source.kind === 'base64') return `data:${source.mediaType};base64,${source.data}`;
  return null;
}

function contentPart(part: Part, path: string, ctx: DriverContext): JsonObject | null {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image': {
      const u = url(part.source);
      if (u === null) {
        ctx.unsupported(path, 'an image by file id');
        return null;
      }
      return { type: 'image_url', image_url: part.detail ? { url: u, detail: part.detail } : { url: u } };
    }
    case 'audio':
      return { type: 'input_audio', input_audio: { data: part.data, format: part.format } };
    case 'file': {
      const file: JsonObject = {};
      if (part.source.kind === 'file_id') file.file_id = part.source.fileId;
      else if (part.source.kind === 'base64') file.file_data = `data:${part.source.mediaType};base64,${part.source.data}`;
      else {
        ctx.unsupported(path, 'a file by URL');
        return null;
      }
      if (part.filename) file.filename = part.filename;
      return { type: 'file', file };
    }
    default:
      return null;
  }
}

function messagesOf(messages: Message[], ctx: DriverContext, options: FromCanonicalOptions): JsonObject[] {
  const out: JsonObject[] = [];
  messages.forEach((m, i) => {
    const path = `messages[${i}]`;
    if (m.role === 'tool') {
      for (const part of m.parts) {
        if (part.type !== 'tool_result') continue;
        const texts = part.content.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);
        if (part.content.some((c) => c.type !== 'text')) ctx.unsupported(`${path}.content`, 'an image in a tool result');
        out.push({ role: 'tool', tool_call_id: part.toolCallId, content: texts.join('\n') });
      }
      return;
    }
    const message: JsonObject = { role: m.role };
    const content: JsonObject[] = [];
    const calls: JsonObject[] = [];
    let refusal: string | undefined;
    m.parts.forEach((part, j) => {
      if (part.type === 'tool_call') calls.push({ id: part.id, type: 'function', function: { name: part.name, arguments: part.arguments } });
      else if (part.type === 'refusal') refusal = (refusal ?? '') + part.text;
      else if (part.type === 'reasoning' || part.type === 'tool_result') return;
      else {
        const c = contentPart(part, `${path}.content[${j}]`, ctx);
        if (c) content.push(c);
      }
    });
    message.content = content.length === 0 ? (calls.length > 0 ? null : '') : content.every((c) => c.type === 'text') ? content.map((c) => c.text).join('') : content;
    if (calls.length > 0) message.tool_calls = calls;
    if (refusal !== undefined && m.role === 'assistant') message.refusal = refusal;
    if (m.name !== undefined) {
      if (options.dropMessageFields.includes('name')) ctx.unsupported(`${path}.name`);
      else message.name = m.name;
    }
    out.push(message);
  });
  return out;
}

export function canonicalToOpenAI(req: CanonicalRequest, ctx: DriverContext, options: FromCanonicalOptions): JsonObject {
  const body: JsonObject = {};
  const s = req.sampling;
  if (req.kind === 'completions') body.prompt = req.prompt ?? '';
  else body.messages = messagesOf(req.messages, ctx, options);
  const put = (field: string, value: unknown): void => {
    if (value === undefined) return;
    if (options.dropFields.includes(field)) ctx.unsupported(field);
    else body[field] = value;
  };
  put('max_tokens', s.maxTokens);
  put('temperature', s.temperature);
  put('top_p', s.topP);
  if (s.topK !== undefined) {
    if (options.extraFields.includes('top_k')) body.top_k = s.topK;
    else ctx.unsupported('top_k');
  }
  put('stop', s.stop);
  put('seed', s.seed);
  put('presence_penalty', s.presencePenalty);
  put('frequency_penalty', s.frequencyPenalty);
  if (s.n !== undefined && s.n !== 1) {
    if (options.singleChoice) throw new RequestError(`n: the ${options.provider} provider returns one choice; expected 1`);
    body.n = s.n;
  }
  put('logprobs', s.logprobs);
  put('top_logprobs', s.topLogprobs);
  put('logit_bias', s.logitBias);
  if (req.tools) {
    const tools: JsonObject[] = [];
    req.tools.forEach((t, i) => {
      if (t.type === 'function') {
        const fn: JsonObject = { name: t.name, parameters: t.parameters };
        if (t.description !== undefined) fn.description = t.description;
        if (t.strict !== undefined) fn.strict = t.strict;
        tools.push({ type: 'function', function: fn });
      } else if (t.name === 'web_search' || t.name === 'web_search_preview') {
        body.web_search_options = t.config;
      } else ctx.unsupported(`tools[${i}]`, `the built-in tool ${t.name}`);
    });
    if (tools.length > 0) body.tools = tools;
  }
  if (req.toolChoice) body.tool_choice = req.toolChoice.type === 'tool' ? { type: 'function', function: { name: req.toolChoice.name } } : req.toolChoice.type;
  if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  if (req.output) {
    const o = req.output;
    body.response_format =
      o.type === 'json_schema'
        ? { type: 'json_schema', json_schema: { name: o.name, schema: o.schema, ...(o.strict !== undefined ? { strict: o.strict } : {}), ...(o.description !== undefined ? { description: o.description } : {}) } }
        : { type: o.type };
  }
  if (req.reasoning?.effort) body.reasoning_effort = req.reasoning.effort;
  else if (req.reasoning?.budgetTokens !== undefined) {
    if (options.effortForBudget) body.reasoning_effort = effortOfBudget(req.reasoning.budgetTokens);
    else ctx.unsupported('reasoning.budget_tokens');
  }
  if (req.user !== undefined) body.user = req.user;
  if (req.metadata) body.metadata = req.metadata;
  // OpenAI fields another API carried (a Responses client's `truncation`, `include` ...) reach a Chat Completions server only when Chat has them
  if (req.openai) {
    for (const [k, v] of Object.entries(req.openai)) {
      if (body[k] !== undefined || v === undefined || v === null || DISPLAY_HINTS.has(k)) continue;
      if (CHAT_FIELDS.has(k)) body[k] = v;
      else ctx.unsupported(k);
    }
  }
  if (req.includeUsage) body.stream_options = { include_usage: true };
  return body;
}
