/**
 * The request log's filters: as the URL holds them (`#/requests?route=chat&status=5xx`), and as
 * `/usage/requests` takes them. The URL keeps what the reader chose (a range name such as `1h`,
 * a route by name); the API gets absolute times, computed when the list loads.
 */

export const RANGES = [
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { value: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
] as const;
export const DEFAULT_RANGE = '24h';
export const CUSTOM = 'custom';

/** Filters passed to the API as they are. */
export const PASSED = ['route', 'consumer', 'model', 'provider', 'status', 'streamed'] as const;
export type Passed = (typeof PASSED)[number];

export interface Filters {
  /** A RANGES value or `custom` (then `from`/`to`). */
  range: string;
  /** Custom range bounds, ISO 8601 as the URL holds them. */
  from?: string;
  to?: string;
  values: Partial<Record<Passed, string>>;
}

export function filtersOf(query: URLSearchParams): Filters {
  const values: Filters['values'] = {};
  for (const k of PASSED) {
    const v = query.get(k);
    if (v) values[k] = v;
  }
  const from = query.get('from') ?? undefined;
  const to = query.get('to') ?? undefined;
  const range = from || to ? CUSTOM : (query.get('range') ?? DEFAULT_RANGE);
  return { range, ...(from ? { from } : {}), ...(to ? { to } : {}), values };
}

/** The URL query for these filters (defaults left out, so a plain list is plain `#/requests`). */
export function queryOf(f: Filters): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...f.values };
  if (f.range === CUSTOM) {
    out.from = f.from;
    out.to = f.to;
  } else if (f.range !== DEFAULT_RANGE) out.range = f.range;
  return out;
}

/** `/usage/requests?…` for the first page, with the range made absolute at `now`. */
export function requestsPath(f: Filters, now: number, limit: number): string {
  const q = new URLSearchParams();
  if (f.range === CUSTOM) {
    if (f.from) q.set('from', f.from);
    if (f.to) q.set('to', f.to);
  } else {
    const ms = (RANGES.find((r) => r.value === f.range) ?? RANGES[1]).ms;
    q.set('from', new Date(now - ms).toISOString());
    q.set('to', new Date(now + 1).toISOString());
  }
  for (const k of PASSED) if (f.values[k]) q.set(k, f.values[k]!);
  q.set('limit', String(limit));
  return `/usage/requests?${q}`;
}

/** The detail of one request: `at` (its time) pins the lookup to the row's own key. */
export function detailPath(requestId: string, at: number | null): string {
  const q = new URLSearchParams({ request_id: requestId, limit: '1' });
  // without a time (a link typed by hand), every row the log still keeps is searched
  q.set('from', at === null ? '0' : String(at));
  q.set('to', at === null ? String(Date.now() + 60_000) : String(at + 1));
  return `/usage/requests?${q}`;
}
