/**
 * The Usage API on the Admin listener (issue 19): what proxied AI requests cost, from the spend
 * log (src/spend/types.ts). Registered on the Admin API's Fastify app, so the Admin API's guard
 * (Host check, token, CORS) applies as to every other endpoint; the proxy never serves it.
 *
 * - `GET /usage`: time series and totals (UsageAnswer), grouped by consumer, model, provider,
 *   route; `consumer`/`route` filters take an id or a name (username / route name).
 * - `GET /usage/requests`: the raw rows, newest first, a page at a time (`{data, next}`); besides
 *   the `/usage` filters, `status` (a code or a class: `5xx`), `streamed` (true/false), `request_id`.
 * - `Accept: text/csv` on both: one row per series point or request (RFC 4180).
 *
 * Times (`from`, `to`) are ISO 8601 or epoch numbers: below 10^11 seconds, else milliseconds
 * (10^11 s is the year 5138, 10^11 ms is 1973: no date anyone queries is ambiguous). `to` is
 * exclusive; the default range is the 24 hours before now.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, schemaViolation } from '../entities/errors.ts';
import { StoreError, type Row } from '../store/types.ts';
import { classifyPgError } from '../store/pg-errors.ts';
import { SPEND_CSV_FIELDS, UsageTooLargeError, type RequestsQuery, type SpendRow, type SpendStore, type StatusRange, type UsageAnswer, type UsageDimension, type UsageFilter, type UsageInterval, type UsageQuery, type UsageSeriesPoint, type UsageTotals } from '../spend/types.ts';

export interface UsageRoutesOptions {
  /** The open spend store; null while there is none (not opened yet, or failed to open). */
  store: () => SpendStore | null;
  /** True when the spend log is off (`MODELGATE_SPEND_LOG=off`): nothing is recorded. */
  disabled: () => boolean;
  /** An entity by id or endpoint key (the Admin API's dao): resolves filters and names groups. */
  find: (entity: 'consumers' | 'routes', idOrKey: string) => Promise<Row | null>;
  /** Clock (tests). */
  now?: () => number;
}

export const INTERVAL_MS: Record<UsageInterval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
export const DIMENSIONS: readonly UsageDimension[] = ['consumer', 'model', 'provider', 'route'];
/** Time points one `/usage` answer may hold (per group): beyond, the range is too large for the interval. */
export const MAX_POINTS = 10_000;
export const DEFAULT_RANGE_MS = 24 * 3_600_000;
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Epoch numbers below this are seconds, above it milliseconds. */
const SECONDS_BELOW = 1e11;

const USAGE_PARAMS = new Set(['from', 'to', 'interval', 'group_by', 'consumer', 'route', 'model', 'provider']);
const REQUESTS_PARAMS = new Set(['from', 'to', 'consumer', 'route', 'model', 'provider', 'status', 'streamed', 'request_id', 'limit', 'cursor']);
const FILTERS = ['consumer', 'route', 'model', 'provider'] as const;
/** Filters only `/usage/requests` takes (the rollups behind `/usage` keep neither status nor streaming). */
const ROW_FILTERS = ['status', 'streamed', 'request_id'] as const;

/** The query string as Fastify parses it: a repeated argument comes as an array. */
export type RawQuery = Record<string, string | string[] | undefined>;

const invalid = (field: string, message: string) => schemaViolation({ [field]: message });

function single(q: RawQuery, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw invalid(name, 'expected one value, got several');
  return v === '' ? undefined : v;
}

function refuseUnknown(q: RawQuery, known: Set<string>): void {
  for (const name of Object.keys(q)) if (!known.has(name)) throw invalid(name, `unknown parameter (expected one of: ${[...known].join(', ')})`);
}

/** ISO 8601 (with a date; a missing zone is UTC) or epoch seconds / milliseconds. */
export function parseTime(raw: string, name: string): number {
  const s = raw.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return Math.floor(n < SECONDS_BELOW ? n * 1000 : n);
  }
  // a date first: Date.parse alone takes "1", "May 3" and other things nobody means
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const zoned = /T.*(Z|[+-]\d{2}:?\d{2})$/i.test(s) || !s.includes('T') ? s : `${s}Z`;
    const t = Date.parse(zoned);
    if (Number.isFinite(t)) return t;
  }
  throw invalid(name, 'expected an ISO 8601 time (2025-01-31T00:00:00Z) or epoch seconds or milliseconds');
}

/** `[from, to)` from the query, defaulting to the 24 hours before `now` (or before `to`). */
export function parseRange(q: RawQuery, now: number): { from: number; to: number } {
  const rawFrom = single(q, 'from');
  const rawTo = single(q, 'to');
  const to = rawTo === undefined ? now : parseTime(rawTo, 'to');
  const from = rawFrom === undefined ? to - DEFAULT_RANGE_MS : parseTime(rawFrom, 'from');
  if (from >= to) throw invalid('to', `must be after from (${new Date(from).toISOString()})`);
  return { from, to };
}

export function parseInterval(raw: string | undefined): UsageInterval {
  if (raw === undefined) return 'hour';
  if (Object.hasOwn(INTERVAL_MS, raw)) return raw as UsageInterval;
  throw invalid('interval', `expected one of: ${Object.keys(INTERVAL_MS).join(', ')}`);
}

/** `group_by=consumer,model` (or repeated): distinct dimensions in the order given. */
export function parseGroupBy(raw: string | string[] | undefined): UsageDimension[] {
  if (raw === undefined) return [];
  const names = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  const out: UsageDimension[] = [];
  for (const n of names) {
    if (!DIMENSIONS.includes(n as UsageDimension)) throw invalid('group_by', `unknown dimension '${n}' (expected any of: ${DIMENSIONS.join(', ')})`);
    if (!out.includes(n as UsageDimension)) out.push(n as UsageDimension);
  }
  return out;
}

/** Intervals the range touches: the series' time points per group. */
export function pointCount(from: number, to: number, interval: UsageInterval): number {
  const size = INTERVAL_MS[interval];
  return Math.floor((to - 1) / size) - Math.floor(from / size) + 1;
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_LIMIT) throw invalid('limit', `expected an integer between 1 and ${MAX_LIMIT}`);
  return n;
}

/** Filters as given (ids or names; `resolveFilter` turns names into ids). */
function parseFilters(q: RawQuery): Omit<UsageFilter, 'from' | 'to'> {
  const out: Omit<UsageFilter, 'from' | 'to'> = {};
  for (const f of FILTERS) {
    const v = single(q, f);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

/** `status=500` (one code) or `status=5xx` (a class, 1xx–5xx). */
export function parseStatus(raw: string): StatusRange {
  const s = raw.trim().toLowerCase();
  if (/^[1-5]\d\d$/.test(s)) return { min: Number(s), max: Number(s) };
  if (/^[1-5]xx$/.test(s)) return { min: Number(s[0]) * 100, max: Number(s[0]) * 100 + 99 };
  throw invalid('status', 'expected a status code (500) or a class (1xx, 2xx, 3xx, 4xx, 5xx)');
}

export function parseStreamed(raw: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw invalid('streamed', 'expected true or false');
}

/** `GET /usage`'s parameters, validated; consumer/route still as given. */
export function parseUsageQuery(q: RawQuery, now: number): UsageQuery {
  refuseUnknown(q, USAGE_PARAMS);
  const { from, to } = parseRange(q, now);
  const interval = parseInterval(single(q, 'interval'));
  const points = pointCount(from, to, interval);
  if (points > MAX_POINTS) {
    throw invalid('interval', `the range holds ${points} ${interval} points, more than ${MAX_POINTS}: narrow from/to or use a longer interval`);
  }
  return { from, to, interval, group_by: parseGroupBy(q.group_by), ...parseFilters(q) };
}

/** `GET /usage/requests`'s parameters, validated; consumer/route still as given. */
export function parseRequestsQuery(q: RawQuery, now: number): RequestsQuery {
  refuseUnknown(q, REQUESTS_PARAMS);
  const { from, to } = parseRange(q, now);
  const cursor = single(q, 'cursor');
  const status = single(q, 'status');
  const streamed = single(q, 'streamed');
  const requestId = single(q, 'request_id');
  return {
    from,
    to,
    limit: parseLimit(single(q, 'limit')),
    ...(cursor !== undefined ? { cursor } : {}),
    ...parseFilters(q),
    ...(status !== undefined ? { status: parseStatus(status) } : {}),
    ...(streamed !== undefined ? { streamed: parseStreamed(streamed) } : {}),
    ...(requestId !== undefined ? { request_id: requestId } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Names: filters take an id or a name, answers carry ids (and names where the entity still exists)

const ENTITY_OF = { consumer: 'consumers', route: 'routes' } as const;
const NAME_FIELD = { consumer: 'username', route: 'name' } as const;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function nameOf(dim: 'consumer' | 'route', row: Row): string | null {
  const v = row[NAME_FIELD[dim]] ?? (dim === 'consumer' ? row.custom_id : null);
  return typeof v === 'string' ? v : null;
}

/**
 * A consumer/route filter as an id. A name must name an entity that exists; an id need not (the
 * spend log keeps the history of deleted consumers and routes).
 */
async function resolveFilter(dim: 'consumer' | 'route', value: string, find: UsageRoutesOptions['find']): Promise<string> {
  const row = await find(ENTITY_OF[dim], value);
  if (row) return row.id as string;
  if (UUID_RE.test(value)) return value.toLowerCase();
  throw invalid(dim, `no ${dim} with the id or ${NAME_FIELD[dim]} '${value}'`);
}

async function resolveFilters<Q extends UsageFilter>(q: Q, find: UsageRoutesOptions['find']): Promise<Q> {
  const out = { ...q };
  for (const dim of ['consumer', 'route'] as const) if (out[dim] !== undefined) out[dim] = await resolveFilter(dim, out[dim]!, find);
  return out;
}

/**
 * Adds `consumer_name` / `route_name` beside the ids in each point's group. Best effort: one lookup
 * per distinct id; a deleted entity or an unreachable database leaves the name out.
 */
export async function addNames(answer: UsageAnswer, find: UsageRoutesOptions['find']): Promise<UsageAnswer> {
  for (const dim of ['consumer', 'route'] as const) {
    if (!answer.group_by.includes(dim)) continue;
    const ids = [...new Set(answer.series.map((p) => p.group[dim]).filter((v): v is string => typeof v === 'string'))];
    const names = new Map<string, string | null>();
    await Promise.all(
      ids.map(async (id) => {
        const row = await find(ENTITY_OF[dim], id).catch(() => null);
        names.set(id, row && row.id === id ? nameOf(dim, row) : null);
      }),
    );
    for (const p of answer.series) {
      const id = p.group[dim];
      (p.group as Record<string, string | null>)[`${dim}_name`] = typeof id === 'string' ? (names.get(id) ?? null) : null;
    }
  }
  return answer;
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180: CRLF line ends; a field with a comma, quote, CR or LF is quoted, quotes doubled)

/**
 * One field. Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first: the
 * model name comes from the client) gets a leading `'`, as OWASP advises; numbers are never text.
 */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLines(header: readonly string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',') + '\r\n').join('');
}

const TOTAL_COLUMNS: (keyof UsageTotals)[] = [
  'requests',
  'errors',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens',
  'cost',
  'unpriced_requests',
  'latency_p50_ms',
  'latency_p95_ms',
  'ttft_p50_ms',
  'ttft_p95_ms',
];

/** Group columns: each dimension, and its name beside consumer and route. */
function groupColumns(groupBy: UsageDimension[]): string[] {
  return groupBy.flatMap((d) => (d === 'consumer' || d === 'route' ? [d, `${d}_name`] : [d]));
}

/** One row per series point; the totals are left out (they are in the JSON answer). */
export function usageCsv(answer: UsageAnswer): string {
  const groups = groupColumns(answer.group_by);
  const rows = answer.series.map((p: UsageSeriesPoint) => [p.start, ...groups.map((g) => (p.group as Record<string, unknown>)[g] ?? null), ...TOTAL_COLUMNS.map((c) => p[c])]);
  return csvLines(['start', ...groups, ...TOTAL_COLUMNS], rows);
}


export function requestsCsv(rows: SpendRow[]): string {
  return csvLines(
    SPEND_CSV_FIELDS,
    // every SpendRow field but the payload, in the contract's order; `time` as ISO 8601 for
    // spreadsheets, a balanced route's attempts as one compact JSON cell
    rows.map((r) => SPEND_CSV_FIELDS.map((c) => (c === 'time' ? new Date(r.time).toISOString() : c === 'attempts' ? (r.attempts ? JSON.stringify(r.attempts) : null) : r[c]))),
  );
}

/** CSV when the client asks for text/csv at least as much as for JSON. */
export function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  let csv = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qp = params.find((p) => p.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (type === 'text/csv') csv = Math.max(csv, q);
    else if (type === 'application/json' || type === 'application/*') json = Math.max(json, q);
  }
  return csv > 0 && csv >= json;
}

// ---------------------------------------------------------------------------------------------
// The endpoints

const CSV_TYPE = 'text/csv; charset=utf-8; header=present';
const RETRY_AFTER = '5';

const spendLogOff = () => new HttpError(503, { message: 'The spend log is off (MODELGATE_SPEND_LOG=off): no usage is recorded on this node' });
const storeAway = (cause?: unknown) => {
  const e = new HttpError(503, { message: 'The spend log database is unavailable; try again once it is back' }, { 'retry-after': RETRY_AFTER });
  if (cause !== undefined) (e as { cause?: unknown }).cause = cause;
  return e;
};

/** A store failure that is an outage (503), not a bug (500). */
function isOutage(e: unknown): boolean {
  return (e instanceof StoreError && e.kind === 'unavailable') || classifyPgError(e) === 'unavailable';
}

/** A cursor the store cannot read (each store throws its own `SpendCursorError`). */
function isCursorError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'SpendCursorError' || e.constructor.name === 'SpendCursorError');
}

/** `/usage/requests?…&cursor=` for the next page, with the range pinned so pages do not shift. */
export function nextUrl(path: string, q: RequestsQuery, raw: RawQuery, cursor: string | null): string | null {
  if (cursor === null) return null;
  const params = new URLSearchParams();
  params.set('from', new Date(q.from).toISOString());
  params.set('to', new Date(q.to).toISOString());
  // filters as the client wrote them (a name stays a name)
  for (const f of [...FILTERS, ...ROW_FILTERS]) {
    const v = raw[f];
    if (typeof v === 'string' && v !== '') params.set(f, v);
  }
  if (raw.limit !== undefined) params.set('limit', String(q.limit));
  params.set('cursor', cursor);
  return `${path}?${params.toString()}`;
}

export function registerUsageRoutes(app: FastifyInstance, opts: UsageRoutesOptions): void {
  const now = opts.now ?? Date.now;

  /** The store, or the 503 that says why there is none. */
  const store = (): SpendStore => {
    if (opts.disabled()) throw spendLogOff();
    const s = opts.store();
    if (!s) throw storeAway();
    return s;
  };
  const query = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (e) {
      if (isCursorError(e)) throw invalid('cursor', 'not a cursor this API gave: follow the previous page\'s next URL');
      if (e instanceof UsageTooLargeError) throw invalid('interval', e.message);
      if (e instanceof HttpError || !isOutage(e)) throw e;
      throw storeAway(e);
    }
  };

  const get = (url: string, handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      handler: async (req, reply) => {
        if (req.method !== 'GET') return reply.code(405).send({ message: 'Method not allowed' });
        return handler(req, reply);
      },
    });

  get('/usage', async (req, reply) => {
    const raw = req.query as RawQuery;
    const parsed = parseUsageQuery(raw, now());
    const s = store();
    const q = await resolveFilters(parsed, opts.find);
    const answer = await addNames(await query(() => s.usage(q)), opts.find);
    if (wantsCsv(req.headers.accept)) return reply.code(200).header('content-type', CSV_TYPE).send(usageCsv(answer));
    return reply.code(200).send(answer);
  });

  get('/usage/requests', async (req, reply) => {
    const raw = req.query as RawQuery;
    const parsed = parseRequestsQuery(raw, now());
    const s = store();
    const q = await resolveFilters(parsed, opts.find);
    const page = await query(() => s.requests(q));
    const next = nextUrl('/usage/requests', q, raw, page.next_cursor);
    if (wantsCsv(req.headers.accept)) {
      // the next page of a CSV answer is in the Link header (RFC 8288)
      if (next) reply.header('link', `<${next}>; rel="next"`);
      return reply.code(200).header('content-type', CSV_TYPE).send(requestsCsv(page.data));
    }
    return reply.code(200).send({ data: page.data, next });
  });
}
