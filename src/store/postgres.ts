/**
 * The cluster store: every node of a cluster points at the same PostgreSQL database. Same tables
 * and semantics as the SQLite store (unique and foreign keys enforced by the database, Kong's
 * cascades), with what many nodes need on top:
 * - every write runs in one transaction that also bumps `meta.config_version` and NOTIFYs the
 *   new version, so a listener never hears of a version before its data is committed;
 * - a lost or slow database fails fast as `StoreError('unavailable')` (connect, statement and
 *   client-side query timeouts), which the Admin API answers with 503 while proxies keep serving;
 * - the schema is created and upgraded by versioned migrations under an advisory lock, so nodes
 *   starting together on an empty database do not race.
 * Only parameterised queries; table and column names come from our own tables (never input).
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { ENTITY_ORDER, TABLES, foreignId } from './tables.ts';
import { StoreError, type ConfigData, type EntityName, type PageQuery, type Row, type Store } from './types.ts';
import { PG_MIGRATIONS, type Migration } from './migrations.ts';
import { classifyPgError } from './pg-errors.ts';
import type { Settings } from '../settings.ts';

/** The channel every write NOTIFYs with the new configuration version. */
export const CHANGE_CHANNEL = 'modelgate_config';

/** Serialises migrations between nodes (an arbitrary constant: "mg" + 1). */
const MIGRATION_LOCK = 0x6d6701;

/** Rows per INSERT statement when loading a whole configuration (PostgreSQL allows 65535 parameters). */
const BATCH_ROWS = 500;

const ENTITY_SET = new Set<string>(ENTITY_ORDER);
const COLUMN_RE = /^[a-z_]+$/;

function assertEntity(entity: string): asserts entity is EntityName {
  if (!ENTITY_SET.has(entity)) throw new Error(`unknown entity ${entity}`);
}

function assertColumn(column: string): void {
  if (!COLUMN_RE.test(column)) throw new Error(`bad column ${column}`);
}

/** Connection settings from MODELGATE_PG_* (a URL wins over the separate fields). */
export function pgConfig(s: Settings): pg.PoolConfig {
  const base: pg.PoolConfig = s.pg_url
    ? { connectionString: s.pg_url }
    : { host: s.pg_host, port: s.pg_port, user: s.pg_user, password: s.pg_password ?? undefined, database: s.pg_database };
  return withTimeouts(base, s.pg_timeout_ms, s.pg_pool_size);
}

/** Timeouts that make an outage fail in seconds instead of hanging on TCP for minutes. */
export function withTimeouts(config: pg.PoolConfig, timeoutMs: number, poolSize = 10): pg.PoolConfig {
  return {
    application_name: 'modelgate',
    max: poolSize,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    // the server cancels slow statements; this client-side limit covers a silent network
    query_timeout: timeoutMs + 1000,
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...config,
  };
}

/** Errors meaning "the database cannot be reached or is refusing work", not "your input is wrong" (pg-errors.ts). */
export function isUnavailable(e: unknown): boolean {
  return classifyPgError(e) === 'unavailable';
}

/** How often a transaction that lost a serialization conflict or a deadlock is run in all. */
const TX_ATTEMPTS = 3;

const unavailable = (e: unknown) => new StoreError('unavailable', `PostgreSQL is unavailable (${(e as Error)?.message ?? String(e)})`);

/** Maps constraint failures and outages to the store's typed errors (the DAO turns them into Kong's). */
function translateError(e: unknown, entity: EntityName, row: Row): unknown {
  if (e instanceof StoreError) return e;
  const err = e as { code?: string; detail?: string; message?: string };
  if (err?.code === '23505') {
    // detail: Key (name)=(ai-proxy) already exists.
    const m = /Key \((\w+)\)=\((.*)\) already exists/.exec(err.detail ?? '');
    const column = m?.[1] ?? 'id';
    return new StoreError('unique', err.message ?? 'unique violation', { entity, column, value: column === 'cache_key' ? row : (m?.[2] ?? row[column]) });
  }
  if (err?.code === '23503') return new StoreError('referenced', err.message ?? 'foreign key violation', { entity });
  // a conflict still there after TX_ATTEMPTS runs: the database is too busy for this write now
  if (classifyPgError(e) !== 'other') return unavailable(e);
  return e;
}

interface Columns {
  names: string[];
  values: unknown[];
}

function columnsOf(entity: EntityName, row: Row): Columns {
  const spec = TABLES[entity];
  const cols: Record<string, unknown> = {
    id: row.id,
    created_at: row.created_at,
    tags: Array.isArray(row.tags) ? row.tags : null,
    data: JSON.stringify(row),
  };
  for (const u of spec.unique) cols[u] = row[u] ?? null;
  for (const fk of spec.foreignKeys) cols[fk.column] = foreignId(row, fk.field);
  if (spec.cacheKey) cols.cache_key = spec.cacheKey(row);
  return { names: Object.keys(cols), values: Object.values(cols) };
}

export interface PostgresStoreOptions {
  /** Create the schema when the database is empty (start-up); otherwise only `migrations bootstrap` does. */
  bootstrapIfEmpty?: boolean;
  log?: Logger;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly config: pg.PoolConfig;
  readonly #pool: pg.Pool;
  readonly #opts: PostgresStoreOptions;

  constructor(config: pg.PoolConfig, opts: PostgresStoreOptions = {}) {
    this.config = config;
    this.#opts = opts;
    this.#pool = new pg.Pool(config);
    // An idle connection dropped by the server (restart, failover) must not crash the process;
    // the pool discards it and the next query connects again.
    this.#pool.on('error', (e) => this.#opts.log?.debug({ err: e.message }, 'idle PostgreSQL connection lost'));
  }

  /**
   * The pool listens for errors on idle connections only. A connection lent out and lost between
   * two queries (the server restarted, the backend was terminated) emits 'error' with nobody
   * listening, which would crash the primary: while lent, this listener takes it, and the next
   * query on it fails as `unavailable`.
   */
  readonly #onLentError = (e: Error) => this.#opts.log?.warn({ err: e.message }, 'PostgreSQL connection lost while in use');

  /**
   * A pooled connection. Not getting one means the database cannot be reached or refuses this node,
   * whatever the reason (down, refusing connections, bad credentials ...): always `unavailable`.
   */
  async #connect(): Promise<pg.PoolClient> {
    let c: pg.PoolClient;
    try {
      c = await this.#pool.connect();
    } catch (e) {
      throw unavailable(e);
    }
    c.on('error', this.#onLentError);
    return c;
  }

  /** Gives a connection back; a broken one is closed instead of being lent again. */
  #release(c: pg.PoolClient, broken: boolean): void {
    c.removeListener('error', this.#onLentError);
    c.release(broken || undefined);
  }

  async init(): Promise<void> {
    await this.#migrating(async (c) => {
      const applied = await this.#applied(c);
      const pending = PG_MIGRATIONS.filter((m) => !applied.has(m.name));
      if (pending.length === 0) return;
      if (applied.size === 0 && this.#opts.bootstrapIfEmpty) {
        await this.#apply(c, pending);
        this.#opts.log?.info({ migrations: pending.map((m) => m.name) }, 'empty database: schema created');
        return;
      }
      const what = applied.size === 0 ? "the database is empty; run 'modelgate migrations bootstrap'" : `${pending.length} pending migration(s) (${pending.map((m) => m.name).join(', ')}); run 'modelgate migrations up'`;
      throw new Error(what);
    });
  }

  /** Every known migration and whether this database has it. */
  async migrations(): Promise<{ name: string; applied: boolean }[]> {
    return this.#migrating(async (c) => {
      const applied = await this.#applied(c);
      return PG_MIGRATIONS.map((m) => ({ name: m.name, applied: applied.has(m.name) }));
    });
  }

  /** Creates the schema on an empty database; returns the migrations applied (none if it was not empty). */
  async bootstrap(): Promise<string[] | null> {
    return this.#migrating(async (c) => {
      if ((await this.#applied(c)).size > 0) return null;
      await this.#apply(c, PG_MIGRATIONS);
      return PG_MIGRATIONS.map((m) => m.name);
    });
  }

  /** Applies pending migrations; returns their names. */
  async up(): Promise<string[]> {
    return this.#migrating(async (c) => {
      const applied = await this.#applied(c);
      const pending = PG_MIGRATIONS.filter((m) => !applied.has(m.name));
      await this.#apply(c, pending);
      return pending.map((m) => m.name);
    });
  }

  async #migrating<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.#pool.connect();
    c.on('error', this.#onLentError);
    try {
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
        return await fn(c);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      this.#release(c, false);
    }
  }

  async #applied(c: pg.PoolClient): Promise<Set<string>> {
    const r = await c.query<{ name: string }>('SELECT name FROM schema_migrations');
    return new Set(r.rows.map((x) => x.name));
  }

  async #apply(c: pg.PoolClient, migrations: Migration[]): Promise<void> {
    for (const m of migrations) {
      await c.query('BEGIN');
      try {
        await c.query(m.up);
        await c.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [m.name, Date.now()]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(e as Error).message}`);
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    const c = await this.#connect();
    let broken = false;
    try {
      return (await c.query<R>(sql, params)).rows;
    } catch (e) {
      broken = isUnavailable(e);
      throw translateError(e, 'services', { id: '' } as Row);
    } finally {
      this.#release(c, broken);
    }
  }

  /** Runs `fn` in a transaction, again (up to TX_ATTEMPTS in all) when it lost a conflict. */
  async #tx<T>(fn: (c: pg.PoolClient) => Promise<T>, mode = 'BEGIN'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#txOnce(fn, mode);
      } catch (e) {
        if (attempt >= TX_ATTEMPTS || classifyPgError(e) !== 'conflict') throw e;
        this.#opts.log?.debug({ err: (e as Error).message, attempt }, 'PostgreSQL transaction conflict; running it again');
      }
    }
  }

  /** One transaction; a broken connection is discarded rather than returned to the pool. */
  async #txOnce<T>(fn: (c: pg.PoolClient) => Promise<T>, mode: string): Promise<T> {
    const c = await this.#connect();
    try {
      await c.query(mode);
      const out = await fn(c);
      await c.query('COMMIT');
      this.#release(c, false);
      return out;
    } catch (e) {
      if (isUnavailable(e)) this.#release(c, true);
      else {
        try {
          await c.query('ROLLBACK');
          this.#release(c, false);
        } catch {
          this.#release(c, true);
        }
      }
      throw e;
    }
  }

  /** Bumps the version and announces it; the NOTIFY is delivered only when the transaction commits. */
  async #bump(c: pg.PoolClient): Promise<void> {
    await c.query(
      `WITH v AS (UPDATE meta SET value = value + 1 WHERE key = 'config_version' RETURNING value)
       SELECT pg_notify($1, value::text) FROM v`,
      [CHANGE_CHANNEL],
    );
  }

  async version(): Promise<number> {
    const rows = await this.#query<{ value: string }>("SELECT value FROM meta WHERE key = 'config_version'");
    return rows.length ? Number(rows[0].value) : 0;
  }

  async get(entity: EntityName, id: string): Promise<Row | null> {
    assertEntity(entity);
    const rows = await this.#query<{ data: Row }>(`SELECT data FROM ${entity} WHERE id = $1`, [id]);
    return rows[0]?.data ?? null;
  }

  async findBy(entity: EntityName, column: string, value: string): Promise<Row | null> {
    assertEntity(entity);
    assertColumn(column);
    const rows = await this.#query<{ data: Row }>(`SELECT data FROM ${entity} WHERE ${column} = $1`, [value]);
    return rows[0]?.data ?? null;
  }

  async page(entity: EntityName, q: PageQuery): Promise<Row[]> {
    assertEntity(entity);
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.after) where.push(`id > ${param(q.after)}`);
    if (q.where) {
      assertColumn(q.where.column);
      where.push(`${q.where.column} = ${param(q.where.value)}`);
    }
    // @> : has every tag (Kong's `a,b`); && : has any (`a/b`)
    if (q.tags?.length) where.push(`tags ${q.tagsMode === 'or' ? '&&' : '@>'} ${param(q.tags)}::text[]`);
    const sql = `SELECT data FROM ${entity}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ${param(q.size)}`;
    return (await this.#query<{ data: Row }>(sql, params)).map((r) => r.data);
  }

  async count(entity: EntityName, where?: { column: string; value: string }): Promise<number> {
    assertEntity(entity);
    if (where) assertColumn(where.column);
    const sql = `SELECT count(*)::int AS n FROM ${entity}${where ? ` WHERE ${where.column} = $1` : ''}`;
    const rows = await this.#query<{ n: number }>(sql, where ? [where.value] : []);
    return rows[0].n;
  }

  async #writeRow(c: pg.PoolClient, entity: EntityName, row: Row, mode: 'insert' | 'update' | 'upsert'): Promise<void> {
    const { names, values } = columnsOf(entity, row);
    const placeholders = names.map((_, i) => `$${i + 1}`).join(', ');
    if (mode === 'insert') {
      await c.query(`INSERT INTO ${entity} (${names.join(', ')}) VALUES (${placeholders})`, values);
    } else if (mode === 'update') {
      const set = names.map((n, i) => `${n} = $${i + 1}`).join(', ');
      const res = await c.query(`UPDATE ${entity} SET ${set} WHERE id = $${names.length + 1}`, [...values, row.id]);
      if (res.rowCount === 0) throw new StoreError('not_found', 'not found', { id: row.id });
    } else {
      const set = names.filter((n) => n !== 'id').map((n) => `${n} = EXCLUDED.${n}`).join(', ');
      await c.query(`INSERT INTO ${entity} (${names.join(', ')}) VALUES (${placeholders}) ON CONFLICT (id) DO UPDATE SET ${set}`, values);
    }
  }

  async #insertMany(c: pg.PoolClient, entity: EntityName, rows: Row[]): Promise<void> {
    for (let i = 0; i < rows.length; i += BATCH_ROWS) {
      const batch = rows.slice(i, i + BATCH_ROWS).map((r) => columnsOf(entity, r));
      const names = batch[0].names;
      const params: unknown[] = [];
      const tuples = batch.map((cols) => {
        const start = params.length;
        params.push(...cols.values);
        return `(${cols.values.map((_, j) => `$${start + j + 1}`).join(', ')})`;
      });
      await c.query(`INSERT INTO ${entity} (${names.join(', ')}) VALUES ${tuples.join(', ')}`, params);
    }
  }

  async write(entity: EntityName, row: Row, mode: 'insert' | 'update' | 'upsert'): Promise<void> {
    assertEntity(entity);
    try {
      await this.#tx(async (c) => {
        await this.#writeRow(c, entity, row, mode);
        await this.#bump(c);
      });
    } catch (e) {
      throw translateError(e, entity, row);
    }
  }

  async delete(entity: EntityName, id: string): Promise<boolean> {
    assertEntity(entity);
    try {
      return await this.#tx(async (c) => {
        const res = await c.query(`DELETE FROM ${entity} WHERE id = $1`, [id]);
        const deleted = (res.rowCount ?? 0) > 0;
        if (deleted) await this.#bump(c);
        return deleted;
      });
    } catch (e) {
      throw translateError(e, entity, { id } as Row);
    }
  }

  async replaceAll(data: Partial<ConfigData>): Promise<void> {
    let current: EntityName = 'services';
    let currentRow = { id: '' } as Row;
    try {
      await this.#tx(async (c) => {
        for (const entity of [...ENTITY_ORDER].reverse()) await c.query(`DELETE FROM ${entity}`);
        for (const entity of ENTITY_ORDER) {
          const rows = data[entity] ?? [];
          current = entity;
          currentRow = rows[0] ?? currentRow;
          if (rows.length) await this.#insertMany(c, entity, rows);
        }
        await this.#bump(c);
      });
    } catch (e) {
      throw translateError(e, current, currentRow);
    }
  }

  async loadAll(): Promise<ConfigData> {
    return (await this.loadVersioned()).data;
  }

  /** The whole configuration and its version, read in one consistent snapshot of the database. */
  async loadVersioned(): Promise<{ version: number; data: ConfigData }> {
    try {
      return await this.#tx(async (c) => {
        const v = await c.query<{ value: string }>("SELECT value FROM meta WHERE key = 'config_version'");
        const data = {} as ConfigData;
        for (const entity of ENTITY_ORDER) {
          data[entity] = (await c.query<{ data: Row }>(`SELECT data FROM ${entity} ORDER BY created_at, id`)).rows.map((r) => r.data);
        }
        return { version: v.rows.length ? Number(v.rows[0].value) : 0, data };
      }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    } catch (e) {
      throw translateError(e, 'services', { id: '' } as Row);
    }
  }

  async health(): Promise<{ reachable: boolean; error?: string }> {
    try {
      await this.#pool.query('SELECT 1');
      return { reachable: true };
    } catch (e) {
      return { reachable: false, error: (e as Error).message };
    }
  }
}
