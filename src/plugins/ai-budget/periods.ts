/**
 * The time a budget covers, as counter buckets.
 *
 * calendar: one bucket, the UTC day / ISO week (Monday 00:00 UTC) / calendar month containing
 *   now; it resets at the bucket's end.
 * rolling: the last 24 h / 7 d / 30 d, kept as fixed buckets (1 h / 6 h / 1 d) aligned on the
 *   epoch. A read sums every bucket that overlaps [now − length, now] — the current one and the
 *   N before it — so the sum covers *at least* the last `length`, up to one bucket more: any real
 *   24 h (7 d, 30 d) interval is inside what was read, and a rolling budget never lets more than
 *   its amount (plus the requests in flight) be spent within one. A request is counted in the
 *   bucket of its arrival only; reads cost N+1 keys (25 / 29 / 31), writes one.
 */
export const BUDGET_PERIODS = ['day', 'week', 'month'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export const BUDGET_WINDOWS = ['calendar', 'rolling'] as const;
export type BudgetWindow = (typeof BUDGET_WINDOWS)[number];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 1970-01-01 was a Thursday: the first Monday 00:00 UTC after the epoch. */
const FIRST_MONDAY = 4 * DAY;

/** Rolling windows: their length and the bucket they are counted in. */
export const ROLLING: Record<BudgetPeriod, { lengthMs: number; bucketMs: number }> = {
  day: { lengthMs: DAY, bucketMs: HOUR },
  week: { lengthMs: 7 * DAY, bucketMs: 6 * HOUR },
  month: { lengthMs: 30 * DAY, bucketMs: DAY },
};

/** Start (ms, UTC) of the calendar period containing `now`. */
export function calendarStart(period: BudgetPeriod, now: number): number {
  switch (period) {
    case 'day':
      return Math.floor(now / DAY) * DAY;
    case 'week':
      return Math.floor((now - FIRST_MONDAY) / (7 * DAY)) * 7 * DAY + FIRST_MONDAY;
    case 'month': {
      const d = new Date(now);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
  }
}

/** End (exclusive, ms) of the calendar period that starts at `start`. */
export function calendarEnd(period: BudgetPeriod, start: number): number {
  switch (period) {
    case 'day':
      return start + DAY;
    case 'week':
      return start + 7 * DAY;
    case 'month': {
      const d = new Date(start);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
}

/** What a budget reads at `now`. */
export interface Span {
  /** Bucket starts, oldest first; the last one is where a request arriving now is counted. */
  buckets: number[];
  /** Each bucket's length (ms): a calendar month's own length for a calendar month. */
  bucketMs: number;
  /** calendar: when the period ends (the budget is whole again); rolling: null (see retryAt). */
  resetAt: number | null;
  /** How long a counter written now must live (ms): until it can no longer be read. */
  ttlMs: number;
}

export function spanOf(period: BudgetPeriod, window: BudgetWindow, now: number): Span {
  if (window === 'calendar') {
    const start = calendarStart(period, now);
    const end = calendarEnd(period, start);
    return { buckets: [start], bucketMs: end - start, resetAt: end, ttlMs: end - now };
  }
  const { lengthMs, bucketMs } = ROLLING[period];
  const current = Math.floor(now / bucketMs) * bucketMs;
  const first = Math.floor((now - lengthMs) / bucketMs) * bucketMs;
  const buckets: number[] = [];
  for (let b = first; b <= current; b += bucketMs) buckets.push(b);
  // the current bucket is read until it no longer overlaps the window: its end + the length
  return { buckets, bucketMs, resetAt: null, ttlMs: current + bucketMs + lengthMs - now };
}

/**
 * When a spent budget is usable again: a calendar budget at its reset; a rolling one once enough
 * of its oldest buckets have left the window for the rest to be under `amount` (a bucket starting
 * at b is read until b + bucketMs + lengthMs). `values` are the span's buckets' spend, oldest first.
 */
export function retryAt(period: BudgetPeriod, span: Span, values: number[], amount: number): number {
  if (span.resetAt !== null) return span.resetAt;
  const { lengthMs } = ROLLING[period];
  let left = values.reduce((a, b) => a + b, 0);
  for (let i = 0; i < span.buckets.length; i++) {
    left -= values[i];
    if (left < amount) return span.buckets[i] + span.bucketMs + lengthMs;
  }
  return span.buckets[span.buckets.length - 1] + span.bucketMs + lengthMs;
}
