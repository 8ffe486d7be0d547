/**
 * Cohere's v1 API: `POST /v1/chat` for chat routes, `POST /v1/generate` for completions.
 * Streams are newline-delimited JSON (`stream-start`, `text-generation`, ..., `stream-end`).
 *
 * Reference: https://docs.cohere.com/v1/reference/chat and .../generate (v1 API), the OpenAPI
 * spec (cohere-ai/cohere-developer-experience `cohere-openapi.yaml`). v1 stays: Kong's fixtures
 * speak it (`message`, `chat_history`, `preamble`); v2 (`/v2/chat`, OpenAI-like messages) would
 * need a configuration switch.
 *
 * The canonical request, field by field (anything else is reported through `ctx.unsupported`):
 * - messages: leading system messages → `preamble` (after the client's own `preamble`), the last
 *   message → `message`, the others → `chat_history` (`USER`, `CHATBOT`, `SYSTEM`); text and
 *   refusal parts only (v1 takes no images, audio or files); reasoning parts of any provider are
 *   left out (their state means nothing to Cohere). Tool calls and tool results cannot be
 *   expressed: v1's tools take `parameter_definitions` (Python types, no JSON schema) and its tool
 *   results are matched by name and parameters, not ids.
 * - output: `json_object` → `response_format: {type: json_object}`, `json_schema` →
 *   `{type: json_object, schema}` (chat only; generate has no response_format).
 * - sampling: `max_tokens`, `temperature` (clamped to 0..1 chat, 0..5 generate), `p` (0.01..0.99),
 *   `k`, `stop_sequences`, `seed`, penalties; generate also `num_generations` (n). `logit_bias` is
 *   no longer in either API (the current spec has none): reported.
 * - no reasoning (v1 has no thinking parameter), no tools, no logprobs in the canonical answer.
 */
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type EmbeddingsContext, type EmbeddingsRequest, type StreamEvent, type TranslatedResponse } from '../types.ts';
import type { CanonicalRequest, CanonicalResponse, FinishReason, Message, ToolCallPart, Usage } from '../../exchange/types.ts';
import { asArray, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { mapFinishReason, usageOf } from '../openai-shape.ts';
import { clamp, putDefined, resolveSampling } from '../params.ts';
import { toolCallId } from '../../exchange/ids.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { embeddingsBody, embeddingsUsage, expectCount, textInputs, vectorOf } from '../embeddings.ts';
import { partPath, reportCacheMarks, reportUnmapped } from '../../exchange/report.ts';
import type { WireFormat } from './format.ts';

const PROVIDER = 'cohere';

const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  COMPLETE: 'stop',
  STOP_SEQUENCE: 'stop',
  END_TURN: 'stop',
  USER_CANCEL: 'stop',
  MAX_TOKENS: 'length',
  ERROR_TOXIC: 'content_filter',
};

/**
 * Cohere's temperature ranges (v1 OpenAPI spec): 0..1 for chat, 0..5 for generate. Values outside
 * are clamped, as for Anthropic, so OpenAI-style values (0..2) keep working.
 */
const MAX_TEMPERATURE = { chat: 1, generate: 5 } as const;

/** Finish reasons that mean the generation failed: not an answer to hand to the client as complete. */
const FAILED = new Set(['ERROR', 'ERROR_LIMIT']);

/**
 * Cohere-native request fields a client may send and Cohere understands as they are: sent whatever
 * the unsupported-params policy (the plugin adds them where the mapping set nothing; the client's
 * `preamble` is joined with the system messages here).
 */
const NATIVE_CHAT_FIELDS = ['preamble', 'conversation_id', 'prompt_truncation', 'connectors', 'documents', 'search_queries_only', 'citation_quality', 'k', 'p', 'raw_prompting'] as const;
const NATIVE_GENERATE_FIELDS = ['truncate', 'return_likelihoods', 'end_sequences', 'num_generations', 'k', 'p', 'raw_prompting'] as const;

export const cohereV1Format: WireFormat = {
  framing: 'ndjson',
  nativeFields: (ctx) => (ctx.routeType === 'llm/v1/chat' ? NATIVE_CHAT_FIELDS : NATIVE_GENERATE_FIELDS),
  buildRequest: buildCohereRequest,
  parseResponse: parseCohereResponse,
  createStreamTranslator: (ctx) => new CohereStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// Request

function buildCohereRequest(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const chat = req.kind === 'chat';
  reportUnmapped(req, ctx, { choices: !chat, penalties: true, seed: true });
  reportCacheMarks(req, ctx);
  // tool_choice `none`: no tool may be called, which is what sending no tools means.
  if ((req.tools?.length ?? 0) > 0 && req.toolChoice?.type !== 'none') ctx.unsupported('tools', 'tools (the v1 API takes parameter_definitions, not JSON schemas)');
  else if (req.toolChoice?.type === 'required' || req.toolChoice?.type === 'tool') ctx.unsupported('tool_choice', 'forcing a tool call');
  if (req.reasoning?.effort !== undefined && req.reasoning.effort !== 'none') ctx.unsupported('reasoning_effort', 'reasoning (the v1 API has none)');
  else if (req.reasoning?.budgetTokens !== undefined && req.reasoning.budgetTokens > 0) ctx.unsupported('reasoning_effort', 'a thinking budget (the v1 API has none)');

  const body: JsonObject = {};
  if (chat) Object.assign(body, chatFields(req, ctx));
  else body.prompt = req.prompt ?? '';

  if (req.output && req.output.type !== 'text') {
    if (!chat) ctx.unsupported('response_format', 'structured output (Cohere generate has no response_format)');
    else body.response_format = req.output.type === 'json_schema' ? { type: 'json_object', schema: req.output.schema } : { type: 'json_object' };
  }

  const params = resolveSampling(req.sampling, ctx.options);
  const s = req.sampling;
  putDefined(body, {
    model: ctx.model,
    stream: ctx.stream,
    max_tokens: params.maxTokens,
    temperature: params.temperature === undefined ? undefined : clamp(params.temperature, 0, MAX_TEMPERATURE[chat ? 'chat' : 'generate']),
    // Cohere's p is 0.01..0.99; OpenAI's (and Kong 3.6's default) 1.0 means the same as 0.99 here.
    p: params.topP === undefined ? undefined : clamp(params.topP, 0.01, 0.99),
    k: params.topK,
    stop_sequences: params.stop,
    seed: params.seed,
    presence_penalty: params.presencePenalty,
    frequency_penalty: params.frequencyPenalty,
    num_generations: !chat && s.n !== undefined ? s.n : undefined,
  });
  return body;
}

/**
 * Canonical messages → Cohere chat: leading system messages become the `preamble` (Cohere's
 * system prompt; Kong 3.6 sent them as USER turns), the last message is `message`, the rest
 * `chat_history` with Cohere's roles.
 */
function chatFields(req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const kept: { message: Message; text: string }[] = [];
  req.messages.forEach((message, i) => {
    if (message.name !== undefined) ctx.unsupported(`messages[${i}].name`, 'participant names');
    if (message.role === 'tool') {
      ctx.unsupported(`messages[${i}]`, 'tool results (the v1 API matches them by name and parameters, not ids)');
      return;
    }
    const texts: string[] = [];
    message.parts.forEach((part, j) => {
      if (part.type === 'text' || part.type === 'refusal') texts.push(part.text);
      else if (part.type !== 'reasoning') ctx.unsupported(partPath(message, i, j), part.type === 'tool_call' ? 'tool calls' : `${part.type} content`);
    });
    // A message that was only what Cohere cannot take (reasoning, or parts dropped under the policy)
    // is left out: chat_history messages must not be empty (OpenAPI spec: minLength 1).
    const text = texts.join('\n');
    if (text !== '' || message.parts.every((part) => part.type === 'text' || part.type === 'refusal')) kept.push({ message, text });
  });
  if (kept.length === 0) throw new RequestError('messages: nothing the cohere provider can take is left');

  const preamble: string[] = [];
  const clientPreamble = asString(req.passthrough.preamble);
  if (clientPreamble !== undefined) preamble.push(clientPreamble);
  let first = 0;
  while (first < kept.length - 1 && isSystem(kept[first].message)) preamble.push(kept[first++].text);

  const last = kept.length - 1;
  const history = [];
  for (let i = first; i < last; i++) {
    const { message, text } = kept[i];
    history.push({ role: isSystem(message) ? 'SYSTEM' : message.role === 'assistant' ? 'CHATBOT' : 'USER', message: text });
  }
  const fields: JsonObject = { message: kept[last].text };
  if (history.length > 0) fields.chat_history = history;
  if (preamble.length > 0) fields.preamble = preamble.join('\n\n');
  return fields;
}

function isSystem(message: Message): boolean {
  return message.role === 'system' || message.role === 'developer';
}

// ---------------------------------------------------------------------------------------------
// Response

/** Cohere reports billed units (what is charged), raw token counts, and a legacy token_count; in that order of preference. */
function cohereUsage(response: unknown): Usage | null {
  return (
    usageOf(dig(response, 'meta', 'billed_units', 'input_tokens'), dig(response, 'meta', 'billed_units', 'output_tokens')) ??
    usageOf(dig(response, 'meta', 'tokens', 'input_tokens'), dig(response, 'meta', 'tokens', 'output_tokens')) ??
    usageOf(dig(response, 'token_count', 'prompt_tokens'), dig(response, 'token_count', 'response_tokens'))
  );
}

function finishReason(reason: unknown): FinishReason | null {
  if (typeof reason === 'string' && FAILED.has(reason)) throw new TranslationError(`cohere reported finish_reason ${reason}`);
  return reason == null ? 'stop' : mapFinishReason(FINISH_REASONS, reason);
}

/**
 * v1 tool calls (`{name, parameters}`, answered when the client passed Cohere's own `tools` under
 * the `pass` policy): they have no ids, so neutral ones are made from the answer's id.
 */
function toolCallsOf(calls: unknown, answerId: string, first = 0): ToolCallPart[] {
  return (asArray(calls) ?? []).map((call, k) => ({
    type: 'tool_call',
    id: toolCallId(undefined, answerId, first + k),
    name: asString(dig(call, 'name')) ?? '',
    arguments: JSON.stringify(asObject(dig(call, 'parameters')) ?? {}),
  }));
}

/** Like Kong, the answer's shape (chat `text` or generate `generations`) decides how it is read. */
function parseCohereResponse(body: string, ctx: DriverContext): CanonicalResponse {
  const response = asObject(parseUpstreamJson(body, PROVIDER));
  const generations = asArray(response?.generations);
  const usage = cohereUsage(response);
  if (response && generations) {
    return {
      id: asString(response.id) ?? ctx.id,
      created: ctx.now,
      model: ctx.model,
      choices: generations.map((g) => ({ parts: [{ type: 'text', text: asString(dig(g, 'text')) ?? '' }], finishReason: finishReason(dig(g, 'finish_reason')) })),
      usage,
    };
  }
  if (response && typeof response.text === 'string') {
    const id = asString(response.generation_id) ?? asString(response.response_id) ?? ctx.id;
    const calls = toolCallsOf(response.tool_calls, id);
    const reason = finishReason(response.finish_reason);
    return {
      id,
      created: ctx.now,
      model: ctx.model,
      choices: [
        {
          parts: response.text === '' && calls.length > 0 ? calls : [{ type: 'text', text: response.text }, ...calls],
          finishReason: calls.length > 0 && reason === 'stop' ? 'tool_calls' : reason,
        },
      ],
      usage,
    };
  }
  throw new TranslationError("'text' or 'generations' missing from cohere response body");
}

// ---------------------------------------------------------------------------------------------
// Stream

class CohereStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;
  #toolCalls = 0;

  protected translate(event: StreamEvent): string {
    const line = this.parse(event);
    if (!isObject(line)) throw new TranslationError('malformed cohere stream event: not an object');
    switch (line.event_type) {
      case 'stream-start':
        this.out.id = asString(line.generation_id) ?? this.out.id;
        return this.out.start();
      case 'text-generation':
        return this.#text(line);
      case 'tool-calls-generation':
        return this.#toolCallsOf(line);
      case 'stream-end':
        return this.#end(line);
      case 'stream-error':
        throw new UpstreamStreamError(asString(line.err) ?? 'cohere reported an error in the stream', 'upstream_error');
      case undefined:
        // Generate streams from older API versions carry no event_type: a text line or the final line.
        return line.is_finished === true ? this.#end(line) : this.#text(line);
      default:
        // search-*, citation-generation: nothing the canonical answer carries; tool-calls-chunk:
        // the same calls as tool-calls-generation, in pieces.
        return '';
    }
  }

  #text(line: JsonObject): string {
    const text = asString(line.text) ?? '';
    this.keepText(text);
    return this.out.text(text);
  }

  /** The whole calls at once (`tool_calls: [{name, parameters}]`). */
  #toolCallsOf(line: JsonObject): string {
    const calls = toolCallsOf(line.tool_calls, this.out.id, this.#toolCalls);
    if (calls.length === 0) return '';
    const frames = this.out.toolCalls(calls.map((call, k) => ({ index: this.#toolCalls + k, id: call.id, name: call.name, arguments: call.arguments })));
    this.#toolCalls += calls.length;
    return frames;
  }

  #end(line: JsonObject): string {
    const reason = line.finish_reason;
    if (typeof reason === 'string' && FAILED.has(reason)) {
      const detail = asString(dig(line, 'response', 'text'));
      throw new UpstreamStreamError(`cohere stopped the stream: ${reason}${detail ? `: ${detail}` : ''}`, reason === 'ERROR_LIMIT' ? 'rate_limit_error' : 'upstream_error');
    }
    this.setUsage(cohereUsage(line.response));
    this.markDone();
    const mapped = reason == null ? 'stop' : mapFinishReason(FINISH_REASONS, reason);
    return this.out.finish(this.#toolCalls > 0 && mapped === 'stop' ? 'tool_calls' : mapped);
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings: `POST /v1/embed` `{texts, model, input_type, embedding_types: ["float"], truncate?}` →
// `{id, embeddings: {float: [[...]]}, texts, meta: {billed_units: {input_tokens}}}`
// (https://docs.cohere.com/v1/reference/embed). `input_type` is required by embed v3 models; a
// client may send Cohere's own (`search_query`, `classification` ...), else `search_document`.

export function buildCohereEmbeddings(req: EmbeddingsRequest, ctx: EmbeddingsContext): JsonObject {
  if (req.dimensions !== undefined && req.dimensions !== null) throw new RequestError('dimensions: not supported by the cohere provider');
  const body: JsonObject = {
    texts: textInputs(req, PROVIDER),
    model: ctx.model,
    input_type: asString(req.input_type) ?? 'search_document',
    embedding_types: ['float'],
  };
  if (typeof req.truncate === 'string') body.truncate = req.truncate;
  return body;
}

export function parseCohereEmbeddings(text: string, req: EmbeddingsRequest, ctx: EmbeddingsContext): TranslatedResponse {
  const response = asObject(parseUpstreamJson(text, 'llm/v1/embeddings'));
  const embeddings = response?.embeddings;
  const list = asArray(embeddings) ?? asArray(dig(embeddings, 'float'));
  if (!response || !list) throw new TranslationError("'embeddings' missing from cohere response body");
  expectCount(list, req, PROVIDER);
  const vectors = list.map((v) => vectorOf(v, PROVIDER));
  const usage = embeddingsUsage(dig(response, 'meta', 'billed_units', 'input_tokens') ?? dig(response, 'meta', 'tokens', 'input_tokens'));
  return { body: embeddingsBody(vectors, ctx.model, usage, req), usage, responseModel: null };
}
