/**
 * One AI exchange in steps that both `ai-proxy` (one target) and `ai-proxy-advanced` (a balancer
 * over many) use: check the client's request, plan a call for a target, send it, relay the answer.
 * Splitting "send" from "relay" is what lets a balancer look at a provider's status and fail over
 * before a single byte reaches the client.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import { resolveEndpoint, upstreamHeaders, EndpointError, type UpstreamLimits } from './upstream-request.ts';
import { relayJson } from './relay-json.ts';
import { relayStream } from './relay-stream.ts';
import { aiError } from './client-request.ts';
import { callUpstream, callUpstreamCollected, type ProviderAnswer } from '../../proxy/upstream.ts';
import { ClientError } from '../../proxy/errors.ts';
import { validateClientRequest } from '../../llm/validate.ts';
import { RequestError, type ClientRequest, type DriverContext, type LlmRouteType, type StreamFraming } from '../../llm/types.ts';

/** What the relays need to answer the client. */
export interface Exchange {
  ctx: RequestContext;
  conf: CompiledAiProxy;
  driver: DriverContext;
  request: ClientRequest;
  /** The client's body as received, for payload logging. */
  rawRequest: string;
  response: ProviderAnswer;
  sentAt: number;
  signal: AbortSignal;
}

/** A call to one target, ready to send. */
export interface PlannedCall {
  conf: CompiledAiProxy;
  driver: DriverContext;
  body: string;
  url: string;
  providerHeaders: Record<string, string>;
  framing: StreamFraming | null;
}

export interface SentCall {
  response: ProviderAnswer;
  sentAt: number;
  signal: AbortSignal;
  attempts: number;
}

/** RequestError (the client's fault) → Kong's 400; anything else propagates. */
function asClientError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RequestError) throw aiError(400, e.message);
    throw e;
  }
}

export function validateRequest(value: unknown, routeType: LlmRouteType): ClientRequest {
  return asClientError(() => validateClientRequest(value, routeType));
}

/** `response_streaming` (Kong 3.7+): `deny` refuses stream requests, `always` streams every answer. */
export function wantsStream(policy: 'allow' | 'deny' | 'always', request: ClientRequest): boolean {
  if (request.stream === true && policy === 'deny') throw aiError(400, 'response streaming is not enabled for this LLM');
  return policy === 'always' || request.stream === true;
}

/** Kong 3.8+: the client may name the configured model, never another one; without one configured, the client's is used. */
export function resolveModel(configured: string | null, request: ClientRequest): string {
  const asked = request.model;
  if (configured) {
    if (asked !== undefined && asked !== null && asked !== configured) throw aiError(400, `cannot use own model - must be: ${configured}`);
    return configured;
  }
  if (typeof asked === 'string' && asked !== '') return asked;
  throw aiError(400, 'model parameter not found in request, nor in gateway configuration');
}

export function planCall(conf: CompiledAiProxy, request: ClientRequest, routeType: LlmRouteType, model: string, stream: boolean): PlannedCall {
  const driver: DriverContext = {
    provider: conf.config.model.provider,
    routeType,
    model,
    options: conf.options,
    stream,
    includeUsage: request.stream_options?.include_usage === true,
    now: Math.floor(Date.now() / 1000),
    id: `${routeType === 'llm/v1/chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`,
  };
  return asClientError(() => {
    const upstreamBody = conf.driver.buildRequest(request, driver);
    const { url, headers } = conf.driver.endpoint(driver);
    if (conf.authBody) upstreamBody[conf.authBody[0]] = conf.authBody[1];
    return { conf, driver, body: JSON.stringify(upstreamBody), url, providerHeaders: headers, framing: stream ? conf.driver.streamFraming(driver) : null };
  });
}

/** Aborts the provider call when the client leaves, and (streams) past the max stream duration. */
function upstreamSignal(ctx: RequestContext, stream: boolean): AbortSignal {
  const limit = ctx.settings.maxStreamDurationMs;
  if (!stream || limit <= 0) return ctx.abort.signal;
  return AbortSignal.any([ctx.abort.signal, AbortSignal.timeout(limit)]);
}

/**
 * Sends a body to a target's endpoint with the configured key; throws UpstreamError when no answer
 * came. `whole`: the answer is read whole (non-streamed calls), straight into a Buffer.
 */
export async function sendCall(ctx: RequestContext, conf: CompiledAiProxy, url: string, providerHeaders: Record<string, string>, body: string, framing: StreamFraming | null, limits: UpstreamLimits, whole: boolean): Promise<SentCall> {
  let endpoint;
  try {
    endpoint = resolveEndpoint(conf, url, providerHeaders, limits);
  } catch (e) {
    if (e instanceof EndpointError) throw new ClientError(500, { error: { message: e.message } });
    throw e;
  }
  const bytes = Buffer.from(body); // encoded once: its length is the header, and undici writes it as is
  const headers = upstreamHeaders(conf, endpoint, ctx.req.headers, framing, bytes.length);
  const signal = upstreamSignal(ctx, framing !== null);
  ctx.upstreamStartedAt = performance.now();
  const call = { target: endpoint.target, method: 'POST', path: endpoint.path, headers, body: bytes, signal };
  const { response, attempts } = whole ? await callUpstreamCollected(call, ctx.settings.maxResponseSize) : await callUpstream(call);
  ctx.upstreamHeadersAt = performance.now();
  return { response, sentAt: ctx.upstreamStartedAt, signal, attempts };
}

export function sendPlanned(ctx: RequestContext, plan: PlannedCall, limits: UpstreamLimits): Promise<SentCall> {
  return sendCall(ctx, plan.conf, plan.url, plan.providerHeaders, plan.body, plan.framing, limits, plan.framing === null);
}

/** Answers the client from a provider's answer: translated JSON, or a translated stream. */
export function relay(ctx: RequestContext, plan: PlannedCall, request: ClientRequest, rawRequest: string, sent: SentCall): Promise<void> {
  const x: Exchange = { ctx, conf: plan.conf, driver: plan.driver, request, rawRequest, response: sent.response, sentAt: sent.sentAt, signal: sent.signal };
  return plan.framing ? relayStream(x) : relayJson(x);
}
