/**
 * Time windows for counters. Kong's rate-limiting uses calendar windows in UTC (a minute starts
 * at :00, a month on the 1st) and reports a month as 30 days; window sizes given in seconds
 * (ai-rate-limiting-advanced) are aligned on the epoch.
 */
export const PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const;
export type Period = (typeof PERIODS)[number];

/** Kong's `EXPIRATION`: a period's length in seconds (month and year are nominal). */
export const EXPIRATION: Record<Period, number> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86400,
  month: 2592000,
  year: 31536000,
};

/** Start (ms since the epoch, UTC) of the calendar period containing `nowMs`. */
export function periodStart(period: Period, nowMs: number): number {
  switch (period) {
    case 'second':
      return Math.floor(nowMs / 1000) * 1000;
    case 'minute':
      return Math.floor(nowMs / 60_000) * 60_000;
    case 'hour':
      return Math.floor(nowMs / 3_600_000) * 3_600_000;
    case 'day':
      return Math.floor(nowMs / 86_400_000) * 86_400_000;
    case 'month': {
      const d = new Date(nowMs);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
    case 'year':
      return Date.UTC(new Date(nowMs).getUTCFullYear(), 0, 1);
  }
}

/** Kong's reset: seconds until the period (nominal length) ends, at least 1. */
export function periodReset(period: Period, nowMs: number): number {
  return Math.max(1, EXPIRATION[period] - Math.floor((nowMs - periodStart(period, nowMs)) / 1000));
}

/** A window of `sizeSeconds` aligned on the epoch: its start (ms). */
export function windowStart(sizeSeconds: number, nowMs: number): number {
  const size = sizeSeconds * 1000;
  return Math.floor(nowMs / size) * size;
}

/** Kong's rate-limiting-advanced header names: the standard sizes by name, others by seconds. */
export function windowLabel(sizeSeconds: number): string {
  switch (sizeSeconds) {
    case 1:
      return 'second';
    case 60:
      return 'minute';
    case 3600:
      return 'hour';
    case 86400:
      return 'day';
    case 2592000:
      return 'month';
    case 31536000:
      return 'year';
    default:
      return String(sizeSeconds);
  }
}
