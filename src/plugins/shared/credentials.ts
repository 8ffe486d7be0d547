/**
 * What an auth plugin saw of the client's credential: the parameter names it read and the value
 * presented (valid or not), so that no log line carries it (the serializer) and no provider
 * receives it (the AI exchange strips those headers, D4).
 */
import type { RequestContext } from '../../proxy/context.ts';

const KEY = 'auth.presented';

export interface PresentedCredential {
  /** Header / query / body parameter names that may carry it, as configured. */
  names: string[];
  value: string | null;
}

export function recordPresentedCredential(ctx: RequestContext, names: string[], value: string | null): void {
  const prev = ctx.shared[KEY] as PresentedCredential | undefined;
  ctx.shared[KEY] = prev ? { names: [...prev.names, ...names], value: value ?? prev.value } : { names, value };
}

export function presentedCredential(ctx: RequestContext): PresentedCredential | undefined {
  return ctx.shared[KEY] as PresentedCredential | undefined;
}

/**
 * Names a credential may travel under on this request: those an auth plugin read the presented
 * key from, and those the route's plugins configure (header names lower-cased; query names as is).
 */
export function credentialNames(ctx: RequestContext): { headers: Set<string>; query: Set<string> } {
  const headers = new Set<string>();
  const query = new Set<string>();
  for (const n of presentedCredential(ctx)?.names ?? []) {
    headers.add(n.toLowerCase());
    query.add(n);
  }
  for (const p of ctx.chain) {
    const names = p.handler.credentialNames?.(p.conf);
    if (!names) continue;
    for (const h of names.headers) headers.add(h);
    for (const q of names.query) query.add(q);
  }
  return { headers, query };
}
