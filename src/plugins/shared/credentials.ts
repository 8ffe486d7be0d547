/**
 * What an auth plugin saw of the client's credential, for the log serializer: the parameter
 * names it read and the value presented (valid or not), so no log line carries it.
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
