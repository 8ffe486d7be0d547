/**
 * The GenAI client span of one provider call (OpenTelemetry GenAI semantic conventions, the
 * "Inference" and "Embeddings" client spans, semantic-conventions v1.41 registry): its name, the
 * attributes known when the call starts (operation, provider, model, sampling, server) and those
 * known when it ends (response id, model, finish reasons, usage kinds, time to first chunk, error,
 * modelgate's cost), from what the exchange records (src/plugins/ai-proxy/analytics.ts AiExchange).
 * Content (`gen_ai.input.messages`, `gen_ai.output.messages`) only where the route logs payloads,
 * as JSON strings in the spec's message schema (our attribute values have no maps). Never a key:
 * nothing here reads headers.
 */
import type { Attributes } from './types.ts';
import type { CanonicalRequest, Message, Part, Usage } from '../../exchange/types.ts';
import type { ModelOptions } from '../../llm/types.ts';
import { resolveSampling } from '../../llm/params.ts';
import { BoundedMap } from '../../util/bounded-map.ts';

export type GenAiOperation = 'chat' | 'text_completion' | 'embeddings';

/** Kong's route types → gen_ai.operation.name (the registry's well-known values). */
export function operationName(routeType: string): GenAiOperation {
  if (routeType === 'llm/v1/embeddings') return 'embeddings';
  if (routeType === 'llm/v1/completions') return 'text_completion';
  return 'chat';
}

/**
 * The span name the conventions ask for: `{gen_ai.operation.name} {gen_ai.request.model}` (the
 * operation alone without a model). Made once per operation and model: a route's calls repeat
 * one, and a name joined per call was a new two-part string that the encoder flattened again for
 * every span (docs/performance.md, "Twelfth look"). Bounded: models come from clients.
 */
export function spanName(op: GenAiOperation, model: string): string {
  if (!model) return op;
  const byModel = SPAN_NAMES[op];
  let name = byModel.get(model);
  if (name === undefined) byModel.set(model, (name = flat(`${op} ${model}`)));
  return name;
}

const SPAN_NAMES: Record<GenAiOperation, BoundedMap<string, string>> = { chat: new BoundedMap(1024), text_completion: new BoundedMap(1024), embeddings: new BoundedMap(1024) };

/** A joined string as one flat string (V8 keeps `a + b` as a pair of parts, which every whole read flattens again); made once per name. */
function flat(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * modelgate's provider → gen_ai.provider.name: the registry's well-known value where there is one
 * (Gemini through Vertex AI is `gcp.vertex_ai`, through the Gemini API `gcp.gemini`); providers the
 * registry does not list keep modelgate's name, as the conventions allow.
 */
export function providerName(provider: string, options?: ModelOptions | null): string {
  switch (provider) {
    case 'azure':
      return 'azure.ai.openai';
    case 'bedrock':
      return 'aws.bedrock';
    case 'mistral':
      return 'mistral_ai';
    case 'gemini':
      return options?.gemini?.project_id ? 'gcp.vertex_ai' : 'gcp.gemini';
    default:
      return provider; // openai, anthropic, cohere, groq, deepseek are the registry's own names
  }
}

/** server.address / server.port of the provider's origin (`https://host:443`). */
export function serverAttributes(origin: string, out: Attributes): void {
  let server = SERVERS.get(origin);
  if (server === undefined) SERVERS.set(origin, (server = parseServer(origin)));
  if (server === null) return;
  out['server.address'] = server.address;
  out['server.port'] = server.port;
}

/**
 * Origins parsed once: a provider call's origin is one of the few its route's targets name, and
 * parsing a URL per call is a measurable part of a traced request (docs/performance.md,
 * "OpenTelemetry"). Bounded all the same (templated upstream URLs make more).
 */
const SERVERS = new BoundedMap<string, { address: string; port: number } | null>(1024);

function parseServer(origin: string): { address: string; port: number } | null {
  try {
    const u = new URL(origin);
    return { address: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
  } catch {
    return null; // an origin is always a URL here; nothing to record otherwise
  }
}

export interface CallStart {
  provider: string;
  options: ModelOptions | null;
  routeType: string;
  model: string;
  stream: boolean;
  origin: string;
  /** The canonical request (chat, completions): sampling as sent, after the route's options. */
  canonical?: CanonicalRequest;
  /** Embeddings: the encoding format asked for, if any. */
  encodingFormat?: string;
}

/**
 * Attributes known before the call: operation, provider, model, server, streaming, sampling. In
 * that order: what a route's calls share first, what its clients choose after (the encoder writes
 * a span's opening attributes that repeat the last span's as one copy, otlp.ts AttributeBlock).
 */
export function startAttributes(c: CallStart): Attributes {
  const op = operationName(c.routeType);
  const a: Attributes = {
    'gen_ai.operation.name': op,
    'gen_ai.provider.name': providerName(c.provider, c.options),
  };
  if (c.model) a['gen_ai.request.model'] = c.model;
  serverAttributes(c.origin, a);
  if (c.stream) a['gen_ai.request.stream'] = true; // "if and only if the request is streaming"
  if (c.encodingFormat) a['gen_ai.request.encoding_formats'] = [c.encodingFormat];
  if (c.canonical) {
    // what the provider is sent: the route's configured options win over the client's (llm/params.ts)
    const s = resolveSampling(c.canonical.sampling, c.options ?? ({} as ModelOptions));
    const out = c.canonical.output?.type;
    if (out) a['gen_ai.output.type'] = out === 'text' ? 'text' : 'json';
    if (s.maxTokens !== undefined) a['gen_ai.request.max_tokens'] = s.maxTokens;
    if (s.temperature !== undefined) a['gen_ai.request.temperature'] = s.temperature;
    if (s.topP !== undefined) a['gen_ai.request.top_p'] = s.topP;
    if (s.topK !== undefined) a['gen_ai.request.top_k'] = s.topK;
    if (s.stop) a['gen_ai.request.stop_sequences'] = s.stop;
    if (s.seed !== undefined) a['gen_ai.request.seed'] = s.seed;
    if (s.presencePenalty !== undefined) a['gen_ai.request.presence_penalty'] = s.presencePenalty;
    if (s.frequencyPenalty !== undefined) a['gen_ai.request.frequency_penalty'] = s.frequencyPenalty;
    const n = c.canonical.sampling.n;
    if (n !== undefined && n !== 1) a['gen_ai.request.choice.count'] = n;
  }
  return a;
}

/** What the exchange recorded (AiExchange with its cost) that the span reads. */
export interface CallEnd {
  responseModel: string | null;
  usage: Usage | null;
  timeToFirstTokenMs: number | null;
  cost: number | null;
  responseId?: string | null;
  finishReasons?: string[] | null;
}

/** Attributes known once the answer is in: response model, finish reasons and id, every usage kind, time to first chunk, cost (the id, which changes every call, after what repeats). */
export function endAttributes(x: CallEnd, out: Attributes): void {
  if (x.responseModel) out['gen_ai.response.model'] = x.responseModel;
  if (x.finishReasons && x.finishReasons.length) out['gen_ai.response.finish_reasons'] = x.finishReasons;
  if (x.responseId) out['gen_ai.response.id'] = x.responseId;
  const u = x.usage;
  if (u) {
    // OpenAI's usage shape: prompt_tokens holds the cached reads and writes, completion_tokens the reasoning (exchange/usage.ts), as the conventions want
    out['gen_ai.usage.input_tokens'] = u.prompt_tokens;
    out['gen_ai.usage.output_tokens'] = u.completion_tokens;
    const cached = u.prompt_tokens_details?.cached_tokens;
    if (cached) out['gen_ai.usage.cache_read.input_tokens'] = cached;
    const written = u.prompt_tokens_details?.cache_write_tokens;
    if (written) out['gen_ai.usage.cache_creation.input_tokens'] = written;
    const reasoning = u.completion_tokens_details?.reasoning_tokens;
    if (reasoning) out['gen_ai.usage.reasoning.output_tokens'] = reasoning;
  }
  if (x.timeToFirstTokenMs !== null) out['gen_ai.response.time_to_first_chunk'] = x.timeToFirstTokenMs / 1000; // seconds, per the registry
  if (x.cost !== null) out['modelgate.cost'] = x.cost;
}

/**
 * error.type for a call that failed: the provider's HTTP status as text (the conventions' own
 * example: `500`), else the gateway's low-cardinality failure code (`UND_ERR_CONNECT_TIMEOUT`,
 * `ECONNREFUSED`, `translation` ...).
 */
export function errorType(status: number | null, code: string | null): string {
  if (status !== null && status >= 400) return String(status);
  return code ?? '_OTHER';
}

// ---------------------------------------------------------------------------------------------
// Facts of an answer the exchange does not record: its id and finish reasons.

export interface AnswerFacts {
  id: string | null;
  finishReasons: string[];
  /** The answer's text (output messages), when the shape has one. */
  text: string | null;
}

/**
 * The id, finish reasons and text of a whole answer in the client's API: OpenAI chat and
 * completions (`choices[].finish_reason`), Anthropic Messages (`stop_reason`), OpenAI Responses
 * (`status`, `incomplete_details.reason`). Read only on traced requests. `wantText` false: the
 * text is left out (null), as the span shows it only where the route logs payloads; joining it
 * copied the whole answer's text on every traced request.
 */
export function answerFacts(body: string, wantText = true): AnswerFacts {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return { id: null, finishReasons: [], text: null };
  }
  return answerFactsOf(v, wantText);
}

/** answerFacts of an answer already parsed (a passed-through one: TranslatedResponse.parsed). */
export function answerFactsOf(parsed: unknown, wantText = true): AnswerFacts {
  const facts: AnswerFacts = { id: null, finishReasons: [], text: null };
  const v = parsed as any;
  if (v === null || typeof v !== 'object') return facts;
  if (typeof v.id === 'string') facts.id = v.id;
  // indexed loops: a for-of here made an iterator and a result object per choice on every traced request
  if (Array.isArray(v.choices)) {
    const choices = v.choices;
    let text: string | null = null;
    for (let i = 0; i < choices.length; i++) {
      const c = choices[i];
      if (typeof c?.finish_reason === 'string') facts.finishReasons.push(c.finish_reason);
      if (!wantText) continue;
      const t = typeof c?.message?.content === 'string' ? c.message.content : typeof c?.text === 'string' ? c.text : null;
      if (t !== null) text = text === null ? t : text + t;
    }
    facts.text = text;
  } else if (typeof v.stop_reason === 'string' || Array.isArray(v.content)) {
    if (typeof v.stop_reason === 'string') facts.finishReasons.push(v.stop_reason);
    if (wantText && Array.isArray(v.content)) facts.text = v.content.filter((b: any) => b?.type === 'text').map((b: any) => b.text).join('');
  } else if (Array.isArray(v.output)) {
    if (typeof v.incomplete_details?.reason === 'string') facts.finishReasons.push(v.incomplete_details.reason);
    else if (typeof v.status === 'string') facts.finishReasons.push(v.status === 'completed' ? 'stop' : v.status);
    if (wantText) {
      const texts: string[] = [];
      for (const item of v.output) for (const c of item?.content ?? []) if (c?.type === 'output_text' && typeof c.text === 'string') texts.push(c.text);
      if (texts.length) facts.text = texts.join('');
    }
  }
  return facts;
}

/**
 * The id and finish reasons of a whole OpenAI chat or completions answer (the caller knows the
 * client's API is one of those: choices at the top) without parsing it again (the driver parsed
 * it once already; a second JSON.parse was about 1.4 µs of a traced request, docs/performance.md,
 * "OpenTelemetry"); null when the body is not written in the form this reads exactly, and
 * answerFacts then parses it. Exact because of how JSON is written: a `"` inside a string is
 * escaped, so `"finish_reason":"` can only be a key followed by a string value, and an answer that
 * starts with `{"id":"` has the top-level id first. These answers have `finish_reason` in their
 * choices alone. Ids or reasons with escapes go the slow way.
 */
export function quickAnswerFacts(body: string): Pick<AnswerFacts, 'id' | 'finishReasons'> | null {
  if (!body.startsWith('{"id":"') || body.indexOf('"choices":[') === -1) return null;
  const end = body.indexOf('"', 7);
  const id = body.slice(7, end);
  if (end === -1 || id.indexOf('\\') !== -1) return null;
  const finishReasons: string[] = [];
  for (let at = body.indexOf(FINISH_KEY); at !== -1; at = body.indexOf(FINISH_KEY, at)) {
    at += FINISH_KEY.length;
    const close = body.indexOf('"', at);
    if (close === -1) return null;
    const reason = body.slice(at, close);
    if (reason.indexOf('\\') !== -1) return null;
    finishReasons.push(reason);
  }
  return { id, finishReasons };
}

const FINISH_KEY = '"finish_reason":"';

const STREAM_ID = /"id":"([^"\\]{1,200})"/;
const STREAM_FINISH = /"(?:finish_reason|stop_reason)":"([a-z_]{1,40})"/g;

/** The same facts from a stream's frames in the client's API, frame by frame (traced requests only). */
export class StreamFacts {
  id: string | null = null;
  readonly finishReasons: string[] = [];

  scan(frames: string): void {
    if (this.id === null) {
      const m = STREAM_ID.exec(frames);
      if (m) this.id = m[1];
    }
    if (frames.indexOf('_reason"') === -1) return;
    for (const m of frames.matchAll(STREAM_FINISH)) this.finishReasons.push(m[1]);
  }
}

// ---------------------------------------------------------------------------------------------
// Content (opt-in: the route's `logging.log_payloads`)

type OtelPart = Record<string, unknown>;

function otelPart(p: Part): OtelPart | null {
  switch (p.type) {
    case 'text':
      return { type: 'text', content: p.text };
    case 'tool_call':
      return { type: 'tool_call', id: p.id, name: p.name, arguments: safeJson(p.arguments) };
    case 'tool_result':
      return { type: 'tool_call_response', id: p.toolCallId, response: p.content.map((c) => (c.type === 'text' ? c.text : '')).join('') };
    case 'reasoning':
      return p.text ? { type: 'reasoning', content: p.text } : null;
    case 'refusal':
      return { type: 'text', content: p.text };
    default:
      return { type: p.type }; // media: the conventions' generic part, without the bytes
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `gen_ai.input.messages`: the conversation in the conventions' input-messages schema, as JSON text. */
export function inputMessages(canonical: CanonicalRequest): string {
  const messages = canonical.kind === 'completions' && canonical.prompt !== undefined ? [{ role: 'user', parts: [{ type: 'text', content: canonical.prompt }] }] : canonical.messages.map(otelMessage);
  return JSON.stringify(messages);
}

function otelMessage(m: Message): Record<string, unknown> {
  const parts: OtelPart[] = [];
  for (const p of m.parts) {
    const o = otelPart(p);
    if (o) parts.push(o);
  }
  return m.name ? { role: m.role, name: m.name, parts } : { role: m.role, parts };
}

/** `gen_ai.output.messages`: the answer's text as one assistant message, with its finish reason. */
export function outputMessages(text: string, finishReason: string | null): string {
  return JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: finishReason ?? 'stop' }]);
}
