/**
 * Header hygiene between hops (RFC 9110 §7.6.1): hop-by-hop headers and every header named in
 * `Connection` stay on their hop. undici also throws on some of them (Transfer-Encoding,
 * Keep-Alive, Upgrade, Expect), so forwarding them verbatim would turn a valid request into a 500.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
]);

/** Names listed in a Connection header (lower-cased). */
function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined || value === 'keep-alive' || value === 'close') return null; // what nearly every client sends
  const all = Array.isArray(value) ? value.join(',') : value;
  const names = all
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s && s !== 'close' && s !== 'keep-alive');
  return names.length ? new Set(names) : null;
}

export type HeaderMap = Record<string, string | string[]>;

/**
 * Headers node:http does not join with ", " when repeated: it keeps the first of these (and joins
 * `cookie` with "; ", makes `set-cookie` an array), so only `headersDistinct` shows a repeat.
 */
const NOT_COMMA_JOINED = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent', 'cookie', 'set-cookie']);

/**
 * A request header's value as the client sent it: one string, or each value when it was repeated
 * (`lower`: the lower-cased name). Read from `headers` when that can tell (a comma-joined header
 * without a comma came once), which spares building `headersDistinct`, a second map of every
 * header, on every request.
 */
export function requestHeaderValues(req: IncomingMessage, lower: string): string | string[] | undefined {
  if (!NOT_COMMA_JOINED.has(lower)) {
    const v = req.headers[lower];
    if (v === undefined) return undefined;
    if (typeof v === 'string' && v.indexOf(',') === -1) return v;
  }
  const values = req.headersDistinct[lower];
  if (!values || values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}

/**
 * Copies end-to-end headers. `drop` names extra headers to leave out (host, content-length,
 * credentials...). Returns a fresh object the caller may mutate.
 */
export function endToEndHeaders(headers: IncomingHttpHeaders, drop?: ReadonlySet<string>): HeaderMap {
  const listed = connectionListed(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (listed !== null && listed.has(name)) || (drop !== undefined && drop.has(name))) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** Same, for headers received from undici (already lower-cased, values string | string[]). */
export function endToEndResponseHeaders(headers: Record<string, string | string[] | undefined>, drop?: ReadonlySet<string>): HeaderMap {
  return endToEndHeaders(headers as IncomingHttpHeaders, drop);
}

/** Client credentials never forwarded to an AI provider (docs/decisions.md, D4). */
export const CLIENT_CREDENTIAL_HEADERS = new Set(['authorization', 'apikey', 'x-api-key', 'api-key', 'cookie', 'proxy-authorization']);
