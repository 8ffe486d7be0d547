/**
 * `ai-proxy`: the gateway speaks OpenAI to the client and the provider's own API upstream.
 *
 * access: claims the exchange (ctx.handler), so later plugins still run their access phase.
 * exchange: read and check the client body → resolve model and streaming → driver builds the
 * provider body → send with the configured key → translate the answer (JSON or stream) → record
 * usage and cost. Provider errors keep their status; an answer that cannot be translated is 502.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { AiProxyConfig } from './schema.ts';
import { compileAiProxy, type CompiledAiProxy } from './compile.ts';
import { resolveEndpoint, upstreamHeaders, EndpointError } from './upstream-request.ts';
import { relayJson, relayPreserved } from './relay-json.ts';
import { relayStream } from './relay-stream.ts';
import { aiError, readClientJson } from './client-request.ts';
import { callUpstream, type UpstreamResponse } from '../../proxy/upstream.ts';
import { ClientError } from '../../proxy/errors.ts';
import { validateClientRequest } from '../../llm/validate.ts';
import { RequestError, type ClientRequest, type DriverContext, type LlmRouteType, type StreamFraming } from '../../llm/types.ts';
import { randomUUID } from 'node:crypto';

export interface Exchange {
  ctx: RequestContext;
  conf: CompiledAiProxy;
  driver: DriverContext;
  request: ClientRequest;
  /** The client's body as received, for payload logging. */
  rawRequest: string;
  response: UpstreamResponse;
  sentAt: number;
  signal: AbortSignal;
}

export const handler: PluginHandler<AiProxyConfig, CompiledAiProxy> = {
  compile: (config, ctx) => compileAiProxy(config, ctx),
  access(ctx, conf) {
    ctx.handler = (c) => exchange(c, conf);
  },
};

function resolveModel(conf: CompiledAiProxy, request: ClientRequest): string {
  const configured = conf.config.model.name;
  const asked = request.model;
  if (configured) {
    // Kong 3.8+: the client may name the configured model, never another one
    if (asked !== undefined && asked !== null && asked !== configured) throw aiError(400, `cannot use own model - must be: ${configured}`);
    return configured;
  }
  if (typeof asked === 'string' && asked !== '') return asked;
  throw aiError(400, 'model parameter not found in request, nor in gateway configuration');
}

function wantsStream(conf: CompiledAiProxy, request: ClientRequest): boolean {
  const policy = conf.config.response_streaming;
  if (request.stream === true && policy === 'deny') throw aiError(400, 'response streaming is not enabled for this LLM');
  return policy === 'always' || request.stream === true;
}

async function exchange(ctx: RequestContext, conf: CompiledAiProxy): Promise<void> {
  const { value, raw } = await readClientJson(ctx, conf.config.max_request_body_size);
  if (conf.routeType === 'preserve') return exchangePreserved(ctx, conf, raw);

  const routeType: LlmRouteType = conf.routeType;
  let request: ClientRequest;
  try {
    request = validateClientRequest(value, routeType);
  } catch (e) {
    if (e instanceof RequestError) throw aiError(400, e.message);
    throw e;
  }
  const stream = wantsStream(conf, request);
  const driver: DriverContext = {
    provider: conf.config.model.provider,
    routeType,
    model: resolveModel(conf, request),
    options: conf.options,
    stream,
    includeUsage: request.stream_options?.include_usage === true,
    now: Math.floor(Date.now() / 1000),
    id: `${routeType === 'llm/v1/chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`,
  };

  let upstreamBody: Record<string, unknown>;
  let url: string;
  let providerHeaders: Record<string, string>;
  try {
    upstreamBody = conf.driver.buildRequest(request, driver);
    ({ url, headers: providerHeaders } = conf.driver.endpoint(driver));
  } catch (e) {
    if (e instanceof RequestError) throw aiError(400, e.message);
    throw e;
  }
  if (conf.authBody) upstreamBody[conf.authBody[0]] = conf.authBody[1];
  const body = JSON.stringify(upstreamBody);

  const response = await send(ctx, conf, url, providerHeaders, body, stream ? conf.driver.streamFraming(driver) : null);
  const x: Exchange = { ctx, conf, driver, request, rawRequest: raw, response: response.response, sentAt: response.sentAt, signal: response.signal };
  if (stream) await relayStream(x);
  else await relayJson(x);
}

async function send(ctx: RequestContext, conf: CompiledAiProxy, url: string, providerHeaders: Record<string, string>, body: string, framing: StreamFraming | null): Promise<{ response: UpstreamResponse; sentAt: number; signal: AbortSignal }> {
  let endpoint;
  try {
    endpoint = resolveEndpoint(conf, url, providerHeaders, ctx.compiledService);
  } catch (e) {
    if (e instanceof EndpointError) throw new ClientError(500, { error: { message: e.message } });
    throw e;
  }
  const headers = upstreamHeaders(conf, endpoint, ctx.req.headers, framing, Buffer.byteLength(body));
  const signal = upstreamSignal(ctx, framing !== null);
  ctx.upstreamStartedAt = performance.now();
  const { response, attempts } = await callUpstream({ target: endpoint.target, method: 'POST', path: endpoint.path, headers, body, signal });
  ctx.attempts = attempts;
  ctx.upstreamHeadersAt = performance.now();
  return { response, sentAt: ctx.upstreamStartedAt, signal };
}

/** Aborts the provider call when the client leaves, and (streams) past the max stream duration. */
function upstreamSignal(ctx: RequestContext, stream: boolean): AbortSignal {
  const limit = ctx.settings.maxStreamDurationMs;
  if (!stream || limit <= 0) return ctx.abort.signal;
  return AbortSignal.any([ctx.abort.signal, AbortSignal.timeout(limit)]);
}

/** `route_type: preserve`: the body goes as it came; only the destination and the key are the gateway's. */
async function exchangePreserved(ctx: RequestContext, conf: CompiledAiProxy, raw: string): Promise<void> {
  const driverCtx: DriverContext = {
    provider: conf.config.model.provider,
    routeType: 'llm/v1/chat',
    model: conf.config.model.name ?? '',
    options: conf.options,
    stream: false,
    includeUsage: false,
    now: Math.floor(Date.now() / 1000),
    id: '',
  };
  const { url, headers } = conf.driver.endpoint(driverCtx);
  const target = new URL(url);
  if (!conf.options.upstream_url || conf.options.upstream_path) {
    // the provider's origin, with the configured path or the client's path below the route
    const rest = ctx.route.stripPath && ctx.match.matched ? ctx.path.slice(ctx.match.matched.length) : ctx.path;
    target.pathname = conf.options.upstream_path ?? (rest.startsWith('/') ? rest : `/${rest}`);
  }
  const response = await send(ctx, conf, target.toString(), headers, raw, null);
  await relayPreserved(ctx, conf, response.response, response.sentAt, raw);
}
