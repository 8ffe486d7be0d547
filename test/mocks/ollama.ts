/**
 * Ollama: `POST /api/chat`, `POST /api/generate`, `POST /api/embed`, `GET /api/tags`.
 *
 * Sources:
 * - API docs (ollama/ollama `docs/api.md`): no authentication; `model` required; `stream` defaults to
 *   TRUE (a body without `"stream": false` gets newline-delimited JSON, `application/x-ndjson`);
 *   `options` (num_predict, temperature, top_p, top_k, ...); answers carry `model`, `created_at` (ISO),
 *   `message` (chat) / `response` (generate), `done`, `done_reason`, `total_duration`,
 *   `load_duration`, `prompt_eval_count`, `prompt_eval_duration`, `eval_count`, `eval_duration`
 *   (generate also `context`); each streamed line is a partial answer with `done: false`, the last
 *   one `done: true` with the counters; an empty `messages` / `prompt` only loads the model and
 *   answers `done_reason: "load"`.
 * - Errors (server/routes.go): `{"error":"model is required"}` 400; unknown model 404
 *   `{"error":"model \"x\" not found, try pulling it first"}` (Go's %q quoting; older releases used
 *   single quotes); an unknown path gets gin's plain-text `404 page not found`.
 * - A model named without a tag is `<name>:latest`.
 * - `/api/embed` (docs/api.md, "Generate Embeddings"): `{model, input: string | string[], truncate?,
 *   options?, keep_alive?, dimensions?}` → `{model, embeddings: [[...]], total_duration,
 *   load_duration, prompt_eval_count}`; an empty input list only loads the model.
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { ndjson } from './server.ts';
import { countTokens, isObject, splitChunks, tokensOf, truncateTokens } from './text.ts';
import { embedding } from './openai.ts';

export interface OllamaOptions {
  /** Pulled models (a name without a tag means `:latest`), or `'*'`. */
  models?: string[] | '*';
}

export const OLLAMA_MODELS = ['llama2', 'llama3', 'llama3.1', 'llama3.2', 'mistral', 'qwen2.5', 'phi3', 'gemma2'];

const withTag = (name: string): string => (name.includes(':') ? name : `${name}:latest`);

function ollamaError(status: number, error: string): JsonReply {
  return { kind: 'json', status, contentType: 'application/json; charset=utf-8', body: { error } };
}

/** Fixed, plausible timings in nanoseconds (deterministic). */
const TIMINGS = { total_duration: 5_000_000, load_duration: 1_000_000, prompt_eval_duration: 1_000_000, eval_duration: 3_000_000 };

export function ollamaProvider(opts: OllamaOptions & Record<string, unknown>): ProviderImpl {
  return {
    handle(ctx): Reply {
      if (ctx.path === '/api/tags' && ctx.req.method === 'GET') return tags(opts.models);
      const endpoints: Record<string, 'chat' | 'generate' | 'embed'> = { '/api/chat': 'chat', '/api/generate': 'generate', '/api/embed': 'embed' };
      const endpoint = Object.hasOwn(endpoints, ctx.path) ? endpoints[ctx.path] : undefined;
      if (!endpoint || ctx.req.method !== 'POST') return { kind: 'json', status: 404, contentType: 'text/plain', body: '404 page not found' };

      const json = ctx.req.json;
      if (!isObject(json)) return ollamaError(400, ctx.req.body ? 'invalid character in request body' : 'unexpected EOF');
      if (typeof json.model !== 'string' || json.model === '') return ollamaError(400, 'model is required');
      const models = opts.models ?? OLLAMA_MODELS;
      if (models !== '*' && !models.map(withTag).includes(withTag(json.model))) return ollamaError(404, `model "${json.model}" not found, try pulling it first`);
      if (json.options !== undefined && !isObject(json.options)) return ollamaError(400, 'json: cannot unmarshal options into map[string]any');
      if (endpoint === 'chat' && json.messages !== undefined && !Array.isArray(json.messages)) return ollamaError(400, 'json: cannot unmarshal messages into []api.Message');
      if (endpoint === 'embed') return embed(json);
      return answer(ctx, endpoint, json);
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') return ollamaError(429, 'server busy, please try again.  maximum pending requests exceeded');
      return ollamaError(status, 'llama runner process has terminated: signal: killed');
    },
  };
}

function tags(models: string[] | '*' | undefined): JsonReply {
  const list = models === '*' ? [] : (models ?? OLLAMA_MODELS);
  return {
    kind: 'json',
    status: 200,
    body: { models: list.map((m) => ({ name: withTag(m), model: withTag(m), modified_at: '2024-01-01T00:00:00Z', size: 3825819519, digest: 'sha256:mock', details: { format: 'gguf', family: 'llama' } })) },
  };
}

function answer(ctx: HandlerCtx, endpoint: 'chat' | 'generate', json: Record<string, unknown>): Reply {
  const model = json.model as string;
  const created_at = ctx.ids.iso();
  const messages = (json.messages as { content?: unknown }[] | undefined) ?? [];
  const options = (json.options as Record<string, unknown> | undefined) ?? {};
  // An empty conversation / prompt only loads the model.
  const load = endpoint === 'chat' ? messages.length === 0 : !json.prompt;
  const cut = load ? { text: '', truncated: false } : truncateTokens(ctx.text, options.num_predict as number | undefined);
  const doneReason = load ? 'load' : cut.truncated ? 'length' : 'stop';
  const promptTokens = endpoint === 'chat' ? tokensOf(...messages.map((m) => m.content)) : tokensOf(json.system, json.prompt);

  const partial = (piece: string): Record<string, unknown> =>
    endpoint === 'chat' ? { model, created_at, message: { role: 'assistant', content: piece }, done: false } : { model, created_at, response: piece, done: false };
  const final = (content: string): Record<string, unknown> => {
    const base = endpoint === 'chat' ? { model, created_at, message: { role: 'assistant', content } } : { model, created_at, response: content };
    if (load) return { ...base, done_reason: 'load', done: true };
    return {
      ...base,
      done: true,
      done_reason: doneReason,
      ...(endpoint === 'generate' ? { context: [1, 2, 3] } : {}),
      total_duration: TIMINGS.total_duration,
      load_duration: TIMINGS.load_duration,
      prompt_eval_count: promptTokens,
      prompt_eval_duration: TIMINGS.prompt_eval_duration,
      eval_count: countTokens(cut.text),
      eval_duration: TIMINGS.eval_duration,
    };
  };

  // Ollama streams unless told `"stream": false`.
  const stream = ctx.forceStream || json.stream !== false;
  if (!stream) return { kind: 'json', status: 200, contentType: 'application/json; charset=utf-8', body: final(cut.text) };
  const pieces = load ? [] : splitChunks(cut.text, ctx.chunks);
  return {
    kind: 'stream',
    contentType: 'application/x-ndjson',
    frames: [...pieces.map((p) => ndjson(partial(p))), ndjson(final(''))],
    filler: () => ndjson(partial('.')),
  };
}

function embed(json: Record<string, unknown>): Reply {
  const unknown = Object.keys(json).find((k) => !['model', 'input', 'truncate', 'options', 'keep_alive', 'dimensions'].includes(k));
  if (unknown) return ollamaError(400, `json: unknown field "${unknown}"`);
  const input = json.input;
  const texts = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((i) => typeof i === 'string') ? (input as string[]) : undefined;
  if (!texts) return ollamaError(400, 'invalid input type');
  const dims = typeof json.dimensions === 'number' ? json.dimensions : 768;
  return {
    kind: 'json',
    status: 200,
    contentType: 'application/json; charset=utf-8',
    body: { model: json.model, embeddings: texts.map((t) => embedding(t, dims)), total_duration: TIMINGS.total_duration, load_duration: TIMINGS.load_duration, prompt_eval_count: tokensOf(...texts) },
  };
}
