/**
 * The `llm/v1/embeddings` route type: OpenAI's embeddings request in, each provider's embeddings
 * API upstream, OpenAI's answer out (`{"object":"list","data":[{"object":"embedding","index",
 * "embedding"}],"model","usage":{"prompt_tokens","total_tokens"}}`).
 *
 * Shared here: validating the client's body (with Kong's format-detection messages), reading its
 * inputs, building the OpenAI answer (float vectors, or base64 little-endian float32 when the
 * client asked `encoding_format: base64`, as OpenAI encodes them), and the pass-through driver for
 * OpenAI-compatible embeddings APIs. Each provider's own mapping is in its format module.
 */
import { RequestError, TranslationError, type EmbeddingsContext, type EmbeddingsDriver, type EmbeddingsRequest, type Endpoint, type TranslatedResponse, type Usage } from './types.ts';
import { asArray, asString, dig, isObject, parseUpstreamJson, type JsonObject } from './json.ts';
import { usageOf } from './openai-shape.ts';
import { estimateTokens } from './tokens.ts';

export const EMBEDDINGS_ROUTE = 'llm/v1/embeddings';

/** OpenAI's limit on inputs per request. */
export const MAX_EMBEDDING_INPUTS = 2048;

// ---------------------------------------------------------------------------------------------
// Client request

/**
 * Checks an `llm/v1/embeddings` body. Kong's detection comes first: a chat or completions body
 * sent to an embeddings route gets `[llm/v1/chat] message format is not compatible with
 * [llm/v1/embeddings] route type`. Unknown fields are kept (providers that understand them, e.g.
 * Cohere's `input_type`, read them; the rest drop them). Throws RequestError naming the field.
 */
export function validateEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  const request = isObject(body) ? body : {};
  if (request.input === undefined || request.input === null) {
    const chat = Array.isArray(request.messages) && request.messages.length > 0;
    const completions = typeof request.prompt === 'string';
    if (chat && !completions) throw new RequestError('[llm/v1/chat] message format is not compatible with [llm/v1/embeddings] route type');
    if (completions && !chat) throw new RequestError('[llm/v1/completions] message format is not compatible with [llm/v1/embeddings] route type');
    throw new RequestError(chat ? 'request matches multiple LLM request formats' : 'request format not recognised');
  }
  validateInput(request.input);
  if (present(request.model) && typeof request.model !== 'string') throw new RequestError('model: expected a string');
  if (present(request.encoding_format) && request.encoding_format !== 'float' && request.encoding_format !== 'base64') {
    throw new RequestError("encoding_format: expected 'float' or 'base64'");
  }
  if (present(request.dimensions) && !(Number.isInteger(request.dimensions) && (request.dimensions as number) >= 1)) {
    throw new RequestError('dimensions: expected an integer of at least 1');
  }
  if (present(request.user) && typeof request.user !== 'string') throw new RequestError('user: expected a string');
  return request as EmbeddingsRequest;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((t) => Number.isInteger(t) && t >= 0);
}

function validateInput(input: unknown): void {
  if (typeof input === 'string') {
    if (input === '') throw new RequestError('input: expected a non-empty string');
    return;
  }
  if (!Array.isArray(input) || input.length === 0) {
    throw new RequestError('input: expected a string, an array of strings, or an array of token arrays');
  }
  if (input.length > MAX_EMBEDDING_INPUTS) throw new RequestError(`input: at most ${MAX_EMBEDDING_INPUTS} inputs per request`);
  if (isTokenArray(input)) return;
  input.forEach((item, i) => {
    if (typeof item === 'string') {
      if (item === '') throw new RequestError(`input[${i}]: expected a non-empty string`);
    } else if (!isTokenArray(item)) {
      throw new RequestError(`input[${i}]: expected a string or an array of token ids`);
    }
  });
  const strings = input.filter((item) => typeof item === 'string').length;
  if (strings !== 0 && strings !== input.length) throw new RequestError('input: expected either strings or token arrays, not both');
}

/** The inputs as a list (a single string or token array is a list of one). */
export function embeddingInputs(req: EmbeddingsRequest): (string | number[])[] {
  const input = req.input;
  if (typeof input === 'string') return [input];
  if (isTokenArray(input)) return [input];
  return input as (string | number[])[];
}

/** The inputs as texts, for providers that only embed text: token arrays are a RequestError. */
export function textInputs(req: EmbeddingsRequest, provider: string): string[] {
  return embeddingInputs(req).map((item, i) => {
    if (typeof item !== 'string') throw new RequestError(`input${typeof req.input === 'string' || isTokenArray(req.input) ? '' : `[${i}]`}: token arrays are not supported by the ${provider} provider; send text`);
    return item;
  });
}

/** The text to count when the provider reports no usage (token arrays count as their length). */
export function embeddingsInputText(req: EmbeddingsRequest): string {
  return embeddingInputs(req)
    .filter((item): item is string => typeof item === 'string')
    .join('\n');
}

function tokenArrayCount(req: EmbeddingsRequest): number {
  return embeddingInputs(req).reduce<number>((n, item) => n + (typeof item === 'string' ? 0 : item.length), 0);
}

/**
 * For the plugin: the answer with usage filled in. When the provider counted nothing (`usage`
 * null), the prompt tokens are estimated from the inputs and written into the body's `usage`.
 */
export function completeEmbeddingsUsage(translated: TranslatedResponse, req: EmbeddingsRequest): { body: string; usage: Usage; estimated: boolean } {
  if (translated.usage) return { body: translated.body, usage: translated.usage, estimated: false };
  const prompt = estimateTokens(embeddingsInputText(req)) + tokenArrayCount(req);
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt };
  const parsed = JSON.parse(translated.body) as JsonObject;
  parsed.usage = { prompt_tokens: prompt, total_tokens: prompt };
  return { body: JSON.stringify(parsed), usage, estimated: true };
}

// ---------------------------------------------------------------------------------------------
// Answers

/** Little-endian float32, base64: OpenAI's `encoding_format: base64`. */
export function base64Embedding(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/** A vector from a provider answer: an array of finite numbers, else a TranslationError. */
export function vectorOf(value: unknown, provider: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new TranslationError(`${provider} embeddings answer: an embedding is not an array of numbers`);
  }
  return value as number[];
}

/** Embeddings usage (prompt tokens only), as the gateway's Usage. */
export function embeddingsUsage(promptTokens: unknown): Usage | null {
  return usageOf(promptTokens, 0);
}

/** OpenAI's embeddings answer. */
export function embeddingsBody(vectors: number[][], model: string, usage: Usage | null, req: EmbeddingsRequest): string {
  const base64 = req.encoding_format === 'base64';
  return JSON.stringify({
    object: 'list',
    data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? base64Embedding(vector) : vector })),
    model,
    usage: usage ? { prompt_tokens: usage.prompt_tokens, total_tokens: usage.prompt_tokens } : null,
  });
}

/** Checks that the provider answered one vector per input. */
export function expectCount(vectors: unknown[], req: EmbeddingsRequest, provider: string): void {
  const expected = embeddingInputs(req).length;
  if (vectors.length !== expected) throw new TranslationError(`${provider} embeddings answer: ${vectors.length} embeddings for ${expected} inputs`);
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible embeddings APIs (OpenAI, Azure, Mistral, vLLM, ...)

export interface OpenAIEmbeddingsOptions {
  provider: string;
  endpoint(ctx: EmbeddingsContext): Endpoint;
  /** Send `model` (Azure takes it from the deployment but accepts it). */
  sendModel?: boolean;
  /** The server encodes base64 itself; otherwise we ask for floats and encode (re-serialising the answer). */
  base64?: boolean;
  /** The server takes `dimensions` (OpenAI's v3 models); otherwise asking for it is a RequestError. */
  dimensions?: boolean | string;
  /** The server takes token arrays (OpenAI, Azure, vLLM); otherwise they are a RequestError. */
  tokenArrays?: boolean;
  /** The server takes OpenAI's `user` (Mistral's API rejects fields it does not know). */
  user?: boolean;
}

const OPENAI_EMBEDDING_FIELDS = ['input', 'model', 'encoding_format', 'dimensions', 'user'] as const;

export function openAIEmbeddings(options: OpenAIEmbeddingsOptions): EmbeddingsDriver {
  const provider = options.provider;
  return {
    endpoint: options.endpoint,
    buildRequest(req, ctx) {
      if (!options.tokenArrays) textInputs(req, provider);
      const body: JsonObject = {};
      for (const field of OPENAI_EMBEDDING_FIELDS) if (present(req[field])) body[field] = req[field];
      body.model = ctx.model;
      if (options.sendModel === false) delete body.model;
      if (present(req.dimensions)) {
        if (!options.dimensions) throw new RequestError(`dimensions: not supported by the ${provider} provider`);
        if (typeof options.dimensions === 'string') {
          // Mistral calls it output_dimension.
          body[options.dimensions] = req.dimensions;
          delete body.dimensions;
        }
      }
      if (!options.base64) delete body.encoding_format;
      if (!options.user) delete body.user;
      return body;
    },
    parseResponse(text, req, ctx) {
      const parsed = parseUpstreamJson(text, EMBEDDINGS_ROUTE);
      const data = asArray(dig(parsed, 'data'));
      if (!isObject(parsed) || !data) throw new TranslationError(`'data' not in ${EMBEDDINGS_ROUTE} response`);
      const usage = embeddingsUsage(dig(parsed, 'usage', 'prompt_tokens'));
      const model = asString(parsed.model) || null;
      const wantsBase64 = req.encoding_format === 'base64';
      const upstreamHasBase64 = options.base64 && data.every((item) => typeof dig(item, 'embedding') === 'string');
      if (!wantsBase64 || upstreamHasBase64) {
        // Already the client's answer: the upstream's bytes, unchanged (the hot path).
        if (!upstreamHasBase64) for (const item of data) vectorOf(dig(item, 'embedding'), provider);
        return { body: text, usage, responseModel: model };
      }
      const vectors = data.map((item) => vectorOf(dig(item, 'embedding'), provider));
      return { body: embeddingsBody(vectors, model ?? ctx.model, usage, req), usage, responseModel: model };
    },
  };
}
