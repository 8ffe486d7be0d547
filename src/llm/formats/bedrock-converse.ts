/**
 * Amazon Bedrock's Converse API (`POST /model/{modelId}/converse`, `/converse-stream`): one
 * message format for every model Bedrock hosts, mapped from and to the canonical exchange. Both
 * route types (a completions prompt is one user message). Streams use AWS's binary event stream
 * (stream/aws-eventstream.ts).
 *
 * Reference: the Bedrock Runtime API (docs.aws.amazon.com/bedrock/latest/APIReference/
 * API_runtime_Converse.html, API_runtime_ConverseStream.html and the types they use: Message,
 * ContentBlock, SystemContentBlock, CachePointBlock, ReasoningContentBlock, ToolConfiguration,
 * ToolChoice, ToolSpecification, ToolResultBlock, InferenceConfiguration, OutputConfig,
 * TokenUsage, ConverseStreamOutput, ContentBlockDelta, ReasoningContentBlockDelta; the same shapes
 * as botocore's bedrock-runtime 2023-09-30 service model), the prompt-caching guide
 * (userguide/prompt-caching.html: with caching, `inputTokens` counts only the input that was
 * neither read from nor written to the cache), Claude's extended thinking on Bedrock
 * (`additionalModelRequestFields.thinking`) and Nova 2's (`additionalModelRequestFields.reasoningConfig`).
 *
 * | canonical | Converse |
 * | --- | --- |
 * | system / developer text | `system[].text` |
 * | user text, image (base64), audio (base64), file (base64 documents) | `text`, `image {format, source.bytes}`, `audio {format, source.bytes}`, `document {format, name, source.bytes}` |
 * | assistant reasoning made by Bedrock (signature or redacted) | `reasoningContent` first in the turn (`reasoningText {text, signature}` / `redactedContent`) |
 * | assistant text, refusal, tool calls | `text`, `text`, `toolUse {toolUseId, name, input}` |
 * | tool results | a user turn of `toolResult {toolUseId, content [text / json / image], status}` |
 * | cache marks on parts, messages, tools | a `cachePoint {type: default[, ttl]}` after the marked block (messages, system, tools) |
 * | tools, tool choice auto / required / named | `toolConfig.tools[].toolSpec {name, description, inputSchema.json, strict}`, `toolChoice` auto / any / tool |
 * | structured output (json_schema, json_object) | a forced tool (`RESPONSE_TOOL`) whose input schema is the answer's; its input comes back as the answer's text |
 * | reasoning effort / budget | Claude: `thinking {type: enabled, budget_tokens}` (llm/thinking.ts, as for Anthropic); Nova 2: `reasoningConfig {type: enabled, maxReasoningEffort}` |
 * | max tokens, temperature (clamped to 0..1), top_p, stop | `inferenceConfig` |
 * | top_k | Claude: `additionalModelRequestFields.top_k` |
 * | user, metadata | `requestMetadata` (invocation-log metadata) |
 * | service_tier default / flex / priority | `serviceTier.type` |
 *
 * Everything else goes through `ctx.unsupported` (n > 1, seed, penalties, logprobs, logit_bias,
 * parallel_tool_calls false, built-in tools, image URLs, participant names ...), except OpenAI's
 * image `detail`, a hint Converse has no field for, which is left out. Decisions:
 * - Structured output is a forced tool rather than Converse's `outputConfig.textFormat`: the native
 *   form is served by a few models only (Claude 4.5 and later, some open-weight models) and compiles
 *   a grammar per new schema, where tool choice works on every Claude 3+ and Nova model. With
 *   thinking on, Claude refuses a forced tool choice: the tool is then offered with `auto` and a
 *   system instruction to answer through it (emulated: a model that answers in text anyway is
 *   answered as it is). With client tools the model must call one of them or the response tool
 *   (`any`), also for tool_choice `required` (Converse cannot exclude the response tool from `any`);
 *   a named tool choice stays the client's, the response tool listed beside it.
 * - Claude refuses thinking with a forced tool choice, and thinking that continues a tool-call
 *   turn which carries no reasoning of its own (answered without thinking, or by another provider):
 *   the reasoning request is reported (ctx.unsupported) and thinking left off, rather than sent to
 *   fail at the provider.
 * - Claude needs `maxTokens` above the thinking budget: when the resolved max tokens are not, the
 *   budget is added to them, so the visible answer keeps the room it was given.
 * - Bedrock's tool-use ids (`tooluse_...`) are already provider-neutral; any other id is made
 *   neutral (exchange/ids.ts), on the way out and back, so a call and its result always pair.
 * - Converse does not count reasoning tokens apart from the output: `reasoning_tokens` is an
 *   estimate from the reasoning text (never above the output tokens), absent without reasoning text.
 * - Sampling is resolved by params.ts (`resolveSampling`: configured options win), with
 *   Kong's `top_k: 0` as unset (`sendingSampling`). Claude's
 *   rules are applied before sending: with thinking no temperature other than 1, no top_k, no top_p
 *   below 0.95; on Claude 4.5 and later not temperature and top_p together (each reported).
 * - A structured answer is the response tool's input: text the model wrote around the call is left
 *   out of a whole answer; streamed, text that came before the call has already gone to the client.
 */
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type ModelOptions, type StreamEvent } from '../types.ts';
import { argumentsObject, asArray, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { clamp, putDefined, resolveSampling, type ResolvedSampling } from '../params.ts';
import { maxTokensWithThinking, thinkingBudget } from '../thinking.ts';
import { BaseStreamTranslator, MAX_KEPT_TEXT } from '../stream/translator.ts';
import { neutralId, toolCallId } from '../../exchange/ids.ts';
import { canonicalUsage } from '../../exchange/usage.ts';
import { estimateTokens } from '../tokens.ts';
import type {
  CacheMark,
  CanonicalRequest,
  CanonicalResponse,
  FinishReason,
  FunctionTool,
  Message,
  OutputFormat,
  Part,
  ReasoningPart,
  TextPart,
  ToolCallPart,
  ToolResultPart,
  Usage,
} from '../../exchange/types.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'bedrock';

/**
 * The tool structured output is asked through. Reserved: a client tool of this name is refused,
 * since an answer's call to it is read back as the answer's text (answers carry nothing else that
 * says which tool it was).
 */
export const RESPONSE_TOOL = 'modelgate_response';

const STOP_REASONS: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

/**
 * Converse request fields a client may send as they are (top-level fields of its body that no
 * canonical field carries): they are Bedrock's own, so the policy (exchange/policy.ts) sends them
 * whatever the route says. `additionalModelRequestFields` and `requestMetadata` are merged here
 * with what the gateway puts there (the client's keys win); the others are added as they are.
 */
export const BEDROCK_NATIVE_FIELDS: readonly string[] = [
  'guardrailConfig', 'additionalModelRequestFields', 'additionalModelResponseFieldPaths', 'performanceConfig', 'requestMetadata', 'promptVariables', 'serviceTier', 'outputConfig',
];

/** Media types of the image formats a Converse image block takes. */
const IMAGE_FORMATS: Readonly<Record<string, string>> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

/** Media types of the document formats a Converse document block takes (DocumentFormat). */
const DOCUMENT_FORMATS: Readonly<Record<string, string>> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

/** AudioFormat values (OpenAI's `input_audio.format` is `wav` or `mp3`). */
const AUDIO_FORMATS: ReadonlySet<string> = new Set(['mp3', 'opus', 'wav', 'aac', 'flac', 'mp4', 'ogg', 'mkv', 'mka', 'x-aac', 'm4a', 'mpeg', 'mpga', 'pcm', 'webm']);

/** CacheTTL values. */
const CACHE_TTLS: ReadonlySet<string> = new Set(['5m', '1h']);

/** The answer's room when thinking is on and no max tokens were set at all. */
const DEFAULT_ANSWER_TOKENS = 4096;

export const bedrockConverseFormat: WireFormat = {
  framing: 'aws-eventstream',
  buildRequest: buildConverseRequest,
  parseResponse: parseConverseResponse,
  createStreamTranslator: (ctx) => new ConverseStreamTranslator(ctx),
  nativeFields: () => BEDROCK_NATIVE_FIELDS,
};

/** Claude on Bedrock (`anthropic.claude-...`, inference profiles `us.anthropic...`, ARNs naming one). */
export function isClaude(model: string): boolean {
  return model.toLowerCase().includes('anthropic.');
}

/**
 * A Claude model's version from its Bedrock id (`anthropic.claude-3-5-sonnet-...` 3.5,
 * `us.anthropic.claude-sonnet-4-20250514-v1:0` 4, `anthropic.claude-sonnet-4-5-...` 4.5); undefined
 * for other models and ids that do not say.
 */
export function claudeVersion(model: string): number | undefined {
  if (!isClaude(model)) return undefined;
  const m = /claude-(?:(?:sonnet|opus|haiku|instant)-)?(\d+)(?:-(\d{1,2})(?!\d))?/.exec(model.toLowerCase());
  return m ? Number(m[1]) + (m[2] ? Number(m[2]) / 10 : 0) : undefined;
}

/** Nova 2 (`amazon.nova-2-lite-v1:0`, `us.amazon.nova-2-...`), which takes `reasoningConfig`. */
function isNova2(model: string): boolean {
  return model.toLowerCase().includes('amazon.nova-2');
}

// ---------------------------------------------------------------------------------------------
// Request

type Block = JsonObject;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** The sampling values sent (params.ts: the route's configured options win, Kong 3.8+). */
interface Resolved extends ResolvedSampling {
  /** top_k came from the client (not the route's configuration). */
  clientTopK: boolean;
}

/** params.ts's resolution, with Kong 3.6's `top_k: 0` as unset (a configured 0 lets the client's through). */
function sendingSampling(req: CanonicalRequest, options: ModelOptions): Resolved {
  const resolved = resolveSampling(req.sampling, options);
  const configuredTopK = asNumber(options.top_k);
  const configured = configuredTopK !== undefined && configuredTopK >= 1;
  const topK = configured ? configuredTopK : req.sampling.topK;
  return { ...resolved, topK: topK !== undefined && topK >= 1 ? topK : undefined, clientTopK: !configured && topK !== undefined && topK >= 1 };
}

function buildConverseRequest(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  reportSampling(req, ctx);
  const sampling = sendingSampling(req, ctx.options);
  const { system, messages, toolBlocks } = toConverse(req, ctx);
  if (messages.length === 0) throw new RequestError('messages: the bedrock provider needs at least one user or assistant message');

  const body: JsonObject = { messages };
  const additional: JsonObject = {};

  // Reasoning first: it decides how structured output is asked for, and may raise maxTokens.
  const thinking = reasoningFields(req, ctx, sampling);
  Object.assign(additional, thinking.fields);
  const maxTokens = thinking.maxTokens ?? sampling.maxTokens;

  const tools = toolConfig(req, ctx, toolBlocks, thinking.claudeThinking);
  if (tools.config) body.toolConfig = tools.config;
  if (tools.instruction) system.push({ text: tools.instruction });
  if (system.length > 0) body.system = system;

  // Converse's range is 0..1 (OpenAI's 0..2, Kong's schema 0..5): clamped, as for Anthropic.
  let temperature = sampling.temperature === undefined ? undefined : clamp(sampling.temperature, 0, 1);
  let topP = sampling.topP;
  if (thinking.claudeThinking) {
    // Claude's extended thinking takes no sampling changes (Anthropic's extended-thinking rules).
    if (temperature !== undefined && temperature !== 1) {
      ctx.unsupported('temperature', 'a temperature other than 1 with extended thinking');
      temperature = undefined;
    }
    if (sampling.topK !== undefined) {
      if (sampling.clientTopK) ctx.unsupported('top_k', 'top_k with extended thinking');
      sampling.topK = undefined;
    }
    if (topP !== undefined && topP < 0.95) {
      ctx.unsupported('top_p', 'top_p below 0.95 with extended thinking');
      topP = undefined;
    }
  }
  const version = claudeVersion(ctx.model);
  if (version !== undefined && version >= 4.5 && temperature !== undefined && topP !== undefined) {
    // Claude 4.5 and later take temperature or top_p, not both (Bedrock's Claude parameters); a top_p of 1 changes nothing.
    if (topP < 1) ctx.unsupported('top_p', `top_p together with temperature (${ctx.model} takes one)`);
    topP = undefined;
  }
  const inferenceConfig: JsonObject = {};
  putDefined(inferenceConfig, { maxTokens, temperature, topP, stopSequences: sampling.stop });
  if (Object.keys(inferenceConfig).length > 0) body.inferenceConfig = inferenceConfig;

  if (sampling.topK !== undefined) {
    if (isClaude(ctx.model)) additional.top_k = sampling.topK;
    else if (sampling.clientTopK) ctx.unsupported('top_k', `top_k for ${ctx.model} (Converse has it for Claude models only)`);
    // a configured top_k on a route to a model without one is left out (docs/providers.md)
  }

  const metadata = requestMetadata(req, ctx);
  if (metadata) body.requestMetadata = metadata;
  openaiFields(req, ctx, body);
  if (Object.keys(additional).length > 0) body.additionalModelRequestFields = additional;
  mergeNativeFields(req, body);
  return body;
}

/** Sampling fields Converse has no equivalent for. */
function reportSampling(req: CanonicalRequest, ctx: DriverContext): void {
  const s = req.sampling;
  if (s.n !== undefined && s.n > 1) ctx.unsupported('n', 'more than one choice');
  if (s.seed !== undefined) ctx.unsupported('seed');
  if (s.presencePenalty !== undefined && s.presencePenalty !== 0) ctx.unsupported('presence_penalty');
  if (s.frequencyPenalty !== undefined && s.frequencyPenalty !== 0) ctx.unsupported('frequency_penalty');
  if (s.logprobs === true) ctx.unsupported('logprobs');
  if (s.topLogprobs !== undefined && s.topLogprobs > 0) ctx.unsupported('top_logprobs');
  if (s.logitBias !== undefined && Object.keys(s.logitBias).length > 0) ctx.unsupported('logit_bias');
}

// --- messages

/**
 * System blocks, and user/assistant turns that alternate as Converse requires (consecutive
 * messages of one role, parallel tool results among them, become one turn).
 */
function toConverse(req: CanonicalRequest, ctx: DriverContext): { system: Block[]; messages: Turn[]; toolBlocks: boolean } {
  const system: Block[] = [];
  const messages: Turn[] = [];
  let toolBlocks = false;
  const source = req.messages.length > 0 ? req.messages : req.prompt !== undefined ? [{ role: 'user' as const, parts: [{ type: 'text' as const, text: req.prompt }] }] : [];
  source.forEach((message, i) => {
    const path = `messages[${i}]`;
    // a tool message's name is its tool's (the result says which call it answers): not a participant
    if (message.name !== undefined && message.name !== '' && message.role !== 'tool') ctx.unsupported(`${path}.name`, 'participant names');
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...systemBlocks(message, path, ctx));
        break;
      case 'user':
      case 'tool': {
        const blocks = userBlocks(message, path, ctx);
        if (blocks.some((b) => b.toolResult !== undefined)) toolBlocks = true;
        append(messages, 'user', blocks);
        break;
      }
      case 'assistant': {
        const blocks = assistantBlocks(message, path, ctx);
        if (blocks.some((b) => b.toolUse !== undefined)) toolBlocks = true;
        append(messages, 'assistant', blocks);
        break;
      }
    }
  });
  return { system, messages, toolBlocks };
}

/** Converse wants user and assistant turns to alternate: consecutive messages of one role become one. */
function append(messages: Turn[], role: Turn['role'], content: Block[]): void {
  if (content.length === 0) return;
  const last = messages[messages.length - 1];
  if (last && last.role === role) {
    if (role === 'assistant') {
      // reasoning comes first in an assistant turn
      const reasoning = content.filter((b) => b.reasoningContent !== undefined);
      const rest = content.filter((b) => b.reasoningContent === undefined);
      const at = last.content.findIndex((b) => b.reasoningContent === undefined);
      last.content.splice(at === -1 ? last.content.length : at, 0, ...reasoning);
      last.content.push(...rest);
    } else last.content.push(...content);
  } else messages.push({ role, content });
}

/** `{cachePoint}` for a cache mark (a TTL Converse does not know is reported, and the default used). */
function cachePoint(mark: CacheMark, path: string, ctx: DriverContext): Block {
  const point: JsonObject = { type: 'default' };
  if (mark.ttl !== undefined) {
    if (CACHE_TTLS.has(mark.ttl)) point.ttl = mark.ttl;
    else ctx.unsupported(`${path}.cache_control.ttl`, `cache TTL '${mark.ttl}' (Converse takes 5m or 1h)`);
  }
  return { cachePoint: point };
}

/**
 * Blocks for one message's parts (`toBlock` maps a part, or returns null for a part left out),
 * each marked part followed by a cachePoint; a mark on the message applies to its last block.
 */
function withCachePoints(message: Message, path: string, ctx: DriverContext, toBlock: (part: Part, at: string) => Block | null): Block[] {
  const blocks: Block[] = [];
  let markedLast = false;
  message.parts.forEach((part, j) => {
    const at = `${path}.content[${j}]`;
    const block = toBlock(part, at);
    if (block) {
      blocks.push(block);
      markedLast = false;
    }
    const mark = 'cache' in part ? part.cache : undefined;
    if (mark && blocks.length > 0 && !markedLast) {
      blocks.push(cachePoint(mark, at, ctx));
      markedLast = true;
    }
  });
  if (message.cache && blocks.length > 0 && !markedLast) blocks.push(cachePoint(message.cache, path, ctx));
  return blocks;
}

function systemBlocks(message: Message, path: string, ctx: DriverContext): Block[] {
  return withCachePoints(message, path, ctx, (part, at) => {
    if (part.type !== 'text') {
      ctx.unsupported(at, `${part.type} content in system messages`);
      return null;
    }
    // SystemContentBlock.text must not be empty.
    return part.text === '' ? null : { text: part.text };
  });
}

function userBlocks(message: Message, path: string, ctx: DriverContext): Block[] {
  const blocks = withCachePoints(message, path, ctx, (part, at) => {
    switch (part.type) {
      case 'text':
        return { text: part.text };
      case 'image':
        return imageBlock(part.source, at, ctx);
      case 'audio':
        if (!AUDIO_FORMATS.has(part.format)) {
          ctx.unsupported(at, `audio in format '${part.format}'`);
          return null;
        }
        return { audio: { format: part.format, source: { bytes: part.data } } };
      case 'file':
        return documentBlock(part, at, ctx);
      case 'tool_result':
        return toolResultBlock(part, at, ctx);
      default:
        ctx.unsupported(at, `${part.type} parts in ${message.role} messages`);
        return null;
    }
  });
  return nameDocuments(blocks);
}

function imageBlock(source: Extract<Part, { type: 'image' }>['source'], path: string, ctx: DriverContext): Block | null {
  if (source.kind !== 'base64') {
    ctx.unsupported(path, source.kind === 'url' ? 'image URLs (Converse takes image bytes: send base64 data URLs)' : 'image file ids');
    return null;
  }
  const format = IMAGE_FORMATS[source.mediaType.toLowerCase()];
  if (!format) {
    ctx.unsupported(path, `${source.mediaType} images (Converse takes PNG, JPEG, GIF and WebP)`);
    return null;
  }
  return { image: { format, source: { bytes: source.data } } };
}

function documentBlock(part: Extract<Part, { type: 'file' }>, path: string, ctx: DriverContext): Block | null {
  if (part.source.kind !== 'base64') {
    ctx.unsupported(path, part.source.kind === 'url' ? 'file URLs (Converse takes the file bytes)' : 'file ids');
    return null;
  }
  const mediaType = part.source.mediaType.toLowerCase();
  const format = DOCUMENT_FORMATS[mediaType];
  if (!format) {
    // an image sent as a file is an image
    if (IMAGE_FORMATS[mediaType]) return imageBlock(part.source, path, ctx);
    ctx.unsupported(path, `${part.source.mediaType} files (Converse takes pdf, csv, doc, docx, xls, xlsx, html, txt and md documents)`);
    return null;
  }
  return { document: { format, name: documentName(part.filename), source: { bytes: part.source.data } } };
}

/**
 * A document's name as Converse allows it (letters, digits, single spaces, hyphens, parentheses,
 * square brackets; 1-200 characters): the file name without its extension, other characters as
 * hyphens; '' when nothing is left (named by nameDocuments).
 */
function documentName(filename: string | undefined): string {
  const base = (filename ?? '').replace(/\.[A-Za-z0-9]{1,5}$/, '');
  return base
    .replace(/[^A-Za-z0-9\s()[\]-]/g, '-')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200)
    .trim();
}

/** Unnamed documents get `document-N`; names repeated in one turn get ` (N)`. */
function nameDocuments(blocks: Block[]): Block[] {
  const seen = new Set<string>();
  let n = 0;
  for (const block of blocks) {
    const doc = asObject(block.document);
    if (!doc) continue;
    n++;
    let name = (doc.name as string) || `document-${n}`;
    for (let k = 2; seen.has(name); k++) name = `${((doc.name as string) || `document-${n}`).slice(0, 190)} (${k})`;
    seen.add(name);
    doc.name = name;
  }
  return blocks;
}

/** A tool's result: one JSON object as a `json` block, else its text and images. */
function toolResultBlock(part: ToolResultPart, path: string, ctx: DriverContext): Block {
  const content: Block[] = [];
  const only = part.content.length === 1 ? part.content[0] : undefined;
  const json = only?.type === 'text' ? jsonObjectOf(only.text) : undefined;
  if (json) content.push({ json });
  else {
    part.content.forEach((item, k) => {
      if (item.type === 'text') content.push({ text: item.text });
      else {
        const image = imageBlock(item.source, `${path}.content[${k}]`, ctx);
        if (image) content.push(image);
      }
    });
  }
  if (content.length === 0) content.push({ text: '' });
  const result: JsonObject = { toolUseId: neutralId(part.toolCallId), content };
  if (part.isError) result.status = 'error';
  return { toolResult: result };
}

function jsonObjectOf(text: string): JsonObject | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function assistantBlocks(message: Message, path: string, ctx: DriverContext): Block[] {
  let calls = 0;
  const blocks = withCachePoints(message, path, ctx, (part, at) => {
    switch (part.type) {
      case 'reasoning':
        return reasoningBlock(part);
      case 'text':
      case 'refusal':
        // Converse refuses blank text blocks.
        return part.text.trim() === '' ? null : { text: part.text };
      case 'tool_call': {
        const k = calls++;
        return { toolUse: { toolUseId: neutralId(part.id), name: part.name, input: argumentsObject(part.arguments, `${path}.tool_calls[${k}].function.arguments`) } };
      }
      default:
        ctx.unsupported(at, `${part.type} parts in assistant messages`);
        return null;
    }
  });
  // Claude wants the turn's reasoning before anything else.
  return [...blocks.filter((b) => b.reasoningContent !== undefined), ...blocks.filter((b) => b.reasoningContent === undefined)];
}

/**
 * Reasoning goes back only where it came from: Bedrock's own state (a signature or redacted
 * content) is returned as it was; reasoning from other providers, or without state, is left out
 * (a clean drop: it means nothing to this provider).
 */
function reasoningBlock(part: ReasoningPart): Block | null {
  if (part.provider !== PROVIDER) return null;
  if (part.redacted !== undefined) return { reasoningContent: { redactedContent: part.redacted } };
  if (part.signature !== undefined) return { reasoningContent: { reasoningText: { text: part.text, signature: part.signature } } };
  return null;
}

/** OpenAI sends arguments as JSON text; Converse wants the object. */
// --- tools and structured output

/** The tool structured output is asked through; null when the answer is free text. */
function responseTool(output: OutputFormat | undefined, ctx: DriverContext): JsonObject | null {
  if (!output || output.type === 'text') return null;
  if (output.type === 'json_object') {
    return { name: RESPONSE_TOOL, description: 'Give your final answer as a JSON object: the input of this tool is the answer.', inputSchema: { json: { type: 'object', additionalProperties: true } } };
  }
  const type = output.schema.type;
  if (type !== undefined && type !== 'object') {
    ctx.unsupported('response_format.json_schema.schema', `a schema whose top level is not an object (the bedrock provider answers through a tool, whose input is an object)`);
    return null;
  }
  const about = output.description ? ` ${output.description}` : '';
  const spec: JsonObject = {
    name: RESPONSE_TOOL,
    description: `Give your final answer (${output.name}) by calling this tool: its input is the answer, in the JSON schema it defines.${about}`,
    inputSchema: { json: type === undefined ? { type: 'object', ...output.schema } : output.schema },
  };
  if (output.strict === true) spec.strict = true;
  return spec;
}

/** The system instruction that asks for the response tool when it cannot be forced (Claude thinking). */
const ANSWER_INSTRUCTION = `Give your final answer by calling the ${RESPONSE_TOOL} tool, whose input is the answer; write nothing else.`;

function toolConfig(req: CanonicalRequest, ctx: DriverContext, toolBlocks: boolean, thinking: boolean): { config?: JsonObject; instruction?: string } {
  const specs: Block[] = [];
  (req.tools ?? []).forEach((tool, i) => {
    if (tool.type !== 'function') {
      ctx.unsupported(`tools[${i}]`, `built-in tools ('${tool.name}')`);
      return;
    }
    if (tool.name === RESPONSE_TOOL) throw new RequestError(`tools[${i}].function.name: '${RESPONSE_TOOL}' is reserved by the gateway for structured output`);
    specs.push({ toolSpec: toolSpec(tool) });
    if (tool.cache) specs.push(cachePoint(tool.cache, `tools[${i}]`, ctx));
  });
  const clientTools = specs.some((s) => s.toolSpec !== undefined);
  if (req.parallelToolCalls === false && clientTools) ctx.unsupported('parallel_tool_calls', 'limiting a turn to one tool call');

  const choice = req.toolChoice;
  const answer = responseTool(req.output, ctx);

  let toolChoice: JsonObject | undefined;
  let instruction: string | undefined;
  switch (choice?.type) {
    case undefined:
    case 'auto':
      if (answer && thinking) {
        // Claude refuses a forced tool choice with thinking on: offered, and asked for.
        toolChoice = { auto: {} };
        instruction = ANSWER_INSTRUCTION;
      } else if (answer) toolChoice = clientTools ? { any: {} } : { tool: { name: RESPONSE_TOOL } }; // a tool call, or the answer
      else if (clientTools && choice) toolChoice = { auto: {} };
      break;
    case 'required':
      // With a structured answer the response tool is among those the model must pick from:
      // Converse cannot force a call of the client's tools only while offering it.
      if (clientTools || answer) toolChoice = { any: {} };
      break;
    case 'tool':
      // The response tool, if any, is listed too: the schema reaches the provider, the call is the client's.
      toolChoice = { tool: { name: choice.name } };
      break;
    case 'none':
      if (answer) toolChoice = thinking ? { auto: {} } : { tool: { name: RESPONSE_TOOL } }; // the client's tools cannot be called: the answer is forced
      else if (clientTools && toolBlocks) ctx.unsupported('tool_choice', "'none' while the conversation has tool calls (Converse has no 'none' and needs the tools then)");
      else if (clientTools) return {}; // no tools, no calls: what 'none' means
      if (answer && thinking) instruction = ANSWER_INSTRUCTION;
      break;
  }
  if (answer) specs.push({ toolSpec: answer });
  if (specs.length === 0) {
    if (toolBlocks) throw new RequestError('tools: the bedrock provider needs the tool definitions when the conversation has tool calls');
    return {};
  }
  if (!specs.some((s) => s.toolSpec !== undefined)) return {}; // only cache points: nothing to configure
  const config: JsonObject = { tools: specs };
  if (toolChoice) config.toolChoice = toolChoice;
  return { config, instruction };
}

function toolSpec(tool: FunctionTool): JsonObject {
  const spec: JsonObject = { name: tool.name, inputSchema: { json: tool.parameters } };
  if (tool.description) spec.description = tool.description;
  if (tool.strict === true) spec.strict = true;
  return spec;
}

// --- reasoning

interface Thinking {
  fields: JsonObject;
  /** The max tokens to send with thinking (above the budget). */
  maxTokens?: number;
  /** Claude's thinking is on (a forced tool choice is refused then). */
  claudeThinking: boolean;
}

function reasoningFields(req: CanonicalRequest, ctx: DriverContext, sampling: Resolved): Thinking {
  const r = req.reasoning;
  const none: Thinking = { fields: {}, claudeThinking: false };
  if (!r || (r.budgetTokens === undefined && (r.effort === undefined || r.effort === 'none'))) return none;
  const path = r.effort !== undefined ? 'reasoning_effort' : 'reasoning.budget_tokens';
  if (isClaude(ctx.model)) {
    const clientTools = (req.tools ?? []).some((t) => t.type === 'function');
    if (clientTools && (req.toolChoice?.type === 'required' || req.toolChoice?.type === 'tool')) {
      ctx.unsupported(path, 'extended thinking with a forced tool_choice (Claude refuses the two together)');
      return none;
    }
    if (!toolLoopHasReasoning(req.messages)) {
      ctx.unsupported(path, 'extended thinking that continues a tool-call turn without Bedrock reasoning (answered without thinking, or by another provider): Claude refuses it');
      return none;
    }
    const budget = thinkingBudget(r);
    const max = sampling.maxTokens;
    const maxTokens = max === undefined ? budget + DEFAULT_ANSWER_TOKENS : maxTokensWithThinking(max, budget);
    return { fields: { thinking: { type: 'enabled', budget_tokens: budget } }, claudeThinking: true, maxTokens };
  }
  if (isNova2(ctx.model)) {
    if (r.effort === undefined || r.effort === 'none') {
      ctx.unsupported('reasoning.budget_tokens', `a thinking budget for ${ctx.model} (Nova 2 takes an effort: low, medium or high)`);
      return none;
    }
    const effort = r.effort === 'minimal' ? 'low' : r.effort;
    return { fields: { reasoningConfig: { type: 'enabled', maxReasoningEffort: effort } }, claudeThinking: false };
  }
  ctx.unsupported(path, `reasoning settings for ${ctx.model} (the bedrock provider sets them for Anthropic Claude and Amazon Nova 2 models)`);
  return none;
}

/**
 * With thinking, Claude wants the assistant turn whose tool calls the conversation answers last to
 * start with its reasoning. True when there is no such open tool loop, or its turn has Bedrock's
 * own reasoning (which goes back first).
 */
function toolLoopHasReasoning(messages: Message[]): boolean {
  let k = messages.length - 1;
  while (k >= 0 && (messages[k].role === 'tool' || (messages[k].role === 'user' && messages[k].parts.every((p) => p.type === 'tool_result')))) k--;
  if (k === messages.length - 1 || k < 0 || messages[k].role !== 'assistant') return true;
  const turn = messages[k].parts;
  if (!turn.some((p) => p.type === 'tool_call')) return true;
  return turn.some((p) => p.type === 'reasoning' && reasoningBlock(p) !== null);
}

// --- the rest

const METADATA_TEXT = /^[a-zA-Z0-9\s:_@$#=/+,\-.]*$/;

/** `user` and `metadata` as Converse's requestMetadata (at most 16 pairs of 1-256 / 0-256 characters of a limited set). */
function requestMetadata(req: CanonicalRequest, ctx: DriverContext): JsonObject | undefined {
  const out: JsonObject = {};
  const put = (key: string, value: string, path: string): void => {
    if (key === '' || key.length > 256 || value.length > 256 || !METADATA_TEXT.test(key) || !METADATA_TEXT.test(value) || Object.keys(out).length >= 16) {
      ctx.unsupported(path, "a value Bedrock's requestMetadata cannot hold (at most 16 pairs of up to 256 letters, digits, spaces and :_@$#=/+,-.)");
      return;
    }
    out[key] = value;
  };
  if (req.user !== undefined && req.user !== '') put('user', req.user, 'user');
  for (const [key, value] of Object.entries(req.metadata ?? {})) put(key, value, `metadata.${key}`);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** OpenAI's own request fields (`CanonicalRequest.openai`). */
function openaiFields(req: CanonicalRequest, ctx: DriverContext, body: JsonObject): void {
  for (const [field, value] of Object.entries(req.openai ?? {})) {
    if (value === undefined || value === null) continue;
    if (field === 'service_tier') {
      if (value === 'default' || value === 'flex' || value === 'priority') body.serviceTier = { type: value };
      else if (value !== 'auto') ctx.unsupported('service_tier', `service tier '${String(value)}' (Bedrock has default, flex and priority)`);
    } else if (field === 'store') {
      if (value !== false) ctx.unsupported('store', 'stored completions');
    } else if (field === 'modalities') {
      if (!(Array.isArray(value) && value.every((m) => m === 'text'))) ctx.unsupported('modalities', 'output other than text');
    } else ctx.unsupported(field);
  }
}

/**
 * The client's own `additionalModelRequestFields` and `requestMetadata` merged into the gateway's
 * (the client's keys win). The policy adds Bedrock's other native fields, and judges the rest,
 * around buildRequest (exchange/policy.ts).
 */
function mergeNativeFields(req: CanonicalRequest, body: JsonObject): void {
  for (const field of ['additionalModelRequestFields', 'requestMetadata']) {
    const theirs = req.passthrough[field];
    if (isObject(theirs) && isObject(body[field])) body[field] = { ...body[field], ...theirs };
  }
}

// ---------------------------------------------------------------------------------------------
// Response

/**
 * Converse's usage in OpenAI's shape. With prompt caching, `inputTokens` counts only the input
 * neither read from nor written to the cache (the prompt-caching guide), so prompt tokens are the
 * three together, as OpenAI's prompt_tokens include cached tokens; the cache reads are
 * `cached_tokens`, the writes `cache_write_tokens`. Converse counts no reasoning tokens apart
 * (`outputTokens` includes them): given the answer's reasoning text, `reasoning_tokens` is its
 * estimate (llm/tokens.ts), at most the output tokens.
 */
export function converseUsage(usage: unknown, reasoningText = ''): Usage | null {
  const result = canonicalUsage({
    input: dig(usage, 'inputTokens'),
    output: dig(usage, 'outputTokens'),
    cacheRead: dig(usage, 'cacheReadInputTokens'),
    cacheWrite: dig(usage, 'cacheWriteInputTokens'),
    inputExcludesCache: true,
  });
  if (result && reasoningText !== '') result.completion_tokens_details = { reasoning_tokens: Math.min(estimateTokens(reasoningText), result.completion_tokens) };
  return result;
}

/** A reasoningContent block (answer or stream) as a ReasoningPart; null when it holds nothing. */
function reasoningPart(block: unknown): ReasoningPart | null {
  const redacted = asString(dig(block, 'redactedContent'));
  if (redacted !== undefined) return { type: 'reasoning', text: '', redacted, provider: PROVIDER };
  const text = asObject(dig(block, 'reasoningText'));
  if (!text) return null;
  const part: ReasoningPart = { type: 'reasoning', text: asString(text.text) ?? '', provider: PROVIDER };
  const signature = asString(text.signature);
  if (signature !== undefined) part.signature = signature;
  return part;
}

function finishReason(stopReason: unknown, toolCalls: number, answered: boolean): FinishReason | null {
  if (toolCalls > 0) return 'tool_calls';
  // the structured answer came as the response tool's input: a finished answer, not a tool call
  if (answered && stopReason === 'tool_use') return 'stop';
  if (typeof stopReason !== 'string') return null;
  return Object.hasOwn(STOP_REASONS, stopReason) ? STOP_REASONS[stopReason] : 'stop';
}

function parseConverseResponse(body: string, ctx: DriverContext): CanonicalResponse {
  const response = asObject(parseUpstreamJson(body, PROVIDER));
  const content = asArray(dig(response, 'output', 'message', 'content'));
  if (!response || !content) {
    const message = asString(response?.message) ?? asString(response?.Message);
    if (message !== undefined) throw new TranslationError(`bedrock error: ${message}`);
    throw new TranslationError('no generation candidates received from Bedrock, or max_tokens too short');
  }
  const reasoning: ReasoningPart[] = [];
  const calls: ToolCallPart[] = [];
  let text = '';
  let answer: string | undefined;
  for (const block of content) {
    if (!isObject(block)) continue;
    if (typeof block.text === 'string') text += block.text;
    else if (block.reasoningContent !== undefined) {
      const part = reasoningPart(block.reasoningContent);
      if (part) reasoning.push(part);
    } else if (isObject(block.toolUse)) {
      const use = block.toolUse;
      const input = JSON.stringify(isObject(use.input) ? use.input : {});
      if (use.name === RESPONSE_TOOL) answer = (answer ?? '') + input;
      else calls.push({ type: 'tool_call', id: toolCallId(use.toolUseId, ctx.id, calls.length), name: asString(use.name) ?? '', arguments: input });
    }
    // citationsContent, guardContent ...: no canonical equivalent in an answer.
  }
  const parts: CanonicalResponse['choices'][number]['parts'] = [...reasoning];
  // The structured answer is the tool's input; text the model wrote around the call is not the answer.
  const answerText = answer ?? text;
  if (answerText !== '' || calls.length === 0) parts.push({ type: 'text', text: answerText } satisfies TextPart);
  parts.push(...calls);
  return {
    id: ctx.id,
    created: ctx.now,
    model: ctx.model,
    choices: [{ parts, finishReason: finishReason(response.stopReason, calls.length, answer !== undefined) }],
    usage: converseUsage(response.usage, reasoning.map((r) => r.text).join('')),
  };
}

// ---------------------------------------------------------------------------------------------
// Stream: messageStart, contentBlockStart (a tool use opens), contentBlockDelta (text, tool input,
// reasoning text / signature / redacted content), contentBlockStop, messageStop (the stop reason:
// the provider's end), then metadata (usage).

type OpenBlock = { kind: 'tool'; index: number } | { kind: 'answer'; input: boolean };

class ConverseStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  /** contentBlockIndex → a client tool call (its index among the answer's calls) or the response tool. */
  readonly #blocks = new Map<number, OpenBlock>();
  #toolCalls = 0;
  #answered = false;
  /** The reasoning streamed (for the reasoning-token estimate), bounded like the kept text. */
  #reasoning: string[] = [];
  #reasoningLength = 0;

  protected override get acceptsEventsAfterDone(): boolean {
    return true; // metadata (usage) follows messageStop
  }

  protected translate(event: StreamEvent): string {
    const type = event.event ?? '';
    if (type.startsWith('exception:') || type.startsWith('error:')) {
      const payload = this.parse(event);
      const kind = type.slice(type.indexOf(':') + 1);
      throw new UpstreamStreamError(asString(dig(payload, 'message')) ?? asString(dig(payload, 'Message')) ?? `bedrock reported ${kind}`, kind);
    }
    const data = this.parse(event);
    if (!isObject(data)) throw new TranslationError('malformed bedrock stream event: not an object');
    if (type === 'metadata') {
      this.setUsage(converseUsage(data.usage, this.#reasoning.join('')));
      return '';
    }
    if (this.done) return '';
    switch (type) {
      case 'messageStart':
        return this.out.start();
      case 'contentBlockStart':
        return this.#blockStart(data);
      case 'contentBlockDelta':
        return this.#blockDelta(data);
      case 'contentBlockStop':
        return this.#blockStop(data);
      case 'messageStop':
        this.markDone();
        return this.out.finish(finishReason(data.stopReason, this.#toolCalls, this.#answered));
      default:
        return ''; // event types AWS may add
    }
  }

  #blockStart(data: JsonObject): string {
    const use = asObject(dig(data, 'start', 'toolUse'));
    const at = asNumber(data.contentBlockIndex);
    if (!use || at === undefined) return '';
    if (use.name === RESPONSE_TOOL) {
      this.#blocks.set(at, { kind: 'answer', input: false });
      this.#answered = true;
      return '';
    }
    const index = this.#toolCalls++;
    this.#blocks.set(at, { kind: 'tool', index });
    // arguments '' on the start: the renderer closes a call that never gets any with {}
    return this.out.toolCalls([{ index, id: toolCallId(use.toolUseId, this.ctx.id, index), name: asString(use.name) ?? '', arguments: '' }]);
  }

  #blockDelta(data: JsonObject): string {
    const delta = asObject(data.delta);
    if (!delta) return '';
    if (typeof delta.text === 'string') {
      this.keepText(delta.text);
      return this.out.text(delta.text);
    }
    const reasoning = asObject(delta.reasoningContent);
    if (reasoning) {
      if (typeof reasoning.text === 'string') {
        this.keepText(reasoning.text);
        if (this.#reasoningLength < MAX_KEPT_TEXT) {
          this.#reasoning.push(reasoning.text);
          this.#reasoningLength += reasoning.text.length;
        }
        return this.out.reasoning(reasoning.text);
      }
      if (typeof reasoning.signature === 'string') return this.out.reasoningState({ type: 'reasoning', text: '', signature: reasoning.signature, provider: PROVIDER });
      if (typeof reasoning.redactedContent === 'string') return this.out.reasoningState({ type: 'reasoning', text: '', redacted: reasoning.redactedContent, provider: PROVIDER });
      return '';
    }
    const input = asString(dig(delta, 'toolUse', 'input'));
    if (input === undefined || input === '') return '';
    const block = this.#blocks.get(asNumber(data.contentBlockIndex) ?? -1);
    if (!block) return '';
    this.keepText(input);
    if (block.kind === 'answer') {
      block.input = true;
      return this.out.text(input);
    }
    return this.out.toolCalls([{ index: block.index, arguments: input }]);
  }

  #blockStop(data: JsonObject): string {
    const block = this.#blocks.get(asNumber(data.contentBlockIndex) ?? -1);
    // a response tool called without input answered an empty object, as the JSON answer says
    if (block?.kind === 'answer' && !block.input) {
      block.input = true;
      return this.out.text('{}');
    }
    return '';
  }
}
