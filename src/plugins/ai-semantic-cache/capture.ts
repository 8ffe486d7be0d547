/**
 * The answer the client got, read back into canonical form to be cached (entry.ts), whatever path
 * produced it: a provider's bytes passed through (OpenAI → OpenAI, Anthropic → Anthropic,
 * Responses natively), a translated answer, a JSON answer replayed as a stream, text changed by
 * response hooks. Reading what was SENT is what makes the cache independent of those paths: the
 * cache serves exactly what the client was served (after every guard and sanitizer).
 *
 * One reader per client API, for whole answers (JSON) and streams (server-sent events):
 * - OpenAI Chat Completions / Completions: `chat.completion` / `text_completion`; chunks with
 *   `delta` content, refusal and tool-call fragments, the finish reason, a usage chunk, `[DONE]`;
 * - OpenAI Responses: the `response` object; in a stream, the `response.completed` event's;
 * - Anthropic Messages: the `message` object; in a stream, `message_start`, `content_block_*`,
 *   `message_delta`, `message_stop`.
 * A stream is complete only with its API's end (`[DONE]`, `response.completed`, `message_stop`)
 * and no error event; anything else reads as null (not cached). Reasoning is not kept: its state
 * (signatures, encrypted content) belongs to the call that made it, and a replay cannot honour it.
 */
import type { CanonicalChoice, CanonicalResponse, FinishReason, InboundFormat, Usage } from '../../exchange/types.ts';

type Json = Record<string, any>;
type Parts = CanonicalChoice['parts'];

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The bytes of one answer as it is written, up to a bound (past it, nothing is kept). */
export class AnswerTap {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #over = false;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  add(chunk: unknown, encoding?: BufferEncoding): void {
    if (this.#over || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const b = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk instanceof Uint8Array ? Buffer.from(chunk) : null;
    if (!b) return;
    this.#bytes += b.length;
    if (this.#bytes > this.#max) {
      this.#over = true;
      this.#chunks.length = 0;
      return;
    }
    this.#chunks.push(b);
  }
  /** The whole body, or null when it outgrew the bound. */
  text(): string | null {
    return this.#over ? null : Buffer.concat(this.#chunks).toString('utf8');
  }
}

/** The answer in `body` (JSON, or server-sent events when `stream`), in canonical form; null when it is not a complete answer. */
export function readAnswer(api: InboundFormat, body: string, stream: boolean): CanonicalResponse | null {
  try {
    if (!stream) {
      const v = JSON.parse(body);
      if (!isObj(v)) return null;
      return api === 'openai-responses' ? fromResponsesObject(v) : api === 'anthropic-messages' ? fromAnthropicMessage(v) : fromOpenAI(v);
    }
    const events = sseEvents(body);
    return api === 'openai-responses' ? fromResponsesStream(events) : api === 'anthropic-messages' ? fromAnthropicStream(events) : fromOpenAIStream(events);
  } catch {
    return null;
  }
}

interface SseEvent {
  event: string;
  data: string;
}

/** Server-sent events (LF or CRLF), `data` lines joined. */
export function sseEvents(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event = '';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    }
    if (data.length > 0 || event) out.push({ event, data: data.join('\n') });
  }
  return out;
}

function finishOf(v: unknown): FinishReason | null {
  return v === 'stop' || v === 'length' || v === 'tool_calls' || v === 'content_filter' || v === 'function_call' ? v : v == null ? null : 'stop';
}

function usageOf(u: unknown): Usage | null {
  if (!isObj(u) || typeof u.prompt_tokens !== 'number') return null;
  return u as Usage;
}

// ------------------------------------------------------------------ OpenAI Chat / Completions

function fromOpenAI(v: Json): CanonicalResponse | null {
  if (!Array.isArray(v.choices)) return null;
  const choices: CanonicalChoice[] = [];
  for (const c of v.choices) {
    if (!isObj(c)) return null;
    const parts: Parts = [];
    if (isObj(c.message)) {
      const m = c.message;
      if (typeof m.content === 'string' && m.content !== '') parts.push({ type: 'text', text: m.content });
      if (typeof m.refusal === 'string' && m.refusal !== '') parts.push({ type: 'refusal', text: m.refusal });
      if (Array.isArray(m.tool_calls)) for (const t of m.tool_calls) if (isObj(t) && isObj(t.function)) parts.push({ type: 'tool_call', id: str(t.id), name: str(t.function.name), arguments: str(t.function.arguments) });
    } else if (typeof c.text === 'string') parts.push({ type: 'text', text: c.text });
    choices[typeof c.index === 'number' ? c.index : choices.length] = { parts, finishReason: finishOf(c.finish_reason) };
  }
  return { id: str(v.id), created: typeof v.created === 'number' ? v.created : 0, model: str(v.model), choices: dense(choices), usage: usageOf(v.usage) };
}

function dense(choices: CanonicalChoice[]): CanonicalChoice[] {
  return Array.from(choices, (c) => c ?? { parts: [], finishReason: 'stop' });
}

function fromOpenAIStream(events: SseEvent[]): CanonicalResponse | null {
  let done = false;
  let id = '';
  let model = '';
  let created = 0;
  let usage: Usage | null = null;
  const texts: string[] = [];
  const refusals: string[] = [];
  const finish: (FinishReason | null)[] = [];
  const calls: Map<number, { id: string; name: string; arguments: string }>[] = [];
  for (const e of events) {
    if (e.data === '[DONE]') {
      done = true;
      continue;
    }
    if (e.data === '') continue;
    const v = JSON.parse(e.data);
    if (!isObj(v) || v.error !== undefined) return null;
    id ||= str(v.id);
    model ||= str(v.model);
    created ||= typeof v.created === 'number' ? v.created : 0;
    if (isObj(v.usage)) usage = usageOf(v.usage);
    if (!Array.isArray(v.choices)) continue;
    for (const c of v.choices) {
      if (!isObj(c)) continue;
      const i = typeof c.index === 'number' ? c.index : 0;
      texts[i] ??= '';
      refusals[i] ??= '';
      calls[i] ??= new Map();
      if (typeof c.text === 'string') texts[i] += c.text;
      const d = c.delta;
      if (isObj(d)) {
        if (typeof d.content === 'string') texts[i] += d.content;
        if (typeof d.refusal === 'string') refusals[i] += d.refusal;
        if (Array.isArray(d.tool_calls)) {
          for (const t of d.tool_calls) {
            if (!isObj(t)) continue;
            const k = typeof t.index === 'number' ? t.index : calls[i].size;
            const call = calls[i].get(k) ?? { id: '', name: '', arguments: '' };
            if (typeof t.id === 'string') call.id = t.id;
            if (isObj(t.function)) {
              if (typeof t.function.name === 'string') call.name += t.function.name;
              if (typeof t.function.arguments === 'string') call.arguments += t.function.arguments;
            }
            calls[i].set(k, call);
          }
        }
      }
      if (c.finish_reason != null) finish[i] = finishOf(c.finish_reason);
    }
  }
  if (!done) return null;
  const choices: CanonicalChoice[] = [];
  for (let i = 0; i < texts.length; i++) {
    const parts: Parts = [];
    if (texts[i]) parts.push({ type: 'text', text: texts[i] });
    if (refusals[i]) parts.push({ type: 'refusal', text: refusals[i] });
    for (const [, c] of [...(calls[i] ?? new Map()).entries()].sort((a, b) => a[0] - b[0])) parts.push({ type: 'tool_call', ...c });
    choices.push({ parts, finishReason: finish[i] ?? 'stop' });
  }
  return { id, created, model, choices, usage };
}

// ------------------------------------------------------------------ OpenAI Responses

function fromResponsesObject(v: Json): CanonicalResponse | null {
  if (v.object !== 'response' || !Array.isArray(v.output)) return null;
  if (v.status !== 'completed' && v.status !== 'incomplete') return null;
  const parts: Parts = [];
  let calls = false;
  for (const item of v.output) {
    if (!isObj(item)) continue;
    if (item.type === 'message' && Array.isArray(item.content)) {
      for (const c of item.content) {
        if (!isObj(c)) continue;
        if (c.type === 'output_text') parts.push({ type: 'text', text: str(c.text) });
        else if (c.type === 'refusal') parts.push({ type: 'refusal', text: str(c.refusal) });
      }
    } else if (item.type === 'function_call') {
      calls = true;
      parts.push({ type: 'tool_call', id: str(item.call_id), name: str(item.name), arguments: str(item.arguments) });
    }
  }
  const incomplete = v.status === 'incomplete';
  const reason = isObj(v.incomplete_details) ? v.incomplete_details.reason : null;
  const finishReason: FinishReason = incomplete ? (reason === 'content_filter' ? 'content_filter' : 'length') : calls ? 'tool_calls' : 'stop';
  const u = v.usage;
  const usage: Usage | null = isObj(u) && typeof u.input_tokens === 'number' ? { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens ?? 0, total_tokens: u.total_tokens ?? u.input_tokens + (u.output_tokens ?? 0) } : null;
  return { id: str(v.id), created: typeof v.created_at === 'number' ? v.created_at : 0, model: str(v.model), choices: [{ parts, finishReason }], usage };
}

function fromResponsesStream(events: SseEvent[]): CanonicalResponse | null {
  let completed: Json | null = null;
  for (const e of events) {
    if (e.data === '' || e.data === '[DONE]') continue;
    const v = JSON.parse(e.data);
    if (!isObj(v)) continue;
    const type = v.type ?? e.event;
    if (type === 'error' || type === 'response.failed') return null;
    if (type === 'response.completed' && isObj(v.response)) completed = v.response;
  }
  return completed ? fromResponsesObject(completed) : null;
}

// ------------------------------------------------------------------ Anthropic Messages

function anthropicFinish(reason: unknown): { finishReason: FinishReason | null; stopSequence?: string } {
  switch (reason) {
    case 'max_tokens':
      return { finishReason: 'length' };
    case 'tool_use':
      return { finishReason: 'tool_calls' };
    case 'refusal':
      return { finishReason: 'content_filter' };
    default:
      return { finishReason: 'stop' };
  }
}

function anthropicUsage(u: unknown): Usage | null {
  if (!isObj(u)) return null;
  const read = u.cache_read_input_tokens ?? 0;
  const written = u.cache_creation_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + read + written;
  const completion = u.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function fromAnthropicMessage(v: Json): CanonicalResponse | null {
  if (v.type !== 'message' || !Array.isArray(v.content)) return null;
  const parts: Parts = [];
  for (const b of v.content) {
    if (!isObj(b)) continue;
    if (b.type === 'text') parts.push({ type: 'text', text: str(b.text) });
    else if (b.type === 'tool_use') parts.push({ type: 'tool_call', id: str(b.id), name: str(b.name), arguments: JSON.stringify(b.input ?? {}) });
  }
  const f = anthropicFinish(v.stop_reason);
  const choice: CanonicalChoice = { parts, finishReason: f.finishReason };
  if (v.stop_reason === 'stop_sequence' && typeof v.stop_sequence === 'string') choice.stopSequence = v.stop_sequence;
  return { id: str(v.id), created: 0, model: str(v.model), choices: [choice], usage: anthropicUsage(v.usage) };
}

function fromAnthropicStream(events: SseEvent[]): CanonicalResponse | null {
  let message: Json | null = null;
  const blocks: Json[] = [];
  const json: string[] = [];
  let stop: unknown = null;
  let stopSequence: unknown = null;
  let usage: Json = {};
  let done = false;
  for (const e of events) {
    if (e.data === '') continue;
    const v = JSON.parse(e.data);
    if (!isObj(v)) continue;
    const type = v.type ?? e.event;
    if (type === 'error') return null;
    if (type === 'message_start' && isObj(v.message)) {
      message = v.message;
      if (isObj(v.message.usage)) usage = { ...v.message.usage };
    } else if (type === 'content_block_start' && isObj(v.content_block)) {
      blocks[v.index] = { ...v.content_block, text: str(v.content_block.text) };
      json[v.index] = '';
    } else if (type === 'content_block_delta' && isObj(v.delta) && blocks[v.index]) {
      if (v.delta.type === 'text_delta') blocks[v.index].text += str(v.delta.text);
      else if (v.delta.type === 'input_json_delta') json[v.index] += str(v.delta.partial_json);
    } else if (type === 'message_delta') {
      if (isObj(v.delta)) {
        stop = v.delta.stop_reason ?? stop;
        stopSequence = v.delta.stop_sequence ?? stopSequence;
      }
      // the SDKs overwrite message_start's counts with message_delta's non-null ones
      if (isObj(v.usage)) for (const [k, n] of Object.entries(v.usage)) if (n != null) usage[k] = n;
    } else if (type === 'message_stop') done = true;
  }
  if (!done || !message) return null;
  const content = blocks.map((b, i) => (b.type === 'tool_use' ? { ...b, input: json[i] ? JSON.parse(json[i]) : (b.input ?? {}) } : b)).filter(Boolean);
  return fromAnthropicMessage({ ...message, type: 'message', content, stop_reason: stop, stop_sequence: stopSequence, usage });
}
