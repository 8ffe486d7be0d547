/**
 * The Admin GUI's listener (`MODELGATE_ADMIN_GUI_LISTEN`, default 127.0.0.1:8002), Kong Manager's
 * place. It answers three kinds of paths, all on one origin so that the browser never talks to
 * another host (docs/decisions.md, "Admin GUI"):
 *
 *   /, /app/*, /vendor/*   the GUI's files (assets.ts), compressed, with ETags and a strict CSP
 *   /api/*                 the Admin API itself, routed in-process into the admin's Fastify app:
 *                          the same guard (host, origin, token), the same handlers and answers
 *   /gateway/*             the playground's requests, relayed to this node's own proxy listener so
 *                          that they run through the route's plugins like any client's; guarded
 *                          like the Admin API, and the admin token is never passed on
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { assetAt, CONTENT_SECURITY_POLICY, type Asset } from './assets.ts';
import type { AdminGuard } from '../admin/guard.ts';
import type { ListenAddress } from '../settings.ts';

export interface GuiServerOptions {
  admin: FastifyInstance;
  guard: AdminGuard;
  /** Where this node's proxy listens (the playground's requests go there), or null when it does not. */
  proxy: ListenAddress | null;
  log: Pick<Logger, 'warn'>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Headers never relayed to the proxy: hop-by-hop, the admin's own credentials, the browser's context. */
const NOT_RELAYED = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'kong-admin-token', 'cookie', 'origin', 'referer']);

export function guiHandler(opts: GuiServerOptions): http.RequestListener {
  return (req, res) => {
    const url = req.url ?? '/';
    if (url === '/api' || url.startsWith('/api/') || url.startsWith('/api?')) {
      req.url = url.slice(4) || '/';
      opts.admin.routing(req, res);
      return;
    }
    if (url.startsWith('/gateway/')) return relayToProxy(opts, req, res, url.slice('/gateway'.length));
    serveAsset(req, res, url);
  };
}

function serveAsset(req: http.IncomingMessage, res: http.ServerResponse, url: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, { message: 'Method not allowed' }, { allow: 'GET, HEAD' });
  const path = url.split('?')[0];
  let asset: Asset | null;
  try {
    asset = assetAt(path);
  } catch {
    asset = null;
  }
  if (!asset) return plain(res, 404, { message: 'Not found' });
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const accepts = String(req.headers['accept-encoding'] ?? '');
  let body = asset.raw;
  if (/\bbr\b/.test(accepts)) {
    body = asset.br;
    headers['content-encoding'] = 'br';
  } else if (/\bgzip\b/.test(accepts)) {
    body = asset.gzip;
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function relayToProxy(opts: GuiServerOptions, req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
  const verdict = opts.guard.check(req.method ?? 'GET', req.headers);
  if (verdict) return plain(res, verdict.status, { message: verdict.message });
  if (!opts.proxy) return plain(res, 503, { message: 'This node has no proxy listener (MODELGATE_PROXY_LISTEN is off)' });
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!NOT_RELAYED.has(k) && v !== undefined) headers[k] = v;
  const upstream = http.request({ host: loopbackFor(opts.proxy.host), port: opts.proxy.port, method: req.method, path, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', (e) => {
    opts.log.warn({ err: e.message }, 'admin GUI: the playground could not reach the proxy listener');
    if (!res.headersSent) plain(res, 502, { message: 'The gateway\'s proxy listener did not answer' });
    else res.destroy();
  });
  // the browser went away (a stopped playground stream): so does the proxied request
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** A wildcard listen address is reached on loopback. */
function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '*') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function plain(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...extra });
  res.end(text);
}
