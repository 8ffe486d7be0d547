/**
 * Who a counting plugin counts for: Kong's `limit_by` / `identifier` (rate-limiting,
 * ai-rate-limiting-advanced). Like Kong, every choice falls back to the client's IP address when
 * the request lacks what it names (no consumer, no header ...).
 */
import { createHash } from 'node:crypto';
import type { RequestContext } from '../../proxy/context.ts';
import { requestHeaderValues } from '../../proxy/headers.ts';

export const LIMIT_BY = ['consumer', 'credential', 'ip', 'service', 'header', 'path'] as const;
export type LimitBy = (typeof LIMIT_BY)[number];

/** Identifiers longer than this (a huge header value) are hashed: counter keys stay small. */
const MAX_IDENTIFIER = 128;

export function clientIp(ctx: RequestContext): string {
  return ctx.req.socket.remoteAddress ?? '';
}

export function identifierOf(ctx: RequestContext, by: LimitBy, headerName: string | null, path: string | null): string {
  let id: string | undefined;
  switch (by) {
    case 'consumer':
      id = ctx.consumer?.id ?? ctx.credential?.id;
      break;
    case 'credential':
      id = ctx.credential?.id;
      break;
    case 'service':
      id = ctx.service?.id;
      break;
    case 'header': {
      // Kong's `kong.request.get_header`: the first value of a repeated header (node:http joins
      // them with ", ", which gave a client a fresh counter for every second value it added)
      const v = headerName ? requestHeaderValues(ctx.req, headerName.toLowerCase()) : undefined;
      if (v !== undefined) id = Array.isArray(v) ? v[0] : v;
      break;
    }
    case 'path':
      if (path !== null && ctx.path === path) id = ctx.path;
      break;
    case 'ip':
      break;
  }
  if (id === undefined || id === '') return clientIp(ctx);
  return id.length > MAX_IDENTIFIER ? 'sha256:' + createHash('sha256').update(id).digest('hex') : id;
}
