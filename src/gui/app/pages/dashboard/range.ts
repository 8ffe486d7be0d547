/**
 * The dashboard's time range, as the URL holds it (`#/?range=day`, or `range=custom&from=…&to=…`),
 * and the `/usage` interval each range is asked with: fine enough to see a shape, coarse enough to
 * stay far under the Usage API's point cap (10,000 points per answer, intervals × groups).
 */
import type { UsageInterval } from './data.ts';

export type RangeName = 'hour' | 'day' | 'week' | 'month' | 'custom';

/**
 * `groupInterval` is what the grouped answers (breakdown, top spenders: intervals × groups points)
 * are asked by. A week by hour by 60 consumers would pass the cap (and be megabytes of JSON), so a
 * week starts at a UTC midnight and its groups are asked by day: the Usage API widens a range to
 * whole intervals, and a range that starts on an interval and ends now (nothing is logged after
 * now) covers the same requests at either interval, so every card still sums the same rows.
 */
export const PRESETS: { name: Exclude<RangeName, 'custom'>; label: string; ms: number; interval: UsageInterval; groupInterval: UsageInterval }[] = [
  { name: 'hour', label: 'Last hour', ms: 3_600_000, interval: 'minute', groupInterval: 'minute' },
  { name: 'day', label: 'Last day', ms: 86_400_000, interval: 'hour', groupInterval: 'hour' },
  { name: 'week', label: 'Last week', ms: 7 * 86_400_000, interval: 'hour', groupInterval: 'day' },
  { name: 'month', label: 'Last 30 days', ms: 30 * 86_400_000, interval: 'day', groupInterval: 'day' },
];

const INTERVAL_MS: Record<UsageInterval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export const DEFAULT_RANGE: RangeName = 'day';

export interface Range {
  name: RangeName;
  /** ms since the epoch; `to` exclusive. */
  from: number;
  to: number;
  interval: UsageInterval;
  /** The interval of the grouped answers (see PRESETS). */
  groupInterval: UsageInterval;
}

/** A custom range's interval: minutes up to 6 hours (≤ 360 points), hours up to 8 days (≤ 192), else days. */
export function intervalFor(ms: number): UsageInterval {
  if (ms <= 6 * 3_600_000) return 'minute';
  if (ms <= 8 * 86_400_000) return 'hour';
  return 'day';
}

/** A time from the URL: epoch ms or anything Date.parse reads (ISO 8601). */
export function parseTime(raw: string | null): number | null {
  if (!raw) return null;
  const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  return Number.isFinite(t) ? t : null;
}

/** The range the URL asks for, at `now`; an unreadable custom range falls back to the last day. */
export function rangeOf(query: URLSearchParams, now: number): Range {
  const name = (query.get('range') ?? DEFAULT_RANGE) as RangeName;
  if (name === 'custom') {
    const from = parseTime(query.get('from'));
    const to = parseTime(query.get('to')) ?? now;
    if (from !== null && from < to) {
      const interval = intervalFor(to - from);
      return { name, from, to, interval, groupInterval: interval };
    }
  }
  const preset = PRESETS.find((p) => p.name === name) ?? PRESETS.find((p) => p.name === DEFAULT_RANGE)!;
  // aligned on the group interval (UTC), so both intervals cover the same requests
  const step = INTERVAL_MS[preset.groupInterval];
  const from = Math.floor((now - preset.ms) / step) * step;
  return { name: preset.name, from, to: now, interval: preset.interval, groupInterval: preset.groupInterval };
}

/** `<input type="datetime-local">` reads and writes local time without a zone. */
export function toLocalInput(t: number): string {
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function fromLocalInput(v: string): number | null {
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t : null;
}
