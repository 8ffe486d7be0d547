/**
 * Non-streamed answers: the provider's 200 translated to OpenAI's shape (502 when it cannot be,
 * docs/decisions.md, D3), the provider's errors passed on with their status in OpenAI's error envelope
 * (provider-error.ts), redirects refused, sizes bounded.
 */
import type { ServerResponse } from 'node:http';
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import type { Exchange } from './exchange.ts';
import { isCollected, type CollectedResponse, type ProviderAnswer } from '../../proxy/upstream.ts';
import { BodyEncodingError, BodyTooLargeError, decodeContent, readCapped } from '../../proxy/read-body.ts';
import { TranslationError, type Usage } from '../../llm/types.ts';
import { HEADERS } from '../../proxy/names.ts';
import { UpstreamError } from '../../proxy/errors.ts';
import { aiError, errorClass } from './openai-error.ts';
import { isObject } from '../../llm/json.ts';
import { providerErrorAnswer } from './provider-error.ts';
import { classifyUpstreamError } from '../../proxy/upstream.ts';
import { recordExchange } from './analytics.ts';
import { noteAnswer, tracesAnswer } from './tracing.ts';
import { estimateTokens, promptText } from '../../llm/tokens.ts';
import { estimateInputTokens } from '../../exchange/estimate.ts';
import type { ClientApi } from '../../exchange/apis/index.ts';
import { writeJson } from '../../proxy/respond.ts';
import { hasState, rememberState } from '../../exchange/provider-state.ts';
import { guardedWholeAnswer } from './guard-answer.ts';
import { HeaderNames } from '../../proxy/header-names.ts';

/** Provider headers worth keeping on the client's answer: rate-limit state and the provider's request id. */
const KEPT = new HeaderNames(['retry-after', 'retry-after-ms', 'x-request-id', 'request-id', 'apim-request-id', 'openai-processing-ms'], ['x-ratelimit-', 'anthropic-ratelimit-', 'ratelimit-']);

/**
 * The headers of the client's answer to an exchange, in one fresh object the caller completes:
 * the provider's rate-limit state and request id, the gateway's latencies, Via, the model (when
 * `model_name_header`) and the request id.
 */
export function answerHeaders(ctx: RequestContext, conf: CompiledAiProxy, model: string, response: ProviderAnswer, dropped?: readonly string[]): Record<string, string> {
  const h: Record<string, string> = {};
  if (isCollected(response)) response.copyHeaders(KEPT, h);
  else {
    const upstream = response.headers;
    for (const k in upstream) {
      const v = upstream[k];
      if (v !== undefined && KEPT.has(k)) h[k] = Array.isArray(v) ? v.join(', ') : v;
    }
  }
  h[HEADERS.upstreamLatency] = String(Math.round(ctx.upstreamHeadersAt - ctx.upstreamStartedAt));
  h[HEADERS.proxyLatency] = String(Math.round(ctx.upstreamStartedAt - ctx.startedAt));
  h.via = HEADERS.via;
  if (conf.config.model_name_header) h[HEADERS.llmModel] = headerSafe(`${conf.config.model.provider}/${model}`);
  h[HEADERS.requestId] = ctx.requestId;
  if (dropped && dropped.length > 0) h[HEADERS.droppedParams] = droppedHeader(dropped);
  return h;
}

/** At most this many characters of dropped paths in the header (the log entry has them all). */
const DROPPED_HEADER_MAX = 2048;

/** The dropped paths, comma-separated, header-safe and bounded (a path may hold any client-chosen key). */
export function droppedHeader(dropped: readonly string[]): string {
  const value = headerSafe(dropped.join(','));
  return value.length > DROPPED_HEADER_MAX ? `${value.slice(0, DROPPED_HEADER_MAX - 3)}...` : value;
}

/** A client-chosen model name may hold anything (CR/LF, non-ASCII): a header carries it percent-encoded. */
function headerSafe(value: string): string {
  return /[^\x20-\x7e]/.test(value) ? value.replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c)) : value;
}

/** The provider's body, decoded, bounded by `MODELGATE_MAX_RESPONSE_SIZE`; failures are the provider's fault: 502. */
export async function readProviderBytes(ctx: RequestContext, response: ProviderAnswer): Promise<Buffer> {
  if (isCollected(response)) return collectedProviderBytes(ctx, response);
  const cap = ctx.settings.maxResponseSize;
  try {
    return decodeContent(await readCapped(response.body, cap), response.headers['content-encoding'], cap);
  } catch (e) {
    throw providerBodyError(e);
  }
}

/** readProviderBytes for an answer already gathered whole, without a turn of the event loop. */
export function collectedProviderBytes(ctx: RequestContext, response: CollectedResponse): Buffer {
  try {
    return decodeContent(response.body, response.header('content-encoding'), ctx.settings.maxResponseSize);
  } catch (e) {
    throw providerBodyError(e);
  }
}

function providerBodyError(e: unknown): UpstreamError {
  if (e instanceof BodyTooLargeError || e instanceof BodyEncodingError) return new UpstreamError(502, e.message, 'upstream_body', false);
  // reset or stalled while the answer was coming in: Kong's 502 / 504
  return classifyUpstreamError(e);
}

export async function readProviderBody(ctx: RequestContext, response: ProviderAnswer): Promise<string> {
  return (await readProviderBytes(ctx, response)).toString('utf8');
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** A provider error (non-200): its status, and the error in the client API's shape (OpenAI's envelope: provider-error.ts). */
export async function relayProviderError(ctx: RequestContext, conf: CompiledAiProxy, response: ProviderAnswer, model: string, dropped?: readonly string[], api?: ClientApi): Promise<void> {
  const status = response.statusCode;
  if (isRedirect(status)) {
    if (!isCollected(response)) response.body.resume();
    throw aiError(502, `the provider answered with a redirect (${status}); redirects are not followed`, { code: 'upstream_redirect' });
  }
  const text = await readProviderBody(ctx, response);
  const answer = providerErrorAnswer(status, text, response.headers, conf.config.model.provider);
  ctx.error = { status, code: 'provider_error', message: `provider answered ${status}` };
  const headers = answerHeaders(ctx, conf, model, response, dropped);
  if (answer.retryAfter !== null && headers['retry-after'] === undefined) headers['retry-after'] = answer.retryAfter;
  writeJson(ctx.res, status, api ? clientErrorBody(api, status, answer.body) : answer.body, ctx.requestId, ctx.startedAt, headers);
}

/**
 * A provider's error in the client API's shape. OpenAI Chat/Completions clients get it as they
 * always have; a client of another API gets it converted, whatever shape the provider wrote (an
 * Anthropic-shaped error to a Responses client becomes OpenAI's envelope, OpenAI's to an Anthropic
 * client Anthropic's; an error in the client's own API stays as the provider wrote it).
 */
function clientErrorBody(api: ClientApi, status: number, text: string): unknown {
  if (api.format === 'openai-chat' || api.format === 'openai-completions') return text;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (api.format !== 'anthropic-messages' && isObject(body) && body.type === 'error' && isObject(body.error)) {
    // Anthropic's `{"type":"error","error":{type,message},"request_id"}`: OpenAI's envelope keeps its message and names the provider's type
    const { type, message, ...rest } = body.error;
    const [ourType, code] = errorClass(status);
    body = { error: { message, type: ourType, code, param: null, provider: { type, ...rest, request_id: body.request_id ?? null } } };
  }
  return api.errorBody(status, body, null);
}

export function estimateUsage(x: Exchange, completionText: string): Usage {
  // OpenAI clients keep the count they always had; other APIs' requests are counted from the canonical request
  const openai = x.driver.inbound === 'openai-chat' || x.driver.inbound === 'openai-completions';
  const prompt = openai ? estimateTokens(promptText(x.request)) : estimateInputTokens(x.canonical);
  const completion = estimateTokens(completionText);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function withUsage(body: string, usage: Usage): string {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  parsed.usage = usage;
  return JSON.stringify(parsed);
}

function choiceText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { choices?: { message?: { content?: unknown }; text?: unknown }[] };
    return (parsed.choices ?? []).map((c) => (typeof c.message?.content === 'string' ? c.message.content : typeof c.text === 'string' ? c.text : '')).join('');
  } catch {
    return '';
  }
}

/** Runs a driver's translation of a 200; an answer it cannot translate is the provider's fault: Kong's 502. */
export function translateOr502<T>(ctx: RequestContext, provider: string, routeType: string, translate: () => T): T {
  try {
    return translate();
  } catch (e) {
    if (e instanceof TranslationError) {
      ctx.error = { status: 502, code: 'translation', message: e.message };
      throw aiError(502, `transformation failed from type ${provider}://${routeType}: ${e.message}`, { code: 'translation_failed' });
    }
    throw e;
  }
}

/**
 * Up to this size an answer is sent as text: node:http then joins it to the header block and sends
 * both with one write(), where a Buffer goes out as a two-part writev (header string, body bytes).
 * The single write is cheaper for small bodies and no dearer up to tens of KB, where encoding the
 * text again starts to cost what the syscall saves.
 */
const SEND_AS_TEXT_MAX = 16 * 1024;

export async function relayJson(x: Exchange): Promise<void> {
  const { ctx, conf, driver, response } = x;
  if (response.statusCode !== 200) return relayProviderError(ctx, conf, response, driver.model, driver.dropped, driver.api);
  const bytes = isCollected(response) ? collectedProviderBytes(ctx, response) : await readProviderBytes(ctx, response);
  const text = bytes.toString('utf8');
  let translated = translateOr502(ctx, driver.provider, driver.routeType, () => conf.driver.parseResponse(text, driver));
  const finishedAt = performance.now();
  // the provider answered (and was paid): a refused answer is recorded, then the client API's error goes instead
  translated = await guardedWholeAnswer(ctx, driver, x.canonical, translated, () => {
    const usage = translated.usage ?? estimateUsage(x, translated.text ?? choiceText(translated.body));
    recordExchange(ctx, conf, { provider: driver.provider, requestModel: driver.model, responseModel: translated.responseModel, usage, estimated: translated.usage === null, stream: false, llmLatencyMs: finishedAt - x.sentAt, timeToFirstTokenMs: null, partial: false, dropped: driver.dropped, clientApi: driver.inbound });
  });
  let usage = translated.usage;
  let body: string | Buffer = translated.body;
  if (usage === null) {
    // the provider counted nothing: the client still gets OpenAI's shape, with our count
    usage = estimateUsage(x, translated.text ?? choiceText(translated.body));
    body = withUsage(translated.body, usage);
  } else if (body === text && bytes.length > SEND_AS_TEXT_MAX) {
    // a large OpenAI-shaped answer goes back as the provider's own bytes: no second UTF-8 encoding
    body = bytes;
  }
  recordExchange(
    ctx,
    conf,
    {
      provider: driver.provider,
      requestModel: driver.model,
      responseModel: translated.responseModel,
      usage,
      estimated: translated.usage === null,
      stream: false,
      llmLatencyMs: finishedAt - x.sentAt,
      timeToFirstTokenMs: null,
      partial: false,
      dropped: driver.dropped,
      clientApi: driver.inbound,
    },
    conf.config.logging.log_payloads ? { request: x.rawRequest, response: typeof body === 'string' ? body : text } : undefined,
  );
  // an OpenAI client's answer is OpenAI-shaped (choices at the top): its facts can be read without a parse when no text is wanted
  if (tracesAnswer(ctx)) noteAnswer(ctx, typeof body === 'string' ? body : text, conf.config.logging.log_payloads, driver.inbound === 'openai-chat' || driver.inbound === 'openai-completions', translated.parsed);
  if (hasState(translated.carried)) void rememberState(translated.carried, x.stateScope);
  // the answer as the client got it, in its API (the Responses store keeps it)
  x.keep?.(typeof body === 'string' ? body : text);
  sendBody(ctx.res, 200, body, answerHeaders(ctx, conf, driver.model, response, driver.dropped));
}

/** Sends a whole JSON answer; `headers` is the caller's fresh object (answerHeaders), completed here. */
export function sendBody(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string | number>): void {
  if (res.destroyed) return;
  headers['content-type'] ??= 'application/json';
  headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  headers.server = HEADERS.server;
  res.writeHead(status, headers);
  res.end(body);
}

/** `preserve`: the provider's answer goes back as it came; usage is read when it is OpenAI-shaped JSON. */
export async function relayPreserved(ctx: RequestContext, conf: CompiledAiProxy, response: ProviderAnswer, sentAt: number, rawRequest: string): Promise<void> {
  const model = conf.config.model.name ?? '';
  if (isRedirect(response.statusCode)) return relayProviderError(ctx, conf, response, model);
  const type = String(response.headers['content-type'] ?? '');
  const headers: Record<string, string | number> = answerHeaders(ctx, conf, model, response);
  headers['content-type'] = type || 'application/octet-stream';
  headers.server = HEADERS.server;
  if (!/json/i.test(type) && !isCollected(response)) {
    ctx.res.writeHead(response.statusCode, headers);
    for await (const chunk of response.body) {
      if (!ctx.res.write(chunk)) await new Promise<void>((r) => (ctx.res.once('drain', r), ctx.res.once('close', r)));
      if (ctx.res.destroyed) return;
    }
    ctx.res.end();
    return;
  }
  const text = await readProviderBody(ctx, response);
  let usage: Usage | null = null;
  let responseModel: string | null = null;
  try {
    const parsed = JSON.parse(text) as { usage?: Usage; model?: string };
    if (parsed.usage && typeof parsed.usage.total_tokens === 'number') usage = parsed.usage;
    if (typeof parsed.model === 'string') responseModel = parsed.model;
  } catch {
    // not ours to judge: preserve means the client gets the provider's bytes
  }
  recordExchange(
    ctx,
    conf,
    { provider: conf.config.model.provider, requestModel: model, responseModel, usage, estimated: false, stream: false, llmLatencyMs: performance.now() - sentAt, timeToFirstTokenMs: null, partial: false },
    conf.config.logging.log_payloads ? { request: rawRequest, response: text } : undefined,
  );
  sendBody(ctx.res, response.statusCode, text, headers);
}
