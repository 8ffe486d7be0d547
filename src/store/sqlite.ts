/**
 * The embedded store: one SQLite file (node:sqlite, WAL) in the data directory. Synchronous
 * under the hood, which is what a single control-plane process wants: no write interleaving,
 * and a write acknowledged to the Admin API is on disk (synchronous=FULL) before the 201.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import fs from 'node:fs';
import path from 'node:path';
import { ENTITY_ORDER, TABLES, foreignId } from './tables.ts';
import { StoreError, type ConfigData, type EntityName, type PageQuery, type Row, type Store } from './types.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';

const ENTITY_SET = new Set<string>(ENTITY_ORDER);

function assertEntity(entity: string): asserts entity is EntityName {
  // Table names are interpolated into SQL; only our own entity names ever reach here.
  if (!ENTITY_SET.has(entity)) throw new Error(`unknown entity ${entity}`);
}

const COLUMN_RE = /^[a-z_]+$/;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  #db!: DatabaseSync;
  #stmts = new Map<string, StatementSync>();

  constructor(file: string) {
    this.file = file;
  }

  async init(): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.#db = new DatabaseSync(this.file, { enableForeignKeyConstraints: true });
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.migrate();
  }

  /** Applies pending migrations; returns the names applied. */
  migrate(): string[] {
    const db = this.#db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const done = new Set((db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name));
    const applied: string[] = [];
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.name)) continue;
      db.exec('BEGIN IMMEDIATE');
      try {
        db.exec(m.up);
        db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(m.name, Date.now());
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
      applied.push(m.name);
    }
    return applied;
  }

  migrations(): { name: string; applied: boolean }[] {
    const done = new Set((this.#db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name));
    return SQLITE_MIGRATIONS.map((m) => ({ name: m.name, applied: done.has(m.name) }));
  }

  async close(): Promise<void> {
    this.#db?.close();
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /** A read; the database refusing it (locked by another process past busy_timeout, I/O error ...) is `unavailable`, as for writes. */
  #read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw isUnavailable(e) ? new StoreError('unavailable', (e as Error).message) : e;
    }
  }

  async version(): Promise<number> {
    const row = this.#read(() => this.#stmt("SELECT value FROM meta WHERE key = 'config_version'").get()) as { value: number } | undefined;
    return row ? Number(row.value) : 0;
  }

  async get(entity: EntityName, id: string): Promise<Row | null> {
    assertEntity(entity);
    const r = this.#read(() => this.#stmt(`SELECT data FROM ${entity} WHERE id = ?`).get(id)) as { data: string } | undefined;
    return r ? (JSON.parse(r.data) as Row) : null;
  }

  async findBy(entity: EntityName, column: string, value: string): Promise<Row | null> {
    assertEntity(entity);
    if (!COLUMN_RE.test(column)) throw new Error(`bad column ${column}`);
    const r = this.#read(() => this.#stmt(`SELECT data FROM ${entity} WHERE ${column} = ?`).get(value)) as { data: string } | undefined;
    return r ? (JSON.parse(r.data) as Row) : null;
  }

  async page(entity: EntityName, q: PageQuery): Promise<Row[]> {
    assertEntity(entity);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.after) {
      where.push('id > ?');
      args.push(q.after);
    }
    if (q.where) {
      if (!COLUMN_RE.test(q.where.column)) throw new Error(`bad column ${q.where.column}`);
      where.push(`${q.where.column} = ?`);
      args.push(q.where.value);
    }
    if (q.tags?.length) {
      const one = `EXISTS (SELECT 1 FROM json_each(${entity}.tags) WHERE json_each.value = ?)`;
      where.push('(' + q.tags.map(() => one).join(q.tagsMode === 'or' ? ' OR ' : ' AND ') + ')');
      args.push(...q.tags);
    }
    const sql = `SELECT data FROM ${entity}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`;
    args.push(q.size);
    return (this.#read(() => this.#stmt(sql).all(...args)) as { data: string }[]).map((r) => JSON.parse(r.data) as Row);
  }

  async count(entity: EntityName, where?: { column: string; value: string }): Promise<number> {
    assertEntity(entity);
    if (where && !COLUMN_RE.test(where.column)) throw new Error(`bad column ${where.column}`);
    const sql = `SELECT COUNT(*) AS n FROM ${entity}${where ? ` WHERE ${where.column} = ?` : ''}`;
    const r = this.#read(() => (where ? this.#stmt(sql).get(where.value) : this.#stmt(sql).get())) as { n: number };
    return Number(r.n);
  }

  #columns(entity: EntityName, row: Row): Record<string, string | number | null> {
    const spec = TABLES[entity];
    const cols: Record<string, string | number | null> = {
      id: row.id,
      created_at: row.created_at,
      tags: row.tags ? JSON.stringify(row.tags) : null,
      data: JSON.stringify(row),
    };
    for (const u of spec.unique) cols[u] = row[u] ?? null;
    for (const fk of spec.foreignKeys) cols[fk.column] = foreignId(row, fk.field);
    if (spec.cacheKey) cols.cache_key = spec.cacheKey(row);
    return cols;
  }

  #bump(): void {
    this.#stmt("UPDATE meta SET value = value + 1 WHERE key = 'config_version'").run();
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  #writeRow(entity: EntityName, row: Row, mode: 'insert' | 'update' | 'upsert'): void {
    const cols = this.#columns(entity, row);
    const names = Object.keys(cols);
    const values = Object.values(cols);
    if (mode === 'insert') {
      this.#stmt(`INSERT INTO ${entity} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).run(...values);
    } else if (mode === 'update') {
      const res = this.#stmt(`UPDATE ${entity} SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`).run(...values, row.id);
      if (res.changes === 0) throw new StoreError('not_found', 'not found', { id: row.id });
    } else {
      this.#stmt(
        `INSERT INTO ${entity} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ` +
          `ON CONFLICT(id) DO UPDATE SET ${names.filter((n) => n !== 'id').map((n) => `${n} = excluded.${n}`).join(', ')}`,
      ).run(...values);
    }
  }

  async write(entity: EntityName, row: Row, mode: 'insert' | 'update' | 'upsert'): Promise<void> {
    assertEntity(entity);
    try {
      this.#tx(() => {
        this.#writeRow(entity, row, mode);
        this.#bump();
      });
    } catch (e) {
      throw translateError(e, entity, row);
    }
  }

  async delete(entity: EntityName, id: string): Promise<boolean> {
    assertEntity(entity);
    try {
      return this.#tx(() => {
        const res = this.#stmt(`DELETE FROM ${entity} WHERE id = ?`).run(id);
        if (res.changes > 0) this.#bump();
        return res.changes > 0;
      });
    } catch (e) {
      throw translateError(e, entity, { id } as Row);
    }
  }

  async replaceAll(data: Partial<ConfigData>): Promise<void> {
    try {
      this.#tx(() => {
        for (const entity of [...ENTITY_ORDER].reverse()) this.#stmt(`DELETE FROM ${entity}`).run();
        for (const entity of ENTITY_ORDER) for (const row of data[entity] ?? []) this.#writeRow(entity, row, 'insert');
        this.#bump();
      });
    } catch (e) {
      throw translateError(e, 'services', { id: '' } as Row);
    }
  }

  async loadAll(): Promise<ConfigData> {
    const out = {} as ConfigData;
    for (const entity of ENTITY_ORDER) {
      out[entity] = (this.#read(() => this.#stmt(`SELECT data FROM ${entity} ORDER BY created_at, id`).all()) as { data: string }[]).map(
        (r) => JSON.parse(r.data) as Row,
      );
    }
    return out;
  }

  async health(): Promise<{ reachable: boolean; error?: string }> {
    try {
      this.#stmt('SELECT 1').get();
      return { reachable: true };
    } catch (e) {
      return { reachable: false, error: (e as Error).message };
    }
  }
}

/** Maps SQLite constraint failures to the store's typed errors (the DAO turns them into Kong's). */
function translateError(e: unknown, entity: EntityName, row: Row): unknown {
  const err = e as { code?: string; errcode?: number; message?: string };
  if (err?.code !== 'ERR_SQLITE_ERROR') return e;
  const msg = err.message ?? '';
  const unique = /UNIQUE constraint failed: \w+\.(\w+)/.exec(msg);
  if (unique) {
    const column = unique[1] === 'id' ? 'id' : unique[1];
    return new StoreError('unique', msg, { entity, column, value: column === 'cache_key' ? row : row[column] });
  }
  if (/FOREIGN KEY constraint failed/.test(msg)) return new StoreError('referenced', msg, { entity });
  if (isUnavailable(e)) return new StoreError('unavailable', msg);
  return e;
}

/**
 * SQLite's primary result codes for a database that cannot do the work now: BUSY and LOCKED
 * (another process holds it past busy_timeout), NOMEM, READONLY, IOERR, FULL, CANTOPEN and
 * PROTOCOL. CORRUPT and NOTADB are not among them: a damaged file stays a 500, it needs an operator.
 */
const UNAVAILABLE_RESULT_CODES = new Set([5, 6, 7, 8, 10, 13, 14, 15]);

function isUnavailable(e: unknown): boolean {
  const err = e as { code?: string; errcode?: unknown; message?: string };
  if (err?.code !== 'ERR_SQLITE_ERROR') return false;
  // node:sqlite gives the extended result code; its low byte is the primary one
  if (typeof err.errcode === 'number') return UNAVAILABLE_RESULT_CODES.has(err.errcode & 0xff);
  return /database is locked|readonly|disk I\/O|full/.test(err.message ?? '');
}
