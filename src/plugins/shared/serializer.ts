/**
 * Kong's log serializer (`kong.log.serialize()`, 3.6): what the log plugins send and what the
 * Prometheus plugin counts, plus the `ai` section the AI plugins add.
 *
 * Secrets: Kong only replaces `request.headers.authorization` / `proxy-authorization`. Here every
 * client credential header (`authorization`, `proxy-authorization`, `cookie`, `apikey`,
 * `x-api-key`, `api-key`), the upstream's `set-cookie`, the parameters an auth plugin read its key
 * from and the names the route's plugins configure for a key (ai-proxy's auth header and query
 * parameter; headers, query string and `upstream_uri`), and the presented key's value wherever it
 * appears are replaced by `REDACTED`; the result then goes through the gateway's value-based
 * redaction of every secret it knows (provider keys, ...).
 *
 * `response.headers` are the headers the client received (sent-headers.ts); `upstream_uri` the path
 * and query of the last upstream call (`ctx.upstream.path`, set by whoever made it).
 */
import type { RequestContext } from '../../proxy/context.ts';
import { CLIENT_CREDENTIAL_HEADERS } from '../../proxy/headers.ts';
import { redact } from '../../observability/redact.ts';
import { credentialNames, presentedCredential } from './credentials.ts';
import { sentHeaders } from './sent-headers.ts';
import { epochMsOf } from '../../util/wall-clock.ts';

export const REDACTED = 'REDACTED';

/** Key under which ai-prompt-template hands over the original request (`ai.payload.original_request`). */
export const ORIGINAL_REQUEST_KEY = 'ai-prompt-template.original_request';

export interface Latencies {
  /** Milliseconds the gateway spent before the upstream call (or on the whole answer it wrote itself). */
  kong: number;
  /** Milliseconds from sending to the upstream until its response headers; -1 without an upstream call. */
  proxy: number;
  /** Milliseconds from the request's arrival to now. */
  request: number;
}

export function latencies(ctx: RequestContext, now = performance.now()): Latencies {
  const request = now - ctx.startedAt;
  const upstream = ctx.upstreamStartedAt > 0;
  return {
    kong: Math.round(upstream ? ctx.upstreamStartedAt - ctx.startedAt : request),
    proxy: upstream && ctx.upstreamHeadersAt > 0 ? Math.round(ctx.upstreamHeadersAt - ctx.upstreamStartedAt) : -1,
    request: Math.round(request),
  };
}

/** Status as the client saw it: 499 when it left before the answer was complete. */
export function clientStatus(ctx: RequestContext): number {
  return ctx.res.writableFinished ? ctx.res.statusCode : 499;
}

/** Kong's `kong.response.get_source()`: `service` (the upstream answered), `exit` (a plugin answered), `error`. */
export function responseSource(ctx: RequestContext): 'service' | 'exit' | 'error' {
  if (ctx.exitResponse) return 'exit';
  if (ctx.upstreamHeadersAt > 0 && (ctx.error === null || ctx.error.code === 'provider_error')) return 'service';
  return 'error';
}

/** Bytes of the request as received: request line, headers, declared body. */
export function requestSize(ctx: RequestContext): number {
  const req = ctx.req;
  let n = ctx.method.length + (req.url?.length ?? 0) + 12; // "M URL HTTP/1.1\r\n"
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i++) n += raw[i].length + 2; // "name: value\r\n"
  n += 2;
  const declared = Number(req.headers['content-length']);
  if (declared > 0) n += declared;
  return n;
}

/** Bytes written to the client for this answer (headers included). */
export function responseSize(ctx: RequestContext): number {
  const written = ctx.req.socket.bytesWritten - ctx.socketBytesWrittenAtStart;
  return written > 0 ? written : 0;
}

/** A session the upstream hands the client is as much a credential as the cookie that brings it back. */
const RESPONSE_CREDENTIAL_HEADERS = new Set(['set-cookie']);

function maskedHeaders(headers: Record<string, unknown>, extra: ReadonlySet<string>, more?: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (v === undefined) continue;
    out[name] = CLIENT_CREDENTIAL_HEADERS.has(name) || extra.has(name) || more?.has(name) ? REDACTED : v;
  }
  return out;
}

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * A path and query with the values of the `masked` parameters replaced, every other byte as it
 * was sent (re-encoding the whole query would log a URL that was never called).
 */
export function maskedUri(uri: string, masked: ReadonlySet<string>): string {
  const q = uri.indexOf('?');
  if (q === -1 || masked.size === 0) return uri;
  const pairs = uri.slice(q + 1).split('&');
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf('=');
    if (eq === -1) continue; // a bare name carries no value
    const name = pairs[i].slice(0, eq);
    if (masked.has(decodedName(name))) pairs[i] = `${name}=${REDACTED}`;
  }
  return `${uri.slice(0, q + 1)}${pairs.join('&')}`;
}

function queryTable(params: URLSearchParams, masked: ReadonlySet<string>): { table: Record<string, string | string[]>; text: string } {
  const table: Record<string, string | string[]> = {};
  const text = new URLSearchParams();
  for (const [k, v] of params) {
    const value = masked.has(k) ? REDACTED : v;
    const prev = table[k];
    table[k] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    text.append(k, value);
  }
  const s = text.toString();
  return { table, text: s ? `?${s}` : '' };
}

function withOriginalRequest(ctx: RequestContext, ai: unknown): unknown {
  const original = ctx.shared[ORIGINAL_REQUEST_KEY];
  if (typeof original !== 'string') return ai;
  const base = ai && typeof ai === 'object' ? (ai as Record<string, unknown>) : {};
  const payload = base.payload && typeof base.payload === 'object' ? (base.payload as Record<string, unknown>) : {};
  return { ...base, payload: { ...payload, original_request: original } };
}

/** Kong's serialized log entry for this request (call from a log phase). */
export function serialize(ctx: RequestContext): Record<string, unknown> {
  const names = credentialNames(ctx);
  const query = queryTable(ctx.queryParams(), names.query);
  const uri = ctx.path + query.text;
  const host = ctx.req.headers.host ?? '';
  const status = clientStatus(ctx);
  const entry: Record<string, unknown> = {
    request: {
      id: ctx.requestId,
      uri,
      url: `http://${host}${uri}`,
      querystring: query.table,
      method: ctx.method,
      headers: maskedHeaders(ctx.req.headers as Record<string, unknown>, names.headers),
      size: requestSize(ctx),
    },
    upstream_uri: maskedUri(ctx.upstream.path, names.query),
    upstream_status: ctx.upstreamHeadersAt > 0 ? String(ctx.response?.status ?? status) : '',
    response: {
      status,
      headers: maskedHeaders(sentHeaders(ctx.res), names.headers, RESPONSE_CREDENTIAL_HEADERS),
      size: responseSize(ctx),
    },
    latencies: latencies(ctx),
    route: ctx.route.entity,
    service: ctx.service ?? undefined,
    consumer: ctx.consumer ?? undefined,
    authenticated_entity: ctx.credential ? { id: ctx.credential.id, consumer_id: ctx.credential.consumer?.id ?? null } : undefined,
    client_ip: ctx.req.socket.remoteAddress,
    started_at: Math.round(epochMsOf(ctx.startedAt)),
    // Kong's RESPONSE_SOURCE.NAMES: the upstream's answer, or one the gateway wrote
    source: responseSource(ctx) === 'service' ? 'upstream' : 'kong',
  };
  for (const k of Object.keys(ctx.logFields)) entry[k] = ctx.logFields[k];
  if (ctx.shared[ORIGINAL_REQUEST_KEY] !== undefined) entry.ai = withOriginalRequest(ctx, entry.ai);
  return entry;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The entry as one JSON text, scrubbed of the presented key (in every form) and of every registered secret. */
export function serializeJson(ctx: RequestContext, entry: Record<string, unknown> = serialize(ctx)): string {
  let text = JSON.stringify(entry);
  const key = presentedCredential(ctx)?.value;
  if (key && key.length >= 4) {
    const forms = new Set([key, JSON.stringify(key).slice(1, -1), encodeURIComponent(key)]);
    text = text.replace(new RegExp([...forms].map(escapeRegExp).join('|'), 'g'), REDACTED);
  }
  return redact(text);
}
