/**
 * The unsupported-params policy (`model.options.unsupported_params`) for what the inbound adapter
 * could not map: top-level client fields that are not the inbound API's (`passthrough`), and
 * fields inside messages and tools (`unmapped`). Applied per planned call, since targets differ in
 * provider and policy:
 *
 * - a top-level field the provider takes natively (vLLM's `min_p`, Together's
 *   `repetition_penalty`) is sent, whatever the policy;
 * - `error` (default): 400 naming the field and the provider, before the provider is called;
 * - `drop`: left out, named in `X-Modelgate-Dropped-Params` and the log;
 * - `pass`: a top-level field is sent as is (Kong 3.7+ behaviour); a field inside a message can
 *   only be sent by a format that passes the client's messages on (OpenAI-compatible), so for any
 *   other it is dropped and named.
 *
 * Keys that name prototypes (`__proto__`, `constructor`, `prototype`) are never sent.
 */
import type { CanonicalRequest } from './types.ts';
import type { DriverContext, ProviderDriver } from '../llm/types.ts';
import type { JsonObject } from '../llm/json.ts';

const NEVER_SENT: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface PolicyTarget {
  /** Top-level fields beyond the inbound API the provider takes natively. */
  nativeFields: readonly string[];
  /** The format judges fields inside messages and tools itself (it passes the client's own messages on). */
  handlesUnmapped: boolean;
}

/**
 * Puts what the adapter could not map through the policy; returns the passthrough fields to send
 * (null when none), which `addPassthrough` adds to the provider's body. Throws RequestError (error).
 */
export function applyPolicy(req: CanonicalRequest, ctx: DriverContext, target: PolicyTarget): string[] | null {
  let send: string[] | null = null;
  for (const key in req.passthrough) {
    if (NEVER_SENT.has(key)) ctx.unsupported(key);
    else if (target.nativeFields.includes(key) || ctx.policy === 'pass') (send ??= []).push(key);
    else ctx.unsupported(key);
  }
  if (!target.handlesUnmapped && req.unmapped) for (const path of req.unmapped) ctx.unsupported(path);
  return send;
}

/** The passthrough fields `applyPolicy` let through, added to a provider body that does not set them already. */
export function addPassthrough(body: JsonObject, req: CanonicalRequest, keys: string[] | null): void {
  if (!keys) return;
  for (const key of keys) if (!Object.hasOwn(body, key)) body[key] = req.passthrough[key];
}

/**
 * The provider's body for a canonical request: the policy applied to what the inbound adapter
 * could not map, the driver's body, then the passthrough fields the policy let through. What the
 * plugin does for each planned call (and tests, to see what a provider would get).
 */
export function providerBody(driver: ProviderDriver, req: CanonicalRequest, ctx: DriverContext): JsonObject {
  const send = applyPolicy(req, ctx, { nativeFields: driver.nativeFields?.(ctx) ?? [], handlesUnmapped: driver.handlesUnmapped?.(ctx) ?? false });
  const body = driver.buildRequest(req, ctx);
  addPassthrough(body, req, send);
  return body;
}
