/**
 * Cohere's v1 API: `POST /v1/chat` for chat routes, `POST /v1/generate` for completions.
 * Streams are newline-delimited JSON (`stream-start`, `text-generation`, ..., `stream-end`).
 *
 * Reference: https://docs.cohere.com/v1/reference/chat and .../generate (v1 API).
 */
import { RequestError, TranslationError, UpstreamStreamError, type ChatMessage, type ChatRequest, type ClientRequest, type DriverContext, type EmbeddingsContext, type EmbeddingsRequest, type StreamEvent, type TranslatedResponse, type Usage } from '../types.ts';
import { asArray, asObject, asString, dig, isObject, parseUpstreamJson, type JsonObject } from '../json.ts';
import { completionBody, mapFinishReason, usageOf, type FinishReason } from '../openai-shape.ts';
import { clamp, copyNativeFields, putDefined, samplingParams } from '../params.ts';
import { textOnly } from '../content.ts';
import { BaseStreamTranslator } from '../stream/translator.ts';
import { embeddingsBody, embeddingsUsage, expectCount, textInputs, vectorOf } from '../embeddings.ts';
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

/** Cohere-native request fields a client may send and Cohere understands as they are. */
const NATIVE_CHAT_FIELDS = ['preamble', 'conversation_id', 'prompt_truncation', 'connectors', 'documents', 'search_queries_only', 'citation_quality', 'k', 'p', 'seed', 'raw_prompting'] as const;
const NATIVE_GENERATE_FIELDS = ['truncate', 'return_likelihoods', 'end_sequences', 'num_generations', 'logit_bias', 'k', 'p', 'seed', 'raw_prompting'] as const;

export const cohereV1Format: WireFormat = {
  framing: 'ndjson',
  buildRequest: buildCohereRequest,
  parseResponse: parseCohereResponse,
  createStreamTranslator: (ctx) => new CohereStreamTranslator(ctx),
};

// ---------------------------------------------------------------------------------------------
// Request

function buildCohereRequest(req: ClientRequest, ctx: DriverContext): JsonObject {
  const chat = ctx.routeType === 'llm/v1/chat';
  if (chat && req.tools != null) {
    throw new RequestError('tools: not supported by the cohere provider (v1 API tool calls have a different shape)');
  }
  if (chat && typeof req.n === 'number' && req.n > 1) throw new RequestError('n: the cohere chat API returns one choice; expected 1');

  const body: JsonObject = {};
  copyNativeFields(body, req, chat ? NATIVE_CHAT_FIELDS : NATIVE_GENERATE_FIELDS);
  if (chat) Object.assign(body, chatFields((req as ChatRequest).messages, asString(body.preamble)));
  else body.prompt = req.prompt;

  const params = samplingParams(req, ctx.options);
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
    num_generations: !chat && typeof req.n === 'number' ? req.n : undefined,
  });
  return body;
}

/**
 * OpenAI messages → Cohere chat: leading system messages become the `preamble` (Cohere's
 * system prompt; Kong 3.6 sent them as USER turns), the last message is `message`, the rest
 * `chat_history` with Cohere's roles.
 */
function chatFields(messages: ChatMessage[], clientPreamble: string | undefined): JsonObject {
  const texts = messages.map((message, i) => {
    const path = `messages[${i}]`;
    if (message.role === 'tool' || message.role === 'function' || message.tool_calls != null) {
      throw new RequestError(`${path}: tool messages are not supported by the cohere provider`);
    }
    return textOnly(message.content, path, PROVIDER);
  });

  let first = 0;
  const preamble: string[] = clientPreamble === undefined ? [] : [clientPreamble];
  while (first < messages.length - 1 && isSystem(messages[first])) preamble.push(texts[first++]);

  const last = messages.length - 1;
  const history = [];
  for (let i = first; i < last; i++) {
    history.push({ role: isSystem(messages[i]) ? 'SYSTEM' : messages[i].role === 'assistant' ? 'CHATBOT' : 'USER', message: texts[i] });
  }
  const fields: JsonObject = { message: texts[last] };
  if (history.length > 0) fields.chat_history = history;
  if (preamble.length > 0) fields.preamble = preamble.join('\n\n');
  return fields;
}

function isSystem(message: ChatMessage): boolean {
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

/** Like Kong, the answer's shape (chat `text` or generate `generations`) decides how it is read. */
function parseCohereResponse(body: string, ctx: DriverContext): TranslatedResponse {
  const response = asObject(parseUpstreamJson(body, PROVIDER));
  const generations = asArray(response?.generations);
  const usage = cohereUsage(response);
  if (response && generations) {
    return {
      body: completionBody('llm/v1/completions', {
        id: asString(response.id) ?? ctx.id,
        created: ctx.now,
        model: ctx.model,
        choices: generations.map((g) => ({ text: asString(dig(g, 'text')) ?? '', finishReason: finishReason(dig(g, 'finish_reason')) })),
        usage,
      }),
      usage,
      responseModel: null,
    };
  }
  if (response && typeof response.text === 'string') {
    return {
      body: completionBody('llm/v1/chat', {
        id: asString(response.generation_id) ?? asString(response.response_id) ?? ctx.id,
        created: ctx.now,
        model: ctx.model,
        choices: [{ text: response.text, finishReason: finishReason(response.finish_reason) }],
        usage,
      }),
      usage,
      responseModel: null,
    };
  }
  throw new TranslationError("'text' or 'generations' missing from cohere response body");
}

// ---------------------------------------------------------------------------------------------
// Stream

class CohereStreamTranslator extends BaseStreamTranslator {
  protected readonly source = PROVIDER;

  protected translate(event: StreamEvent): string {
    const line = this.parse(event);
    if (!isObject(line)) throw new TranslationError('malformed cohere stream event: not an object');
    switch (line.event_type) {
      case 'stream-start':
        this.out.id = asString(line.generation_id) ?? this.out.id;
        return this.out.role();
      case 'text-generation':
        return this.#text(line);
      case 'stream-end':
        return this.#end(line);
      case 'stream-error':
        throw new UpstreamStreamError(asString(line.err) ?? 'cohere reported an error in the stream', 'upstream_error');
      case undefined:
        // Generate streams from older API versions carry no event_type: a text line or the final line.
        return line.is_finished === true ? this.#end(line) : this.#text(line);
      default:
        return ''; // search-*, citation-generation, tool-calls-*: nothing an OpenAI client can use
    }
  }

  #text(line: JsonObject): string {
    const text = asString(line.text) ?? '';
    this.keepText(text);
    return this.out.text(text);
  }

  #end(line: JsonObject): string {
    const reason = line.finish_reason;
    if (typeof reason === 'string' && FAILED.has(reason)) {
      const detail = asString(dig(line, 'response', 'text'));
      throw new UpstreamStreamError(`cohere stopped the stream: ${reason}${detail ? `: ${detail}` : ''}`, reason === 'ERROR_LIMIT' ? 'rate_limit_error' : 'upstream_error');
    }
    this.setUsage(cohereUsage(line.response));
    this.markDone();
    return this.out.finish(reason == null ? 'stop' : mapFinishReason(FINISH_REASONS, reason));
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
