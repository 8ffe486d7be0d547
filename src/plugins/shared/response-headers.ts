/**
 * Headers a plugin adds to the client's answer from its access phase (rate-limit state), whoever
 * writes that answer: a plugin exit, the gateway's own errors, ai-proxy, or a proxied upstream.
 * `res.setHeader` covers the first three (Node merges them into `writeHead`); for a proxied
 * answer the upstream's headers of the same name would win, so the plugin's `headerFilter`
 * (which runs before the upstream's headers are written) puts its values over them, as Kong's
 * `kong.response.set_header` does.
 */
import type { RequestContext } from '../../proxy/context.ts';

export function setResponseHeaders(ctx: RequestContext, headers: Record<string, string | number>): void {
  if (ctx.res.headersSent) return;
  for (const name in headers) ctx.res.setHeader(name, String(headers[name]));
}

/** For `headerFilter`: the plugin's headers replace same-named upstream headers. */
export function overrideUpstreamHeaders(ctx: RequestContext, headers: Record<string, string | number> | undefined): void {
  if (!headers || !ctx.response) return;
  for (const name in headers) ctx.response.headers[name.toLowerCase()] = String(headers[name]);
}
