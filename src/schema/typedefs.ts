/** Reusable field definitions, mirroring Kong's `kong/db/schema/typedefs.lua`. */
import net from 'node:net';
import type { Field } from './types.ts';

export const PROTOCOLS = ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'tls_passthrough', 'udp', 'ws', 'wss'] as const;
export const HTTP_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https'] as const;

const HOSTNAME_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i;

function hostPort(host: string): { host: string; port?: string } | undefined {
  if (host.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(\d*))?$/.exec(host);
    return m ? { host: m[1], port: m[2] } : undefined;
  }
  if (net.isIPv6(host)) return { host };
  const i = host.lastIndexOf(':');
  return i === -1 ? { host } : { host: host.slice(0, i), port: host.slice(i + 1) };
}

function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => HOSTNAME_LABEL.test(label));
}

/** Kong's `validate_host`: a name or an IP, without a port. */
export function validateHost(host: string): string | undefined {
  const hp = hostPort(host);
  if (!hp || !(net.isIP(hp.host) || isValidHostname(hp.host))) return `invalid value: ${host}`;
  if (hp.port !== undefined) return 'must not have a port';
  return undefined;
}

function validateHostWithOptionalPort(host: string): string | undefined {
  const hp = hostPort(host);
  if (!hp || !(net.isIP(hp.host) || isValidHostname(hp.host))) return `invalid value: ${host}`;
  if (hp.port !== undefined && !(/^\d+$/.test(hp.port) && Number(hp.port) <= 65535)) return 'invalid port number';
  return undefined;
}

const PATH_CHARS = /^\/[\w.\-~/%:@!$&'()*+,;=]*$/;

/** Kong's `validate_path`: RFC 3986 characters only, well-formed percent-encoding. */
export function validatePath(path: string): string | undefined {
  if (!PATH_CHARS.test(path)) return `invalid path: '${path}' (characters outside of the reserved list of RFC 3986 found)`;
  const raw = path.replace(/%[0-9a-fA-F]{2}/g, '___');
  const i = raw.indexOf('%');
  if (i !== -1) return `invalid url-encoded value: '${raw.slice(i, i + 3)}'`;
  return undefined;
}

/** Kong's URI normalisation for prefix paths: resolve dot segments, decode unreserved characters. */
export function normalizePath(path: string): string {
  const decoded = path.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === '.') {
      if (i === segments.length - 1) out.push('');
      continue;
    }
    if (s === '..') {
      if (out.length > 1) out.pop();
      if (i === segments.length - 1) out.push('');
      continue;
    }
    out.push(s);
  }
  const joined = out.join('/');
  return joined.startsWith('/') ? joined : '/' + joined;
}

function validateRouterPath(path: string): string | undefined {
  const err = validatePath(path.startsWith('~') ? path.slice(1) : path);
  if (err?.startsWith('invalid url-encoded')) return err;
  if (!path.startsWith('~')) {
    const normalized = normalizePath(path);
    if (normalized !== path) return `non-normalized path, consider use '${normalized}' instead`;
    return undefined;
  }
  const source = path.slice(1);
  try {
    new RegExp(source);
  } catch (e) {
    return `invalid regex: '${source}' (PCRE returned: ${(e as Error).message})`;
  }
  return undefined;
}

const UTF8_NAME = /^[\w.\-~\u0080-\u{10FFFF}]+$/u;

function validateUtf8Name(name: string): string | undefined {
  if (!UTF8_NAME.test(name)) {
    return `invalid value '${name}': the only accepted ascii characters are alphanumerics or ., -, _, and ~`;
  }
  return undefined;
}

function validateTag(tag: string): string | undefined {
  // printable ASCII except ',' and '/', or any non-ASCII character
  if (!/^[ !-+\-.0-~\u0080-\u{10FFFF}]+$/u.test(tag)) {
    return `invalid tag '${tag}': expected printable ascii (except \`,\` and \`/\`) or valid utf-8 sequences`;
  }
  return undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function validateHeaderName(name: string): string | undefined {
  return TOKEN.test(name) ? undefined : `bad header name '${name}', allowed characters are A-Z, a-z, 0-9, '_', and '-'`;
}

/** Kong's `typedefs.url`: must parse, with a scheme and a host. */
export function validateUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) return 'missing scheme in url';
    return 'could not parse url. invalid url';
  }
  if (!parsed.host) return 'missing host in url';
  return undefined;
}

export const typedefs = {
  uuid: (): Field => ({ type: 'string', uuid: true, auto: true }),
  autoTimestamp: (): Field => ({ type: 'integer', timestamp: true, auto: true }),
  utf8Name: (extra: Partial<Field> = {}): Field => ({ type: 'string', unique: true, custom_validator: validateUtf8Name, ...extra }),
  tags: (): Field => ({ type: 'set', elements: { type: 'string', required: true, custom_validator: validateTag } }),
  protocol: (extra: Partial<Field> = {}): Field => ({ type: 'string', one_of: PROTOCOLS, ...extra }),
  protocols: (): Field => ({ type: 'set', required: true, default: [...HTTP_PROTOCOLS], elements: { type: 'string', one_of: PROTOCOLS } }),
  protocolsHttp: (): Field => ({ type: 'set', required: true, default: [...HTTP_PROTOCOLS], elements: { type: 'string', one_of: HTTP_PROTOCOLS } }),
  host: (extra: Partial<Field> = {}): Field => ({ type: 'string', custom_validator: validateHost, ...extra }),
  port: (extra: Partial<Field> = {}): Field => ({ type: 'integer', between: [0, 65535], ...extra }),
  path: (): Field => ({
    type: 'string',
    starts_with: '/',
    match_none: [{ pattern: /\/\//, err: 'must not have empty segments' }],
    custom_validator: validatePath,
  }),
  url: (extra: Partial<Field> = {}): Field => ({ type: 'string', custom_validator: validateUrl, ...extra }),
  timeout: (def: number): Field => ({ type: 'integer', between: [1, 2 ** 31 - 2], default: def }),
  methods: (): Field => ({ type: 'set', elements: { type: 'string', match_all: [{ pattern: /^[A-Z]+$/, err: 'invalid value: must be uppercase' }] } }),
  hosts: (): Field => ({
    type: 'array',
    elements: {
      type: 'string',
      match_all: [{ pattern: /^[^*]*\*?[^*]*$/, err: 'invalid wildcard: must have at most one wildcard' }],
      match_any: { patterns: [/^\*\./, /\.\*$/, /^[^*]*$/], err: 'invalid wildcard: must be placed at leftmost or rightmost label' },
      custom_validator: (h: string) => validateHostWithOptionalPort(h.replace('*', 'abc')),
    },
  }),
  routerPaths: (): Field => ({
    type: 'array',
    elements: {
      type: 'string',
      match_any: { patterns: [/^\//, /^~\//], err: 'should start with: / (fixed path) or ~/ (regex path)' },
      match_none: [{ pattern: /\/\//, err: 'must not have empty segments' }],
      custom_validator: validateRouterPath,
    },
  }),
  headers: (): Field => ({
    type: 'map',
    keys: {
      type: 'string',
      custom_validator: (k: string) =>
        validateHeaderName(k) ?? (/^host$/i.test(k) ? "cannot contain 'host' header, which must be specified in the 'hosts' attribute" : undefined),
    },
    values: { type: 'array', elements: { type: 'string' } },
  }),
  foreign: (reference: string, extra: Partial<Field> = {}): Field => ({ type: 'foreign', reference, ...extra }),
};
