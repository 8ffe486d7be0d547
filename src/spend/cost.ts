/**
 * What one request cost, in USD: every token kind of the canonical usage (src/exchange/types.ts)
 * times its price per million tokens, plus the per-request fee. The one computation behind the
 * log entry's `cost`, the Prometheus cost counter, the spend log and budgets. A provider that reports
 * what the call cost (OpenRouter) is priced from that figure instead (requestCost below).
 *
 * Canonical usage counts cache reads and writes inside `prompt_tokens` and reasoning inside
 * `completion_tokens`, so each kind is taken out of its total before the rest is priced:
 *
 *   uncached input = prompt − cached − cache writes      at `input`
 *   cached input                                         at `cached_input` (else `input`)
 *   cache writes                                         at `cache_write`  (else `input`)
 *   output         = completion − reasoning              at `output`
 *   reasoning                                            at `reasoning`    (else `output`)
 *   + `per_request`
 *
 * A kind the table does not price apart falls back to the price it is billed at when the provider
 * does not distinguish it: a cache read without a cached price is plain input, reasoning without
 * its own price is output (how OpenAI, Anthropic and Google bill thinking). Counts that do not add
 * up (a provider reporting more cached tokens than prompt tokens) are clamped at 0, never negative.
 */
import type { Usage } from '../exchange/types.ts';
import type { ModelOptions } from '../llm/types.ts';
import { priceOf, type ModelPrice } from './prices.ts';

const PER_MILLION = 1_000_000;

export type CostKind = 'chat' | 'embeddings';

export function costOf(usage: Usage, price: ModelPrice, kind: CostKind): number {
  const perRequest = price.per_request ?? 0;
  if (kind === 'embeddings') return (usage.prompt_tokens * price.input) / PER_MILLION + perRequest;
  const output = price.output ?? 0;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const written = usage.prompt_tokens_details?.cache_write_tokens ?? 0;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  const uncached = Math.max(0, usage.prompt_tokens - cached - written);
  const answer = Math.max(0, usage.completion_tokens - reasoning);
  const micro =
    uncached * price.input +
    cached * (price.cached_input ?? price.input) +
    written * (price.cache_write ?? price.input) +
    answer * output +
    reasoning * (price.reasoning ?? output);
  return micro / PER_MILLION + perRequest;
}

/**
 * The price a route pays for `model`: Kong's `model.options.input_cost` / `output_cost` when the
 * route sets either (they price input and output; a half left unset comes from the table, else 0;
 * cache and reasoning then follow the fallbacks above), else the table's. Null when neither knows.
 */
export function routePrice(provider: string, model: string, options: Pick<ModelOptions, 'input_cost' | 'output_cost'>): ModelPrice | null {
  const table = priceOf(provider, model);
  if (options.input_cost == null && options.output_cost == null) return table;
  return { input: options.input_cost ?? table?.input ?? 0, output: options.output_cost ?? table?.output ?? 0 };
}

/**
 * The cost of one answer, or null when nothing prices it (the caller counts and warns). In order:
 * the route's `input_cost`/`output_cost` (the operator's explicit choice, as in Kong), the cost the
 * provider reported with the answer (`usage.reported_cost`: OpenRouter's `usage.cost`, exact for
 * whichever model and upstream served it), the price table.
 */
export function requestCost(
  provider: string,
  model: string,
  usage: Usage,
  options: Pick<ModelOptions, 'input_cost' | 'output_cost'>,
  kind: CostKind,
): number | null {
  const overridden = options.input_cost != null || options.output_cost != null;
  if (!overridden && usage.reported_cost !== undefined) return usage.reported_cost;
  const price = routePrice(provider, model, options);
  return price ? costOf(usage, price, kind) : null;
}
