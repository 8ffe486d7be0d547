/**
 * What keeps the Admin API safe from browsers and strangers (docs/decisions.md, D5): the `Host` must be
 * one of the admin's own names (DNS rebinding), writes from a foreign `Origin` are refused (CSRF:
 * form posts need no pre-flight), CORS is answered only for the configured GUI origin, and when an
 * admin token is set every call must carry it (`Kong-Admin-Token` or `Authorization: Bearer`).
 */
import os from 'node:os';
import net from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../settings.ts';

export interface GuardVerdict {
  status: number;
  message: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WILDCARDS = new Set(['0.0.0.0', '::', '*']);

function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon === -1 || h.indexOf(':') !== colon ? h : h.slice(0, colon);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class AdminGuard {
  readonly #names: Set<string>;
  readonly #anyIp: boolean;
  readonly #token: Buffer | null;
  readonly #guiOrigin: string | null;

  constructor(settings: Settings) {
    this.#names = new Set(['localhost', '127.0.0.1', '::1', os.hostname().toLowerCase(), ...settings.admin_hosts.map((h) => h.toLowerCase())]);
    let anyIp = false;
    // the GUI's listener serves the Admin API under /api (src/gui/server.ts): its names are the admin's
    for (const a of [...settings.admin_listen, ...settings.admin_gui_listen]) {
      if (WILDCARDS.has(a.host)) anyIp = true;
      else this.#names.add(a.host.toLowerCase());
    }
    this.#anyIp = anyIp;
    this.#token = settings.admin_token ? digest(settings.admin_token) : null;
    this.#guiOrigin = settings.admin_gui_origin;
  }

  /** The CORS origin to echo, when the request comes from the configured GUI. */
  corsOrigin(origin: string | undefined): string | null {
    return origin && this.#guiOrigin && origin === this.#guiOrigin ? origin : null;
  }

  check(method: string, headers: Record<string, string | string[] | undefined>): GuardVerdict | null {
    const host = typeof headers.host === 'string' ? hostnameOf(headers.host) : '';
    if (host && !this.#names.has(host) && !(this.#anyIp && net.isIP(host))) {
      return { status: 403, message: 'Host not allowed for the Admin API' };
    }
    const origin = typeof headers.origin === 'string' ? headers.origin : undefined;
    if (origin && !this.corsOrigin(origin) && !SAFE_METHODS.has(method) && !sameOrigin(origin, headers.host)) {
      return { status: 403, message: 'Cross-origin requests to the Admin API are not allowed' };
    }
    if (this.#token && method !== 'OPTIONS' && !this.#hasValidToken(headers)) return { status: 401, message: 'Invalid or missing admin token' };
    return null;
  }

  /**
   * Every candidate is compared, and one valid token is enough: a client (or a proxy in front of
   * it) may send both headers, one of them meant for something else. Which one was wrong never
   * changes the answer, so the 401 tells nothing about either.
   */
  #hasValidToken(headers: Record<string, string | string[] | undefined>): boolean {
    let valid = false;
    for (const given of tokensOf(headers)) {
      // no early exit: the time taken does not depend on which candidate matched
      if (timingSafeEqual(digest(given), this.#token!)) valid = true;
    }
    return valid;
  }
}

/** The tokens a request offers: `Kong-Admin-Token`, and `Authorization` when its scheme is Bearer. */
function tokensOf(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  const kong = headers['kong-admin-token'];
  if (typeof kong === 'string') out.push(kong);
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) out.push(auth.replace(/^bearer\s+/i, ''));
  return out;
}

function sameOrigin(origin: string, host: string | string[] | undefined): boolean {
  if (typeof host !== 'string') return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}
