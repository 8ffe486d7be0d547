/**
 * Anthropic's Messages API (`POST /v1/messages`), for both route types, from and to the canonical
 * exchange (src/exchange/types.ts). Kong 3.6 used the legacy Text Completions API (`/v1/complete`),
 * which current Claude models do not serve: a completions prompt becomes one user message.
 *
 * References (docs.anthropic.com / platform.claude.com, and the request types of
 * `@anthropic-ai/sdk` `resources/messages/messages.ts`): Messages, Streaming Messages, Tool use,
 * Extended thinking (signatures, `redacted_thinking`, `signature_delta`), Adaptive thinking and
 * `output_config.effort`, Prompt caching (`cache_control` {type, ttl}, at most 4 breakpoints, usage
 * `cache_creation_input_tokens` / `cache_read_input_tokens`), Structured outputs.
 *
 * What every canonical field becomes (docs/providers.md, "Anthropic"):
 * - system/developer messages → `system` (a string, or text blocks when one carries a cache mark);
 *   user parts → text, image (url/base64), document (PDF url/base64, plain text) blocks; audio and
 *   provider file ids → `ctx.unsupported`; assistant parts → text, `tool_use` (arguments parsed),
 *   and this provider's own reasoning → `thinking` {thinking, signature} / `redacted_thinking`
 *   {data}, first in the turn (reasoning from other providers is left out: its state means nothing
 *   here); tool messages → `tool_result` blocks in a user turn; cache marks → `cache_control`.
 * - Structured output (`json_schema`, `json_object`): a forced tool whose input schema is the
 *   answer's schema (`tool_choice` {type:'tool'}), unwrapped on the way back into the answer's
 *   text, finish reason `stop`; streamed, the tool's `input_json_delta` fragments are the text.
 *   Anthropic refuses a forced tool choice with thinking, so when thinking is asked as well and
 *   the model has native structured outputs (Claude 4.5 and later) the schema goes in
 *   `output_config.format` instead; otherwise the reasoning request is reported unsupported.
 * - Reasoning: `thinking` {type:'enabled', budget_tokens} (the effort table is llm/thinking.ts,
 *   shared with Bedrock) or, on models with adaptive thinking (Claude 4.6 and later),
 *   {type:'adaptive'} with `output_config.effort`.
 */
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type ParsedAnswer, type StreamEvent } from '../types.ts';
import { argumentsObject, asArray, asCount, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { mapFinishReason } from '../openai-shape.ts';
import { clamp, resolveSampling } from '../params.ts';
import { effortOfBudget, maxTokensWithThinking, thinkingBudget } from '../thinking.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import type {
  CacheMark,
  CanonicalRequest,
  CanonicalResponse,
  FilePart,
  FinishReason,
  ImagePart,
  Message,
  Part,
  ReasoningPart,
  Sampling,
  TextPart,
  ToolCallPart,
  Usage,
} from '../../exchange/types.ts';
import { toolCallId } from '../../exchange/ids.ts';
import { reportOpenAIFields } from '../../exchange/report.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'anthropic';

/** Anthropic requires `max_tokens`; Kong 3.6's schema default is used when neither side sets it. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 256;

/** Anthropic's maximum number of `cache_control` breakpoints in one request. */
export const MAX_CACHE_BREAKPOINTS = 4;

/** The forced tool that carries a structured answer (json_schema / json_object). */
export const JSON_TOOL = 'json_response';

/** The client field a reasoning request came in (OpenAI's `reasoning_effort`, or an explicit budget). */
function reasoningPath(req: CanonicalRequest): string {
  return req.reasoning?.budgetTokens !== undefined ? 'reasoning.budget_tokens' : 'reasoning_effort';
}

const STOP_REASONS: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export const anthropicMessagesFormat: WireFormat = {
  framing: 'sse',
  buildRequest: buildAnthropicRequest,
  parseResponse: parseAnthropicResponse,
  createStreamTranslator: (ctx) => new AnthropicStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// What a model can do

/** What the Messages API offers a model, from its name (the Claude model ids Anthropic documents). */
export interface ClaudeCapabilities {
  /** Extended thinking (Claude 3.7 Sonnet and later; unknown models: let the provider decide). */
  thinking: boolean;
  /** `thinking: {type: 'adaptive'}` with `output_config.effort` (Claude Opus/Sonnet 4.6 and later). */
  adaptive: boolean;
  /** Still takes `thinking: {type: 'enabled', budget_tokens}` (deprecated on 4.6, refused after). */
  budgeted: boolean;
  /** `output_config.format` structured outputs and `strict` tools (Claude 4.5 and later). */
  structuredOutputs: boolean;
}

export function claudeCapabilities(model: string): ClaudeCapabilities {
  const version = claudeVersion(model);
  if (version === undefined) return { thinking: true, adaptive: false, budgeted: true, structuredOutputs: false };
  const { family, number } = version;
  const newFamily = family === 'mythos' || family === 'fable';
  const adaptive = newFamily || number >= 5 || (family !== 'haiku' && number >= 4.6);
  return {
    thinking: newFamily || number >= 3.7,
    adaptive,
    budgeted: !newFamily && number <= 4.6,
    structuredOutputs: newFamily || number >= 4.5,
  };
}

/** `claude-sonnet-4-5-20250929` → sonnet 4.5; `claude-3-7-sonnet-latest` → sonnet 3.7; `claude-opus-4-20250514` → opus 4. */
function claudeVersion(model: string): { family: string; number: number } | undefined {
  const modern = /claude-(opus|sonnet|haiku|mythos|fable)(?:-(\d+)(?:-(\d)(?!\d))?)?/.exec(model);
  if (modern) return { family: modern[1], number: modern[2] === undefined ? 99 : Number(modern[2]) + (modern[3] === undefined ? 0 : Number(modern[3]) / 10) };
  const legacy = /claude-(\d)(?:-(\d))?-(opus|sonnet|haiku)/.exec(model);
  if (legacy) return { family: legacy[3], number: Number(legacy[1]) + (legacy[2] === undefined ? 0 : Number(legacy[2]) / 10) };
  const old = /claude-(\d)(?:\.(\d))?/.exec(model);
  if (old) return { family: 'claude', number: Number(old[1]) + (old[2] === undefined ? 0 : Number(old[2]) / 10) };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// What a request's answer needs to be read (kept per request: one DriverContext per call)

interface AnswerPlan {
  /** The forced tool carrying the structured answer, if one was added. */
  jsonTool?: string;
  /** The schema was not an object: the tool's input is `{value: ...}` and the answer is `value`. */
  wrapped?: boolean;
}

const plans = new WeakMap<DriverContext, AnswerPlan>();

function planOf(ctx: DriverContext): AnswerPlan {
  return plans.get(ctx) ?? {};
}

// ---------------------------------------------------------------------------------------------
// Request

type Role = 'user' | 'assistant';
type Block = JsonObject;
interface AnthropicMessage {
  role: Role;
  content: string | Block[];
}

/** Counts cache breakpoints in Anthropic's order (tools, system, messages); past the 4th, the policy decides. */
class CacheMarks {
  #used = 0;
  readonly #ctx: DriverContext;
  constructor(ctx: DriverContext) {
    this.#ctx = ctx;
  }

  /** The `cache_control` for a mark at `path`, or undefined (no mark, or one over the limit that the policy dropped). */
  control(mark: CacheMark | undefined, path: string): JsonObject | undefined {
    if (!mark) return undefined;
    if (this.#used >= MAX_CACHE_BREAKPOINTS) {
      this.#ctx.unsupported(`${path}.cache_control`, `more than ${MAX_CACHE_BREAKPOINTS} cache breakpoints in one request`);
      return undefined;
    }
    this.#used++;
    return mark.ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl: mark.ttl };
  }

  /** A mark with no block that can carry it (a message of thinking only). */
  nowhere(path: string): void {
    this.#ctx.unsupported(`${path}.cache_control`, 'a cache mark on a message with no block that can carry one');
  }
}

function withCache(block: Block, control: JsonObject | undefined): Block {
  if (control) block.cache_control = control;
  return block;
}

function buildAnthropicRequest(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const caps = claudeCapabilities(ctx.model);
  const sampling = resolveSampling(req.sampling, ctx.options);
  reportSampling(req.sampling, ctx);
  reportUnmapped(req, ctx);

  const marks = new CacheMarks(ctx);
  const messages = conversation(req);

  // What the answer must look like decides the tools; reasoning gives way where Anthropic refuses both.
  let thinkingWanted = wantsThinking(req, caps, ctx);
  const output = req.output;
  const structured = output && output.type !== 'text' ? output : undefined;
  const clientForces = req.toolChoice?.type === 'required' || req.toolChoice?.type === 'tool';
  const hasClientTools = (req.tools ?? []).length > 0;
  let nativeFormat: JsonObject | undefined;
  let jsonTool: { schema: JsonObject; description: string; wrapped: boolean } | undefined;
  if (structured && req.toolChoice?.type === 'required' && hasClientTools) {
    // The answer must be a call of the client's tools: a structured text answer cannot be asked for too.
    ctx.unsupported('response_format', 'a structured answer with tool_choice required (the answer is a tool call)');
  } else if (structured) {
    if (structured.type === 'json_schema' && thinkingWanted && caps.structuredOutputs && !clientForces) {
      nativeFormat = { type: 'json_schema', schema: structured.schema };
    } else {
      const schema = structured.type === 'json_schema' ? structured.schema : { type: 'object' };
      const wrapped = schema.type !== 'object';
      const description = structured.type === 'json_schema'
        ? `Respond with the answer${structured.name ? ` '${structured.name}'` : ''}${structured.description ? ` (${structured.description})` : ''} as this tool's input.`
        : 'Respond with the answer, a JSON object, as this tool\'s input.';
      jsonTool = { schema: wrapped ? { type: 'object', properties: { value: schema }, required: ['value'] } : schema, description, wrapped };
    }
  }
  if (thinkingWanted && (jsonTool || (clientForces && hasClientTools))) {
    ctx.unsupported(reasoningPath(req), jsonTool
      ? `extended thinking with ${structured?.type === 'json_object' ? 'a JSON object answer' : `a JSON schema answer on ${ctx.model}`} (the answer needs a forced tool choice, which Anthropic refuses with thinking)`
      : 'extended thinking with a forced tool_choice (Anthropic refuses the two together)');
    thinkingWanted = false;
  }
  if (thinkingWanted && !toolLoopHasThinking(messages)) {
    ctx.unsupported(reasoningPath(req), 'extended thinking continuing a tool-call turn that carries no Anthropic thinking block (answered without thinking, or by another provider)');
    thinkingWanted = false;
  }

  const body: JsonObject = { model: ctx.model };
  const tools = buildTools(req, ctx, caps, marks, jsonTool);
  const system = buildSystem(messages, ctx, marks);
  const out = buildMessages(messages, ctx, marks, thinkingWanted);
  if (out.length === 0) throw new RequestError('messages: the anthropic provider needs at least one user or assistant message');
  body.messages = out;

  let maxTokens = sampling.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS;
  const outputConfig: JsonObject = {};
  if (thinkingWanted) {
    const thinking = thinkingConfig(req, caps);
    body.thinking = thinking.config;
    if (thinking.effort) outputConfig.effort = thinking.effort;
    // max_tokens counts thinking too and must exceed the budget: the answer keeps the room it asked for.
    if (thinking.budget !== undefined) maxTokens = maxTokensWithThinking(maxTokens, thinking.budget);
  }
  body.max_tokens = maxTokens;
  if (system !== undefined) body.system = system;

  // Sampling. Anthropic's temperature range is 0..1 (OpenAI's is 0..2, Kong's schema allows 0..5):
  // clamped, so a route configured or called with OpenAI-style values keeps working.
  let temperature = sampling.temperature === undefined ? undefined : clamp(sampling.temperature, 0, 1);
  let topP = sampling.topP;
  let topK = sampling.topK !== undefined && Number.isInteger(sampling.topK) && sampling.topK >= 1 ? sampling.topK : undefined;
  if (thinkingWanted) {
    if (temperature !== undefined && temperature !== 1) {
      ctx.unsupported('temperature', 'a temperature other than 1 with extended thinking');
      temperature = undefined;
    }
    if (topK !== undefined) {
      ctx.unsupported('top_k', 'top_k with extended thinking');
      topK = undefined;
    }
    if (topP !== undefined && topP < 0.95) {
      ctx.unsupported('top_p', 'top_p below 0.95 with extended thinking');
      topP = undefined;
    }
  }
  if (temperature !== undefined) body.temperature = temperature;
  if (topP !== undefined && topP < 1) {
    // Current Claude models refuse temperature and top_p together; a top_p of 1 changes nothing.
    if (temperature !== undefined) ctx.unsupported('top_p', 'top_p together with temperature (Claude models take one)');
    else body.top_p = topP;
  }
  if (topK !== undefined) body.top_k = topK;
  if (sampling.stop) body.stop_sequences = sampling.stop;
  body.stream = ctx.stream;

  if (tools) {
    body.tools = tools;
    const choice = toolChoiceFor(req, jsonTool !== undefined, hasClientTools);
    if (choice) body.tool_choice = choice;
  }
  if (nativeFormat) outputConfig.format = nativeFormat;
  if (Object.keys(outputConfig).length > 0) body.output_config = outputConfig;
  if (typeof req.user === 'string' && req.user !== '') body.metadata = { user_id: req.user };

  // req.passthrough: the policy (exchange/policy.ts) sends what it lets through.
  plans.set(ctx, jsonTool ? { jsonTool: JSON_TOOL, wrapped: jsonTool.wrapped } : {});
  return body;
}

/** Client sampling fields the Messages API has no equivalent for: reported unless they ask for nothing (n 1, penalties 0). */
function reportSampling(sampling: Sampling, ctx: DriverContext): void {
  if (sampling.n !== undefined && sampling.n > 1) ctx.unsupported('n', 'more than one choice');
  if (sampling.seed !== undefined) ctx.unsupported('seed', 'a seed');
  if (sampling.presencePenalty !== undefined && sampling.presencePenalty !== 0) ctx.unsupported('presence_penalty');
  if (sampling.frequencyPenalty !== undefined && sampling.frequencyPenalty !== 0) ctx.unsupported('frequency_penalty');
  if (sampling.logprobs === true) ctx.unsupported('logprobs', 'log probabilities');
  if (sampling.topLogprobs !== undefined && sampling.topLogprobs > 0) ctx.unsupported('top_logprobs', 'log probabilities');
  if (sampling.logitBias !== undefined && Object.keys(sampling.logitBias).length > 0) ctx.unsupported('logit_bias');
}

/** OpenAI-only fields and metadata other than the end user: nothing in the Messages API carries them. */
function reportUnmapped(req: CanonicalRequest, ctx: DriverContext): void {
  reportOpenAIFields(req, ctx);
  if (req.metadata && Object.keys(req.metadata).length > 0) ctx.unsupported('metadata', 'metadata other than the end user (`user`)');
  // reasoning.includeEncrypted needs nothing: Anthropic's thinking signatures always come back.
}

/** The messages of the conversation: a completions prompt is one user message. */
function conversation(req: CanonicalRequest): Message[] {
  if (req.kind === 'completions' && req.prompt !== undefined) return [{ role: 'user', parts: [{ type: 'text', text: req.prompt }] }];
  return req.messages;
}

function wantsThinking(req: CanonicalRequest, caps: ClaudeCapabilities, ctx: DriverContext): boolean {
  const reasoning = req.reasoning;
  if (!reasoning || (reasoning.effort === undefined && reasoning.budgetTokens === undefined)) return false;
  if (reasoning.effort === 'none' && reasoning.budgetTokens === undefined) return false;
  if (reasoning.budgetTokens === 0) return false;
  if (!caps.thinking) {
    ctx.unsupported(reasoningPath(req), `extended thinking on ${ctx.model}`);
    return false;
  }
  return true;
}

/** The `thinking` config (and `output_config.effort`, and the budget max_tokens must exceed). */
function thinkingConfig(req: CanonicalRequest, caps: ClaudeCapabilities): { config: JsonObject; effort?: string; budget?: number } {
  const { effort, budgetTokens } = req.reasoning ?? {};
  if (caps.adaptive && (budgetTokens === undefined || !caps.budgeted)) {
    // Adaptive thinking: the model decides how much to think; effort is the dial (a budget maps onto it).
    const level = effort !== undefined && effort !== 'none' ? (effort === 'minimal' ? 'low' : effort) : budgetTokens === undefined ? undefined : effortOfBudget(budgetTokens);
    // display: Opus 4.7 and later omit the thinking text unless asked; the client asked for reasoning.
    return { config: { type: 'adaptive', display: 'summarized' }, ...(level ? { effort: level } : {}) };
  }
  const budget = thinkingBudget({ effort, budgetTokens });
  return { config: { type: 'enabled', budget_tokens: budget }, budget };
}

/**
 * With thinking, Anthropic wants the assistant turn whose tool calls the conversation is answering
 * to start with its thinking block. True when there is no such open tool loop, or it has one.
 */
function toolLoopHasThinking(messages: Message[]): boolean {
  let k = messages.length - 1;
  while (k >= 0 && messages[k].role === 'tool') k--;
  if (k === messages.length - 1 || k < 0 || messages[k].role !== 'assistant') return true;
  const turn = messages[k].parts;
  if (!turn.some((p) => p.type === 'tool_call')) return true;
  return turn.some((p) => p.type === 'reasoning' && isOwnReasoning(p));
}

function isOwnReasoning(part: ReasoningPart): boolean {
  return part.provider === PROVIDER && (part.signature !== undefined || part.redacted !== undefined);
}

function buildTools(
  req: CanonicalRequest,
  ctx: DriverContext,
  caps: ClaudeCapabilities,
  marks: CacheMarks,
  jsonTool: { schema: JsonObject; description: string } | undefined,
): Block[] | undefined {
  const out: Block[] = [];
  (req.tools ?? []).forEach((tool, i) => {
    if (tool.type !== 'function') {
      ctx.unsupported(`tools[${i}]`, `the built-in tool '${tool.name}'`);
      return;
    }
    if (jsonTool && tool.name === JSON_TOOL) {
      throw new RequestError(`tools[${i}].function.name: '${JSON_TOOL}' is the name the gateway gives the structured answer's tool on the anthropic provider; rename the tool`);
    }
    const block: Block = { name: tool.name };
    if (tool.description !== undefined) block.description = tool.description;
    block.input_schema = isObject(tool.parameters) && Object.keys(tool.parameters).length > 0 ? tool.parameters : { type: 'object', properties: {} };
    // Strict tools (validated inputs) exist on models with structured outputs; elsewhere the schema still applies, unenforced.
    if (tool.strict === true && caps.structuredOutputs) block.strict = true;
    out.push(withCache(block, marks.control(tool.cache, `tools[${i}]`)));
  });
  if (jsonTool) out.push({ name: JSON_TOOL, description: jsonTool.description, input_schema: jsonTool.schema });
  return out.length > 0 ? out : undefined;
}

function toolChoiceFor(req: CanonicalRequest, jsonTool: boolean, hasClientTools: boolean): JsonObject | undefined {
  const serial = req.parallelToolCalls === false;
  const choice = req.toolChoice;
  let out: JsonObject | undefined;
  if (jsonTool && choice?.type === 'tool' && hasClientTools) {
    // This turn calls the client's tool; the answer's tool is there for the turns after.
    out = { type: 'tool', name: choice.name };
  } else if (jsonTool) {
    // The structured answer must come through its tool: alone, forced; with client tools the model
    // may call those first (`any`: some tool, the answer's included), unless tools are off (`none`).
    out = !hasClientTools || choice?.type === 'none' ? { type: 'tool', name: JSON_TOOL } : { type: 'any' };
  } else if (choice) {
    out = choice.type === 'required' ? { type: 'any' } : choice.type === 'tool' ? { type: 'tool', name: choice.name } : { type: choice.type };
  }
  if (serial && out?.type !== 'none') out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

/** System and developer messages, wherever they are, make the top-level `system`. */
function buildSystem(messages: Message[], ctx: DriverContext, marks: CacheMarks): string | Block[] | undefined {
  const blocks: Block[] = [];
  let cached = false;
  messages.forEach((message, i) => {
    if (message.role !== 'system' && message.role !== 'developer') return;
    const texts: { text: string; cache?: CacheMark; path: string }[] = [];
    message.parts.forEach((part, j) => {
      const path = `messages[${i}].content[${j}]`;
      if (part.type === 'text') texts.push({ text: part.text, cache: part.cache, path });
      else ctx.unsupported(path, `${part.type} content in a ${message.role} message`);
    });
    const last = texts[texts.length - 1];
    if (message.cache && last && !last.cache) last.cache = message.cache;
    const joined: Block[] = texts.filter((t) => t.text !== '' || t.cache).map((t) => withCache({ type: 'text', text: t.text }, marks.control(t.cache, t.path)));
    if (joined.some((b) => b.cache_control)) cached = true;
    // One message's parts run together as they would in one text (newline-separated).
    if (!cached && joined.length > 1) blocks.push({ type: 'text', text: joined.map((b) => b.text).join('\n') });
    else blocks.push(...joined);
  });
  if (blocks.length === 0) return undefined;
  if (!blocks.some((b) => b.cache_control)) return blocks.map((b) => b.text as string).join('\n\n');
  return blocks;
}

function buildMessages(messages: Message[], ctx: DriverContext, marks: CacheMarks, thinking: boolean): AnthropicMessage[] {
  const out: AnthropicMessage[] = [];
  const lastIndex = messages.length - 1;
  messages.forEach((message, i) => {
    const path = `messages[${i}]`;
    // A tool message's name is the tool's (its tool_use_id says which call it answers): nothing lost.
    if (message.name !== undefined && message.name !== '' && message.role !== 'tool') ctx.unsupported(`${path}.name`, 'participant names');
    switch (message.role) {
      case 'system':
      case 'developer':
        return;
      case 'user':
        append(out, 'user', userBlocks(message, path, ctx, marks));
        return;
      case 'assistant':
        // Without thinking, Anthropic refuses thinking blocks in a final assistant turn (a prefill).
        append(out, 'assistant', assistantBlocks(message, path, ctx, marks, thinking || i !== lastIndex));
        return;
      case 'tool':
        append(out, 'user', toolResultBlocks(message, path, ctx, marks));
        return;
      default:
        throw new RequestError(`${path}.role: '${String(message.role)}' messages are not supported by the anthropic provider`);
    }
  });
  return out;
}

/**
 * Consecutive messages of one role become one message: the API wants turns to alternate, and
 * parallel tool results (several `tool` messages) must travel in a single user turn. A lone text
 * block without a cache mark is sent as a string, as Anthropic's own examples do.
 */
function append(out: AnthropicMessage[], role: Role, blocks: Block[]): void {
  if (blocks.length === 0) return;
  const last = out[out.length - 1];
  if (last && last.role === role) {
    last.content = [...blocksOf(last.content), ...blocks];
    return;
  }
  const only = blocks.length === 1 ? blocks[0] : undefined;
  out.push({ role, content: only && only.type === 'text' && only.cache_control === undefined ? (only.text as string) : blocks });
}

function blocksOf(content: string | Block[]): Block[] {
  if (typeof content !== 'string') return content;
  return content === '' ? [] : [{ type: 'text', text: content }];
}

/** A message's own cache mark goes on its last block (thinking blocks cannot carry one). */
function markLast(blocks: Block[], message: Message, path: string, marks: CacheMarks): Block[] {
  const last = blocks.findLast((b) => b.type !== 'thinking' && b.type !== 'redacted_thinking');
  if (message.cache && last && last.cache_control === undefined) withCache(last, marks.control(message.cache, path));
  else if (message.cache && !last && blocks.length > 0) marks.nowhere(path);
  return blocks;
}

function userBlocks(message: Message, path: string, ctx: DriverContext, marks: CacheMarks): Block[] {
  const blocks: Block[] = [];
  message.parts.forEach((part, j) => {
    const at = `${path}.content[${j}]`;
    const block = userBlock(part, at, ctx);
    if (block) blocks.push(withCache(block, marks.control((part as { cache?: CacheMark }).cache, at)));
  });
  return markLast(blocks, message, path, marks);
}

function userBlock(part: Part, path: string, ctx: DriverContext): Block | undefined {
  switch (part.type) {
    case 'text':
      return part.text === '' && !part.cache ? undefined : { type: 'text', text: part.text };
    case 'image':
      return imageBlock(part, path, ctx);
    case 'file':
      return documentBlock(part, path, ctx);
    case 'audio':
      ctx.unsupported(path, 'audio content');
      return undefined;
    default:
      ctx.unsupported(path, `${part.type} content in a user message`);
      return undefined;
  }
}

function imageBlock(part: ImagePart, path: string, ctx: DriverContext): Block | undefined {
  const source = part.source;
  if (source.kind === 'base64') return { type: 'image', source: { type: 'base64', media_type: source.mediaType, data: source.data } };
  if (source.kind === 'url') {
    if (/^https?:\/\//i.test(source.url)) return { type: 'image', source: { type: 'url', url: source.url } };
    throw new RequestError(`${path}.image_url.url: expected an http(s) URL or a base64 data URL`);
  }
  ctx.unsupported(path, 'an image given by file id');
  return undefined;
}

/** PDFs (URL or base64) and plain text become `document` blocks; other documents Anthropic cannot read. */
function documentBlock(part: FilePart, path: string, ctx: DriverContext): Block | undefined {
  const source = part.source;
  const titled = (block: Block): Block => (part.filename ? { ...block, title: part.filename } : block);
  if (source.kind === 'url') {
    if (/^https?:\/\//i.test(source.url)) return titled({ type: 'document', source: { type: 'url', url: source.url } });
    throw new RequestError(`${path}.file: expected an http(s) URL or base64 data`);
  }
  if (source.kind === 'base64') {
    const type = source.mediaType.toLowerCase();
    if (type === 'application/pdf') return titled({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: source.data } });
    if (type === 'text/plain') return titled({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(source.data, 'base64').toString('utf8') } });
    ctx.unsupported(path, `'${source.mediaType}' files (PDF and plain text are taken)`);
    return undefined;
  }
  ctx.unsupported(path, 'a file given by file id');
  return undefined;
}

function assistantBlocks(message: Message, path: string, ctx: DriverContext, marks: CacheMarks, keepThinking: boolean): Block[] {
  const thinking: Block[] = [];
  const rest: Block[] = [];
  let call = 0;
  message.parts.forEach((part, j) => {
    const at = `${path}.content[${j}]`;
    switch (part.type) {
      case 'reasoning':
        // Only Anthropic's own, signed thinking can come back; anyone else's state is left out.
        if (keepThinking && isOwnReasoning(part)) {
          thinking.push(part.redacted !== undefined ? { type: 'redacted_thinking', data: part.redacted } : { type: 'thinking', thinking: part.text, signature: part.signature });
        }
        return;
      case 'text':
        if (part.text !== '' || part.cache) rest.push(withCache({ type: 'text', text: part.text }, marks.control(part.cache, at)));
        return;
      case 'refusal':
        if (part.text !== '') rest.push({ type: 'text', text: part.text });
        return;
      case 'tool_call': {
        const input = argumentsObject(part.arguments, `${path}.tool_calls[${call++}].function.arguments`);
        rest.push(withCache({ type: 'tool_use', id: part.id, name: part.name, input }, marks.control(part.cache, at)));
        return;
      }
      default:
        ctx.unsupported(at, `${part.type} content in an assistant message`);
    }
  });
  return markLast([...thinking, ...rest], message, path, marks);
}

/** Arguments are JSON text; Anthropic wants the object ('' is no arguments). */
function toolResultBlocks(message: Message, path: string, ctx: DriverContext, marks: CacheMarks): Block[] {
  const blocks: Block[] = [];
  message.parts.forEach((part, j) => {
    const at = `${path}.content[${j}]`;
    if (part.type !== 'tool_result') {
      ctx.unsupported(at, `${part.type} content in a tool message`);
      return;
    }
    const content: Block[] = [];
    part.content.forEach((item, k) => {
      const itemPath = `${at}.content[${k}]`;
      if (item.type === 'text') content.push(withCache({ type: 'text', text: item.text }, marks.control(item.cache, itemPath)));
      else {
        const image = imageBlock(item, itemPath, ctx);
        if (image) content.push(withCache(image, marks.control(item.cache, itemPath)));
      }
    });
    const plain = content.every((b) => b.type === 'text' && b.cache_control === undefined);
    const block: Block = { type: 'tool_result', tool_use_id: part.toolCallId, content: plain ? content.map((b) => b.text as string).join('\n') : content };
    if (part.isError) block.is_error = true;
    blocks.push(withCache(block, marks.control(part.cache, at)));
  });
  return markLast(blocks, message, path, marks);
}

// ---------------------------------------------------------------------------------------------
// Response

function parseAnthropicResponse(text: string, ctx: DriverContext): ParsedAnswer {
  const response = asObject(parseUpstreamJson(text, PROVIDER));
  const content = asArray(response?.content);
  if (!response || !content) {
    if (response && typeof response.completion === 'string') return parseLegacyCompletion(response, ctx);
    throw new TranslationError(`'content' not in anthropic://${ctx.routeType} response`);
  }
  const plan = planOf(ctx);
  const reasoning: ReasoningPart[] = [];
  const calls: ToolCallPart[] = [];
  let answer = '';
  let structured = false;
  for (const block of content) {
    const type = dig(block, 'type');
    if (type === 'text') answer += asString(dig(block, 'text')) ?? '';
    else if (type === 'thinking') reasoning.push({ type: 'reasoning', text: asString(dig(block, 'thinking')) ?? '', signature: asString(dig(block, 'signature')), provider: PROVIDER });
    else if (type === 'redacted_thinking') reasoning.push({ type: 'reasoning', text: '', redacted: asString(dig(block, 'data')) ?? '', provider: PROVIDER });
    else if (type === 'tool_use') {
      const input = dig(block, 'input') ?? {};
      if (plan.jsonTool !== undefined && dig(block, 'name') === plan.jsonTool) {
        answer += JSON.stringify(plan.wrapped ? dig(input, 'value') ?? null : input);
        structured = true;
      } else {
        const id = toolCallId(dig(block, 'id'), asString(response.id) ?? ctx.id, calls.length);
        calls.push({ type: 'tool_call', id, name: asString(dig(block, 'name')) ?? '', arguments: JSON.stringify(input) });
      }
    }
    // server tool blocks (never asked for) have no canonical part.
  }
  for (const part of reasoning) if (part.signature === undefined) delete part.signature;
  const parts: CanonicalResponse['choices'][number]['parts'] = [...reasoning];
  if (answer !== '' || calls.length === 0) parts.push({ type: 'text', text: answer } satisfies TextPart);
  parts.push(...calls);
  const model = asString(response.model);
  return {
    id: asString(response.id) ?? ctx.id,
    created: ctx.now,
    model: model ?? ctx.model,
    choices: [{ parts, finishReason: finishReason(response.stop_reason, structured && calls.length === 0) }],
    usage: anthropicUsage(response.usage),
  };
}

/** The stop reason as OpenAI's; a structured answer delivered through its tool is a normal stop. */
function finishReason(reason: unknown, structured: boolean): FinishReason | null {
  const mapped = mapFinishReason(STOP_REASONS, reason);
  return structured && mapped === 'tool_calls' ? 'stop' : mapped;
}

/** Usage with every kind Anthropic reports: prompt tokens include cache reads and writes, as OpenAI's include cached tokens. */
export function anthropicUsage(usage: unknown): Usage | null {
  const input = asCount(dig(usage, 'input_tokens'));
  const completion = asCount(dig(usage, 'output_tokens'));
  if (input === undefined || completion === undefined) return null;
  const written = asCount(dig(usage, 'cache_creation_input_tokens'));
  const read = asCount(dig(usage, 'cache_read_input_tokens'));
  const prompt = input + (written ?? 0) + (read ?? 0);
  const result: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (written !== undefined || read !== undefined) {
    result.prompt_tokens_details = {};
    if (read !== undefined) result.prompt_tokens_details.cached_tokens = read;
    if (written !== undefined) result.prompt_tokens_details.cache_write_tokens = written;
  }
  const thinking = asCount(dig(usage, 'output_tokens_details', 'thinking_tokens'));
  if (thinking !== undefined) result.completion_tokens_details = { reasoning_tokens: thinking };
  return result;
}

/** The legacy Text Completions shape (`{completion, stop_reason, model}`), accepted from old or compatible servers. */
function parseLegacyCompletion(response: JsonObject, ctx: DriverContext): CanonicalResponse {
  const model = asString(response.model);
  return {
    id: asString(response.id) ?? ctx.id,
    created: ctx.now,
    model: model ?? ctx.model,
    choices: [{ parts: [{ type: 'text', text: String(response.completion) }], finishReason: mapFinishReason(STOP_REASONS, response.stop_reason) }],
    usage: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Stream

type OpenBlock =
  | { kind: 'thinking'; signature: string }
  | { kind: 'tool'; index: number }
  | { kind: 'json' };

/** Exported for the native format, which translates through it while response hooks read the answer. */
export class AnthropicStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  /** message_start's usage, updated by message_delta (cumulative). */
  #usage: JsonObject = {};
  #sawUsage = false;
  /** Content block index → what it is. */
  readonly #blocks = new Map<number, OpenBlock>();
  #toolCalls = 0;
  #structured = false;
  /** The wrapped structured answer's JSON so far. */
  #wrapped = '';
  readonly #plan: AnswerPlan;

  constructor(ctx: DriverContext) {
    super(ctx);
    this.#plan = planOf(ctx);
  }

  protected translate(event: StreamEvent): string {
    const data = this.parse(event);
    if (!isObject(data)) throw new TranslationError('malformed anthropic stream event: not an object');
    const type = event.event ?? asString(data.type);
    switch (type) {
      case 'message_start':
        return this.#start(asObject(data.message) ?? {});
      case 'content_block_start':
        return this.#blockStart(data);
      case 'content_block_delta':
        return this.#blockDelta(data);
      case 'content_block_stop':
        return this.#blockStop(data);
      case 'message_delta':
        return this.#messageDelta(data);
      case 'message_stop':
        this.setUsage(this.#sawUsage ? anthropicUsage({ input_tokens: 0, ...this.#usage }) : null);
        this.markDone();
        return '';
      case 'error': {
        const error = asObject(data.error);
        throw new UpstreamStreamError(asString(error?.message) ?? 'anthropic reported an error in the stream', asString(error?.type) ?? 'upstream_error');
      }
      default:
        // ping, and event types Anthropic may add: nothing for the client.
        return '';
    }
  }

  #start(message: JsonObject): string {
    this.setModel(message.model);
    this.out.id = asString(message.id) ?? this.out.id;
    this.out.model = asString(message.model) || this.out.model;
    this.#mergeUsage(message.usage);
    return this.out.start();
  }

  #mergeUsage(usage: unknown): void {
    if (!isObject(usage)) return;
    for (const key of ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'output_tokens'] as const) {
      const value = asCount(usage[key]);
      // message_delta repeats input counts in newer API versions; a 0 there does not undo message_start's.
      if (value !== undefined && (key === 'output_tokens' || value > 0 || this.#usage[key] === undefined)) this.#usage[key] = value;
    }
    const details = asObject(usage.output_tokens_details);
    if (details) this.#usage.output_tokens_details = details;
    if (asCount(usage.output_tokens) !== undefined || asCount(usage.input_tokens) !== undefined) this.#sawUsage = true;
  }

  #blockStart(data: JsonObject): string {
    const block = asObject(data.content_block);
    const at = asNumber(data.index) ?? -1;
    switch (block?.type) {
      case 'text': {
        const text = asString(block.text) ?? '';
        this.keepText(text);
        return text === '' ? '' : this.out.text(text);
      }
      case 'thinking': {
        const text = asString(block.thinking) ?? '';
        this.#blocks.set(at, { kind: 'thinking', signature: asString(block.signature) ?? '' });
        this.keepText(text);
        return text === '' ? '' : this.out.reasoning(text);
      }
      case 'redacted_thinking':
        return this.out.reasoningState({ type: 'reasoning', text: '', redacted: asString(block.data) ?? '', provider: PROVIDER });
      case 'tool_use': {
        if (this.#plan.jsonTool !== undefined && block.name === this.#plan.jsonTool) {
          this.#blocks.set(at, { kind: 'json' });
          this.#structured = true;
          return '';
        }
        const index = this.#toolCalls++;
        this.#blocks.set(at, { kind: 'tool', index });
        // arguments '' at the start: the renderer ends a call whose fragments were all '' with `{}`.
        return this.out.toolCalls([{ index, id: toolCallId(block.id, this.out.id, index), name: asString(block.name) ?? '', arguments: '' }]);
      }
      default:
        return '';
    }
  }

  #blockDelta(data: JsonObject): string {
    const delta = asObject(data.delta);
    const open = this.#blocks.get(asNumber(data.index) ?? -1);
    switch (delta?.type) {
      case 'text_delta': {
        const text = asString(delta.text) ?? '';
        this.keepText(text);
        return text === '' ? '' : this.out.text(text);
      }
      case 'thinking_delta': {
        const text = asString(delta.thinking) ?? '';
        this.keepText(text);
        return text === '' ? '' : this.out.reasoning(text);
      }
      case 'signature_delta':
        if (open?.kind === 'thinking') open.signature += asString(delta.signature) ?? '';
        return '';
      case 'input_json_delta': {
        const json = asString(delta.partial_json) ?? '';
        if (json === '' || open === undefined) return '';
        this.keepText(json);
        if (open.kind === 'json') {
          // A non-object answer travels as `{"value": ...}`: held until the block ends (a prefix of the wrapper is not one of the value).
          if (!this.#plan.wrapped) return this.out.text(json);
          this.#wrapped += json;
          return '';
        }
        if (open.kind === 'tool') return this.out.toolCalls([{ index: open.index, arguments: json }]);
        return '';
      }
      default:
        return ''; // citations_delta
    }
  }

  #blockStop(data: JsonObject): string {
    const at = asNumber(data.index) ?? -1;
    const open = this.#blocks.get(at);
    this.#blocks.delete(at);
    if (open?.kind === 'thinking') {
      // text '': the sink joins the reasoning streamed since the last state part (the text went out already).
      const part: ReasoningPart = { type: 'reasoning', text: '', provider: PROVIDER };
      if (open.signature !== '') part.signature = open.signature;
      return this.out.reasoningState(part);
    }
    if (open?.kind === 'json' && this.#plan.wrapped) {
      let value: unknown = null;
      try {
        value = dig(JSON.parse(this.#wrapped), 'value') ?? null;
      } catch {
        throw new TranslationError('malformed anthropic stream: the structured answer is not JSON');
      }
      this.#wrapped = '';
      return this.out.text(JSON.stringify(value));
    }
    return '';
  }

  #messageDelta(data: JsonObject): string {
    this.#mergeUsage(data.usage);
    const reason = dig(data, 'delta', 'stop_reason');
    return reason == null ? '' : this.out.finish(finishReason(reason, this.#structured && this.#toolCalls === 0));
  }
}
