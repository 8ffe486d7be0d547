/**
 * Cohere API v1: `POST /v1/chat`, the legacy `POST /v1/generate`, and `POST /v1/embed`.
 *
 * Sources:
 * - OpenAPI spec (cohere-ai/cohere-developer-experience `fern/openapi/chat.yaml`, `generate.yaml`,
 *   `types/ChatRole.yaml`): chat requires `message`; `chat_history` items `{role, message}` with role
 *   CHATBOT / SYSTEM / USER / TOOL; `preamble`; `temperature` 0–1 (chat) / 0–5 (generate); `k` 0–500;
 *   `p` 0.01–0.99; generate requires `prompt`; `num_generations` 1–5; default models `command-r-plus` (chat)
 *   and `command` (generate). Stream responses are `application/stream+json` (newline-delimited JSON),
 *   or SSE when the request says `Accepts: text/event-stream` (chat reference, "Accepts" header).
 * - Stream events (docs "Streaming" v1, and captured streams in Kong's spec fixtures and SDK tests):
 *   `{"is_finished":false,"event_type":"stream-start","generation_id":...}`,
 *   `{"is_finished":false,"event_type":"text-generation","text":...}`,
 *   `{"is_finished":true,"event_type":"stream-end","finish_reason":"COMPLETE","response":{...}}`;
 *   generate streams `{"text":...,"is_finished":false}` then `{"is_finished":true,"finish_reason":...,"response":{id,generations,prompt}}`.
 * - Embed (fern/openapi `embed.yaml`, docs.cohere.com/v1/reference/embed): `texts` (1..96 strings),
 *   `model` (default `embed-english-v2.0`), `input_type` (search_document, search_query,
 *   classification, clustering, image; required by v3+ models: "invalid request: valid input_type
 *   must be provided with the provided model"), `embedding_types` (float, int8, uint8, binary, ubinary),
 *   `truncate` (NONE, START, END); answers `embeddings` by type (`response_type: embeddings_by_type`)
 *   or as plain float lists (`embeddings_floats`), `meta.billed_units.input_tokens`.
 * - Request fields (OpenAPI spec `/v1/chat`, `/v1/generate`): anything else is refused as embed does
 *   ("invalid request: unknown field: parameter X is not a valid field"). Chat's `response_format`
 *   (`ResponseFormat`): `{type: "text"}` or `{type: "json_object", schema?}` (the schema "must not be
 *   specified when the type is text"), "not supported in RAG mode (when any of connectors,
 *   documents, tools, tool_results are provided)"; a JSON answer is then an instance of the schema
 *   (or `{"answer": ...}`). Generate has no response_format (nor, any more, logit_bias).
 * - Errors are `{"message": "..."}`: 401 "no api key supplied" / "invalid api token" (cohere-toolkit#857,
 *   openhuman#3354), 400 "invalid request: message must be at least 1 token long or tool results must be
 *   specified." (Risuai#504), 404 "model 'x' not found, make sure the correct model ID was used and that
 *   you have access to the model." (litellm#2515).
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { ndjson, sse } from './server.ts';
import { countTokens, isObject, splitChunks, tokensOf, truncateTokens } from './text.ts';
import { embedding } from './openai.ts';
import { schemaValue } from './schema-value.ts';

export interface CohereOptions {
  key?: string | null;
  models?: string[] | '*';
}

export const COHERE_MODELS = [
  'command', 'command-light', 'command-nightly', 'command-light-nightly', 'command-r', 'command-r-plus',
  'command-r-08-2024', 'command-r-plus-08-2024', 'command-r7b-12-2024', 'command-a-03-2025',
];

const ROLES = ['CHATBOT', 'SYSTEM', 'USER', 'TOOL'];

type Endpoint = 'chat' | 'generate';

/** The request fields of each endpoint (OpenAPI spec). */
const FIELDS: Record<Endpoint, string[]> = {
  chat: [
    'message', 'model', 'stream', 'preamble', 'chat_history', 'conversation_id', 'prompt_truncation', 'connectors', 'search_queries_only', 'documents',
    'citation_quality', 'temperature', 'max_tokens', 'max_input_tokens', 'k', 'p', 'seed', 'stop_sequences', 'frequency_penalty', 'presence_penalty',
    'raw_prompting', 'tools', 'tool_results', 'force_single_step', 'response_format', 'safety_mode',
  ],
  generate: ['prompt', 'model', 'num_generations', 'stream', 'max_tokens', 'truncate', 'temperature', 'seed', 'preset', 'end_sequences', 'stop_sequences', 'k', 'p', 'frequency_penalty', 'presence_penalty', 'return_likelihoods', 'raw_prompting'],
};

/** Endpoint table: default model, required text field, numeric bounds (from the OpenAPI spec). */
const ENDPOINTS: Record<string, { endpoint: Endpoint; defaultModel: string; ranges: Record<string, { min: number; max: number; int?: boolean }> }> = {
  '/v1/chat': {
    endpoint: 'chat',
    defaultModel: 'command-r-plus',
    ranges: { temperature: { min: 0, max: 1 }, k: { min: 0, max: 500, int: true }, p: { min: 0.01, max: 0.99 }, max_tokens: { min: 1, max: Infinity, int: true } },
  },
  '/v1/generate': {
    endpoint: 'generate',
    defaultModel: 'command',
    ranges: { temperature: { min: 0, max: 5 }, k: { min: 0, max: 500, int: true }, p: { min: 0.01, max: 0.99 }, max_tokens: { min: 0, max: Infinity, int: true }, num_generations: { min: 1, max: 5, int: true } },
  },
};

function cohereError(status: number, message: string): JsonReply {
  return { kind: 'json', status, body: { message } };
}

/** The first problem with a body, or null. Range wording is Cohere's "invalid request: ..." style. */
function validate(json: unknown, e: (typeof ENDPOINTS)[string], models: string[] | '*'): JsonReply | null {
  if (!isObject(json)) return cohereError(400, 'invalid request: the request body must be a valid JSON object');
  const unknown = Object.keys(json).find((k) => !FIELDS[e.endpoint].includes(k));
  if (unknown) return cohereError(400, `invalid request: unknown field: parameter ${unknown} is not a valid field`);
  const format = json.response_format;
  if (format !== undefined && format !== null) {
    if (!isObject(format) || (format.type !== 'text' && format.type !== 'json_object')) return cohereError(400, 'invalid request: response_format.type must be one of text, json_object');
    if (format.schema !== undefined && (format.type === 'text' || !isObject(format.schema))) return cohereError(400, 'invalid request: response_format.schema must be a JSON schema object and is only allowed with type json_object');
    if (format.type === 'json_object' && ['connectors', 'documents', 'tools', 'tool_results'].some((k) => json[k] !== undefined)) {
      return cohereError(400, 'invalid request: response_format is not supported with connectors, documents, tools or tool_results');
    }
  }
  if (e.endpoint === 'chat') {
    if (typeof json.message !== 'string' || json.message.trim() === '') {
      return cohereError(400, 'invalid request: message must be at least 1 token long or tool results must be specified.');
    }
    if (json.chat_history !== undefined) {
      if (!Array.isArray(json.chat_history)) return cohereError(400, 'invalid request: chat_history must be a list');
      for (const [i, m] of json.chat_history.entries()) {
        const role = isObject(m) && typeof m.role === 'string' ? m.role.toUpperCase() : undefined;
        if (!role || !ROLES.includes(role)) return cohereError(400, `invalid request: chat_history[${i}].role must be one of ${ROLES.join(', ')}`);
        if (role !== 'TOOL' && typeof (m as Record<string, unknown>).message !== 'string') return cohereError(400, `invalid request: chat_history[${i}].message must be a string`);
        // ChatMessage.message: minLength 1 (OpenAPI spec).
        if (role !== 'TOOL' && (m as Record<string, unknown>).message === '') return cohereError(400, `invalid request: chat_history[${i}].message must be at least 1 character long`);
      }
    }
  } else if (typeof json.prompt !== 'string' || json.prompt === '') {
    return cohereError(400, 'invalid request: prompt must be at least 1 token long.');
  }
  for (const [name, r] of Object.entries(e.ranges)) {
    const v = json[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || (r.int && !Number.isInteger(v))) return cohereError(400, `invalid request: ${name} must be ${r.int ? 'an integer' : 'a number'}`);
    if (v < r.min || v > r.max) return cohereError(400, `invalid request: ${name} must be between ${r.min} and ${r.max}`);
  }
  const model = json.model ?? e.defaultModel;
  if (typeof model !== 'string' || (models !== '*' && !models.includes(model))) {
    return cohereError(404, `model '${String(model)}' not found, make sure the correct model ID was used and that you have access to the model.`);
  }
  return null;
}

export function cohereProvider(opts: CohereOptions & Record<string, unknown>): ProviderImpl {
  return {
    handle(ctx): Reply {
      const e = ENDPOINTS[ctx.path];
      if ((!e && ctx.path !== '/v1/embed') || ctx.req.method !== 'POST') return cohereError(404, 'Not Found');
      if (opts.key) {
        const header = ctx.req.headers.authorization;
        const given = typeof header === 'string' ? header.replace(/^bearer\s*/i, '').trim() : '';
        if (!given) return cohereError(401, 'no api key supplied');
        if (given !== opts.key) return cohereError(401, 'invalid api token');
      }
      if (!e) return embed(ctx);
      const problem = validate(ctx.req.json, e, opts.models ?? COHERE_MODELS);
      if (problem) return problem;
      const body = ctx.req.json as Record<string, unknown>;
      return e.endpoint === 'chat' ? chat(ctx, body) : generate(ctx, body);
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') {
        return cohereError(429, 'You are using a Trial key, which is limited to 10 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at https://dashboard.cohere.com/api-keys.');
      }
      return cohereError(status, 'internal server error, this has been reported to our developers');
    },
  };
}

function meta(input: number, output: number): Record<string, unknown> {
  return { api_version: { version: '1' }, billed_units: { input_tokens: input, output_tokens: output }, tokens: { input_tokens: input, output_tokens: output } };
}

/** Stream framing: NDJSON by default, SSE (with `event:` lines) when the client accepts it. */
function framing(ctx: HandlerCtx): { contentType: string; frame: (o: Record<string, unknown>) => string } {
  const accepts = String(ctx.req.headers['accepts'] ?? ctx.req.headers['accept'] ?? '');
  if (accepts.includes('text/event-stream')) return { contentType: 'text/event-stream', frame: (o) => sse(o, (o.event_type as string | undefined) ?? undefined) };
  return { contentType: 'application/stream+json', frame: ndjson };
}

function chat(ctx: HandlerCtx, body: Record<string, unknown>): Reply {
  const history = (body.chat_history as { message?: string }[] | undefined) ?? [];
  const input = tokensOf(body.preamble, body.message, ...history.map((m) => m.message));
  const format = isObject(body.response_format) && body.response_format.type === 'json_object' ? body.response_format : null;
  const text = format ? JSON.stringify(format.schema !== undefined ? schemaValue(format.schema, ctx.text) : { answer: ctx.text }) : ctx.text;
  const cut = truncateTokens(text, body.max_tokens as number | undefined);
  const output = countTokens(cut.text);
  const finish = cut.truncated ? 'MAX_TOKENS' : 'COMPLETE';
  const generationId = ctx.ids.uuid();
  const response = {
    response_id: ctx.ids.uuid(),
    text: cut.text,
    generation_id: generationId,
    chat_history: [...history, { role: 'USER', message: body.message }, { role: 'CHATBOT', message: cut.text }],
    finish_reason: finish,
    meta: meta(input, output),
    // Older v1 responses (and Kong's fixtures) also carry token_count.
    token_count: { prompt_tokens: input, response_tokens: output, total_tokens: input + output, billed_tokens: input + output },
  };
  if (!(ctx.forceStream || body.stream === true)) return { kind: 'json', status: 200, body: response };
  const { contentType, frame } = framing(ctx);
  const frames = [
    frame({ is_finished: false, event_type: 'stream-start', generation_id: generationId }),
    ...splitChunks(cut.text, ctx.chunks).map((text) => frame({ is_finished: false, event_type: 'text-generation', text })),
    frame({ is_finished: true, event_type: 'stream-end', response, finish_reason: finish }),
  ];
  return { kind: 'stream', contentType, frames, filler: () => frame({ is_finished: false, event_type: 'text-generation', text: '.' }) };
}

function generate(ctx: HandlerCtx, body: Record<string, unknown>): Reply {
  const input = tokensOf(body.prompt);
  const cut = truncateTokens(ctx.text, body.max_tokens as number | undefined);
  const finish = cut.truncated ? 'MAX_TOKENS' : 'COMPLETE';
  const n = (body.num_generations as number | undefined) ?? 1;
  const generations = Array.from({ length: n }, () => ({ id: ctx.ids.uuid(), text: cut.text, finish_reason: finish }));
  const response = { id: ctx.ids.uuid(), generations, prompt: body.prompt, meta: meta(input, countTokens(cut.text) * n) };
  if (!(ctx.forceStream || body.stream === true)) return { kind: 'json', status: 200, body: response };
  const frames = [
    ...splitChunks(cut.text, ctx.chunks).map((text) => ndjson({ text, is_finished: false })),
    ndjson({ is_finished: true, finish_reason: finish, response }),
  ];
  return { kind: 'stream', contentType: 'application/stream+json', frames, filler: () => ndjson({ text: '.', is_finished: false }) };
}

/** Embedding models, their vector sizes, and whether they need `input_type` (v3 and later). */
const EMBED_MODELS: Record<string, { dims: number; inputType: boolean }> = {
  'embed-english-v2.0': { dims: 4096, inputType: false },
  'embed-english-light-v2.0': { dims: 1024, inputType: false },
  'embed-multilingual-v2.0': { dims: 768, inputType: false },
  'embed-english-v3.0': { dims: 1024, inputType: true },
  'embed-english-light-v3.0': { dims: 384, inputType: true },
  'embed-multilingual-v3.0': { dims: 1024, inputType: true },
  'embed-v4.0': { dims: 1536, inputType: true },
};
const INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering', 'image'];
const EMBEDDING_TYPES = ['float', 'int8', 'uint8', 'binary', 'ubinary'];
const EMBED_FIELDS = ['texts', 'images', 'model', 'input_type', 'embedding_types', 'truncate'];

function embed(ctx: HandlerCtx): Reply {
  const json = ctx.req.json;
  if (!isObject(json)) return cohereError(400, 'invalid request: the request body must be a valid JSON object');
  const unknown = Object.keys(json).find((k) => !EMBED_FIELDS.includes(k));
  if (unknown) return cohereError(400, `invalid request: unknown field: parameter ${unknown} is not a valid field`);
  const texts = json.texts;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) return cohereError(400, 'invalid request: texts must be a non-empty list of strings');
  if (texts.length > 96) return cohereError(400, `invalid request: total number of texts must be at most 96 - received ${texts.length}`);
  const model = typeof json.model === 'string' ? json.model : 'embed-english-v2.0';
  const spec = EMBED_MODELS[model];
  if (!spec) return cohereError(404, `model '${model}' not found, make sure the correct model ID was used and that you have access to the model.`);
  if (json.input_type === undefined ? spec.inputType : !INPUT_TYPES.includes(String(json.input_type))) return cohereError(400, 'invalid request: valid input_type must be provided with the provided model');
  if (json.truncate !== undefined && !['NONE', 'START', 'END'].includes(String(json.truncate))) return cohereError(400, 'invalid request: truncate must be one of NONE, START, END');
  const types = json.embedding_types;
  if (types !== undefined && (!Array.isArray(types) || !types.every((t) => EMBEDDING_TYPES.includes(String(t))))) return cohereError(400, `invalid request: embedding_types must be a list of ${EMBEDDING_TYPES.join(', ')}`);
  const vectors = texts.map((t) => embedding(t as string, spec.dims));
  const meta = { api_version: { version: '1' }, billed_units: { input_tokens: tokensOf(...texts) } };
  if (Array.isArray(types)) {
    const byType: Record<string, unknown> = {};
    for (const t of types as string[]) byType[t] = t === 'float' ? vectors : vectors.map((v) => v.map((x) => Math.round(x * 127)));
    return { kind: 'json', status: 200, body: { id: ctx.ids.uuid(), embeddings: byType, texts, meta, response_type: 'embeddings_by_type' } };
  }
  return { kind: 'json', status: 200, body: { id: ctx.ids.uuid(), embeddings: vectors, texts, meta, response_type: 'embeddings_floats' } };
}
