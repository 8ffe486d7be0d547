/**
 * Request cost from usage and the configured prices, `input_cost`/`output_cost` in USD per
 * million tokens (Kong 3.8+ `model.options`).
 */
import type { ModelOptions, Usage } from './types.ts';

const PER_MILLION = 1_000_000;

/** Null when there is no usage or no price is configured; an unset price counts as free. */
export function costOf(usage: Usage | null, options: Pick<ModelOptions, 'input_cost' | 'output_cost'>): number | null {
  if (!usage) return null;
  const input = options.input_cost;
  const output = options.output_cost;
  if (input == null && output == null) return null;
  return (usage.prompt_tokens * (input ?? 0) + usage.completion_tokens * (output ?? 0)) / PER_MILLION;
}
