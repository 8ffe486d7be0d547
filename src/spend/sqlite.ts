/**
 * The spend log on SQLite (node:sqlite, WAL): single nodes and DB-less nodes. Its own file,
 * `<prefix>/spend.db`, not the configuration database: spend writes arrive all the time and would
 * hold the config database's write lock against Admin API writes, and the config file stays small
 * (backups, `modelgate.db` copies) however much traffic is logged.
 *
 * Tables:
 * - `spend_requests`: one row per request, clustered by (time, request_id) (WITHOUT ROWID: range
 *   scans, newest-first pages and retention deletes walk the primary key), indexed by consumer,
 *   route and model (served, else requested) with time;
 * - `spend_rollup_minute|hour|day`: one row per (bucket start, route, consumer, provider, model)
 *   with the sums `/usage` reports and a latency histogram. Absent values are '' in the key (SQLite
 *   treats NULLs in a key as distinct, which would break the upsert) and null again when read;
 * - `spend_rollup_<interval>_<dimension>` and `_<combination>`: the same sums by fewer key columns
 *   (rollups.ts says which, and which one a query reads).
 *
 * Percentiles: p50/p95 cannot be summed across rollup rows, so each keeps a small histogram of
 * latencies in log-spaced buckets (4 per doubling: each bucket is ~19% wide), as sparse JSON
 * `{"index": count}`. A query merges the histograms of the rows it covers and reads the percentile
 * off the merged one: exact to within one bucket's width. Time to first token has a histogram of its
 * own in the same buckets (`ttft_hist`), counting only streamed requests that have one. A batch's rows are written
 * in its own transaction; the batch is folded in memory (a batch of 500 rows touches a handful of
 * rollup keys), and the folded sums of up to a second of batches are upserted together, each key
 * once (`ROLLUP_FLUSH_MS`; a read of the rollups, a prune and close write them first).
 *
 * Durability: synchronous=NORMAL (WAL): a committed batch survives a crash of the process; a power
 * loss may lose the last batches, which is acceptable for a log (the config database keeps FULL).
 *
 * Pages of 16 KiB (`PAGE_SIZE`, set when the file is made; a file made with SQLite's 4 KiB keeps
 * them): the log is appended to and scanned by range, and WAL writes and checkpoints go a page at
 * a time, so a quarter of the pages is a quarter of those calls (the writer ~8% less CPU a row).
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import fs from 'node:fs';
import path from 'node:path';
import { sqliteValuesWriter } from './columns.ts';
import { SharedColumnSets, insertSql, parameterValues, sharedColumns } from './sqlite-insert.ts';
import { MAX_INDEX, countedPairs, histogramText, mergeHistogramText } from './hist-text.ts';
import { COMBINATIONS, DIMENSIONS, DIMENSION_COLUMN, combinationTable, rollupFor, rollupTables } from './rollups.ts';
import { MAX_SERIES_POINTS, SPEND_ROW_FIELDS, UsageTooLargeError, type RequestsAnswer, type RequestsQuery, type SpendRow, type SpendStore, type UsageAnswer, type UsageDimension, type UsageInterval, type UsageQuery, type UsageTotals } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Time buckets and latency histograms (shared with other stores: pure functions)

export const INTERVAL_MS: Record<UsageInterval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
export const INTERVALS = Object.keys(INTERVAL_MS) as UsageInterval[];

/** Start of the UTC interval that holds `t` (the epoch is UTC-aligned, so flooring is enough). */
export function bucketStart(t: number, interval: UsageInterval): number {
  const ms = INTERVAL_MS[interval];
  return Math.floor(t / ms) * ms;
}

/** Buckets per doubling of latency. */
const PER_DOUBLING = 4;
const LOG_BASE = Math.log(2) / PER_DOUBLING;
/** Highest histogram index: 2^(99/4) ms ≈ 7.6 hours; slower requests share it. */
export const MAX_LATENCY_INDEX = MAX_INDEX;

/** A latency's histogram index: 0 for [0, 1) ms, k ≥ 1 for [2^((k-1)/4), 2^(k/4)) ms. */
export function latencyIndex(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(MAX_LATENCY_INDEX, Math.floor(Math.log(ms) / LOG_BASE) + 1);
}

/** The [low, high) ms range of a histogram index. */
export function latencyRange(index: number): [number, number] {
  if (index <= 0) return [0, 1];
  return [Math.exp((index - 1) * LOG_BASE), Math.exp(index * LOG_BASE)];
}

/** Sparse histogram: index → count. */
export type LatencyHistogram = Record<string, number>;

export function mergeHistogram(into: LatencyHistogram, from: LatencyHistogram): LatencyHistogram {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k];
  return into;
}

/**
 * The p-th percentile (0 < p ≤ 1) of a histogram: the geometric middle of the bucket holding the
 * rank ⌈p·n⌉ (the middle of [0, 1) for the first), so within one bucket's width of the true value.
 */
export function percentileOf(h: LatencyHistogram, p: number): number | null {
  const keys = Object.keys(h)
    .map(Number)
    .sort((a, b) => a - b);
  let n = 0;
  for (const k of keys) n += h[k];
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(p * n));
  let seen = 0;
  for (const k of keys) {
    seen += h[k];
    if (seen >= rank) {
      const [lo, hi] = latencyRange(k);
      return Math.round((k === 0 ? 0.5 : Math.sqrt(lo * hi)) * 100) / 100;
    }
  }
  return null;
}

/**
 * A row's time-to-first-token histogram index, or null when it has none to count: only streamed
 * requests with a `ttft_ms` (a non-streamed answer's first token is its whole latency, already
 * counted there).
 */
export function ttftIndex(r: SpendRow): number | null {
  return r.stream && r.ttft_ms !== null && r.ttft_ms !== undefined ? latencyIndex(r.ttft_ms) : null;
}

/** A rollup query's sums as UsageTotals (database numbers may come back as strings), with the percentiles of its histograms. */
export function totalsOf(r: Record<string, unknown>, hist: LatencyHistogram, ttft: LatencyHistogram): UsageTotals {
  return {
    requests: Number(r.requests),
    errors: Number(r.errors),
    prompt_tokens: Number(r.prompt_tokens),
    completion_tokens: Number(r.completion_tokens),
    cached_tokens: Number(r.cached_tokens),
    cache_write_tokens: Number(r.cache_write_tokens),
    reasoning_tokens: Number(r.reasoning_tokens),
    total_tokens: Number(r.total_tokens),
    cost: Number(r.cost),
    unpriced_requests: Number(r.unpriced_requests),
    saved_tokens: Number(r.saved_tokens ?? 0),
    saved_cost: Number(r.saved_cost ?? 0),
    latency_p50_ms: percentileOf(hist, 0.5),
    latency_p95_ms: percentileOf(hist, 0.95),
    ttft_p50_ms: percentileOf(ttft, 0.5),
    ttft_p95_ms: percentileOf(ttft, 0.95),
  };
}

/** The model a request is counted under: the one that answered, else the one asked for. */
export function modelOf(r: SpendRow): string | null {
  return r.model_served ?? r.model_requested;
}

// ---------------------------------------------------------------------------------------------
// Schema

const COLUMNS = SPEND_ROW_FIELDS;

const BOOLEAN_COLUMNS = ['stream', 'cache_hit', 'estimated'] as const;

/** Columns kept as JSON text, objects again when read (`/usage/requests` answers them parsed). */
const JSON_COLUMNS = ['attempts', 'payload'] as const;
/** A row's insert values, in COLUMNS order (compiled: columns.ts says why). */
const pushSqliteValues = sqliteValuesWriter(JSON_COLUMNS);

/**
 * Columns added after the table was first made, each `ADD COLUMN`ed at open to a file that lacks
 * it (CREATE TABLE IF NOT EXISTS leaves an existing table as it is). Nullable: old rows read null.
 */
const ADDED_COLUMNS: [name: string, type: string][] = [
  ['attempts', 'TEXT'],
  ['payload', 'TEXT'],
  // what a semantic cache hit saved (issue 22)
  ['saved_tokens', 'INTEGER NOT NULL DEFAULT 0'],
  ['saved_cost', 'REAL'],
];

/** Bytes a page of a new spend file (the header comment says why). */
const PAGE_SIZE = 16384;

/**
 * Rows per INSERT statement (29 columns each: well under SQLite's 32,766 parameters): a batch goes
 * in chunks of the largest of these that fits, so statements are made for three row counts only.
 */
const INSERT_SIZES = [100, 10, 1] as const;
/** Sets of shared columns the store makes INSERT statements for, besides none (sqlite-insert.ts). */
const INSERT_SHARED_SETS = 8;

/**
 * How long a batch's folded rollup sums may wait in memory before their upserts: the writer's
 * transactions (one per worker batch, ~500 rows under load) insert their rows at once, and the
 * rollups of all the batches of a second go in one set of upserts. Reads of the rollups
 * (`beforeRead`), prunes and `close` write what waits first.
 */
export const ROLLUP_FLUSH_MS = 1000;
/** Folded sums (keys × intervals) held at most: past it they are written with the next batch whatever their age. */
const ROLLUP_PENDING_MAX = 5000;

/** The token sums a rollup keeps, named as in UsageTotals. */
const TOKEN_SUMS = ['prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens', 'total_tokens'] as const;

/** Raw-row filters → columns (the model index is on the same expression). */
const MODEL_EXPR = 'COALESCE(model_served, model_requested)';
const ROW_FILTER: Record<'consumer' | 'route' | 'model' | 'provider', string> = { consumer: 'consumer_id', route: 'route_id', model: MODEL_EXPR, provider: 'provider' };

/**
 * 3: the combination rollups (rollups.ts), filled from the full-key ones when an older file is
 * opened. (`ttft_hist` needs no version: a rollup table lacking it gets it at open, ADDED_ROLLUP_COLUMNS.)
 * 4: the consumer index is partial (rows with a consumer), made again when an older file is opened.
 */
const SCHEMA_VERSION = 4;

/** A rollup table's histograms: latency, and time to first token (streams only). */
const HISTOGRAMS = ['latency_hist', 'ttft_hist'] as const;

/**
 * Rollup columns added after their tables were first made, like ADDED_COLUMNS. The default is an
 * empty histogram: rollup rows written before had no time to first token counted (the raw rows
 * have one, but their rollups are not recomputed: the minute, hour and day rows of a range would
 * disagree with the raw rows pruned before them).
 */
const ADDED_ROLLUP_COLUMNS: [name: string, type: string][] = [
  ['ttft_hist', "TEXT NOT NULL DEFAULT '{}'"],
  // what semantic cache hits saved (issue 22): 0 for the rows summed before
  ['saved_tokens', 'INTEGER NOT NULL DEFAULT 0'],
  ['saved_cost', 'REAL NOT NULL DEFAULT 0'],
];

/** The columns every rollup row sums, and its histograms. */
const ROLLUP_SUMS = `requests INTEGER NOT NULL, errors INTEGER NOT NULL,
      ${TOKEN_SUMS.map((t) => `${t} INTEGER NOT NULL`).join(', ')},
      cost REAL NOT NULL, unpriced_requests INTEGER NOT NULL, latency_hist TEXT NOT NULL, ttft_hist TEXT NOT NULL DEFAULT '{}',
      saved_tokens INTEGER NOT NULL DEFAULT 0, saved_cost REAL NOT NULL DEFAULT 0`;

function schema(): string {
  const rollups = INTERVALS.map(
    (i) => `CREATE TABLE IF NOT EXISTS spend_rollup_${i} (
      bucket INTEGER NOT NULL, route_id TEXT NOT NULL, consumer_id TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
      ${ROLLUP_SUMS},
      PRIMARY KEY (bucket, route_id, consumer_id, provider, model)
    ) WITHOUT ROWID;
    ${DIMENSIONS.map(
      (d) => `CREATE TABLE IF NOT EXISTS spend_rollup_${i}_${d} (bucket INTEGER NOT NULL, value TEXT NOT NULL, ${ROLLUP_SUMS}, PRIMARY KEY (bucket, value)) WITHOUT ROWID;`,
    ).join('\n')}
    ${COMBINATIONS.map((c) => {
      const cols = c.map((d) => DIMENSION_COLUMN[d]);
      return `CREATE TABLE IF NOT EXISTS ${combinationTable(i, c)} (bucket INTEGER NOT NULL, ${cols.map((k) => `${k} TEXT NOT NULL`).join(', ')}, ${ROLLUP_SUMS}, PRIMARY KEY (bucket, ${cols.join(', ')})) WITHOUT ROWID;`;
    }).join('\n')}`,
  ).join('\n');
  return `
    CREATE TABLE IF NOT EXISTS spend_requests (
      time INTEGER NOT NULL, request_id TEXT NOT NULL, consumer_id TEXT, credential_id TEXT, route_id TEXT, service_id TEXT,
      plugin_id TEXT, client_api TEXT, provider TEXT, model_requested TEXT, model_served TEXT, status INTEGER NOT NULL,
      prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
      cache_write_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL, cost REAL,
      latency_ms REAL NOT NULL, ttft_ms REAL, stream INTEGER NOT NULL, cache_hit INTEGER NOT NULL, estimated INTEGER NOT NULL,
      error_class TEXT, attempts TEXT, payload TEXT,
      PRIMARY KEY (time, request_id)
    ) WITHOUT ROWID;
    -- partial: a gateway without authentication logs no consumer, and each index entry is ~2 µs of
    -- the writer's CPU per row; a lookup by consumer_id = ? implies the condition, so it still uses the index
    CREATE INDEX IF NOT EXISTS spend_requests_consumer ON spend_requests (consumer_id, time, request_id) WHERE consumer_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS spend_requests_route ON spend_requests (route_id, time, request_id);
    CREATE INDEX IF NOT EXISTS spend_requests_model ON spend_requests (${MODEL_EXPR}, time, request_id);
    ${rollups}
    PRAGMA user_version = ${SCHEMA_VERSION};`;
}

// ---------------------------------------------------------------------------------------------
// Rollup folding

/** The counted columns of a rollup row (its histogram aside). */
const SUMMED = ['requests', 'errors', ...TOKEN_SUMS, 'cost', 'unpriced_requests', 'saved_tokens', 'saved_cost'] as const;

/** One rollup row being folded: its key, the sums `/usage` reports, and the histograms its percentiles come from. */
interface RollupSums extends Omit<UsageTotals, 'latency_p50_ms' | 'latency_p95_ms' | 'ttft_p50_ms' | 'ttft_p95_ms'> {
  bucket: number;
  route_id: string;
  consumer_id: string;
  provider: string;
  model: string;
  /**
   * The latency and time-to-first-token histograms: each row's bucket index while a batch is
   * folded by full key, then (index, count) pairs (hist-text.ts countedPairs; written as stored by
   * histogramText). Adding objects' keys was a tenth of the writer with spread traffic.
   */
  hist: number[];
  ttft: number[];
}

/** A rollup row's key values by dimension. */
const KEY_OF: Record<UsageDimension, (s: RollupSums) => string> = { route: (s) => s.route_id, consumer: (s) => s.consumer_id, provider: (s) => s.provider, model: (s) => s.model };

/** Sums folded for one rollup table: its key values (after the bucket), in its key columns' order. */
type Folded = RollupSums & { keys: string[] };

/**
 * The full-key sums folded again by some of the dimensions: one alone (a per-dimension rollup) or
 * a combination. All the dimensions: the full key itself, one entry per key.
 */
function foldBy(sums: Map<string, RollupSums>, dims: readonly UsageDimension[]): Folded[] {
  const out = new Map<string, Folded>();
  for (const s of sums.values()) {
    const keys = dims.map((d) => KEY_OF[d](s));
    const key = `${s.bucket}\u0000${keys.join('\u0000')}`;
    let t = out.get(key) as Folded | undefined;
    if (!t) out.set(key, (t = newSums(s.bucket, s.route_id, s.consumer_id, s.provider, s.model, keys) as Folded));
    addFolded(t, s);
  }
  return [...out.values()];
}

/** Every rollup table of an interval, with its key columns and the dimensions they hold. */
function rollupShapes(interval: UsageInterval): { table: string; columns: string[]; dims: readonly UsageDimension[] }[] {
  return [
    { table: `spend_rollup_${interval}`, columns: DIMENSIONS.map((d) => DIMENSION_COLUMN[d]), dims: DIMENSIONS },
    ...DIMENSIONS.map((d) => ({ table: `spend_rollup_${interval}_${d}`, columns: ['value'], dims: [d] })),
    ...COMBINATIONS.map((c) => ({ table: combinationTable(interval, c), columns: c.map((d) => DIMENSION_COLUMN[d]), dims: c })),
  ];
}

/**
 * A rollup row's sums, all zero. Every one is made here, so they share one shape (a spread copy
 * made another, and the folds' property accesses saw both).
 */
function newSums(bucket: number, route_id: string, consumer_id: string, provider: string, model: string, keys: string[] | null): RollupSums & { keys: string[] | null } {
  return {
    bucket, route_id, consumer_id, provider, model, requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0,
    cache_write_tokens: 0, reasoning_tokens: 0, total_tokens: 0, cost: 0, unpriced_requests: 0, saved_tokens: 0, saved_cost: 0, hist: [], ttft: [], keys,
  };
}

/** t's token counts plus s's: a rollup's or a row's, whose six counts have the same names. */
function addTokens(t: RollupSums, s: Pick<RollupSums, (typeof TOKEN_SUMS)[number]>): void {
  t.prompt_tokens += s.prompt_tokens;
  t.completion_tokens += s.completion_tokens;
  t.cached_tokens += s.cached_tokens;
  t.cache_write_tokens += s.cache_write_tokens;
  t.reasoning_tokens += s.reasoning_tokens;
  t.total_tokens += s.total_tokens;
}

/** t's sums and histogram pairs plus s's: folded sums of the same key (or of a key t's rollup folds together). */
function addFolded(t: RollupSums, s: RollupSums): void {
  addSums(t, s);
  for (let i = 0; i < s.hist.length; i++) t.hist.push(s.hist[i]);
  for (let i = 0; i < s.ttft.length; i++) t.ttft.push(s.ttft[i]);
}

/** t's sums plus s's (the histograms apart). Written out: a loop over the column names was keyed access per column. */
function addSums(t: RollupSums, s: RollupSums): void {
  t.requests += s.requests;
  t.errors += s.errors;
  addTokens(t, s);
  t.cost += s.cost;
  t.unpriced_requests += s.unpriced_requests;
  t.saved_tokens += s.saved_tokens;
  t.saved_cost += s.saved_cost;
}

/** A row's contribution to its rollup's sums (the histograms apart), written out as addSums is. */
function addRow(s: RollupSums, r: SpendRow): void {
  s.requests++;
  if (r.error_class !== null) s.errors++;
  addTokens(s, r);
  if (r.cost === null) s.unpriced_requests++;
  else s.cost += r.cost;
  s.saved_tokens += r.saved_tokens ?? 0;
  s.saved_cost += r.saved_cost ?? 0;
}

// addSums and addRow are written out (a loop over column names reads and writes each through
// V8's megamorphic keyed path): a column added to SUMMED or TOKEN_SUMS and not there would go
// unsummed, so say it at load
{
  const t = newSums(0, '', '', '', '', null);
  const one = newSums(0, '', '', '', '', null);
  for (const c of SUMMED) one[c] = 1;
  addSums(t, one);
  const missed = SUMMED.filter((c) => t[c] !== 1);
  if (missed.length) throw new Error(`spend rollups: addSums does not add ${missed.join(', ')}`);
  const row = { error_class: null, cost: 1, saved_tokens: 1, saved_cost: 1 } as Record<string, unknown>;
  for (const c of TOKEN_SUMS) row[c] = 1;
  const fromRow = newSums(0, '', '', '', '', null);
  addRow(fromRow, row as unknown as SpendRow);
  const unadded = SUMMED.filter((c) => fromRow[c] !== (c === 'errors' || c === 'unpriced_requests' ? 0 : 1));
  if (unadded.length) throw new Error(`spend rollups: addRow does not add ${unadded.join(', ')}`);
}

/** A batch folded per interval and rollup key. */
function foldRollups(rows: SpendRow[]): Map<UsageInterval, Map<string, RollupSums>> {
  const maps = INTERVALS.map(() => new Map<string, RollupSums>());
  // the previous row's key and sums per interval: consecutive rows of one key and minute (a busy
  // route) reuse them without building and hashing a key string per interval
  let route = '';
  let consumer = '';
  let provider = '';
  let model = '';
  // the key's dimensions, made when they change, the bucket in front per interval
  let dims = '\u0000\u0000\u0000';
  const lastBucket = INTERVALS.map(() => NaN);
  const lastSums: (RollupSums | null)[] = INTERVALS.map(() => null);
  for (const r of rows) {
    const rRoute = r.route_id ?? '';
    const rConsumer = r.consumer_id ?? '';
    const rProvider = r.provider ?? '';
    const rModel = modelOf(r) ?? '';
    const sameKey = rRoute === route && rConsumer === consumer && rProvider === provider && rModel === model;
    if (!sameKey) {
      route = rRoute;
      consumer = rConsumer;
      provider = rProvider;
      model = rModel;
      dims = `${route}\u0000${consumer}\u0000${provider}\u0000${model}`;
    }
    const li = latencyIndex(r.latency_ms);
    const ti = ttftIndex(r);
    for (let k = 0; k < INTERVALS.length; k++) {
      const bucket = bucketStart(r.time, INTERVALS[k]);
      let s = sameKey && bucket === lastBucket[k] ? lastSums[k] : null;
      if (s === null) {
        const key = `${bucket}\u0000${dims}`;
        const map = maps[k];
        s = map.get(key) ?? null;
        if (s === null) map.set(key, (s = newSums(bucket, route, consumer, provider, model, null)));
        lastBucket[k] = bucket;
        lastSums[k] = s;
      }
      addRow(s, r);
      s.hist.push(li);
      if (ti !== null) s.ttft.push(ti);
    }
  }
  for (const map of maps) {
    for (const s of map.values()) {
      s.hist = countedPairs(s.hist);
      s.ttft = countedPairs(s.ttft);
    }
  }
  return new Map(INTERVALS.map((i, k) => [i, maps[k]]));
}

/** Adds a batch's folded sums into `into` (the sums waiting for their upserts): same key, sums added and histogram pairs appended. */
function mergeFolded(into: Map<UsageInterval, Map<string, RollupSums>>, batch: Map<UsageInterval, Map<string, RollupSums>>): void {
  for (const [interval, sums] of batch) {
    let map = into.get(interval);
    if (!map) into.set(interval, (map = new Map()));
    for (const [key, s] of sums) {
      const t = map.get(key);
      if (t) addFolded(t, s);
      else map.set(key, s);
    }
  }
}

function foldedCount(folded: Map<UsageInterval, Map<string, RollupSums>>): number {
  let n = 0;
  for (const sums of folded.values()) n += sums.size;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Cursor: where a page ended, opaque to clients

function encodeCursor(time: number, id: string): string {
  return Buffer.from(JSON.stringify([time, id])).toString('base64url');
}

export class SpendCursorError extends Error {}

/** A plain chunk insert found some of its rows there already: the batch goes in again answering keys (`write`). */
class RowsThereAlready extends Error {}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // below
  }
  throw new SpendCursorError('invalid cursor');
}

// ---------------------------------------------------------------------------------------------

type SqlValue = string | number | null;

const EMPTY_TOTALS = (): UsageTotals => ({
  requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0,
  total_tokens: 0, cost: 0, unpriced_requests: 0, saved_tokens: 0, saved_cost: 0, latency_p50_ms: null, latency_p95_ms: null, ttft_p50_ms: null, ttft_p95_ms: null,
});

/** Rows deleted per statement by `prune`, so a large backlog does not hold the event loop in one go. */
const PRUNE_CHUNK_MS = 3_600_000;

export class SqliteSpendStore implements SpendStore {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();
  /** `#insertRows`' statements by shape (sqlite-insert.ts): row count, shared columns, whether they answer the keys inserted. */
  readonly #inserts = new Map<number, StatementSync>();
  readonly #sharedSets = new SharedColumnSets(INSERT_SHARED_SETS);
  /** `#upsert`'s statements by rollup table. */
  readonly #upserts = new Map<string, StatementSync>();
  /** Rollup sums of committed rows, not yet upserted (ROLLUP_FLUSH_MS), and since when. */
  #pending = new Map<UsageInterval, Map<string, RollupSums>>();
  #pendingCount = 0;
  #pendingSince = 0;
  #flushTimer: NodeJS.Timeout | null = null;

  /** `readOnly`: a reader beside the writer (the query thread, sqlite-reads.ts): no schema work, WAL lets it read while the writer writes. */
  constructor(file: string, opts: { readOnly?: boolean } = {}) {
    this.file = file;
    if (opts.readOnly) {
      this.#db = new DatabaseSync(file, { readOnly: true });
      this.#db.exec('PRAGMA busy_timeout = 5000;');
      return;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.#db = new DatabaseSync(file);
    // page_size first: it only applies to a file with nothing in it yet, and switching to WAL writes its header.
    // temp_store: a statement's journal (the pages it changes that the transaction had changed before,
    // kept to undo the statement alone) stays in memory; past 64 KiB it went to a temporary file, made,
    // written and unlinked in every batch's transaction (half the writer's pwrite calls)
    this.#db.exec(`PRAGMA page_size = ${PAGE_SIZE}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;`);
    // as text when it is JSON.stringify's (always, unless another writer made it): no objects made
    this.#db.function('merge_hist', { deterministic: true }, (a, b) =>
      mergeHistogramText(a as string, b as string) ?? JSON.stringify(mergeHistogram(JSON.parse(a as string) as LatencyHistogram, JSON.parse(b as string) as LatencyHistogram)),
    );
    // one transaction: a file is at the new version with its tables filled, or as it was
    try {
      this.#transaction(() => {
        const { user_version: version } = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
        if (version > 0 && version < 4) this.#db.exec('DROP INDEX IF EXISTS spend_requests_consumer'); // made again, partial
        this.#db.exec(schema());
        this.#addColumns();
        if (version > 0 && version < 3) for (const interval of INTERVALS) for (const c of COMBINATIONS) this.#fillCombination(interval, c);
      });
    } catch (e) {
      this.#db.close();
      throw e;
    }
  }

  /** `fn` inside BEGIN IMMEDIATE … COMMIT, rolled back if it throws; its result. */
  #transaction<T>(fn: () => T): T {
    const db = this.#db;
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (e) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * A combination rollup made for a file that already has traffic: its rows folded from the
   * full-key rollup's (the sums added, each histogram merged index by index), as the writes
   * would have made them.
   */
  #fillCombination(interval: UsageInterval, c: readonly UsageDimension[]): void {
    const full = `spend_rollup_${interval}`;
    const key = ['bucket', ...c.map((d) => DIMENSION_COLUMN[d])].join(', ');
    // a histogram merged per key; a key whose histograms are all empty (no stream: ttft) has no row here, hence LEFT JOINs
    const merged = (col: string) => `SELECT ${key}, json_group_object(k, n) AS hist
        FROM (SELECT ${key}, j.key AS k, SUM(j.value) AS n FROM ${full}, json_each(${full}.${col}) AS j GROUP BY ${key}, j.key)
        GROUP BY ${key}`;
    this.#db.exec(`DELETE FROM ${combinationTable(interval, c)}`); // a file an older version wrote to after a newer one
    this.#db.exec(`INSERT INTO ${combinationTable(interval, c)} (${key}, ${SUMMED.join(', ')}, ${HISTOGRAMS.join(', ')})
      SELECT ${key}, ${SUMMED.join(', ')}, ${HISTOGRAMS.map((h) => `coalesce(${h}.hist, '{}')`).join(', ')}
      FROM (SELECT ${key}, ${SUMMED.map((x) => `SUM(${x}) AS ${x}`).join(', ')} FROM ${full} GROUP BY ${key}) AS s
      ${HISTOGRAMS.map((h) => `LEFT JOIN (${merged(h)}) AS ${h} USING (${key})`).join('\n      ')}`);
  }

  /** Brings a file made by an older version up to today's columns: idempotent, once per open. */
  #addColumns(): void {
    const columnsOf = (table: string) => new Set((this.#db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
    const have = columnsOf('spend_requests');
    for (const [name, type] of ADDED_COLUMNS) if (!have.has(name)) this.#db.exec(`ALTER TABLE spend_requests ADD COLUMN ${name} ${type}`);
    for (const interval of INTERVALS) {
      for (const table of rollupTables(interval)) {
        const cols = columnsOf(table);
        for (const [name, type] of ADDED_ROLLUP_COLUMNS) if (!cols.has(name)) this.#db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
      }
    }
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /**
   * A multi-row INSERT for `n` rows (one of INSERT_SIZES) whose `shared` columns hold one value
   * (sqlite-insert.ts): plain (`keys` false), or answering the keys it inserted. One statement per
   * chunk: the per-statement cost dominated. Cached by shape, not by SQL text: the text of 100 rows
   * is ~6 KB, built and hashed again on every lookup. Never dropped: at most three sizes × nine
   * sets of shared columns × two.
   */
  #insertRows(n: number, shared: number, keys: boolean): StatementSync {
    const shape = (shared * (INSERT_SIZES[0] + 1) + n) * 2 + (keys ? 1 : 0);
    let s = this.#inserts.get(shape);
    if (!s) {
      s = this.#db.prepare(insertSql('spend_requests', COLUMNS, ['time', 'request_id'], n, shared, keys ? ['time', 'request_id'] : undefined));
      this.#inserts.set(shape, s);
    }
    return s;
  }

  /**
   * Inserts a chunk of rows. Plain (`fresh` null): throws RowsThereAlready when it inserted fewer
   * rows than it holds, and the batch's transaction, rolled back, runs again answering keys.
   * Answering keys: adds the rows that were not there to `fresh`. A batch is written once, so
   * nearly always plain: `RETURNING` on every chunk cost 2-3 µs per row (docs/performance.md), and
   * a savepoint per chunk to undo only that chunk made SQLite copy every page it touched into a
   * statement journal (a temporary file past 64 KiB).
   */
  #insertChunk(chunk: SpendRow[], fresh: SpendRow[] | null): void {
    const flat: SqlValue[] = [];
    for (let i = 0; i < chunk.length; i++) pushSqliteValues(chunk[i], flat);
    // one row shares nothing with another: its statement binds every value whatever the set
    const shared = chunk.length === 1 ? 0 : this.#sharedSets.choose(sharedColumns(flat, COLUMNS.length));
    const values = parameterValues(flat, COLUMNS.length, shared) as SqlValue[];
    if (fresh === null) {
      if (Number(this.#insertRows(chunk.length, shared, false).run(...values).changes) !== chunk.length) throw new RowsThereAlready();
      return;
    }
    const inserted = this.#insertRows(chunk.length, shared, true).all(...values) as { time: number; request_id: string }[];
    const keys = new Set(inserted.map((k) => `${k.time}\u0000${k.request_id}`));
    // each inserted key once: a row repeated within the chunk was inserted once
    for (const r of chunk) if (keys.delete(`${r.time}\u0000${r.request_id}`)) fresh.push(r);
  }

  /**
   * One transaction: the rows, then the rollup sums of the rows that were new, held in memory
   * (`#pending`) until ROLLUP_FLUSH_MS after the oldest, then upserted with the transaction of the
   * batch that finds them due (or by the timer, a read, or close). A rollup upsert and its
   * histogram merge cost as much for a few rows as for thousands: with the bench's traffic they
   * were ~1.1–1.9 µs a row in 500-row transactions (docs/performance.md, "Spend log"). What a
   * failed transaction folded never joins `#pending`, and `#pending` is cleared only once its
   * upserts committed, so every row counts once. A crash loses the rollups of at most the last
   * second's rows (their rows are written); a clean stop writes them.
   *
   * A row already there (a batch written twice) counts once: only new rows reach the rollups. The
   * rows go in plain first; a chunk that finds some of its rows there rolls the transaction back,
   * and it runs again answering the keys it inserted.
   */
  async write(rows: SpendRow[]): Promise<void> {
    if (rows.length === 0) return;
    /** The batch's rows in chunks of INSERT_SIZES: plain (`fresh` null), or answering keys into `fresh`. */
    const insert = (fresh: SpendRow[] | null): void => {
      for (let i = 0, n = 0; i < rows.length; i += n) {
        n = INSERT_SIZES.find((size) => size <= rows.length - i)!;
        this.#insertChunk(rows.slice(i, i + n), fresh);
      }
    };
    let written: { folded: Map<UsageInterval, Map<string, RollupSums>>; flushed: boolean };
    try {
      written = this.#transaction(() => {
        insert(null);
        return this.#foldAndUpsert(rows);
      });
    } catch (e) {
      if (!(e instanceof RowsThereAlready)) throw e;
      written = this.#transaction(() => {
        const fresh: SpendRow[] = [];
        insert(fresh);
        return this.#foldAndUpsert(fresh);
      });
    }
    if (written.flushed) this.#clearPending();
    else this.#hold(written.folded);
  }

  /** A batch's new rows folded; with the sums held, upserted when they are due. */
  #foldAndUpsert(fresh: SpendRow[]): { folded: Map<UsageInterval, Map<string, RollupSums>>; flushed: boolean } {
    const folded = foldRollups(fresh);
    const due = this.#pendingCount > 0 && (performance.now() - this.#pendingSince >= ROLLUP_FLUSH_MS || this.#pendingCount + foldedCount(folded) > ROLLUP_PENDING_MAX);
    if (due) {
      this.#upsertFolded(this.#pending);
      this.#upsertFolded(folded);
    }
    return { folded, flushed: due };
  }

  /** Writes the rollup sums that wait (a read of the rollups, close, the timer); a no-op when none do. */
  flushRollups(): void {
    if (this.#pendingCount === 0 || !this.#db.isOpen) return;
    this.#transaction(() => this.#upsertFolded(this.#pending));
    this.#clearPending();
  }

  /**
   * Before a read of the rollups (`usage` here, or the query thread's: sqlite-reads.ts): what waits
   * goes in; if it cannot, the read answers without it, and it stays for later.
   */
  beforeRead(): void {
    try {
      this.flushRollups();
    } catch {
      this.#armFlush();
    }
  }

  #upsertFolded(folded: Map<UsageInterval, Map<string, RollupSums>>): void {
    for (const [interval, sums] of folded) {
      if (sums.size === 0) continue;
      for (const shape of rollupShapes(interval)) this.#upsert(shape.table, shape.columns, foldBy(sums, shape.dims));
    }
  }

  #hold(folded: Map<UsageInterval, Map<string, RollupSums>>): void {
    const n = foldedCount(folded);
    if (n === 0) return;
    if (this.#pendingCount === 0) this.#pendingSince = performance.now();
    mergeFolded(this.#pending, folded);
    this.#pendingCount = foldedCount(this.#pending);
    this.#armFlush();
  }

  /** A quiet node's last sums go in without waiting for another batch. */
  #armFlush(): void {
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = null;
      try {
        this.flushRollups();
      } catch {
        // the file is away (the writer reports its own failures): the sums stay, tried again
        this.#armFlush();
      }
    }, ROLLUP_FLUSH_MS).unref();
  }

  #clearPending(): void {
    this.#pending = new Map();
    this.#pendingCount = 0;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
  }

  /**
   * One rollup table's upsert, keyed by (bucket, ...columns): one statement per key, sums added in
   * SQL, histograms merged by `merge_hist` (JS, registered on the connection) only when the key is
   * there already. A read of the row before each upsert was a third of the writer's rollup time.
   * The time-to-first-token histogram is merged only when the batch has one for the key (no
   * stream, no call into JS).
   */
  #upsert(table: string, columns: readonly string[], sums: Folded[]): void {
    // by table name: the statement's text (~700 characters) was built and hashed on every batch
    let upsert = this.#upserts.get(table);
    if (!upsert) {
      const key = ['bucket', ...columns];
      upsert = this.#db.prepare(
        `INSERT INTO ${table} (${key.join(', ')}, ${SUMMED.join(', ')}, latency_hist, ttft_hist)
         VALUES (${key.map(() => '?').join(', ')}, ${SUMMED.map(() => '?').join(', ')}, ?, ?)
         ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${SUMMED.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}, latency_hist = merge_hist(latency_hist, excluded.latency_hist),
           ttft_hist = CASE WHEN excluded.ttft_hist = '{}' THEN ttft_hist WHEN ttft_hist = '{}' THEN excluded.ttft_hist ELSE merge_hist(ttft_hist, excluded.ttft_hist) END`,
      );
      this.#upserts.set(table, upsert);
    }
    for (const s of sums) upsert.run(s.bucket, ...s.keys, ...SUMMED.map((c) => s[c]), histogramText(s.hist), histogramText(s.ttft));
  }

  async usage(q: UsageQuery): Promise<UsageAnswer> {
    this.beforeRead();
    const from = bucketStart(q.from, q.interval);
    const to = Math.max(from, bucketStart(q.to - 1, q.interval) + INTERVAL_MS[q.interval]);
    // the dimensions the query touches: at most one → that dimension's own rollup, far fewer rows
    // the smallest rollup holding every dimension the query touches (rollups.ts): far fewer rows than the full key
    const filtered = (['consumer', 'route', 'model', 'provider'] as const).filter((f) => q[f] !== undefined);
    const { table, column } = rollupFor(q.interval, new Set<UsageDimension>([...q.group_by, ...filtered]));
    const groupCols = q.group_by.map(column);
    const where = ['bucket >= ?', 'bucket < ?'];
    const params: SqlValue[] = [from, q.to];
    for (const f of filtered) {
      where.push(`${column(f)} = ?`);
      params.push(q[f] as string);
    }
    const by = ['bucket', ...groupCols];
    // the points first, without merging anything: past the cap the answer is refused, not built
    const points = this.#stmt(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${table} WHERE ${where.join(' AND ')} GROUP BY ${by.join(', ')} LIMIT ${MAX_SERIES_POINTS + 1})`).get(...params) as { n: number };
    if (points.n > MAX_SERIES_POINTS) throw new UsageTooLargeError(`the answer would have more than ${MAX_SERIES_POINTS} points: use a coarser interval, a shorter range or fewer group_by dimensions`);
    const sql = `SELECT ${by.join(', ')}, SUM(requests) AS requests, SUM(errors) AS errors,
        ${TOKEN_SUMS.map((t) => `SUM(${t}) AS ${t}`).join(', ')}, SUM(cost) AS cost, SUM(unpriced_requests) AS unpriced_requests,
        SUM(saved_tokens) AS saved_tokens, SUM(saved_cost) AS saved_cost,
        json_group_array(json(latency_hist)) AS hists,
        json_group_array(json(ttft_hist)) FILTER (WHERE ttft_hist <> '{}') AS ttfts
      FROM ${table} WHERE ${where.join(' AND ')}
      GROUP BY ${by.join(', ')} ORDER BY ${by.join(', ')}`;
    const rows = this.#stmt(sql).all(...params) as Record<string, SqlValue>[];
    const totals = EMPTY_TOTALS();
    const all: LatencyHistogram = {};
    const allTtft: LatencyHistogram = {};
    const series = rows.map((r) => {
      const hist: LatencyHistogram = {};
      for (const h of JSON.parse(r.hists as string) as LatencyHistogram[]) mergeHistogram(hist, h);
      mergeHistogram(all, hist);
      const ttft: LatencyHistogram = {};
      for (const h of JSON.parse(r.ttfts as string) as LatencyHistogram[]) mergeHistogram(ttft, h);
      mergeHistogram(allTtft, ttft);
      const group: Partial<Record<UsageDimension, string | null>> = {};
      q.group_by.forEach((d, i) => {
        const v = r[groupCols[i]] as string;
        group[d] = v === '' ? null : v;
      });
      const point = { start: new Date(r.bucket as number).toISOString(), group, ...totalsOf(r, hist, ttft) };
      for (const k of SUMMED) totals[k] += point[k];
      return point;
    });
    totals.latency_p50_ms = percentileOf(all, 0.5);
    totals.latency_p95_ms = percentileOf(all, 0.95);
    totals.ttft_p50_ms = percentileOf(allTtft, 0.5);
    totals.ttft_p95_ms = percentileOf(allTtft, 0.95);
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), interval: q.interval, group_by: [...q.group_by], series, totals };
  }

  async requests(q: RequestsQuery): Promise<RequestsAnswer> {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
    const where = ['time >= ?', 'time < ?'];
    const params: SqlValue[] = [q.from, q.to];
    for (const f of ['consumer', 'route', 'model', 'provider'] as const) {
      const v = q[f];
      if (v === undefined) continue;
      where.push(`${ROW_FILTER[f]} = ?`);
      params.push(v);
    }
    if (q.status) {
      where.push('status BETWEEN ? AND ?');
      params.push(q.status.min, q.status.max);
    }
    if (q.streamed !== undefined) {
      where.push('stream = ?');
      params.push(q.streamed ? 1 : 0);
    }
    if (q.request_id !== undefined) {
      where.push('request_id = ?');
      params.push(q.request_id);
    }
    if (q.cursor) {
      const [time, id] = decodeCursor(q.cursor);
      where.push('(time < ? OR (time = ? AND request_id < ?))');
      params.push(time, time, id);
    }
    const sql = `SELECT ${COLUMNS.join(', ')} FROM spend_requests WHERE ${where.join(' AND ')} ORDER BY time DESC, request_id DESC LIMIT ?`;
    const rows = this.#stmt(sql).all(...params, limit + 1) as Record<string, SqlValue>[];
    const more = rows.length > limit;
    const data = rows.slice(0, limit).map(rowOf);
    const last = data[data.length - 1];
    return { data, next_cursor: more && last ? encodeCursor(last.time, last.request_id) : null };
  }

  async costOf(consumerId: string, from: number, to: number): Promise<number> {
    const r = this.#stmt('SELECT TOTAL(cost) AS cost FROM spend_requests WHERE consumer_id = ? AND time >= ? AND time < ?').get(consumerId, from, to) as { cost: number };
    return r.cost;
  }

  /**
   * Rows older than `before`, and rollup rows whose whole interval is older. Deleted an hour of
   * rows per statement, yielding between them: a long backlog never holds the primary in one go.
   */
  async prune(before: number): Promise<void> {
    // sums still held are of rows written before the cut is made: in first, then pruned with the rest
    this.flushRollups();
    for (;;) {
      const oldest = this.#stmt('SELECT MIN(time) AS t FROM spend_requests').get() as { t: number | null };
      if (oldest.t === null || oldest.t >= before) break;
      this.#stmt('DELETE FROM spend_requests WHERE time < ?').run(Math.min(before, oldest.t + PRUNE_CHUNK_MS));
      await new Promise((r) => setImmediate(r));
    }
    for (const interval of INTERVALS) {
      for (const table of rollupTables(interval)) {
        this.#stmt(`DELETE FROM ${table} WHERE bucket <= ?`).run(before - INTERVAL_MS[interval]);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) {
      try {
        this.flushRollups();
      } finally {
        this.#clearPending();
        this.#db.close();
      }
    }
  }
}

function rowOf(r: Record<string, SqlValue>): SpendRow {
  const out = { ...r } as Record<string, unknown>;
  for (const b of BOOLEAN_COLUMNS) out[b] = r[b] === 1;
  for (const j of JSON_COLUMNS) out[j] = typeof r[j] === 'string' ? JSON.parse(r[j]) : null;
  return out as unknown as SpendRow;
}
