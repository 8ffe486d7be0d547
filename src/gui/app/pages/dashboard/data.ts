/**
 * What the dashboard reads: `/usage` (the Admin API's Usage API, src/admin/usage-routes.ts) and
 * `/budgets` (src/admin/budget-routes.ts), and the few reshapings it makes of them — a time axis
 * with every interval (the API answers only intervals with traffic), and sums per group. Nothing
 * is recomputed that the API gives: totals and percentiles are the API's own figures.
 */
import { api } from '../../lib/api.ts';

import type { UsageAnswer, UsageDimension, UsageInterval, UsageSeriesPoint as UsagePoint } from '../../../../spend/types.ts';
import type { BudgetState } from '../../../../admin/budget-state.ts';

export type { UsageAnswer, UsageInterval, BudgetState, UsagePoint };
export type { UsageTotals } from '../../../../spend/types.ts';
export type Dimension = UsageDimension;

export const DIMENSIONS: { name: Dimension; label: string }[] = [
  { name: 'model', label: 'Model' },
  { name: 'provider', label: 'Provider' },
  { name: 'route', label: 'Route' },
  { name: 'consumer', label: 'Consumer' },
];

export const INTERVAL_MS: Record<UsageInterval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The `/usage` query string of a range (the same for every card, so their figures agree). */
export function usageQuery(from: number, to: number, interval: UsageInterval, groupBy?: Dimension): string {
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), interval });
  if (groupBy) q.set('group_by', groupBy);
  return q.toString();
}

export function fetchUsage(query: string, signal?: AbortSignal): Promise<UsageAnswer> {
  return api<UsageAnswer>(`/usage?${query}`, { signal });
}

export async function fetchBudgets(signal?: AbortSignal): Promise<BudgetState[]> {
  return (await api<{ data: BudgetState[] }>('/budgets', { signal })).data;
}

/** Every interval start of the answer's range, in seconds (uPlot's time unit). */
export function timeAxis(answer: UsageAnswer): number[] {
  const step = INTERVAL_MS[answer.interval];
  const out: number[] = [];
  for (let t = Date.parse(answer.from); t < Date.parse(answer.to); t += step) out.push(t / 1000);
  return out;
}

/**
 * One metric on the axis: the API's value where it has a point, `empty` where it has none (0 for
 * counts — no request is zero requests; null for latencies — no request has no latency).
 */
export function column(axis: number[], points: UsagePoint[], pick: (p: UsagePoint) => number | null, empty: 0 | null): (number | null)[] {
  const at = new Map<number, number>();
  axis.forEach((x, i) => at.set(x, i));
  const out: (number | null)[] = axis.map(() => empty);
  for (const p of points) {
    const i = at.get(Date.parse(p.start) / 1000);
    if (i !== undefined) out[i] = pick(p);
  }
  return out;
}

export interface GroupSum {
  key: string;
  /** The group's value (an id for consumers and routes), null when the rows had none. */
  value: string | null;
  label: string;
  requests: number;
  errors: number;
  total_tokens: number;
  cost: number;
  unpriced_requests: number;
  points: UsagePoint[];
}

/** How a group reads: a name where the API gave one, else the id; no value is said plainly. */
export function groupLabel(dim: Dimension, group: Record<string, string | null>): string {
  const v = group[dim];
  const name = group[`${dim}_name`];
  if (v === null || v === undefined) return dim === 'consumer' ? '(no consumer)' : `(no ${dim})`;
  return name ?? v;
}

/** Sums of each group's points, in the API's point order, most cost first. */
export function groupSums(answer: UsageAnswer, dim: Dimension): GroupSum[] {
  const groups = new Map<string, GroupSum>();
  for (const p of answer.series) {
    const value = p.group[dim] ?? null;
    const key = value ?? '\u0000';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, value, label: groupLabel(dim, p.group), requests: 0, errors: 0, total_tokens: 0, cost: 0, unpriced_requests: 0, points: [] }));
    g.requests += p.requests;
    g.errors += p.errors;
    g.total_tokens += p.total_tokens;
    g.cost += p.cost;
    g.unpriced_requests += p.unpriced_requests;
    g.points.push(p);
  }
  return [...groups.values()].sort((a, b) => b.cost - a.cost || b.requests - a.requests || a.label.localeCompare(b.label));
}
