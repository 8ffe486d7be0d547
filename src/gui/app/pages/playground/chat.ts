/**
 * One playground turn: the OpenAI Chat Completions request built from the conversation, sent to
 * `/gateway<route path>` (the GUI's relay to this node's proxy, src/gui/server.ts), and its answer
 * read as it streams — text, usage, the gateway's request id — with the browser's own timings.
 *
 * Wire format (https://platform.openai.com/docs/api-reference/chat-streaming): `data:` events of
 * `chat.completion.chunk` objects, `choices[0].delta.content` carrying text, then with
 * `stream_options.include_usage` a last chunk with `choices: []` and `usage`, then `data: [DONE]`.
 * The gateway sends that usage chunk whatever the provider (docs/providers.md, "Streams"), and
 * ends a failed stream with `data: {"error":{…}}` and no `[DONE]` (docs/ai-proxy.md, "Streams").
 */
import { authHeaders } from '../../lib/api.ts';
import type { AiRoute } from './routes.ts';
import { readSse } from './sse.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Sampling {
  temperature: number | null;
  maxTokens: number | null;
}

export interface TurnInput {
  route: AiRoute;
  /** The request's `model`, or null to leave it out (the route's own, or the balancer's pick). */
  model: string | null;
  system: string;
  /** The conversation so far, ending with the user's new message. */
  messages: ChatMessage[];
  sampling: Sampling;
  /** The consumer's key for key-auth; '' for none. */
  key: string;
}

/** The request as sent: what the "exact request" panel shows. */
export interface SentRequest {
  path: string;
  keyAuth: AiRoute['keyAuth'];
  body: Record<string, unknown>;
}

/** Usage as OpenAI reports it (the details each provider gives). */
export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: Record<string, number | undefined>;
  completion_tokens_details?: Record<string, number | undefined>;
}

export interface TurnResult {
  text: string;
  state: 'waiting' | 'streaming' | 'done' | 'error' | 'stopped';
  /** What went wrong, as the gateway said it (`401: No API key found in request`). */
  error: string | null;
  httpStatus: number | null;
  requestId: string | null;
  /** The model the answer names. */
  model: string | null;
  finishReason: string | null;
  usage: Usage | null;
  /** From send to the first content token, ms (browser clock). */
  ttftMs: number | null;
  /** From send to the answer's last byte, ms (browser clock). */
  latencyMs: number | null;
}

/** The request body: OpenAI Chat Completions, streamed with usage unless the route denies streams. */
export function buildRequest(input: TurnInput): SentRequest {
  const messages: ChatMessage[] = [];
  if (input.system.trim() !== '') messages.push({ role: 'system', content: input.system });
  messages.push(...input.messages);
  const body: Record<string, unknown> = {};
  if (input.model) body.model = input.model;
  body.messages = messages;
  if (input.route.streaming !== 'deny') {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (input.sampling.temperature !== null) body.temperature = input.sampling.temperature;
  if (input.sampling.maxTokens !== null) body.max_tokens = input.sampling.maxTokens;
  return { path: input.route.path ?? '/', keyAuth: input.route.keyAuth, body };
}

/** An error body of the gateway in a sentence: OpenAI's envelope, Kong's `{message}`, or the text. */
export function errorText(status: number | null, raw: string): string {
  let message = raw.trim();
  try {
    const j = JSON.parse(raw) as { error?: { message?: unknown; code?: unknown } | string; message?: unknown };
    if (j.error && typeof j.error === 'object' && typeof j.error.message === 'string') {
      message = j.error.message + (typeof j.error.code === 'string' && j.error.code ? ` (${j.error.code})` : '');
    } else if (typeof j.error === 'string') message = j.error;
    else if (typeof j.message === 'string') message = j.message;
  } catch {
    // not JSON: the text as it came
  }
  return status === null ? message : `${status}: ${message || 'no message'}`;
}

/**
 * Sends the turn and reports each change of its result to `update` (the same object, mutated,
 * so the conversation re-renders with the text as it grows). Resolves when the answer is over.
 */
export async function runTurn(sent: SentRequest, key: string, signal: AbortSignal, update: (r: TurnResult) => void): Promise<TurnResult> {
  const r: TurnResult = { text: '', state: 'waiting', error: null, httpStatus: null, requestId: null, model: null, finishReason: null, usage: null, ttftMs: null, latencyMs: null };
  const emit = () => update({ ...r });
  const headers: Record<string, string> = { ...authHeaders(), 'Content-Type': 'application/json' };
  let query = '';
  if (sent.keyAuth && key !== '') {
    if (sent.keyAuth.where === 'header') headers[sent.keyAuth.name] = key;
    else query = `?${new URLSearchParams({ [sent.keyAuth.name]: key })}`;
  }
  const started = performance.now();
  const ended = () => (r.latencyMs = performance.now() - started);
  try {
    const res = await fetch(`/gateway${sent.path}${query}`, { method: 'POST', headers, body: JSON.stringify(sent.body), signal });
    r.httpStatus = res.status;
    r.requestId = res.headers.get('x-modelgate-request-id');
    const type = res.headers.get('content-type') ?? '';
    if (!res.ok) {
      r.error = errorText(res.status, await res.text());
      r.state = 'error';
    } else if (type.startsWith('text/event-stream')) {
      r.state = 'streaming';
      emit();
      await readStream(res.body!, r, started, emit, signal);
    } else {
      readWhole(JSON.parse(await res.text()), r, started);
    }
    ended();
  } catch (e) {
    ended();
    if (signal.aborted) r.state = 'stopped';
    else {
      r.state = 'error';
      r.error = (e as Error).message;
    }
  }
  emit();
  return r;
}

interface Chunk {
  model?: string;
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: Usage | null;
  error?: unknown;
}

async function readStream(body: ReadableStream<Uint8Array>, r: TurnResult, started: number, emit: () => void, signal: AbortSignal): Promise<void> {
  let sawDone = false;
  for await (const ev of readSse(body, signal)) {
    if (ev.data === '[DONE]') {
      sawDone = true;
      continue;
    }
    const chunk = JSON.parse(ev.data) as Chunk;
    if (chunk.error) {
      r.state = 'error';
      r.error = errorText(null, ev.data);
      emit();
      continue;
    }
    if (chunk.model) r.model = chunk.model;
    if (chunk.usage) r.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (choice?.finish_reason) r.finishReason = choice.finish_reason;
    const piece = choice?.delta?.content;
    if (piece) {
      r.ttftMs ??= performance.now() - started;
      r.text += piece;
    }
    emit();
  }
  if (signal.aborted) throw new DOMException('stopped', 'AbortError');
  if (r.state === 'streaming') {
    if (sawDone) r.state = 'done';
    else {
      r.state = 'error';
      r.error = 'The stream ended without [DONE]: the answer may be cut.';
    }
  }
}

/** `response_streaming: deny`: one chat.completion. */
function readWhole(json: { model?: string; choices?: { message?: { content?: string | null }; finish_reason?: string }[]; usage?: Usage }, r: TurnResult, started: number): void {
  r.model = json.model ?? null;
  r.text = json.choices?.[0]?.message?.content ?? '';
  r.finishReason = json.choices?.[0]?.finish_reason ?? null;
  r.usage = json.usage ?? null;
  r.ttftMs = performance.now() - started;
  r.state = 'done';
}
