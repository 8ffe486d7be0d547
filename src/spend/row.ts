/**
 * A request's spend row, built in the worker's log phase (after the plugins' own log phases) from
 * what the AI exchange recorded in `ctx.shared.ai` (src/plugins/ai-proxy/analytics.ts). Its cost is
 * the one analytics.ts computed for the log entry, metrics and budgets: never computed twice.
 *
 * Which requests: every request an AI plugin (ai-proxy, ai-proxy-advanced) answered with an
 * exchange, and every request on such a route that failed before or at the provider (a key-auth
 * 401, a provider 5xx, a connection failure ...) — with zero tokens and its error class. Other
 * answers of an AI route without an exchange (GET …/models, count_tokens) are no spend: no row.
 */
import type { RequestContext } from '../proxy/context.ts';
import type { AiExchange } from '../plugins/ai-proxy/analytics.ts';
import { PAYLOAD_MAX_BYTES, PAYLOAD_TRUNCATED_MARK, type SpendAttempt, type SpendPayload, type SpendRow } from './types.ts';
import { epochMsOf } from '../util/wall-clock.ts';

/** Where ai-proxy-advanced leaves a balanced request's calls (src/plugins/ai-proxy-advanced/handler.ts). */
export const ATTEMPTS_KEY = 'aiAttempts';

/** The plugins that own an AI exchange. */
const AI_PLUGINS = new Set(['ai-proxy', 'ai-proxy-advanced']);

/** ctx.error codes (UpstreamError's undici/system codes, the AI relays' own) → error class. */
const ERROR_CODES: Record<string, string> = {
  ECONNREFUSED: 'upstream_unavailable',
  EHOSTUNREACH: 'upstream_unavailable',
  ENETUNREACH: 'upstream_unavailable',
  EADDRNOTAVAIL: 'upstream_unavailable',
  ENOTFOUND: 'upstream_unavailable',
  EAI_AGAIN: 'upstream_unavailable',
  EAI_FAIL: 'upstream_unavailable',
  EAI_NONAME: 'upstream_unavailable',
  ECONNRESET: 'upstream_unavailable',
  EPIPE: 'upstream_unavailable',
  UND_ERR_SOCKET: 'upstream_unavailable',
  upstream_connection_error: 'upstream_unavailable',
  upstream_truncated: 'upstream_unavailable',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  MODELGATE_WRITE_TIMEOUT: 'timeout',
  upstream_timeout: 'timeout',
  max_stream_duration: 'timeout',
  translation: 'gateway_error',
  translation_failed: 'gateway_error',
  internal: 'gateway_error',
};

/** By status, when the code says nothing more (a plugin's exit, a client error). */
function classOfStatus(status: number, fromProvider: boolean): string {
  if (status === 429) return 'rate_limited';
  if (status === 499) return 'client_closed';
  if (fromProvider) return 'provider_error';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status < 500) return 'client_error';
  if (status === 504) return 'timeout';
  if (status === 502 || status === 503) return 'upstream_unavailable';
  return 'gateway_error';
}

/** Null on success; the failure's class otherwise. */
export function errorClassOf(status: number, error: RequestContext['error'], partial = false): string | null {
  if (error) {
    if (error.code === 'provider_error') return classOfStatus(error.status, true);
    return ERROR_CODES[error.code] ?? classOfStatus(error.status, false);
  }
  if (status >= 400) return classOfStatus(status, false);
  if (partial) return 'client_closed'; // a stream the client left: its partial usage is still spend
  return null;
}

type Exchange = AiExchange & { cost?: number | null };

/** What ai-semantic-cache leaves on a hit's exchange (CacheHitExchange, src/plugins/ai-semantic-cache/handler.ts). */
interface CacheHit {
  cacheHit: true;
  savedUsage: { total_tokens?: number } | null;
  savedCost: number | null;
}

/** One side of a payload within PAYLOAD_MAX_BYTES of UTF-8, the cut said at its end; a consumer key in it masked. */
export function boundedPayload(text: string, secret: string | null): string {
  // key-auth's key_in_body without hide_credentials leaves the consumer's key in the client's body
  const s = secret && text.includes(secret) ? text.split(secret).join('[REDACTED]') : text;
  if (s.length <= PAYLOAD_MAX_BYTES / 3) return s; // at most 3 bytes a UTF-16 unit: within the bound, not measured
  const bytes = Buffer.byteLength(s);
  if (bytes <= PAYLOAD_MAX_BYTES) return s;
  // encode only the head (never a copy of a huge body); a character split at the cut decodes to U+FFFD, dropped
  let head = Buffer.from(s.slice(0, PAYLOAD_MAX_BYTES), 'utf8').subarray(0, PAYLOAD_MAX_BYTES).toString('utf8');
  if (head.endsWith('\uFFFD')) head = head.slice(0, -1);
  return `${head}${PAYLOAD_TRUNCATED_MARK}${bytes} bytes in all]`;
}

function payloadOf(ai: Exchange | undefined, ctx: RequestContext): SpendPayload | null {
  if (!ai?.payload) return null;
  const key = ctx.credential?.key;
  const secret = typeof key === 'string' && key !== '' ? key : null;
  return { request: boundedPayload(ai.payload.request, secret), response: boundedPayload(ai.payload.response, secret) };
}

/** A balanced request's calls when there was more than one (one call says nothing the row does not). */
function attemptsOf(ctx: RequestContext): SpendAttempt[] | null {
  const attempts = ctx.shared[ATTEMPTS_KEY] as SpendAttempt[] | undefined;
  return attempts && attempts.length > 1 ? attempts.map((a) => ({ ...a })) : null;
}

/** What a failed request's row says of its model: the route's configured one (ai-proxy), if any. */
function configuredModel(conf: unknown): { provider: string | null; name: string | null; routeType: string | null } {
  const config = (conf as { config?: { route_type?: unknown; model?: { provider?: unknown; name?: unknown } } } | null)?.config;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return { provider: str(config?.model?.provider), name: str(config?.model?.name), routeType: str(config?.route_type) };
}

export function spendRowOf(ctx: RequestContext): SpendRow | null {
  const ai = ctx.shared.ai as Exchange | undefined;
  let plugin = null;
  for (const p of ctx.chain) if (AI_PLUGINS.has(p.name)) plugin = p;
  if (!ai && !plugin) return null;
  const status = ctx.res.writableFinished ? ctx.res.statusCode : 499;
  const errorClass = errorClassOf(status, ctx.error, ai?.partial ?? false);
  if (!ai && errorClass === null) return null; // an AI route's answer without an exchange (…/models): no spend
  const conf = configuredModel(plugin?.conf);
  const u = ai?.usage ?? null;
  const hit = (ai as Partial<CacheHit> | undefined)?.cacheHit === true ? (ai as Partial<CacheHit>) : null;
  const clientApi = ai?.clientApi ?? (conf.routeType === 'llm/v1/embeddings' || ctx.path.endsWith('/embeddings') ? 'embeddings' : null);
  return {
    // startedAt is performance.now() at arrival, on the wall clock as it is now (not as it was at start-up)
    time: Math.round(epochMsOf(ctx.startedAt)),
    request_id: ctx.requestId,
    consumer_id: (ctx.consumer?.id as string | undefined) ?? null,
    credential_id: (ctx.credential?.id as string | undefined) ?? null, // the id only: the key never leaves key-auth
    route_id: ctx.route.id,
    service_id: (ctx.service?.id as string | undefined) ?? null,
    plugin_id: plugin?.id ?? null,
    client_api: clientApi,
    provider: ai?.provider ?? conf.provider,
    model_requested: ai?.requestModel ?? conf.name,
    model_served: ai ? (ai.responseModel ?? ai.requestModel) : null,
    status,
    prompt_tokens: u?.prompt_tokens ?? 0,
    completion_tokens: u?.completion_tokens ?? 0,
    cached_tokens: u?.prompt_tokens_details?.cached_tokens ?? 0,
    cache_write_tokens: u?.prompt_tokens_details?.cache_write_tokens ?? 0,
    reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0,
    total_tokens: u?.total_tokens ?? 0,
    cost: ai ? (ai.cost ?? null) : 0,
    latency_ms: Math.round((performance.now() - ctx.startedAt) * 100) / 100,
    ttft_ms: ai?.timeToFirstTokenMs == null ? null : Math.round(ai.timeToFirstTokenMs * 100) / 100,
    stream: ai?.stream ?? false,
    // ai-semantic-cache answered: zero tokens and cost 0; what the original answer used is what it saved
    cache_hit: hit !== null,
    saved_tokens: hit ? (hit.savedUsage?.total_tokens ?? 0) : 0,
    saved_cost: hit ? (hit.savedCost ?? null) : 0,
    estimated: ai?.estimated ?? false,
    error_class: errorClass,
    attempts: attemptsOf(ctx),
    payload: payloadOf(ai, ctx),
  };
}
