/**
 * Small helpers every format shares for OpenAI's answer vocabulary: usage from a provider's two
 * counts, and finish reasons through a table. Answers themselves are rendered for the client by
 * src/exchange/render/ (the canonical exchange); usage with every kind by src/exchange/usage.ts.
 */
import type { Usage } from './types.ts';
import type { FinishReason } from '../exchange/types.ts';
import { asCount } from './json.ts';

export type { FinishReason } from '../exchange/types.ts';

/**
 * Usage from a provider's two counts. Both must be real counts: a provider that reports garbage
 * (Kong fixture `malformed_usage_response.json`) gets null, and the plugin estimates instead.
 */
export function usageOf(promptTokens: unknown, completionTokens: unknown): Usage | null {
  const prompt = asCount(promptTokens);
  const completion = asCount(completionTokens);
  if (prompt === undefined || completion === undefined) return null;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Maps a provider's stop reason through its table; an unknown reason still ends the answer normally. */
export function mapFinishReason(table: Readonly<Record<string, FinishReason>>, reason: unknown): FinishReason | null {
  if (typeof reason !== 'string') return null;
  return Object.hasOwn(table, reason) ? table[reason] : 'stop';
}
