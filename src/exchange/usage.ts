/**
 * Usage in the canonical shape (OpenAI's, with every kind): `prompt_tokens` counts every input
 * token, cache reads and writes included; `completion_tokens` every output token, reasoning
 * included; the details only when the provider reported them. Formats read their provider's
 * counts through these, so that the rules hold everywhere.
 */
import { asCount, asObject, isObject } from '../llm/json.ts';
import type { Usage } from './types.ts';

export interface UsageCounts {
  /** Input tokens as the provider reports them. */
  input: unknown;
  output: unknown;
  /** Input tokens read from the prompt cache. */
  cacheRead?: unknown;
  /** Input tokens written to the prompt cache. */
  cacheWrite?: unknown;
  /** Output tokens spent reasoning (part of `output` unless `reasoningExcluded`). */
  reasoning?: unknown;
  /**
   * True when the provider's `input` leaves the cache out (Anthropic's `input_tokens`, Bedrock's
   * `inputTokens`): cache reads and writes are added to make `prompt_tokens`.
   */
  inputExcludesCache?: boolean;
  /** True when `output` leaves reasoning out (Gemini's `candidatesTokenCount` vs `thoughtsTokenCount`). */
  reasoningExcluded?: boolean;
}

/**
 * Canonical usage from a provider's counts; null when `input` or `output` is not a real count
 * (a provider that reports garbage: the plugin estimates instead).
 */
export function canonicalUsage(c: UsageCounts): Usage | null {
  const input = asCount(c.input);
  const output = asCount(c.output);
  if (input === undefined || output === undefined) return null;
  const cacheRead = asCount(c.cacheRead);
  const cacheWrite = asCount(c.cacheWrite);
  const reasoning = asCount(c.reasoning);
  const prompt = c.inputExcludesCache ? input + (cacheRead ?? 0) + (cacheWrite ?? 0) : input;
  const completion = c.reasoningExcluded ? output + (reasoning ?? 0) : output;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (cacheRead !== undefined || cacheWrite !== undefined) {
    usage.prompt_tokens_details = {};
    if (cacheRead !== undefined) usage.prompt_tokens_details.cached_tokens = cacheRead;
    if (cacheWrite !== undefined) usage.prompt_tokens_details.cache_write_tokens = cacheWrite;
  }
  if (reasoning !== undefined) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/**
 * OpenAI's usage object (OpenAI, Azure, the OpenAI-compatible servers), details included:
 * `prompt_tokens_details.cached_tokens` (DeepSeek: `prompt_cache_hit_tokens`), `audio_tokens`,
 * `completion_tokens_details.reasoning_tokens`.
 */
export function openAIUsage(u: unknown): Usage | null {
  // named loads, each with its own feedback (one shape per provider), where `dig`'s one keyed load
  // saw every key and object of the worker (megamorphic) and built an array per call
  if (!isObject(u)) return null;
  const usage = canonicalUsage({ input: u.prompt_tokens, output: u.completion_tokens });
  if (!usage) return null;
  const prompt = asObject(u.prompt_tokens_details);
  const completion = asObject(u.completion_tokens_details);
  const cached = asCount(prompt?.cached_tokens) ?? asCount(u.prompt_cache_hit_tokens);
  const cacheWrite = asCount(prompt?.cache_write_tokens);
  const audioIn = asCount(prompt?.audio_tokens);
  const reasoning = asCount(completion?.reasoning_tokens);
  const audioOut = asCount(completion?.audio_tokens);
  if (cached !== undefined || cacheWrite !== undefined || audioIn !== undefined) {
    const d: NonNullable<Usage['prompt_tokens_details']> = {};
    if (cached !== undefined) d.cached_tokens = cached;
    if (cacheWrite !== undefined) d.cache_write_tokens = cacheWrite;
    if (audioIn !== undefined) d.audio_tokens = audioIn;
    usage.prompt_tokens_details = d;
  }
  if (reasoning !== undefined || audioOut !== undefined) {
    const d: NonNullable<Usage['completion_tokens_details']> = {};
    if (reasoning !== undefined) d.reasoning_tokens = reasoning;
    if (audioOut !== undefined) d.audio_tokens = audioOut;
    usage.completion_tokens_details = d;
  }
  return usage;
}
