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
 * - Structured outputs (docs/capabilities/structured-outputs.mdx, api/types.go `Format json.RawMessage`):
 *   `format` is `"json"` or a JSON schema object; the answer's content is then JSON (here: an
 *   instance of the schema, or `{"answer": <text>}`); anything else fails in the runner
 *   (llm/llama_server.go: `invalid format: ...; expected "json" or a valid JSON Schema object`, 500).
 * - Thinking (docs/capabilities/thinking.mdx, api/types.go `ThinkValue`, server/routes.go): `think` is
 *   a boolean or "high" | "medium" | "low" | "max" (else 400 `invalid think value: ...`); a thinking
 *   model (qwen3, deepseek-r1, gpt-oss) thinks unless `think: false` (gpt-oss always thinks: it only
 *   takes levels) and answers `message.thinking` (generate: `thinking`), streamed before the content;
 *   a truthy `think` to any other model is 400 `"<model>" does not support thinking`.
 * - Tool calling (docs/capabilities/tool-calling.mdx, api/types.go `ToolCall`): `tools` in OpenAI's
 *   shape; a model without the tools capability answers 400 `registry.ollama.ai/library/<model>
 *   does not support tools`; a tool call is `{id: "call_<8 lowercase alphanumerics>", function:
 *   {index, name, arguments: {...}}}` (server/routes.go toolCallId), sent whole in one stream line;
 *   assistant `tool_calls[].function.arguments` must be an object (a string fails Go's JSON
 *   decoding: 400); tool results are `{role: "tool", content, tool_name?, tool_call_id?}`.
 * - `images` are base64 strings (Go's []byte decoding: `illegal base64 data at input byte N`).
 * - With `models: '*'` every model has every capability.
 * - `/api/embed` (docs/api.md, "Generate Embeddings"): `{model, input: string | string[], truncate?,
 *   options?, keep_alive?, dimensions?}` → `{model, embeddings: [[...]], total_duration,
 *   load_duration, prompt_eval_count}`; an empty input list only loads the model.
 */
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { ndjson } from './server.ts';
import { countTokens, isObject, splitChunks, tokensOf, truncateTokens } from './text.ts';
import { schemaValue } from './schema-value.ts';
import { embedding } from './openai.ts';

export interface OllamaOptions {
  /** Pulled models (a name without a tag means `:latest`), or `'*'`. */
  models?: string[] | '*';
}

export const OLLAMA_MODELS = ['llama2', 'llama3', 'llama3.1', 'llama3.2', 'mistral', 'qwen2.5', 'phi3', 'gemma2', 'qwen3', 'deepseek-r1', 'gpt-oss'];

/** Models (without tag) with the `thinking` capability, and with `tools` (ollama.com/library). */
const THINKING_MODELS = ['qwen3', 'deepseek-r1', 'gpt-oss'];
const TOOL_MODELS = ['llama3.1', 'llama3.2', 'mistral', 'qwen2.5', 'qwen3', 'gpt-oss'];
const THINK_LEVELS = ['high', 'medium', 'low', 'max'];
const ROLES = ['system', 'user', 'assistant', 'tool'];

/** The reasoning trace of a thinking model, and how long it is by level. */
const THINKING_TEXT = 'The user asks a question. I answer it briefly.';

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
      const problem = checkRequest(endpoint, json, models === '*');
      if (problem) return problem;
      return answer(ctx, endpoint, json, models === '*');
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

const baseName = (name: string): string => name.replace(/:.*$/, '').replace(/^.*\//, '');

/** Go's JSON decoding of the request and the capability checks, in Ollama's order. */
function checkRequest(endpoint: 'chat' | 'generate', json: Record<string, unknown>, anyModel: boolean): JsonReply | null {
  const model = json.model as string;
  const think = json.think;
  if (think !== undefined && think !== null && typeof think !== 'boolean' && !(typeof think === 'string' && THINK_LEVELS.includes(think))) {
    return ollamaError(400, `invalid think value: ${JSON.stringify(think)} (must be "high", "medium", "low", "max", true, or false)`);
  }
  const messages = endpoint === 'chat' && Array.isArray(json.messages) ? json.messages : [];
  for (const m of messages) {
    if (!isObject(m) || typeof m.role !== 'string' || !ROLES.includes(m.role.toLowerCase())) return ollamaError(400, 'json: cannot unmarshal messages into []api.Message');
    if (m.content !== undefined && typeof m.content !== 'string') return ollamaError(400, 'json: cannot unmarshal array into Go struct field Message.messages.content of type string');
    const problem = checkImages(m.images);
    if (problem) return problem;
    for (const call of Array.isArray(m.tool_calls) ? m.tool_calls : m.tool_calls === undefined ? [] : [null]) {
      const args = isObject(call) && isObject(call.function) ? call.function.arguments : undefined;
      if (!isObject(call) || !isObject(call.function) || typeof call.function.name !== 'string') return ollamaError(400, 'json: cannot unmarshal tool_calls into []api.ToolCall');
      if (args !== undefined && !isObject(args)) return ollamaError(400, `json: cannot unmarshal ${typeof args} into Go struct field ToolCallFunction.messages.tool_calls.function.arguments of type map[string]interface {}`);
    }
  }
  if (endpoint === 'generate') {
    const problem = checkImages(json.images);
    if (problem) return problem;
  }
  const tools = json.tools;
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools) || !tools.every((t) => isObject(t) && isObject(t.function) && typeof t.function.name === 'string')) return ollamaError(400, 'json: cannot unmarshal tools into api.Tools');
    if (tools.length > 0 && !anyModel && !TOOL_MODELS.includes(baseName(model))) return ollamaError(400, `registry.ollama.ai/library/${withTag(model)} does not support tools`);
  }
  if (!anyModel && (think === true || (typeof think === 'string' && THINK_LEVELS.includes(think))) && !THINKING_MODELS.includes(baseName(model))) {
    return ollamaError(400, `${JSON.stringify(model)} does not support thinking`);
  }
  const format = json.format;
  if (format !== undefined && format !== null && format !== '' && format !== 'json' && !isObject(format)) {
    return ollamaError(500, `invalid format: ${JSON.stringify(JSON.stringify(format))}; expected "json" or a valid JSON Schema object`);
  }
  return null;
}

function checkImages(images: unknown): JsonReply | null {
  if (images === undefined || images === null) return null;
  if (!Array.isArray(images)) return ollamaError(400, 'json: cannot unmarshal images into []api.ImageData');
  for (const image of images) {
    if (typeof image !== 'string') return ollamaError(400, 'json: cannot unmarshal images into []api.ImageData');
    const bad = image.search(/[^A-Za-z0-9+/=]/);
    if (bad !== -1) return ollamaError(400, `illegal base64 data at input byte ${bad}`);
  }
  return null;
}

/** The tool calls a tool-capable model makes: the first tool, when the last message is the user's (not a tool result). */
function toolCallsFor(ctx: HandlerCtx, json: Record<string, unknown>): Record<string, unknown>[] {
  const tools = Array.isArray(json.tools) ? (json.tools as { function: { name: string; parameters?: unknown } }[]) : [];
  const messages = Array.isArray(json.messages) ? (json.messages as { role?: string }[]) : [];
  if (tools.length === 0 || messages[messages.length - 1]?.role?.toLowerCase() !== 'user') return [];
  const tool = tools[0].function;
  const id = `call_${ctx.ids.uuid().replace(/-/g, '').slice(-8)}`;
  return [{ id, function: { index: 0, name: tool.name, arguments: schemaValue(tool.parameters ?? { type: 'object' }, 'Paris') } }];
}

function answer(ctx: HandlerCtx, endpoint: 'chat' | 'generate', json: Record<string, unknown>, anyModel: boolean): Reply {
  const model = json.model as string;
  const created_at = ctx.ids.iso();
  const messages = (json.messages as { content?: unknown }[] | undefined) ?? [];
  const options = (json.options as Record<string, unknown> | undefined) ?? {};
  // An empty conversation / prompt only loads the model.
  const load = endpoint === 'chat' ? messages.length === 0 : !json.prompt;
  const thinkingModel = anyModel || THINKING_MODELS.includes(baseName(model));
  // A thinking model thinks unless told not to (gpt-oss takes only levels: false is ignored).
  const thinks = !load && thinkingModel && (json.think !== false || baseName(model) === 'gpt-oss') && !(anyModel && json.think === undefined);
  const thinking = thinks ? THINKING_TEXT : '';
  const calls = endpoint === 'chat' && !load ? toolCallsFor(ctx, json) : [];
  const format = json.format;
  const text = calls.length > 0 ? '' : format === 'json' ? JSON.stringify({ answer: ctx.text }) : isObject(format) ? JSON.stringify(schemaValue(format, ctx.text)) : ctx.text;
  const cut = load ? { text: '', truncated: false } : truncateTokens(text, options.num_predict as number | undefined);
  const doneReason = load ? 'load' : cut.truncated ? 'length' : 'stop';
  const promptTokens = endpoint === 'chat' ? tokensOf(...messages.map((m) => m.content)) : tokensOf(json.system, json.prompt);

  const partial = (piece: string, thought = ''): Record<string, unknown> => {
    if (endpoint === 'chat') return { model, created_at, message: { role: 'assistant', content: piece, ...(thought ? { thinking: thought } : {}) }, done: false };
    return { model, created_at, response: piece, ...(thought ? { thinking: thought } : {}), done: false };
  };
  const final = (content: string, whole: boolean): Record<string, unknown> => {
    const message: Record<string, unknown> = { role: 'assistant', content };
    if (whole && thinking) message.thinking = thinking;
    if (whole && calls.length > 0) message.tool_calls = calls;
    const base = endpoint === 'chat' ? { model, created_at, message } : { model, created_at, response: content, ...(whole && thinking ? { thinking } : {}) };
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
      // Thinking tokens count as generated tokens.
      eval_count: countTokens(cut.text) + countTokens(thinking) + (calls.length > 0 ? 5 : 0),
      eval_duration: TIMINGS.eval_duration,
    };
  };

  // Ollama streams unless told `"stream": false`.
  const stream = ctx.forceStream || json.stream !== false;
  if (!stream) return { kind: 'json', status: 200, contentType: 'application/json; charset=utf-8', body: final(cut.text, true) };
  const pieces = load || calls.length > 0 ? [] : splitChunks(cut.text, ctx.chunks);
  const thoughts = thinking ? splitChunks(thinking, ctx.chunks) : [];
  const frames = [...thoughts.map((t) => ndjson(partial('', t))), ...pieces.map((p) => ndjson(partial(p)))];
  // Tool calls come whole, in one line of their own.
  if (calls.length > 0) frames.push(ndjson({ model, created_at, message: { role: 'assistant', content: '', tool_calls: calls }, done: false }));
  return {
    kind: 'stream',
    contentType: 'application/x-ndjson',
    frames: [...frames, ndjson(final('', false))],
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
