/**
 * Headers a plugin adds to the client's answer from its access phase (rate-limit state), whoever
 * writes that answer: a plugin exit, the gateway's own errors, ai-proxy, or a proxied upstream.
 * The proxy's responses hold them for the answer's `writeHead` (src/proxy/response.ts: cheaper
 * than `setHeader`, with its precedence); for a proxied answer the upstream's headers of the same
 * name would win, so the plugin's `headerFilter`
 * (which runs before the upstream's headers are written) puts its values over them, as Kong's
 * `kong.response.set_header` does.
 */
import type { RequestContext } from '../../proxy/context.ts';
import { GatewayResponse } from '../../proxy/response.ts';

export function setResponseHeaders(ctx: RequestContext, headers: Record<string, string | number>): void {
  for (const name in headers) setResponseHeader(ctx, name, String(headers[name]));
}

export function setResponseHeader(ctx: RequestContext, name: string, value: string): void {
  const res = ctx.res;
  if (res.headersSent) return;
  if (res instanceof GatewayResponse) res.holdHeader(name, value);
  else res.setHeader(name, value); // a response the proxy's server did not make (tests, embedders)
}

/** For `headerFilter`: the plugin's headers replace same-named upstream headers. */
export function overrideUpstreamHeaders(ctx: RequestContext, headers: Record<string, string | number> | undefined): void {
  if (!headers || !ctx.response) return;
  for (const name in headers) ctx.response.headers[name.toLowerCase()] = String(headers[name]);
}
