/**
 * The request modelgate sends to the provider: the URL comes from configuration only (never from
 * the body, a header or the model name), the key is injected, and of the client's headers only
 * end-to-end ones that are not credentials travel on (docs/decisions.md, D4, T66, T69, T70).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledAiProxy, ResolvedEndpoint } from './compile.ts';
import type { CompiledService } from '../../snapshot/compile.ts';
import type { StreamFraming } from '../../llm/types.ts';
import { CLIENT_CREDENTIAL_HEADERS, endToEndHeaders, type HeaderMap } from '../../proxy/headers.ts';

const DEFAULT_TIMEOUT = 60_000;

/**
 * Client headers never forwarded to a provider: credentials (D4), what the gateway sets itself,
 * and what would let the client steer or fingerprint the upstream hop (forwarding headers reveal
 * client addresses to a third party; Host-like headers must not reach a provider at all).
 */
const NOT_FORWARDED = new Set([
  ...CLIENT_CREDENTIAL_HEADERS,
  'host',
  'content-length',
  'content-type',
  'accept',
  'accept-encoding',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'origin',
  'referer',
]);

export class EndpointError extends Error {}

/** Timeouts and retries for one provider call: the route's service's, or a balancer's. */
export interface UpstreamLimits {
  /** Distinguishes cached endpoints built with different limits. */
  key: string;
  connectTimeout: number;
  readTimeout: number;
  writeTimeout: number;
  retries: number;
}

const NO_SERVICE_LIMITS = computeLimits(null);
const limitsByService = new WeakMap<CompiledService, UpstreamLimits>();

/** The limits of a route's service: one object per compiled service, so endpoint caches can compare it by identity. */
export function serviceLimits(service: CompiledService | null): UpstreamLimits {
  if (service === null) return NO_SERVICE_LIMITS;
  let limits = limitsByService.get(service);
  if (!limits) limitsByService.set(service, (limits = computeLimits(service)));
  return limits;
}

function computeLimits(service: CompiledService | null): UpstreamLimits {
  const t = service?.target;
  return {
    key: service?.id ?? '',
    connectTimeout: t?.connectTimeout ?? DEFAULT_TIMEOUT,
    readTimeout: t?.readTimeout ?? DEFAULT_TIMEOUT,
    writeTimeout: t?.writeTimeout ?? DEFAULT_TIMEOUT,
    retries: t?.retries ?? 5,
  };
}

/** Parses (once per URL and limits) where a request goes; the last one is kept at hand (a route mostly calls one URL). */
export function resolveEndpoint(conf: CompiledAiProxy, url: string, providerHeaders: Record<string, string>, limits: UpstreamLimits): ResolvedEndpoint {
  const last = conf.lastEndpoint;
  if (last !== null && last.url === url && last.limits === limits && last.providerHeaders === providerHeaders) return last.resolved;
  const key = `${url}\n${limits.key}`;
  let hit = conf.endpoints.get(key);
  if (hit) {
    // the same URL with other provider headers (a signer's per-request values) must not reuse them
    if (hit.providerHeaders === providerHeaders || sameHeaders(hit.providerHeaders, providerHeaders)) {
      conf.lastEndpoint = { url, limits, providerHeaders, resolved: hit };
      return hit;
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EndpointError(`invalid upstream URL for provider ${conf.config.model.provider}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new EndpointError(`unsupported upstream scheme ${parsed.protocol}`);
  if (parsed.username || parsed.password) throw new EndpointError('upstream URL must not carry credentials');
  let path = parsed.pathname + parsed.search;
  if (conf.authQuery) {
    const sep = parsed.search ? '&' : '?';
    path += `${sep}${encodeURIComponent(conf.authQuery[0])}=${encodeURIComponent(conf.authQuery[1])}`;
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(providerHeaders)) headers[k.toLowerCase()] = v;
  if (conf.authHeader) headers[conf.authHeader[0]] = conf.authHeader[1];
  hit = {
    target: {
      origin: parsed.origin,
      connectTimeout: limits.connectTimeout,
      readTimeout: limits.readTimeout,
      writeTimeout: limits.writeTimeout,
      retries: limits.retries,
      tlsVerify: true,
    },
    path,
    host: parsed.host,
    headers,
    providerHeaders,
  };
  if (conf.endpoints.size > 1000) conf.endpoints.clear(); // templated URLs must not grow this forever
  conf.endpoints.set(key, hit);
  conf.lastEndpoint = { url, limits, providerHeaders, resolved: hit };
  return hit;
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** What to accept: the provider's own stream framing when streaming (Cohere answers SSE to whoever lists it). */
const ACCEPT: Record<StreamFraming | 'json', string> = {
  json: 'application/json',
  sse: 'text/event-stream',
  ndjson: 'application/x-ndjson, application/stream+json, application/json',
  'aws-eventstream': 'application/vnd.amazon.eventstream, application/json',
};

/**
 * The provider request's headers: safe client headers, then the endpoint's (auth wins unless
 * overriding is allowed). `credentialHeaders` are the names the route's auth plugins read a key
 * from (key-auth's `key_names`): whatever their `hide_credentials`, a client's key is never a
 * provider's business (D4).
 */
export function upstreamHeaders(conf: CompiledAiProxy, endpoint: ResolvedEndpoint, client: IncomingHttpHeaders, framing: StreamFraming | null, bodyLength: number, credentialHeaders?: ReadonlySet<string>): HeaderMap {
  const headers = endToEndHeaders(client, NOT_FORWARDED);
  if (credentialHeaders) for (const name of credentialHeaders) delete headers[name];
  for (const k in endpoint.headers) headers[k] = endpoint.headers[k];
  if (conf.overrideHeader) {
    const own = client[conf.overrideHeader];
    if (typeof own === 'string' && own !== '') headers[conf.authHeader?.[0] ?? conf.overrideHeader] = own;
  }
  headers['content-type'] = 'application/json';
  headers.accept = ACCEPT[framing ?? 'json'];
  headers['accept-encoding'] = 'gzip, identity';
  if (conf.driver.signRequest) {
    // a signature covers these, so the signer must see them; otherwise undici writes both itself
    // (Host from the origin, Content-Length from the body), one header fewer to validate each
    headers.host = endpoint.host;
    headers['content-length'] = String(bodyLength);
  }
  return headers;
}
