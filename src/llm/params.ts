/**
 * Sampling for translating formats, resolved once from the canonical request's `Sampling` and the
 * configured `model.options`.
 *
 * Precedence follows Kong 3.8+ (`merge_config_defaults`): a configured option WINS over the
 * client's value; the client's value is used where the option is unset. Kong 3.7 did the reverse;
 * 3.8 changed it so that an operator can pin `max_tokens`/`temperature` for a route (T11, T79).
 * Only `max_tokens`, `temperature`, `top_p` and `top_k` can be configured; the rest is the client's.
 * Each format then applies its provider's ranges (clamps, `top_k: 0` as unset, ...).
 */
import type { ClientRequest, ModelOptions } from './types.ts';
import type { Sampling } from '../exchange/types.ts';
import { asNumber } from './json.ts';

/** The sampling values a provider is sent (`stop` never empty); unset fields are absent. */
export type ResolvedSampling = Pick<Sampling, 'maxTokens' | 'temperature' | 'topP' | 'topK' | 'stop' | 'seed' | 'presencePenalty' | 'frequencyPenalty'>;

export function resolveSampling(sampling: Sampling, options: ModelOptions): ResolvedSampling {
  const out: ResolvedSampling = {};
  putDefined(out as Record<string, unknown>, {
    maxTokens: asNumber(options.max_tokens) ?? sampling.maxTokens,
    temperature: asNumber(options.temperature) ?? sampling.temperature,
    topP: asNumber(options.top_p) ?? sampling.topP,
    topK: asNumber(options.top_k) ?? sampling.topK,
    stop: stopSequences(sampling.stop),
    seed: sampling.seed,
    presencePenalty: sampling.presencePenalty,
    frequencyPenalty: sampling.frequencyPenalty,
  });
  return out;
}

/** OpenAI's `stop` (a string or a list) as a list. */
export function stopSequences(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.length > 0 && stop.every((s) => typeof s === 'string')) return stop as string[];
  return undefined;
}

/** Sets each entry of `entries` on `target`, skipping undefined values (fields a provider must not see unset). */
export function putDefined(target: Record<string, unknown>, entries: Record<string, unknown>): void {
  // for-in, not Object.entries: no array of pairs per call (every translated request resolves its sampling)
  for (const key in entries) {
    const value = entries[key];
    if (value !== undefined) target[key] = value;
  }
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Client fields copied verbatim to a provider that understands them natively (an allow-list per provider). */
export function copyNativeFields(target: Record<string, unknown>, req: ClientRequest, fields: readonly string[]): void {
  for (const field of fields) {
    const value = req[field];
    if (value !== undefined && value !== null) target[field] = value;
  }
}
