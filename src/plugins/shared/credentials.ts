/**
 * What an auth plugin saw of the client's credential: the parameter names it read and the value
 * presented (valid or not), so that no log line carries it (the serializer) and no provider
 * receives it (the AI exchange strips those headers, D4).
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { PluginInstance } from '../../snapshot/compile.ts';

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

export interface CredentialNameSets {
  readonly headers: ReadonlySet<string>;
  readonly query: ReadonlySet<string>;
}

/**
 * The names a chain's plugins configure, made once per chain (chains are compiled with their
 * snapshot and replaced, never changed): every request through a route with more than its AI
 * plugin asks, and building the sets per request was ~2 µs of it (docs/performance.md,
 * "OpenTelemetry").
 */
const CONFIGURED = new WeakMap<readonly PluginInstance[], CredentialNameSets>();

function configuredNames(chain: readonly PluginInstance[]): CredentialNameSets {
  let names = CONFIGURED.get(chain);
  if (names === undefined) {
    const headers = new Set<string>();
    const query = new Set<string>();
    for (const p of chain) {
      const n = p.handler.credentialNames?.(p.conf);
      if (!n) continue;
      for (const h of n.headers) headers.add(h);
      for (const q of n.query) query.add(q);
    }
    CONFIGURED.set(chain, (names = { headers, query }));
  }
  return names;
}

/**
 * Names a credential may travel under on this request: those an auth plugin read the presented
 * key from, and those the route's plugins configure (header names lower-cased; query names as is).
 * The sets are shared: read them, never change them.
 */
export function credentialNames(ctx: RequestContext): CredentialNameSets {
  const configured = configuredNames(ctx.chain);
  const presented = presentedCredential(ctx)?.names;
  if (presented === undefined || presented.every((n) => configured.headers.has(n.toLowerCase()) && configured.query.has(n))) return configured;
  const headers = new Set(configured.headers);
  const query = new Set(configured.query);
  for (const n of presented) {
    headers.add(n.toLowerCase());
    query.add(n);
  }
  return { headers, query };
}
