/**
 * Which rollup tables exist and which one a `/usage` query reads (both stores: sqlite.ts,
 * postgres.ts and PostgreSQL migration 002). Every table holds the same sums and latency
 * histograms, so the answer is the same whichever is read; they differ in how many rows a query
 * has to merge:
 *
 * - `spend_rollup_<interval>`: the full key (route, consumer, provider, model). With spread traffic
 *   it has nearly a row per request per bucket.
 * - `spend_rollup_<interval>_<dimension>`, keyed (bucket, value): a query touching at most one
 *   dimension (grouped or filtered).
 * - `spend_rollup_<interval>_<combination>`, keyed by bucket and the combination's columns (named
 *   as in the full key): a query touching two dimensions, or three inside one combination.
 *
 * The combinations are three, not the six pairs: a model name almost always belongs to one
 * provider, so a table keyed (route, provider, model) has about as many rows as one keyed
 * (route, model) and answers the pairs route/model, route/provider and provider/model (and
 * those three dimensions together); (consumer, provider, model) answers consumer/model and
 * consumer/provider; (route, consumer) is the one pair left. Half the writes of six pair tables
 * for the same reads (docs/performance.md, "/usage over 1,000,000 rows").
 */
import type { UsageDimension, UsageInterval } from './types.ts';

/** `/usage` dimensions → rollup key columns (the full key's, and the combinations'). */
export const DIMENSION_COLUMN: Record<UsageDimension, string> = { route: 'route_id', consumer: 'consumer_id', provider: 'provider', model: 'model' };

/** The dimensions rolled up alone (`spend_rollup_<interval>_<dimension>`). */
export const DIMENSIONS: readonly UsageDimension[] = ['route', 'consumer', 'provider', 'model'];

/**
 * The combinations rolled up, in the order a query prefers them (the first that holds every
 * dimension it touches): (route, provider, model) before (consumer, provider, model) for
 * provider/model, routes being usually fewer than consumers. Dimensions in the full key's order.
 */
export const COMBINATIONS: readonly (readonly UsageDimension[])[] = [
  ['route', 'consumer'],
  ['route', 'provider', 'model'],
  ['consumer', 'provider', 'model'],
];

export const combinationTable = (interval: UsageInterval, dims: readonly UsageDimension[]) => `spend_rollup_${interval}_${dims.join('_')}`;

/** Every rollup table of an interval (retention deletes from each). */
export function rollupTables(interval: UsageInterval): string[] {
  return [`spend_rollup_${interval}`, ...DIMENSIONS.map((d) => `spend_rollup_${interval}_${d}`), ...COMBINATIONS.map((c) => combinationTable(interval, c))];
}

/**
 * The rollup a `/usage` query reads, given the dimensions it groups or filters on, and the column
 * each dimension is in there: none or one → that dimension's table (none: the provider's, the
 * fewest values); more → the first combination holding them all, else the full key.
 */
export function rollupFor(interval: UsageInterval, used: ReadonlySet<UsageDimension>): { table: string; column: (d: UsageDimension) => string } {
  if (used.size <= 1) {
    const d = used.size === 1 ? [...used][0] : 'provider';
    return { table: `spend_rollup_${interval}_${d}`, column: () => 'value' };
  }
  const combination = COMBINATIONS.find((c) => [...used].every((d) => c.includes(d)));
  return { table: combination ? combinationTable(interval, combination) : `spend_rollup_${interval}`, column: (d) => DIMENSION_COLUMN[d] };
}
