/**
 * Upstream URL building. Only admin configuration chooses where a request goes (RELIABILITY §2,
 * T72): values interpolated into a URL are validated so that they can never change the host, and
 * `upstream_url` contributes exactly its scheme, host, port and path, as in Kong.
 */
import { RequestError, type ModelOptions } from './types.ts';

/** Characters that have no business in a configured URL: controls (CR, LF, TAB, NUL ...) and spaces. */
const UNSAFE_URL_CHARS = /[\u0000-\u0020\u007f]/;

/**
 * The origin and path of `upstream_url`. Its query string and fragment are ignored, as in Kong,
 * and so is any userinfo (a URL is not a place for credentials; `auth` is).
 */
export function upstreamBase(upstreamUrl: string): string {
  if (UNSAFE_URL_CHARS.test(upstreamUrl)) {
    throw new RequestError('model.options.upstream_url: must not contain whitespace or control characters');
  }
  let url: URL;
  try {
    url = new URL(upstreamUrl);
  } catch {
    throw new RequestError('model.options.upstream_url: not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RequestError('model.options.upstream_url: scheme must be http or https');
  }
  return `${url.origin}${url.pathname}`;
}

/**
 * Where a provider with a default endpoint sends a request: `upstream_url` when set, else the
 * default base with `upstream_path` (when set) or the route's path.
 */
export function resolveUrl(options: ModelOptions, defaultBase: string, routePath: string): string {
  if (options.upstream_url) return upstreamBase(options.upstream_url);
  return `${defaultBase}${options.upstream_path ? safePath(options.upstream_path) : routePath}`;
}

/** For self-hosted providers: `upstream_url` is the only place to go. */
export function requireUpstreamUrl(options: ModelOptions, provider: string): string {
  if (!options.upstream_url) {
    throw new RequestError(`model.options.upstream_url: required for the ${provider} provider`);
  }
  return upstreamBase(options.upstream_url);
}

/** `upstream_path` replaces the default path; it must be an absolute path and nothing else. */
export function safePath(path: string): string {
  if (!path.startsWith('/') || path.startsWith('//') || UNSAFE_URL_CHARS.test(path) || /[?#\\]/.test(path)) {
    throw new RequestError('model.options.upstream_path: must be an absolute path without query or fragment');
  }
  return path;
}

/** A DNS label (RFC 1123): what an Azure resource name is. Anything else could redirect the request. */
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function dnsLabel(value: string | null, field: string): string {
  if (!value || !DNS_LABEL.test(value)) {
    throw new RequestError(`model.options.${field}: must be a DNS label (letters, digits and '-', at most 63)`);
  }
  return value;
}

/** One path segment made of the characters deployment and model names use; never `.` or `..`. */
const PATH_SEGMENT = /^[A-Za-z0-9._~-]{1,255}$/;

export function pathSegment(value: string | null, field: string): string {
  if (!value || !PATH_SEGMENT.test(value) || value === '.' || value === '..') {
    throw new RequestError(`model.options.${field}: must be one path segment of letters, digits, '.', '_', '~' or '-'`);
  }
  return value;
}

/** Appends one query parameter, encoded, to a URL that has no query string of its own. */
export function withQuery(url: string, name: string, value: string): string {
  return `${url}?${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
}

/** A header value from configuration: visible ASCII only, so it can never split or inject a header. */
export function headerValue(value: string, field: string): string {
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) {
    throw new RequestError(`model.options.${field}: must be printable ASCII`);
  }
  return value;
}
