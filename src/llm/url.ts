/**
 * Upstream URL building. Only admin configuration chooses where a request goes (docs/decisions.md, §2,
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

export function dnsLabel(value: string | null | undefined, field: string): string {
  if (!value || !DNS_LABEL.test(value)) {
    throw new RequestError(`model.options.${field}: must be a DNS label (letters, digits and '-', at most 63)`);
  }
  return value;
}

/** One path segment made of the characters deployment and model names use; never `.` or `..`. */
const PATH_SEGMENT = /^[A-Za-z0-9._~-]{1,255}$/;

export function pathSegment(value: string | null | undefined, field: string): string {
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

/** A DNS hostname (labels joined by dots, RFC 1123): Vertex's regional `api_endpoint`. No port, path or userinfo. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function hostname(value: string | null | undefined, field: string): string {
  if (!value || !HOSTNAME.test(value)) {
    throw new RequestError(`model.options.${field}: must be a hostname (letters, digits, '-' and '.'), without scheme, port or path`);
  }
  return value;
}

/**
 * A model name as one path segment: percent-encoded (Bedrock ids have `:`, inference profile ARNs
 * `:` and `/`, Hugging Face ids `/`), so it can never add a path segment, a query or a fragment, and
 * never `.` or `..` (which URL normalisation would turn into a step up). The model may come from the
 * client when none is configured (T72).
 */
export function modelSegment(model: string, provider: string): string {
  if (model === '' || model === '.' || model === '..' || model.length > 512 || UNSAFE_URL_CHARS.test(model)) {
    throw new RequestError(`model: '${model.slice(0, 64)}' cannot be used as a ${provider} model name`);
  }
  return encodeURIComponent(model);
}

/**
 * A Hugging Face repository id (`owner/name`) as two path segments: each is validated and encoded on
 * its own, the one `/` between them kept (the Inference API's URL shape).
 */
export function repoPath(model: string, provider: string): string {
  const parts = model.split('/');
  if (parts.length > 2) throw new RequestError(`model: '${model.slice(0, 64)}' cannot be used as a ${provider} model name`);
  return parts.map((part) => modelSegment(part, provider)).join('/');
}

/** `upstream_url` as a base that an API path is appended to (Hugging Face endpoints): no trailing slash. */
export function upstreamPrefix(upstreamUrl: string): string {
  return upstreamBase(upstreamUrl).replace(/\/+$/, '');
}
