/**
 * The benchmark's method for issue 24's targets (docs/performance.md, "The benchmark"): a target's
 * value is the median of its per-round values (each a ratio or difference taken within one round,
 * the rounds interleaved with the order turning), printed with its spread (lowest–highest round);
 * a verdict is claimed only when there were enough rounds and the reference figures the comparison
 * rests on (ref-parse, ref-pass, or the baseline the row divides by) stayed within 10% across the
 * rounds. Otherwise the row says `unsettled` and why: on a shared machine a ratio taken while the
 * references moved says more about the neighbours than about the gateway.
 */

export type Verdict = 'met' | 'not met' | 'unsettled' | 'not measured';

/** The method's limits. */
export const MIN_ROUNDS = 5;
export const MAX_REFERENCE_MOVE = 0.1;

export interface RowInput {
  /** What is measured, e.g. "JSON: CPU per request ÷ ref-parse". */
  target: string;
  /** The goal as the issue states it, e.g. "≤ 1.1×". */
  goal: string;
  /** The row's value in each round (a ratio or difference taken within the round); NaN: missing. */
  perRound: number[];
  pass: (v: number) => boolean;
  show: (v: number) => string;
  /** The figures the comparison rests on, per round: the row is unsettled when one moved > 10%. */
  refs: { name: string; values: number[] }[];
  /** A single reading (idle RSS, the soak), not a median over rounds: no round count, no spread. */
  single?: boolean;
  /** What one per-round value is called in the notes (default `rounds`; the routes target: `pairs`). */
  unit?: string;
  note?: string;
}

export interface Row {
  target: string;
  goal: string;
  value: string;
  spread: string;
  verdict: Verdict;
  note: string;
  median: number | null;
  rounds: number;
  /** Largest movement of each reference across the rounds (max ÷ min − 1). */
  reference_moves: Record<string, number | null>;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** max ÷ min − 1 over the finite positive values; null with fewer than two. */
export function moved(values: number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length < 2) return null;
  return Math.max(...v) / Math.min(...v) - 1;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export function evaluate(r: RowInput, minRounds = MIN_ROUNDS, limit = MAX_REFERENCE_MOVE): Row {
  const values = r.perRound.filter((x) => Number.isFinite(x));
  const m = median(values);
  const moves: Record<string, number | null> = {};
  for (const ref of r.refs) moves[ref.name] = moved(ref.values);
  const base = { target: r.target, goal: r.goal, rounds: values.length, reference_moves: moves };
  if (!values.length) return { ...base, value: '–', spread: '–', verdict: 'not measured', note: r.note ?? '', median: null };
  const value = r.show(m);
  const spread = r.single || values.length < 2 ? '–' : `${r.show(Math.min(...values))} – ${r.show(Math.max(...values))} (${values.length})`;
  const why: string[] = [];
  if (!r.single && values.length < minRounds) why.push(`${values.length} ${r.unit ?? 'rounds'} < ${minRounds}`);
  for (const [name, mv] of Object.entries(moves)) if (mv !== null && mv > limit) why.push(`${name} moved ${pct(mv)}`);
  const note = [...why, ...(r.note ? [r.note] : [])].join('; ');
  if (why.length) return { ...base, value, spread, verdict: 'unsettled', note, median: m };
  return { ...base, value, spread, verdict: r.pass(m) ? 'met' : 'not met', note, median: m };
}

/** A row that could not be measured in this run, with the reason. */
export function notMeasured(target: string, goal: string, why: string): Row {
  return { target, goal, value: '–', spread: '–', verdict: 'not measured', note: why, median: null, rounds: 0, reference_moves: {} };
}

/** The rows as a Markdown table (the terminal prints the same: it reads as a table there too). */
export function markdownTable(rows: Row[]): string {
  const head = ['target (issue 24)', 'goal', 'value (median)', 'spread: lowest – highest (rounds)', 'verdict', 'why / note'];
  const cells = rows.map((r) => [r.target, r.goal, r.value, r.spread, r.verdict === 'met' || r.verdict === 'not met' ? `**${r.verdict}**` : r.verdict, r.note]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i >= 2 && i <= 3 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), sep, ...cells.map(line)].join('\n');
}

/** met / not met / unsettled / not measured counts, for a one-line summary. */
export function tally(rows: Row[]): string {
  const n = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  return `${n('met')} met, ${n('not met')} not met, ${n('unsettled')} unsettled, ${n('not measured')} not measured`;
}
