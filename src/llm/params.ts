/**
 * Sampling parameters for translating drivers, resolved once from the client request and the
 * configured `model.options`.
 *
 * Precedence follows Kong 3.8+ (`merge_config_defaults`): a configured option WINS over the
 * client's value; the client's value is used where the option is unset. Kong 3.7 did the reverse;
 * 3.8 changed it so that an operator can pin `max_tokens`/`temperature` for a route (T11, T79).
 */
import type { ClientRequest, ModelOptions } from './types.ts';
import { asNumber } from './json.ts';

export interface SamplingParams {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

export function samplingParams(req: ClientRequest, options: ModelOptions): SamplingParams {
  const params: SamplingParams = {};
  const assign = <K extends keyof SamplingParams>(key: K, value: SamplingParams[K] | undefined): void => {
    if (value !== undefined) params[key] = value;
  };
  assign('maxTokens', asNumber(options.max_tokens) ?? asNumber(req.max_tokens) ?? asNumber(req.max_completion_tokens));
  assign('temperature', asNumber(options.temperature) ?? asNumber(req.temperature));
  assign('topP', asNumber(options.top_p) ?? asNumber(req.top_p));
  // top_k is not an OpenAI field; clients of self-hosted models send it anyway (vLLM, Ollama).
  assign('topK', asNumber(options.top_k) ?? asNumber(req.top_k));
  assign('stop', stopSequences(req.stop));
  assign('seed', asNumber(req.seed));
  assign('presencePenalty', asNumber(req.presence_penalty));
  assign('frequencyPenalty', asNumber(req.frequency_penalty));
  return params;
}

/** OpenAI's `stop` (a string or a list) as a list. */
export function stopSequences(stop: unknown): string[] | undefined {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.length > 0 && stop.every((s) => typeof s === 'string')) return stop as string[];
  return undefined;
}

/** Sets each entry of `entries` on `target`, skipping undefined values (fields a provider must not see unset). */
export function putDefined(target: Record<string, unknown>, entries: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(entries)) {
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
