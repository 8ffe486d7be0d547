/**
 * The spend log on PostgreSQL, for clusters: every node's primary writes its batches into the
 * same database (issue 19). Tables come from migrations `001_spend_log` and `002_…` (src/store/migrations.ts),
 * so `modelgate migrations` lists them and upgrades them like the rest of the schema; what is
 * created at run time is only data layout — each day's partition of `spend_requests`.
 *
 * - spend_requests: one row per request, `PARTITION BY RANGE (time)`, one partition per UTC day
 *   (`spend_requests_pYYYYMMDD`). A batch's days (and tomorrow) get their partition before the
 *   rows are written, under an advisory lock so nodes creating the same day do not race;
 *   retention drops whole partitions and deletes the rest of a partial day by range.
 * - spend_rollup_minute|hour|day: sums per (bucket, route, consumer, provider, model) with a
 *   latency histogram, kept up to date by the same statement that writes the rows. The histogram
 *   is the SQLite store's (sqlite.ts: `latencyIndex`, sparse `{"index": count}`, `percentileOf`),
 *   as JSONB, so both stores answer the same percentiles; the index is computed in JS and sent
 *   with the row, never recomputed in SQL (a different `log` could round a boundary otherwise).
 *   Time to first token has its own histogram (`ttft_hist`, migration 002) in the same buckets,
 *   of the streamed rows that have one (`ttftIndex`).
 * - spend_rollup_<interval>_<route|consumer|provider|model>: the same sums and
 *   histogram per (bucket, value) of one dimension, so `/usage` grouped or filtered by at most one
 *   dimension (and costOf, per consumer) reads a row per value and bucket, not one per combination.
 * - spend_rollup_<interval>_<combination> (migration 002; rollups.ts says which and why): the same
 *   per bucket and the combination's columns, for `/usage` touching two dimensions.
 *
 * A batch is ONE statement: the rows go in with `ON CONFLICT DO NOTHING`, and each rollup level is
 * one `INSERT … ON CONFLICT DO UPDATE` (increments) over the rows that statement really inserted
 * (`RETURNING`), as is each per-dimension table. So a batch is atomic, a batch written again after a lost acknowledgement counts
 * nothing twice, and nodes writing at once add up exactly (the row lock of ON CONFLICT serialises
 * increments; keys are upserted in one sorted order, so two batches cannot deadlock on them, and a
 * deadlock or serialization failure would be run again anyway).
 *
 * Time is `timestamptz` (ms precision in, ms out) so partitions, buckets and psql read as dates;
 * buckets are UTC (`date_trunc` on the UTC wall clock, whatever the session's TimeZone). Cost is
 * NUMERIC: sums are exact whatever order the nodes' increments arrive in. A rollup's model is the
 * model that answered, else the one asked for; a NULL dimension is keyed as '' and read back as null.
 *
 * Only parameterised queries for values; the few statements built as text (partition DDL,
 * retention) hold only names and dates this module formats from numbers.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { classifyPgError } from '../store/pg-errors.ts';
import { StoreError } from '../store/types.ts';
import { COMBINATIONS, DIMENSIONS, DIMENSION_COLUMN, combinationTable, rollupFor, rollupTables } from './rollups.ts';
import { INTERVAL_MS, SpendCursorError, bucketStart, latencyIndex, totalsOf, ttftIndex, type LatencyHistogram } from './sqlite.ts';
import { columnsOf } from './columns.ts';
import { MAX_SERIES_POINTS, SPEND_ROW_FIELDS, UsageTooLargeError, type RequestsAnswer, type RequestsQuery, type SpendRow, type SpendStore, type UsageAnswer, type UsageDimension, type UsageInterval, type UsageQuery, type UsageSeriesPoint, type UsageTotals } from './types.ts';

const DAY = INTERVAL_MS.day;

/** Serialises partition DDL between nodes ("mg" + 2; the migrations hold "mg" + 1). */
const PARTITION_LOCK = 0x6d6702;

/** How often a batch that lost a deadlock or serialization conflict is run in all. */
const WRITE_ATTEMPTS = 3;

/** PostgreSQL's "no partition of relation … found for row" (check_violation on routing). */
const NO_PARTITION = '23514';

/**
 * A pooled connection the server closed while it sat idle (a restart, a failover, a terminated
 * backend) whose notice the pool had not read yet: the statement never ran on a live session, and
 * every statement here is safe to run again (a batch counts only the rows it inserts), so it is
 * run once more on another connection rather than failed. A refused connect is not this.
 */
const STALE_CODES = new Set(['57P01', '57P02', 'ECONNRESET', 'EPIPE']);
const isStale = (e: unknown) => STALE_CODES.has((e as { code?: string })?.code ?? '') || /Connection terminated unexpectedly/.test((e as Error)?.message ?? '');

// ---------------------------------------------------------------------------------------------
// The statement that writes a batch

/** The row's columns, in the table's order, with their array type for unnest(). */
const COLUMNS: [name: keyof SpendRow, type: string][] = [
  ['time', 'timestamptz'],
  ['request_id', 'text'],
  ['consumer_id', 'text'],
  ['credential_id', 'text'],
  ['route_id', 'text'],
  ['service_id', 'text'],
  ['plugin_id', 'text'],
  ['client_api', 'text'],
  ['provider', 'text'],
  ['model_requested', 'text'],
  ['model_served', 'text'],
  ['status', 'int4'],
  ['prompt_tokens', 'int4'],
  ['completion_tokens', 'int4'],
  ['cached_tokens', 'int4'],
  ['cache_write_tokens', 'int4'],
  ['reasoning_tokens', 'int4'],
  ['total_tokens', 'int4'],
  ['cost', 'numeric'],
  ['latency_ms', 'float8'],
  ['ttft_ms', 'float8'],
  ['stream', 'bool'],
  ['cache_hit', 'bool'],
  ['estimated', 'bool'],
  ['error_class', 'text'],
  // migration 002: json (not jsonb) keeps the text as sent, and node-pg hands it back parsed
  ['attempts', 'json'],
  ['payload', 'json'],
  // migration 002 too: what a semantic cache hit saved (issue 22)
  ['saved_tokens', 'int4'],
  ['saved_cost', 'numeric'],
];
const NAMES = COLUMNS.map(([n]) => n).join(', ');
/** Each column's place among SPEND_ROW_FIELDS (columnsOf's order). */
const FIELD_AT = COLUMNS.map(([name]) => {
  const at = (SPEND_ROW_FIELDS as readonly string[]).indexOf(name);
  if (at === -1) throw new Error(`spend: column ${name} is not a spend row field`);
  return at;
});

const TOKENS = ['prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens', 'total_tokens'] as const;
/** Every additive rollup column. */
const SUMS = ['requests', 'errors', ...TOKENS, 'cost', 'unpriced_requests', 'saved_tokens', 'saved_cost'] as const;
const INTERVALS = Object.keys(INTERVAL_MS) as UsageInterval[];
const KEY = 'bucket, route_id, consumer_id, provider, model';

/** The start of `col`'s UTC bucket, whatever the session's TimeZone. */
const truncUtc = (interval: UsageInterval, col: string) => `(date_trunc('${interval}', ${col} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`;

/** Two sparse histograms (or a set of them) added index by index. */
const mergeJson = (from: string) => `(SELECT jsonb_object_agg(k, n) FROM (SELECT e.key AS k, sum(e.value::bigint) AS n FROM ${from}, jsonb_each_text(h.j) AS e GROUP BY e.key) AS m)`;

/**
 * One interval's new rows (`fresh`, each with its latency index `li`) folded per full key and
 * index: the latency histogram's counts, and what every rollup of that interval is summed from.
 */
function folded(interval: UsageInterval): string {
  return `SELECT ${truncUtc(interval, 'time')} AS bucket, coalesce(route_id, '') AS route_id, coalesce(consumer_id, '') AS consumer_id,
        coalesce(provider, '') AS provider, coalesce(model_served, model_requested, '') AS model, li,
        count(*) AS requests, count(*) FILTER (WHERE error_class IS NOT NULL) AS errors,
        ${TOKENS.map((c) => `sum(${c}) AS ${c}`).join(', ')},
        coalesce(sum(cost), 0) AS cost, count(*) FILTER (WHERE cost IS NULL) AS unpriced_requests,
        coalesce(sum(saved_tokens), 0) AS saved_tokens, coalesce(sum(saved_cost), 0) AS saved_cost
      FROM fresh GROUP BY 1, 2, 3, 4, 5, 6`;
}

/**
 * The same rows' time-to-first-token counts per full key and index `ti` (null, and left out, for
 * a row that does not count: not streamed, or no first token). A fold of its own rather than `ti`
 * in the one above: that would split the sums' groups and double every upsert's grouping.
 */
function foldedTtft(interval: UsageInterval): string {
  return `SELECT ${truncUtc(interval, 'time')} AS bucket, coalesce(route_id, '') AS route_id, coalesce(consumer_id, '') AS consumer_id,
        coalesce(provider, '') AS provider, coalesce(model_served, model_requested, '') AS model, ti, count(*) AS n
      FROM fresh WHERE ti IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`;
}

/**
 * An upsert into `table` (keyed by `key`) from the folded rows `f` and ttft counts `t`: summed per
 * key and index (`cols` naming the key's columns there), then per key, the ttft histogram joined
 * (empty for a key without streams), upserted in key order. The ttft histogram is merged only
 * where both the row and the batch have one.
 */
function upsert(table: string, key: string[], cols: string[], f: string, t: string): string {
  const k = key.join(', ');
  const as = cols.map((c, i) => `${c} AS ${key[i]}`).join(', ');
  const by = cols.map((_, i) => i + 1).join(', ');
  return `INSERT INTO ${table} AS t (${k}, ${SUMS.join(', ')}, latency_hist, ttft_hist)
    SELECT ${k}, ${SUMS.join(', ')}, latency_hist, coalesce(ttft_hist, '{}')
    FROM (
      SELECT ${k}, ${SUMS.map((c) => `sum(${c}) AS ${c}`).join(', ')}, jsonb_object_agg(li, requests) AS latency_hist
      FROM (SELECT ${as}, li, ${SUMS.map((c) => `sum(${c}) AS ${c}`).join(', ')} FROM ${f} GROUP BY ${by}, li) AS g
      GROUP BY ${k}
    ) AS l
    LEFT JOIN (
      SELECT ${k}, jsonb_object_agg(ti, n) AS ttft_hist
      FROM (SELECT ${as}, ti, sum(n) AS n FROM ${t} GROUP BY ${by}, ti) AS g
      GROUP BY ${k}
    ) AS tt USING (${k})
    ORDER BY ${k}
    ON CONFLICT (${k}) DO UPDATE SET
      ${SUMS.map((c) => `${c} = t.${c} + EXCLUDED.${c}`).join(', ')},
      latency_hist = ${mergeJson('(VALUES (t.latency_hist), (EXCLUDED.latency_hist)) AS h(j)')},
      ttft_hist = CASE WHEN EXCLUDED.ttft_hist = '{}' THEN t.ttft_hist WHEN t.ttft_hist = '{}' THEN EXCLUDED.ttft_hist
        ELSE ${mergeJson('(VALUES (t.ttft_hist), (EXCLUDED.ttft_hist)) AS h(j)')} END`;
}

/** Each interval's full-key rollup, its four per-dimension and its combination rollups (rollups.ts), from the folded rows `f_<interval>` and ttft counts `t_<interval>`. */
function rollupUpserts(interval: UsageInterval): string[] {
  const keyCols = KEY.split(', ');
  return [
    `r_${interval} AS (${upsert(`spend_rollup_${interval}`, keyCols, keyCols, `f_${interval}`, `t_${interval}`)})`,
    ...DIMENSIONS.map((d) => `r_${interval}_${d} AS (${upsert(`spend_rollup_${interval}_${d}`, ['bucket', 'value'], ['bucket', DIMENSION_COLUMN[d]], `f_${interval}`, `t_${interval}`)})`),
    ...COMBINATIONS.map((c) => {
      const cols = ['bucket', ...c.map((d) => DIMENSION_COLUMN[d])];
      return `r_${interval}_${c.join('_')} AS (${upsert(combinationTable(interval, c), cols, cols, `f_${interval}`, `t_${interval}`)})`;
    }),
  ];
}

/**
 * The whole batch as one statement (one transaction, one round trip): the rows, then each
 * interval's rollups over the rows this statement inserted (a row already there adds nothing):
 * the full-key one and one per dimension, all from the same fold of the new rows.
 */
const WRITE_SQL = `WITH src AS (
    SELECT * FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}, $${COLUMNS.length + 1}::int2[], $${COLUMNS.length + 2}::int2[]) AS u(${NAMES}, li, ti)
  ),
  ins AS (
    INSERT INTO spend_requests (${NAMES}) SELECT ${NAMES} FROM src ON CONFLICT DO NOTHING RETURNING time, request_id
  ),
  fresh AS (SELECT src.* FROM src JOIN ins USING (time, request_id)),
  ${INTERVALS.map((i) => `f_${i} AS (${folded(i)}),\n  t_${i} AS (${foldedTtft(i)})`).join(',\n  ')},
  ${INTERVALS.flatMap(rollupUpserts).join(',\n  ')}
  SELECT count(*)::int AS inserted FROM ins`;

/** The statement's parameters: one array per column, then the latency and time-to-first-token indexes. */
function batchParams(rows: SpendRow[]): unknown[] {
  // the rows by field, read field by field (columns.ts), then in the table's order
  const byField = columnsOf(rows);
  const params: unknown[] = COLUMNS.map(([, type], j) => {
    const values = byField[FIELD_AT[j]];
    if (type === 'timestamptz') return values.map((v) => iso(v as number));
    if (type === 'json') return values.map((v) => (v == null ? null : JSON.stringify(v)));
    return values;
  });
  params.push(rows.map((r) => latencyIndex(r.latency_ms)));
  params.push(rows.map(ttftIndex));
  return params;
}

/** A batch without repeats of (time, request_id): the first one counts, as on SQLite. */
function unique(rows: SpendRow[]): SpendRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = `${r.time}\u0000${r.request_id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Days, partitions and cursors

const iso = (ms: number) => new Date(ms).toISOString();
const dayOf = (ms: number) => Math.floor(ms / DAY);
const PARTITION_RE = /^spend_requests_p(\d{4})(\d{2})(\d{2})$/;

function partitionName(day: number): string {
  return `spend_requests_p${iso(day * DAY).slice(0, 10).replace(/-/g, '')}`;
}

function dayOfPartition(name: string): number | null {
  const m = PARTITION_RE.exec(name);
  return m ? dayOf(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
}

/** A cursor that is not one of ours: the client's mistake (the Admin API answers 400 with the message). */
class CursorError extends SpendCursorError {
  readonly statusCode = 400;
}

/** Same format as the SQLite store's: base64url of [time, request_id] where the page ended. */
function encodeCursor(time: number, requestId: string): string {
  return Buffer.from(JSON.stringify([time, requestId])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // below
  }
  throw new CursorError('invalid cursor: pass the next_cursor of a previous page');
}

/**
 * [from, to) as the fewest pieces, each read from the coarsest table that holds it whole: days
 * in the middle, then hours, minutes, and raw rows only for the partial minutes at the ends.
 */
export function coverRange(from: number, to: number, level = INTERVALS.length - 1): { source: UsageInterval | 'raw'; from: number; to: number }[] {
  if (from >= to) return [];
  if (level < 0) return [{ source: 'raw', from, to }];
  const w = INTERVAL_MS[INTERVALS[level]];
  const a = Math.ceil(from / w) * w;
  const b = Math.floor(to / w) * w;
  if (a >= b) return coverRange(from, to, level - 1);
  return [...coverRange(from, a, level - 1), { source: INTERVALS[level], from: a, to: b }, ...coverRange(b, to, level - 1)];
}

// ---------------------------------------------------------------------------------------------
// Reading back

/** The same filters on raw rows: what each rollup dimension is made of. */
const ROW_FILTER: Record<UsageDimension, string> = { consumer: 'consumer_id', route: 'route_id', provider: 'provider', model: 'coalesce(model_served, model_requested)' };
const FILTERS: UsageDimension[] = ['consumer', 'route', 'model', 'provider'];

type DbRow = Record<string, unknown>;

function rowOf(r: DbRow): SpendRow {
  const out = { ...r, time: (r.time as Date).getTime(), cost: r.cost === null ? null : Number(r.cost), saved_cost: r.saved_cost === null ? null : Number(r.saved_cost) };
  return out as unknown as SpendRow;
}

const EMPTY_TOTALS = (): UsageTotals => ({
  requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0,
  total_tokens: 0, cost: 0, unpriced_requests: 0, saved_tokens: 0, saved_cost: 0, latency_p50_ms: null, latency_p95_ms: null, ttft_p50_ms: null, ttft_p95_ms: null,
});

/** `$n` placeholders numbered as values are added. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

// ---------------------------------------------------------------------------------------------

export interface PostgresSpendStoreOptions {
  log?: Logger;
  /** The clock deciding which day is "today" for the partitions made ahead (tests). */
  now?: () => number;
}

export class PostgresSpendStore implements SpendStore {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #log?: Logger;
  readonly #now: () => number;
  /** Days whose partition this node knows exists (made or seen made). */
  readonly #days = new Set<number>();

  /** `config`: the cluster store's (`pgConfig(settings)`): its timeouts make an outage fail fast. */
  constructor(config: pg.PoolConfig, opts: PostgresSpendStoreOptions = {}) {
    this.#pool = new pg.Pool(config);
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    // an idle connection dropped by the server must not crash the primary; the next query reconnects
    this.#pool.on('error', (e) => this.#log?.debug({ err: e.message }, 'idle PostgreSQL connection (spend log) lost'));
  }

  /**
   * Checks the schema is there and makes today's and tomorrow's partitions. Not needed before a
   * write (a write makes its days' partitions), so a database away at start-up only delays it; a
   * schema not migrated yet is an error naming the command to run.
   */
  async open(): Promise<void> {
    const rows = await this.#query<{ ok: boolean }>(
      `SELECT to_regclass('spend_requests') IS NOT NULL AND to_regclass('spend_rollup_day_model') IS NOT NULL
        AND to_regclass('${combinationTable('day', COMBINATIONS[COMBINATIONS.length - 1])}') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('spend_requests') AND attname = 'payload' AND NOT attisdropped)
        AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('spend_rollup_day_model') AND attname = 'ttft_hist' AND NOT attisdropped)
        AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('spend_requests') AND attname = 'saved_cost' AND NOT attisdropped) AS ok`,
    );
    if (!rows[0]?.ok) throw new Error("the spend log's tables are missing or old (migrations 001_spend_log, 002_spend_details_and_combinations): run 'modelgate migrations up'");
    const today = dayOf(this.#now());
    await this.#ensureDays([today, today + 1]);
  }

  async write(rows: SpendRow[]): Promise<void> {
    if (rows.length === 0) return;
    const batch = unique(rows);
    const params = batchParams(batch);
    const days = new Set(batch.map((r) => dayOf(r.time)));
    days.add(dayOf(this.#now()) + 1); // tomorrow's, ahead of its first row
    for (let attempt = 1; ; attempt++) {
      await this.#ensureDays([...days]);
      try {
        await this.#pool.query(WRITE_SQL, params);
        return;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (attempt >= WRITE_ATTEMPTS || (code !== NO_PARTITION && classifyPgError(e) !== 'conflict' && !isStale(e))) throw wrap(e);
        // a day this node thought made was dropped meanwhile (retention on another node): make it again
        if (code === NO_PARTITION) for (const d of days) this.#days.delete(d);
        this.#log?.debug({ err: (e as Error).message, attempt }, 'spend batch not written; running it again');
      }
    }
  }

  /**
   * The rollup of the requested interval: buckets that overlap [from, to), so the answer's
   * `from`/`to` are widened to whole buckets (as on SQLite). Sums and the merged histogram of each
   * point and of the whole range come from one query (GROUPING SETS), cost summed exactly.
   *
   * Which rollup: rollupFor (rollups.ts): the dimension's own table with at most one dimension
   * grouped or filtered on, a combination's with two (or three inside one), else the full key.
   * Every one holds the same sums and histograms, so the answer is the same whichever is read.
   */
  async usage(q: UsageQuery): Promise<UsageAnswer> {
    const width = INTERVAL_MS[q.interval];
    if (!width) throw new TypeError(`invalid interval ${q.interval}`);
    const from = bucketStart(q.from, q.interval);
    const to = Math.max(from, bucketStart(q.to - 1, q.interval) + width);
    for (const d of q.group_by) if (!DIMENSION_COLUMN[d]) bad(`invalid group_by ${d}`);
    const used = new Set<UsageDimension>([...q.group_by, ...FILTERS.filter((f) => q[f] !== undefined)]);
    const source = rollupFor(q.interval, used);
    const p = new Params();
    const where = [`bucket >= ${p.add(iso(from))}`, `bucket < ${p.add(iso(q.to))}`];
    for (const f of FILTERS) if (q[f] !== undefined) where.push(`${source.column(f)} = ${p.add(q[f])}`);
    const by = ['bucket', ...q.group_by.map(source.column)].join(', ');
    // the points first, without merging anything: past the cap the answer is refused, not built
    const [count] = await this.#query<{ n: string }>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${source.table} WHERE ${where.join(' AND ')} GROUP BY ${by} LIMIT ${MAX_SERIES_POINTS + 1}) AS points`, p.values);
    if (Number(count?.n ?? 0) > MAX_SERIES_POINTS) throw new UsageTooLargeError(`the answer would have more than ${MAX_SERIES_POINTS} points: use a coarser interval, a shorter range or fewer group_by dimensions`);
    const sql = `SELECT GROUPING(bucket) = 1 AS is_total, ${by}, ${SUMS.map((c) => `sum(${c}) AS ${c}`).join(', ')},
        ${mergeJson('unnest(array_agg(latency_hist)) AS h(j)')} AS latency_hist,
        ${mergeJson("unnest(array_agg(ttft_hist) FILTER (WHERE ttft_hist <> '{}')) AS h(j)")} AS ttft_hist
      FROM ${source.table} WHERE ${where.join(' AND ')}
      GROUP BY GROUPING SETS ((${by}), ()) ORDER BY is_total, ${by}`;
    const series: UsageSeriesPoint[] = [];
    let totals = EMPTY_TOTALS();
    for (const r of await this.#query<DbRow>(sql, p.values)) {
      if (r.is_total) {
        if (Number(r.requests) > 0) totals = totalsOf(r, (r.latency_hist ?? {}) as LatencyHistogram, (r.ttft_hist ?? {}) as LatencyHistogram);
        continue;
      }
      const group: UsageSeriesPoint['group'] = {};
      for (const d of q.group_by) group[d] = (r[source.column(d)] as string) || null;
      series.push({ start: (r.bucket as Date).toISOString(), group, ...totalsOf(r, (r.latency_hist ?? {}) as LatencyHistogram, (r.ttft_hist ?? {}) as LatencyHistogram) });
    }
    return { from: iso(from), to: iso(to), interval: q.interval, group_by: [...q.group_by], series, totals };
  }

  /** Raw rows newest first; the cursor resumes strictly after (time, request_id), on the primary key. */
  async requests(q: RequestsQuery): Promise<RequestsAnswer> {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
    const p = new Params();
    const where = [`time >= ${p.add(iso(q.from))}`, `time < ${p.add(iso(q.to))}`];
    for (const f of FILTERS) if (q[f] !== undefined) where.push(`${ROW_FILTER[f]} = ${p.add(q[f])}`);
    if (q.status) where.push(`status BETWEEN ${p.add(q.status.min)} AND ${p.add(q.status.max)}`);
    if (q.streamed !== undefined) where.push(`stream = ${p.add(q.streamed)}`);
    if (q.request_id !== undefined) where.push(`request_id = ${p.add(q.request_id)}`);
    if (q.cursor) {
      const [time, id] = decodeCursor(q.cursor);
      where.push(`(time, request_id) < (${p.add(iso(time))}::timestamptz, ${p.add(id)})`);
    }
    const sql = `SELECT ${NAMES} FROM spend_requests WHERE ${where.join(' AND ')} ORDER BY time DESC, request_id DESC LIMIT ${p.add(limit + 1)}`;
    const rows = await this.#query<DbRow>(sql, p.values);
    const data = rows.slice(0, limit).map(rowOf);
    const last = data[data.length - 1];
    return { data, next_cursor: rows.length > limit && last ? encodeCursor(last.time, last.request_id) : null };
  }

  /**
   * A consumer's cost over [from, to): the consumer's day, hour and minute rollups for the whole
   * buckets inside (spend_rollup_<interval>_consumer, index on value, bucket), raw rows (index on consumer_id, time) only for the
   * partial minutes at the ends — a month is a few rows per key and day, not a month of requests.
   */
  async costOf(consumerId: string, from: number, to: number): Promise<number> {
    const pieces = coverRange(from, to);
    if (pieces.length === 0) return 0;
    const p = new Params();
    const consumer = p.add(consumerId);
    const parts = pieces.map((c) =>
      c.source === 'raw'
        ? `(SELECT coalesce(sum(cost), 0) FROM spend_requests WHERE consumer_id = ${consumer} AND time >= ${p.add(iso(c.from))} AND time < ${p.add(iso(c.to))})`
        : `(SELECT coalesce(sum(cost), 0) FROM spend_rollup_${c.source}_consumer WHERE value = ${consumer} AND bucket >= ${p.add(iso(c.from))} AND bucket < ${p.add(iso(c.to))})`,
    );
    const rows = await this.#query<{ cost: string }>(`SELECT ${parts.join(' + ')} AS cost`, p.values);
    return Number(rows[0].cost);
  }

  /**
   * Retention: drops the partitions of the days wholly before `before`, deletes a partial day's
   * rows before it by range, and the rollup buckets that end by then. One transaction (a
   * multi-statement simple query) holding the partition lock, so no node makes a day meanwhile.
   */
  async prune(before: number): Promise<void> {
    if (!Number.isFinite(before)) throw new TypeError('prune: before must be a time in ms');
    const parts = await this.#query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'spend_requests'::regclass`,
    );
    const drop: { name: string; day: number }[] = [];
    for (const { name } of parts) {
      const day = dayOfPartition(name);
      if (day !== null && (day + 1) * DAY <= before) drop.push({ name, day });
    }
    const sql = [
      `SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`,
      ...drop.map((x) => `DROP TABLE IF EXISTS ${x.name}`),
      `DELETE FROM spend_requests WHERE time < '${iso(before)}'`,
      ...INTERVALS.flatMap((i) =>
        rollupTables(i).map((t) => `DELETE FROM ${t} WHERE bucket <= '${iso(before - INTERVAL_MS[i])}'`),
      ),
    ].join(';\n');
    await this.#query(sql);
    for (const x of drop) this.#days.delete(x.day);
    if (drop.length) this.#log?.info({ partitions: drop.map((x) => x.name) }, 'spend log: partitions past the retention dropped');
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /** Makes the partitions of the `days` this node has not seen yet: idempotent, and safe between nodes. */
  async #ensureDays(days: number[]): Promise<void> {
    const missing = days.filter((d) => !this.#days.has(d));
    if (missing.length === 0) return;
    // one implicit transaction: the lock is held until every CREATE is done
    const sql = [
      `SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`,
      ...missing.map((d) => `CREATE TABLE IF NOT EXISTS ${partitionName(d)} PARTITION OF spend_requests FOR VALUES FROM ('${iso(d * DAY)}') TO ('${iso((d + 1) * DAY)}')`),
    ].join(';\n');
    await this.#query(sql);
    for (const d of missing) this.#days.add(d);
  }

  async #query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = (await this.#pool.query<R>(sql, params)) as pg.QueryResult<R> | pg.QueryResult<R>[];
        // a multi-statement query answers one result per statement; the last one's rows are the answer
        return Array.isArray(res) ? res[res.length - 1].rows : res.rows;
      } catch (e) {
        // every idle connection of the pool may be dead (the server restarted, an administrator cut them):
        // each stale one fails fast and is replaced, so try past all of them
        if (attempt > this.#pool.options.max! || !isStale(e)) throw wrap(e);
      }
    }
  }
}

/** Where `/usage` queries find their rollup: rollups.ts (re-exported for the store's tests). */
export { rollupFor };

function bad(message: string): never {
  throw new TypeError(message);
}

/** An outage as the store's typed error (the writer retries it, the Admin API answers 503). */
function wrap(e: unknown): unknown {
  if (e instanceof StoreError || e instanceof SpendCursorError) return e;
  if (classifyPgError(e) === 'unavailable') return new StoreError('unavailable', `PostgreSQL is unavailable (${(e as Error)?.message ?? String(e)})`);
  return e;
}
