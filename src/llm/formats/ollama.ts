/**
 * Ollama's native API (`/api/chat`, `/api/generate`), used by llama2 and mistral with the
 * `ollama` format. Streams are newline-delimited JSON ending with a `done: true` line that carries
 * the token counts.
 *
 * Reference: https://github.com/ollama/ollama/blob/main/docs/api.md, `api/types.go` and
 * `docs/capabilities/` (structured-outputs, thinking, tool-calling, vision).
 *
 * The canonical request, field by field (anything else is reported through `ctx.unsupported`):
 * - messages: `developer` → `system`; text (and refusal) parts joined into `content`; base64 images
 *   → `images` (Ollama cannot fetch URLs); reasoning text without a provider or from this one → the
 *   assistant's `thinking` (another provider's reasoning and all provider state are left out); tool calls → `tool_calls` with object
 *   arguments and the call's `id`; each tool result → one `tool` message with `tool_call_id` and the
 *   `tool_name` of its call (older servers match results by name).
 * - tools → OpenAI's tool shape (Ollama takes it); `tool_choice: none` → no tools sent (the same
 *   answer); `required` / a named tool and `parallel_tool_calls: false` cannot be expressed. A
 *   tool's `strict` is not sent (Ollama has none), as for Gemini: SDKs set it on every tool, and
 *   refusing it would refuse every such client's tools.
 * - output: `json_object` → `format: "json"`, `json_schema` → `format: <schema>` (Ollama constrains
 *   decoding to it: structured outputs).
 * - reasoning: `think`: effort `none` → `false`, `minimal`/`low` → `"low"`, `medium`, `high` (levels
 *   need Ollama 0.11+; every thinking model takes them, gpt-oss only takes levels); a budget alone →
 *   `true`. Thinking models think by default when `think` is unset.
 * - sampling → `options`: `num_predict`, `temperature`, `top_p`, `top_k`, `stop`, `seed`, penalties.
 * The answer: `message.thinking` (generate: `thinking`) → reasoning, `content`/`response` → text,
 * `tool_calls` → tool calls with neutral ids (Ollama's own `call_...`, else generated) and arguments
 * as JSON text; usage from `prompt_eval_count` / `eval_count` (thinking tokens included).
 */
import { TranslationError, UpstreamStreamError, type ClientRequest, type DriverContext, type EmbeddingsContext, type EmbeddingsRequest, type StreamEvent, type TranslatedResponse } from '../types.ts';
import type { CanonicalChoice, CanonicalRequest, CanonicalResponse, FinishReason, ImagePart, Message, ReasoningEffort, ToolCallPart, Usage } from '../../exchange/types.ts';
import { argumentsObject, asArray, asNumber, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { mapFinishReason, usageOf } from '../openai-shape.ts';
import { copyNativeFields, putDefined, resolveSampling } from '../params.ts';
import { parseDataUrl } from '../content.ts';
import { toolCallId } from '../../exchange/ids.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { embeddingsBody, embeddingsUsage, expectCount, textInputs, vectorOf } from '../embeddings.ts';
import { partPath, reportCacheMarks, reportUnmapped } from '../../exchange/report.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'ollama';

const DONE_REASONS: Readonly<Record<string, FinishReason>> = {
  stop: 'stop',
  length: 'length',
  load: 'stop',
  unload: 'stop',
};

/** Reasoning effort as Ollama's `think` levels (`api.ThinkValue`: low, medium, high, max). */
const THINK_LEVELS: Readonly<Record<ReasoningEffort, boolean | string>> = {
  none: false,
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
};

/**
 * Ollama's own top-level fields a client may send (sent whatever the unsupported-params policy;
 * the plugin adds them when the mapping did not set them): chat and generate, then generate's.
 */
const NATIVE_CHAT_FIELDS = ['keep_alive', 'think', 'format', 'truncate', 'shift'] as const;
const NATIVE_GENERATE_FIELDS = [...NATIVE_CHAT_FIELDS, 'suffix', 'system', 'template', 'raw', 'images'] as const;

export const ollamaFormat: WireFormat = {
  framing: 'ndjson',
  nativeFields: (ctx) => (ctx.routeType === 'llm/v1/chat' ? NATIVE_CHAT_FIELDS : NATIVE_GENERATE_FIELDS),
  buildRequest: buildOllamaRequest,
  parseResponse: parseOllamaResponse,
  createStreamTranslator: (ctx) => new OllamaStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// What several formats share: the sampling fields with the route's configured options applied, and
// the fields of a canonical request only some providers can carry.

// ---------------------------------------------------------------------------------------------
// Request

function buildOllamaRequest(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const chat = req.kind === 'chat';
  reportUnmapped(req, ctx, { penalties: true, seed: true });
  reportCacheMarks(req, ctx);

  const body: JsonObject = { model: ctx.model };
  if (chat) body.messages = toOllamaMessages(req.messages, ctx);
  else body.prompt = req.prompt ?? '';
  // Ollama streams by default: `stream` is always explicit.
  body.stream = ctx.stream;

  const format = outputFormat(req);
  if (format !== undefined) body.format = format;
  const think = thinkValue(req, ctx);
  if (think !== undefined) body.think = think;
  if (chat) {
    const tools = toolsOf(req, ctx);
    if (tools) body.tools = tools;
  }

  const params = resolveSampling(req.sampling, ctx.options);
  const options: JsonObject = {};
  // Ollama's own options the client sent, when the policy is `pass` (the plugin adds the other
  // passthrough fields it lets through): the mapped ones win.
  const native = ctx.policy === 'pass' ? asObject(req.passthrough.options) : undefined;
  if (native) Object.assign(options, native);
  putDefined(options, {
    num_predict: params.maxTokens,
    temperature: params.temperature,
    top_p: params.topP,
    top_k: params.topK,
    stop: params.stop,
    seed: params.seed,
    presence_penalty: params.presencePenalty,
    frequency_penalty: params.frequencyPenalty,
  });
  if (Object.keys(options).length > 0) body.options = options;
  return body;
}

/** The canonical output format as Ollama's `format`: "json" or a JSON schema (structured outputs). */
function outputFormat(req: CanonicalRequest): unknown {
  if (req.output?.type === 'json_object') return 'json';
  if (req.output?.type === 'json_schema') return req.output.schema;
  return undefined;
}

function thinkValue(req: CanonicalRequest, ctx: DriverContext): boolean | string | undefined {
  const reasoning = req.reasoning;
  if (!reasoning) return undefined;
  if (reasoning.includeEncrypted) ctx.unsupported('include', 'encrypted reasoning (Ollama has no reasoning state)');
  if (reasoning.effort !== undefined) return THINK_LEVELS[reasoning.effort];
  // A thinking budget: Ollama thinks or not, it takes no budget.
  if (reasoning.budgetTokens !== undefined) return reasoning.budgetTokens > 0;
  return undefined;
}

function toolsOf(req: CanonicalRequest, ctx: DriverContext): JsonObject[] | undefined {
  const tools = req.tools ?? [];
  if (tools.length === 0) return undefined;
  // `none`: the model may not call a tool, which is what sending no tools means.
  if (req.toolChoice?.type === 'none') return undefined;
  if (req.toolChoice?.type === 'required' || req.toolChoice?.type === 'tool') ctx.unsupported('tool_choice', 'forcing a tool call');
  if (req.parallelToolCalls === false) ctx.unsupported('parallel_tool_calls', 'limiting tool calls to one per turn');
  const out: JsonObject[] = [];
  tools.forEach((tool, i) => {
    if (tool.type !== 'function') {
      ctx.unsupported(`tools[${i}]`, `the built-in tool '${tool.name}'`);
      return;
    }
    const fn: JsonObject = { name: tool.name };
    if (tool.description !== undefined) fn.description = tool.description;
    fn.parameters = tool.parameters;
    out.push({ type: 'function', function: fn });
  });
  return out.length > 0 ? out : undefined;
}

function toOllamaMessages(messages: Message[], ctx: DriverContext): JsonObject[] {
  const toolNames = new Map<string, string>();
  const out: JsonObject[] = [];
  messages.forEach((message, i) => {
    if (message.name !== undefined) ctx.unsupported(`messages[${i}].name`, 'participant names');
    if (message.role === 'tool') {
      message.parts.forEach((part, j) => {
        if (part.type !== 'tool_result') {
          ctx.unsupported(partPath(message, i, j), `'${part.type}' content in a tool message`);
          return;
        }
        const result: JsonObject = { role: 'tool', content: '' };
        const images: string[] = [];
        const texts: string[] = [];
        part.content.forEach((inner, k) => {
          const at = `${partPath(message, i, j)}.content[${k}]`;
          if (inner.type === 'text') texts.push(inner.text);
          else pushImage(inner, at, images, ctx);
        });
        if (part.isError) ctx.unsupported(`${partPath(message, i, j)}.is_error`, 'tool error flags');
        result.content = texts.join('\n');
        if (images.length > 0) result.images = images;
        // Ollama matches a result to its call by `tool_call_id` (newer servers) or by the tool's name.
        const name = part.name ?? toolNames.get(part.toolCallId);
        if (name) result.tool_name = name;
        result.tool_call_id = part.toolCallId;
        out.push(result);
      });
      return;
    }

    const texts: string[] = [];
    const images: string[] = [];
    const thinking: string[] = [];
    const calls: JsonObject[] = [];
    message.parts.forEach((part, j) => {
      const at = partPath(message, i, j);
      switch (part.type) {
        case 'text':
        case 'refusal':
          texts.push(part.text);
          return;
        case 'image':
          pushImage(part, at, images, ctx);
          return;
        case 'reasoning':
          // Ollama takes the assistant's earlier reasoning as text (`thinking`): reasoning without a
          // provider (a client's `reasoning_content`) or from this one. Another provider's reasoning
          // and any provider state (signatures, encrypted content) mean nothing here: left out.
          if (message.role === 'assistant' && part.text !== '' && (part.provider === undefined || part.provider === ctx.provider)) thinking.push(part.text);
          return;
        case 'tool_call':
          if (message.role !== 'assistant') {
            ctx.unsupported(at, 'tool calls outside an assistant message');
            return;
          }
          toolNames.set(part.id, part.name);
          calls.push({ id: part.id, function: { index: calls.length, name: part.name, arguments: argumentsObject(part.arguments, `${at}.function.arguments`) } });
          return;
        case 'audio':
          ctx.unsupported(at, 'audio content');
          return;
        case 'file':
          ctx.unsupported(at, 'file content');
          return;
        case 'tool_result':
          ctx.unsupported(at, 'a tool result outside a tool message');
          return;
      }
    });
    const role = message.role === 'developer' ? 'system' : message.role;
    const item: JsonObject = { role, content: texts.join('\n') };
    if (thinking.length > 0) item.thinking = thinking.join('\n');
    if (images.length > 0) item.images = images;
    if (calls.length > 0) item.tool_calls = calls;
    out.push(item);
  });
  return out;
}

/** Ollama takes base64 images only: no URLs, no file ids. */
function pushImage(part: ImagePart, at: string, images: string[], ctx: DriverContext): void {
  const source = part.source;
  const inline = source.kind === 'base64' ? source.data : source.kind === 'url' ? parseDataUrl(source.url)?.data : undefined;
  if (inline === undefined) {
    ctx.unsupported(at, source.kind === 'url' ? 'image URLs (Ollama takes base64 images only)' : 'file ids');
    return;
  }
  if (part.detail !== undefined && part.detail !== 'auto') ctx.unsupported(`${at}.image_url.detail`, 'image detail levels');
  images.push(inline);
}

// ---------------------------------------------------------------------------------------------
// Response

function parseOllamaResponse(body: string, ctx: DriverContext): CanonicalResponse {
  const response = asObject(parseUpstreamJson(body, PROVIDER));
  if (response && typeof response.error === 'string') throw new TranslationError(`ollama error: ${response.error}`);
  const chat = ctx.routeType === 'llm/v1/chat';
  const message = asObject(response?.message);
  const text = chat ? asString(message?.content) : asString(response?.response);
  if (!response || text === undefined) {
    throw new TranslationError(`'${chat ? 'message' : 'response'}' missing from ollama response body`);
  }
  const thinking = chat ? asString(message?.thinking) : asString(response.thinking);
  const calls = toolCallsOf(chat ? message?.tool_calls : response.tool_calls, ctx.id, 0);
  const parts: CanonicalChoice['parts'] = [];
  if (thinking) parts.push({ type: 'reasoning', text: thinking, provider: ctx.provider });
  if (text !== '' || calls.length === 0) parts.push({ type: 'text', text });
  parts.push(...calls);
  return {
    id: ctx.id,
    created: createdAt(response.created_at) ?? ctx.now,
    model: asString(response.model) || ctx.model,
    choices: [{ parts, finishReason: doneReason(response, ctx, calls.length > 0) }],
    usage: ollamaUsage(response),
  };
}

/** Ollama omits prompt_eval_count when the whole prompt came from its cache: that is 0 new prompt tokens. */
function ollamaUsage(response: JsonObject): Usage | null {
  if (asNumber(response.eval_count) === undefined) return null;
  return usageOf(response.prompt_eval_count ?? 0, response.eval_count);
}

/** Kong 3.6 put the ISO string here; OpenAI's `created` is epoch seconds. */
function createdAt(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** `done_reason` when Ollama reports it (0.1.3x+); else Kong's rule: all the tokens allowed were used. */
function doneReason(response: JsonObject, ctx: DriverContext, toolCalls: boolean): FinishReason | null {
  if (toolCalls) return 'tool_calls';
  if (typeof response.done_reason === 'string') return mapFinishReason(DONE_REASONS, response.done_reason);
  const limit = asNumber(ctx.options.max_tokens);
  return limit !== undefined && response.eval_count === limit ? 'length' : 'stop';
}

/**
 * Ollama's tool calls: `{id?, function: {index?, name, arguments: {...}}}`. Ollama's own ids
 * (`call_` and 8 characters) are neutral already; older servers give none, which are made from the
 * answer's id. Arguments are an object: JSON text out, `{}` when absent.
 */
function toolCallsOf(calls: unknown, answerId: string, first: number): ToolCallPart[] {
  return (asArray(calls) ?? []).map((call, k) => ({
    type: 'tool_call',
    id: toolCallId(dig(call, 'id'), answerId, first + k),
    name: asString(dig(call, 'function', 'name')) ?? '',
    arguments: argumentsText(dig(call, 'function', 'arguments')),
  }));
}

function argumentsText(args: unknown): string {
  if (isObject(args)) return JSON.stringify(args);
  // Some servers speaking Ollama's API send the arguments as JSON text.
  if (typeof args === 'string') {
    try {
      if (isObject(JSON.parse(args))) return args;
    } catch {
      // not JSON: below
    }
    throw new TranslationError('ollama tool call arguments: expected a JSON object');
  }
  if (args == null) return '{}';
  throw new TranslationError('ollama tool call arguments: expected a JSON object');
}

// ---------------------------------------------------------------------------------------------
// Stream

class OllamaStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  #started = false;
  #toolCalls = 0;

  protected translate(event: StreamEvent): string {
    const line = this.parse(event);
    if (!isObject(line)) throw new TranslationError('malformed ollama stream event: not an object');
    if (typeof line.error === 'string') throw new UpstreamStreamError(line.error, 'upstream_error');
    let frames = this.#start(line);

    const chat = this.ctx.routeType === 'llm/v1/chat';
    const thinking = chat ? asString(dig(line, 'message', 'thinking')) : asString(line.thinking);
    if (thinking) {
      this.keepText(thinking);
      frames += this.out.reasoning(thinking);
    }
    const text = chat ? asString(dig(line, 'message', 'content')) : asString(line.response);
    if (text) {
      this.keepText(text);
      frames += this.out.text(text);
    }
    // Ollama sends each tool call whole, in one line.
    const calls = toolCallsOf(chat ? dig(line, 'message', 'tool_calls') : line.tool_calls, this.ctx.id, this.#toolCalls);
    if (calls.length > 0) {
      frames += this.out.toolCalls(calls.map((call, k) => ({ index: this.#toolCalls + k, id: call.id, name: call.name, arguments: call.arguments })));
      this.#toolCalls += calls.length;
    }
    if (line.done === true) {
      this.setUsage(ollamaUsage(line));
      this.markDone();
      frames += this.out.finish(doneReason(line, this.ctx, this.#toolCalls > 0));
    }
    return frames;
  }

  #start(line: JsonObject): string {
    if (this.#started) return '';
    this.#started = true;
    this.setModel(line.model);
    this.out.model = asString(line.model) || this.out.model;
    this.out.created = createdAt(line.created_at) ?? this.out.created;
    return this.out.start();
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings: `POST /api/embed` `{model, input, dimensions?, truncate?, keep_alive?}` →
// `{model, embeddings: [[...]], prompt_eval_count}` (docs/api.md, "Generate Embeddings").

const NATIVE_EMBED_FIELDS = ['truncate', 'keep_alive', 'options'] as const;

export function buildOllamaEmbeddings(req: EmbeddingsRequest, ctx: EmbeddingsContext): JsonObject {
  const texts = textInputs(req, PROVIDER);
  const body: JsonObject = { model: ctx.model, input: texts };
  copyNativeFields(body, req as unknown as ClientRequest, NATIVE_EMBED_FIELDS);
  if (typeof req.dimensions === 'number') body.dimensions = req.dimensions;
  return body;
}

export function parseOllamaEmbeddings(text: string, req: EmbeddingsRequest, ctx: EmbeddingsContext): TranslatedResponse {
  const response = asObject(parseUpstreamJson(text, 'llm/v1/embeddings'));
  if (response && typeof response.error === 'string') throw new TranslationError(`ollama error: ${response.error}`);
  const list = asArray(response?.embeddings);
  if (!response || !list) throw new TranslationError("'embeddings' missing from ollama response body");
  expectCount(list, req, PROVIDER);
  const vectors = list.map((v) => vectorOf(v, PROVIDER));
  const usage = embeddingsUsage(response.prompt_eval_count);
  const model = asString(response.model) || null;
  return { body: embeddingsBody(vectors, model ?? ctx.model, usage, req), usage, responseModel: model };
}
