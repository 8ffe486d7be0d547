/**
 * One AI exchange in steps that both `ai-proxy` (one target) and `ai-proxy-advanced` (a balancer
 * over many) use: check the client's request, plan a call for a target, send it, relay the answer.
 * Splitting "send" from "relay" is what lets a balancer look at a provider's status and fail over
 * before a single byte reaches the client.
 */
import { credentialNames } from '../shared/credentials.ts';
import { endCall, failCall, startCall, type TracedCall } from './tracing.ts';
import type { AbortLike, RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import { resolveEndpoint, upstreamHeaders, EndpointError, type UpstreamLimits } from './upstream-request.ts';
import { relayJson } from './relay-json.ts';
import { relayStream } from './relay-stream.ts';
import { relayEmbeddings } from './relay-embeddings.ts';
import { aiError } from './openai-error.ts';
import { callUpstream, callUpstreamCollected, type ProviderAnswer } from '../../proxy/upstream.ts';
import type { HeaderMap } from '../../proxy/headers.ts';
import { encodeReusing, type ClientJson } from '../../util/json-reuse.ts';
import type { JsonObject } from '../../llm/json.ts';
import { ExchangeContext } from '../../exchange/context.ts';
import { clientApi } from '../../exchange/apis/index.ts';
import { PROVIDER_ROUTE_TYPE, type Operation } from './operations.ts';
import { applyPromptHooks } from '../shared/prompt-hooks.ts';
import { providerBody } from '../../exchange/policy.ts';
import type { CanonicalRequest, InboundFormat } from '../../exchange/types.ts';
import { restoreState, STATEFUL_PROVIDERS } from '../../exchange/provider-state.ts';
import { EMBEDDINGS_ROUTE, validateEmbeddingsRequest } from '../../llm/embeddings.ts';
import {
  RequestError,
  SigningError,
  type ClientRequest,
  type DriverContext,
  type Endpoint,
  type EmbeddingsContext,
  type EmbeddingsRequest,
  type EmbeddingsRouteType,
  type LlmRouteType,
  type SigningContext,
  type StreamFraming,
} from '../../llm/types.ts';


/** What the relays need to answer the client. */
export interface Exchange {
  ctx: RequestContext;
  conf: CompiledAiProxy;
  driver: ExchangeContext;
  request: ClientRequest;
  /** The request in canonical form (the inbound adapter's). */
  canonical: CanonicalRequest;
  /** Where this exchange's provider state is kept (provider-state.ts): the route and the consumer. */
  stateScope: string;
  /** The client's body as received, for payload logging. */
  rawRequest: string;
  response: ProviderAnswer;
  sentAt: number;
  signal: AbortLike;
  /** Called with the whole answer in the client's API after a complete success (the Responses store keeps it). */
  keep: ((answer: JsonObject | string) => void) | null;
}

/** What every planned call has: where it goes, what it sends, and what a request signer needs. */
interface PlannedBase {
  conf: CompiledAiProxy;
  /** The provider's body: text, or UTF-8 bytes when parts of the client's body were copied as they came. */
  body: string | Buffer;
  url: string;
  providerHeaders: Record<string, string>;
  framing: StreamFraming | null;
  signing: SigningContext;
}

/** A call to one target, ready to send: a chat/completions call, or an embeddings call. */
export type PlannedCall = (PlannedBase & { kind: 'llm'; driver: ExchangeContext }) | (PlannedBase & { kind: 'embeddings'; embeddings: EmbeddingsContext; request: EmbeddingsRequest });

/** The client's request, checked for its route type, with the body it came from (see readClientJson). */
export type CheckedRequest =
  | {
      kind: 'llm';
      /** The client's API. */
      inbound: InboundFormat;
      /** What the provider is asked for (a chat for every conversational API). */
      routeType: LlmRouteType;
      request: ClientRequest;
      canonical: CanonicalRequest;
      stream: boolean;
      source: ClientJson | null;
      /** Set by the exchange for requests whose answer is kept (Responses with `store`). */
      keep?: ((answer: JsonObject | string) => void) | null;
    }
  | { kind: 'embeddings'; routeType: EmbeddingsRouteType; request: EmbeddingsRequest; stream: false; source: ClientJson | null };

export interface SentCall {
  response: ProviderAnswer;
  sentAt: number;
  signal: AbortLike;
  attempts: number;
  /** The call's GenAI span (traced requests), ended by the relay or by a balancer moving on. */
  traced: TracedCall | null;
}

/** RequestError (the client's fault) → Kong's 400, with the field it names as OpenAI's `param`; anything else propagates. */
function asClientError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RequestError) throw aiError(400, e.message, { param: paramOf(e.message) });
    throw e;
  }
}

/**
 * The request field a validation message starts with (`messages[0].role: expected ...`), or null.
 * `model.options.*` names the route's configuration, not the client's request.
 */
function paramOf(message: string): string | null {
  const m = /^([A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*): /.exec(message);
  return m && !m[1].startsWith('model.options.') ? m[1] : null;
}

/** The client's body parsed by its API's adapter (OpenAI: Kong's format detection and messages first): 400 when it cannot be. */
export function parseRequest(value: unknown, inbound: InboundFormat): CanonicalRequest {
  return asClientError(() => clientApi(inbound).parse(value));
}

/** What a checked request asks for: a model call in one of the client APIs, or embeddings (a token count is answered apart: count-tokens.ts). */
export type RequestOperation = Exclude<Operation, { kind: 'count_tokens' }>;

/** Checks the body for its operation and decides streaming (embeddings never stream). */
export function checkRequest(ctx: Pick<RequestContext, 'promptHooks'>, value: unknown, op: RequestOperation, policy: 'allow' | 'deny' | 'always', source: ClientJson | null = null): CheckedRequest {
  if (op.kind === 'embeddings') {
    applyPromptHooks(ctx, null); // the prompt plugins refuse a request without a prompt, as they always have
    return { kind: 'embeddings', routeType: EMBEDDINGS_ROUTE, request: asClientError(() => validateEmbeddingsRequest(value)), stream: false, source };
  }
  const canonical = parseRequest(value, op.inbound);
  // the prompt plugins read and change the canonical messages (and the client's body with them): the client's bytes no longer say what is sent
  if (applyPromptHooks(ctx, canonical)) source = null;
  const request = canonical.source.body as ClientRequest;
  return { kind: 'llm', inbound: op.inbound, routeType: PROVIDER_ROUTE_TYPE[op.inbound], request, canonical, stream: wantsStream(policy, request), source };
}

/** The provider's body: the values it shares with the client's body copied as they came when that pays (json-reuse.ts). */
function encodeBody(body: JsonObject, source: ClientJson | null): string | Buffer {
  return encodeReusing(body, source) ?? JSON.stringify(body);
}

/** `response_streaming` (Kong 3.7+): `deny` refuses stream requests, `always` streams every answer. */
export function wantsStream(policy: 'allow' | 'deny' | 'always', request: ClientRequest): boolean {
  if (request.stream === true && policy === 'deny') throw aiError(400, 'response streaming is not enabled for this LLM', { code: 'streaming_not_enabled', param: 'stream' });
  return policy === 'always' || request.stream === true;
}

/** Kong 3.8+: the client may name the configured model, never another one; without one configured, the client's is used. */
export function resolveModel(configured: string | null, request: { model?: unknown }): string {
  const asked = request.model;
  if (configured) {
    if (asked !== undefined && asked !== null && asked !== configured) throw aiError(400, `cannot use own model - must be: ${configured}`, { code: 'model_not_allowed', param: 'model' });
    return configured;
  }
  if (typeof asked === 'string' && asked !== '') return asked;
  throw aiError(400, 'model parameter not found in request, nor in gateway configuration', { code: 'model_required', param: 'model' });
}

/** Plans the call a checked request makes to one target, under the target's model name. */
export function planFor(conf: CompiledAiProxy, checked: CheckedRequest, model: string): PlannedCall {
  if (checked.kind === 'embeddings') return planEmbeddings(conf, checked.request, model, checked.source);
  return planCall(conf, checked.canonical, checked.routeType, model, checked.stream, checked.source);
}

function planEmbeddings(conf: CompiledAiProxy, request: EmbeddingsRequest, model: string, source: ClientJson | null): PlannedCall {
  const provider = conf.config.model.provider;
  const driver = conf.driver.embeddings;
  // the schema refuses such configs; a target list built some other way still gets a clear answer
  if (!driver) throw aiError(400, `${provider} does not support route_type ${EMBEDDINGS_ROUTE}`, { code: 'unsupported_route_type' });
  const embeddings: EmbeddingsContext = { provider, routeType: EMBEDDINGS_ROUTE, model, options: conf.options, now: Math.floor(Date.now() / 1000) };
  return asClientError(() => {
    const upstreamBody = driver.buildRequest(request, embeddings);
    const { url, headers } = driver.endpoint(embeddings);
    if (conf.authBody) upstreamBody[conf.authBody[0]] = conf.authBody[1];
    return { kind: 'embeddings', conf, embeddings, request, body: encodeBody(upstreamBody, source), url, providerHeaders: headers, framing: null, signing: embeddings };
  });
}

/**
 * Plans one call: the call's context (the route's unsupported-params policy, the renderer of the
 * client's API), the policy applied to what the inbound adapter could not map, the provider's body
 * from the canonical request, and the passthrough fields the policy let through.
 */
export function planCall(conf: CompiledAiProxy, request: CanonicalRequest, routeType: LlmRouteType, model: string, stream: boolean, source: ClientJson | null = null): PlannedCall {
  const inbound = request.source.format;
  const options = inbound === 'openai-chat' || inbound === 'openai-completions' ? conf.options : conf.newApiOptions;
  const driver = new ExchangeContext({ provider: conf.config.model.provider, routeType, model, options, stream, includeUsage: request.includeUsage, inbound, request });
  return asClientError(() => {
    const upstreamBody = providerBody(conf.driver, request, driver);
    const { url, headers } = driverEndpoint(conf, driver);
    if (conf.authBody) upstreamBody[conf.authBody[0]] = conf.authBody[1];
    return { kind: 'llm', conf, driver, body: encodeBody(upstreamBody, source), url, providerHeaders: headers, framing: stream ? conf.driver.streamFraming(driver) : null, signing: driver };
  });
}

/**
 * The driver's endpoint, remembered for the last (route type, model, stream): it depends on
 * nothing else (the options are the plugin's), and building it parses `upstream_url` each time.
 */
function driverEndpoint(conf: CompiledAiProxy, driver: DriverContext): Endpoint {
  const last = conf.lastDriverEndpoint;
  if (last !== null && last.routeType === driver.routeType && last.inbound === driver.inbound && last.model === driver.model && last.stream === driver.stream) return last.endpoint;
  const endpoint = conf.driver.endpoint(driver);
  conf.lastDriverEndpoint = { routeType: driver.routeType, inbound: driver.inbound, model: driver.model, stream: driver.stream, endpoint };
  return endpoint;
}

/** Aborts the provider call when the client leaves, and (streams) past the max stream duration. */
function upstreamSignal(ctx: RequestContext, stream: boolean): AbortLike {
  const limit = ctx.settings.maxStreamDurationMs;
  if (!stream || limit <= 0) return ctx.clientSignal;
  return ctx.abortAfter(limit);
}

/**
 * Credentials computed per request (AWS SigV4 over the final URL, headers and body; a Google token
 * minted from a service account), set last so nothing changes what was signed. A signer's failure
 * is the configuration's (500) or the credential service's (502), never a request sent without them.
 */
async function signHeaders(conf: CompiledAiProxy, url: string, headers: HeaderMap, body: string | Buffer, signing: SigningContext): Promise<void> {
  const sign = conf.driver.signRequest;
  if (!sign) return;
  let extra: Record<string, string>;
  try {
    extra = await sign({ method: 'POST', url, headers: headers as Record<string, string>, body: typeof body === 'string' ? body : body.toString('utf8') }, signing, conf.config.auth);
  } catch (e) {
    if (e instanceof SigningError) throw e.upstream ? aiError(502, e.message, { code: 'provider_credentials_unavailable' }) : aiError(500, e.message, { code: 'invalid_configuration' });
    throw e;
  }
  for (const k in extra) headers[k] = extra[k];
}

/**
 * Sends a body to a target's endpoint with the configured key; throws UpstreamError when no answer
 * came. `whole`: the answer is read whole (non-streamed calls), straight into a Buffer.
 */
export async function sendCall(ctx: RequestContext, conf: CompiledAiProxy, url: string, providerHeaders: Record<string, string>, body: string | Buffer, framing: StreamFraming | null, limits: UpstreamLimits, whole: boolean, signing: SigningContext): Promise<SentCall> {
  let endpoint;
  try {
    endpoint = resolveEndpoint(conf, url, providerHeaders, limits);
  } catch (e) {
    if (e instanceof EndpointError) throw aiError(500, e.message, { code: 'invalid_configuration' });
    throw e;
  }
  const bytes = typeof body === 'string' ? Buffer.from(body) : body; // encoded once: its length is the header, and undici writes it as is
  const headers = upstreamHeaders(conf, endpoint, ctx.req.headers, framing, bytes.length, ctx.chain.length > 1 ? credentialNames(ctx).headers : undefined);
  // the trace context goes in before a signature is computed over the headers (Bedrock's SigV4)
  const traced = ctx.trace !== null ? startCall(ctx, conf, signing, endpoint.target.origin, framing !== null, headers) : null;
  try {
    if (conf.driver.signRequest) await signHeaders(conf, `${endpoint.target.origin}${endpoint.path}`, headers, body, signing);
    const signal = upstreamSignal(ctx, framing !== null);
    ctx.upstream.path = endpoint.path; // Kong's upstream_uri: a balancer's last attempt overwrites its earlier ones
    ctx.upstreamStartedAt = performance.now();
    const call = { target: endpoint.target, method: 'POST', path: endpoint.path, headers, body: bytes, signal };
    const { response, attempts } = whole ? await callUpstreamCollected(call, ctx.settings.maxResponseSize) : await callUpstream(call);
    ctx.upstreamHeadersAt = performance.now();
    return { response, sentAt: ctx.upstreamStartedAt, signal, attempts, traced };
  } catch (e) {
    if (traced !== null) failCall(ctx, traced, e);
    throw e;
  }
}

/** Ends a sent call's GenAI span once its answer was relayed (a no-op for untraced requests). */
export function endSent(ctx: RequestContext, sent: SentCall): void {
  if (sent.traced !== null) endCall(ctx, sent.traced, sent.response.statusCode);
}

/** A balancer leaves this call's answer for another target: its span ends as failed with the status. */
export function abandonSent(ctx: RequestContext, sent: SentCall): void {
  if (sent.traced !== null) failCall(ctx, sent.traced, null, sent.response.statusCode);
}

export function sendPlanned(ctx: RequestContext, plan: PlannedCall, limits: UpstreamLimits): Promise<SentCall> {
  return sendCall(ctx, plan.conf, plan.url, plan.providerHeaders, plan.body, plan.framing, limits, plan.framing === null, plan.signing);
}

/** Provider state is kept per route and consumer: a client cannot pull another's by naming its tool-call ids. */
export function stateScope(ctx: RequestContext): string {
  return `${ctx.route.id}:${ctx.consumer?.id ?? ''}`;
}

/**
 * Puts cached reasoning state back on the request's earlier tool calls (provider-state.ts), when a
 * target's provider can use it; a no-op (no cache call) for requests without such tool calls.
 */
/** Nothing to wait for (undefined) unless a provider of the call keeps state between turns. */
export function restoreProviderState(ctx: RequestContext, checked: CheckedRequest, providers: string | readonly string[]): Promise<void> | undefined {
  if (checked.kind !== 'llm') return undefined;
  const stateful = typeof providers === 'string' ? STATEFUL_PROVIDERS.has(providers) : providers.some((p) => STATEFUL_PROVIDERS.has(p));
  return stateful ? restoreState(checked.canonical, stateScope(ctx)) : undefined;
}

/** Answers the client from a provider's answer: translated JSON, a translated stream, or embeddings. */
export function relay(ctx: RequestContext, plan: PlannedCall, checked: CheckedRequest, rawRequest: string, sent: SentCall): Promise<void> {
  if (sent.traced === null) return relayAnswer(ctx, plan, checked, rawRequest, sent);
  // then(ok, failed) rather than finally(): one reaction instead of finally's extra promise and turn
  return relayAnswer(ctx, plan, checked, rawRequest, sent).then(
    () => endSent(ctx, sent),
    (error: unknown) => {
      endSent(ctx, sent);
      throw error;
    },
  );
}

function relayAnswer(ctx: RequestContext, plan: PlannedCall, checked: CheckedRequest, rawRequest: string, sent: SentCall): Promise<void> {
  if (plan.kind === 'embeddings') return relayEmbeddings(ctx, plan.conf, plan.embeddings, plan.request, rawRequest, sent.response, sent.sentAt);
  if (checked.kind !== 'llm') throw new Error('an llm plan needs an llm request');
  const x: Exchange = {
    ctx,
    conf: plan.conf,
    driver: plan.driver,
    request: checked.request,
    canonical: checked.canonical,
    stateScope: stateScope(ctx),
    rawRequest,
    response: sent.response,
    sentAt: sent.sentAt,
    signal: sent.signal,
    keep: checked.keep ?? null,
  };
  return plan.framing ? relayStream(x) : relayJson(x);
}
