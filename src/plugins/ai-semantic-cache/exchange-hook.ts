/**
 * What the AI exchange (ai-proxy, ai-proxy-advanced) asks the semantic cache, without loading the
 * cache: its access phase leaves the request's state under SHARED_KEY together with the function
 * that answers, so a route without the plugin reads one missing key, and the cache's modules
 * (stores, embeddings, Redis LSH) load only with a configuration that names the plugin
 * (docs/performance.md, "Idle memory").
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CheckedRequest } from '../ai-proxy/exchange.ts';

/** Where the request's cache state waits for the exchange (`kong.ctx.shared`). */
export const SHARED_KEY = 'aiSemanticCache';

/** The part of the cache's request state the exchange reads. */
export interface CacheAnswerer {
  status: string | null;
  answer(ctx: RequestContext, checked: CheckedRequest, model: string): Promise<boolean>;
}

/**
 * Whether the request's chain has a semantic cache that may answer it: the exchange asks this
 * first, so a route without one pays no call, no promise and no cache key for answerFromCache.
 */
export function cacheMayAnswer(ctx: RequestContext): boolean {
  const state = ctx.shared[SHARED_KEY] as CacheAnswerer | undefined;
  return state !== undefined && state.status !== 'Bypass';
}

/**
 * Called by the AI exchange once the request is parsed and the prompt plugins ran: true when the
 * cache answered the client (the exchange stops there), false when the provider must be asked.
 * `model` is what the answer depends on besides the request: `provider/model` for ai-proxy, the
 * target name the client asked for (or '') on a balanced route.
 */
export function answerFromCache(ctx: RequestContext, checked: CheckedRequest, model: string): Promise<boolean> {
  return cacheMayAnswer(ctx) ? (ctx.shared[SHARED_KEY] as CacheAnswerer).answer(ctx, checked, model) : Promise.resolve(false);
}
