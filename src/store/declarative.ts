/**
 * DB-less mode (`MODELGATE_DATABASE=off`): the configuration is a declarative file, held in memory
 * (MemoryStore, read by the Admin API like any store) and replaced only as a whole
 * (`POST /config`). The last good configuration is kept in the prefix directory
 * (`declarative.json`, written atomically) so it survives a restart (docs/decisions.md, D6).
 *
 * Which configuration a node starts with:
 * 1. With `MODELGATE_DECLARATIVE_CONFIG`: that file — unless it is byte-for-byte the file this
 *    node last loaded *and* a configuration was POSTed to /config since, in which case the posted
 *    one (the newest intent) is kept. Editing the file makes it win again. A file that is invalid
 *    or unreadable stops start-up with every error: the operator asked for it, serving something
 *    else would hide the mistake.
 * 2. Without it: the last good configuration, if any.
 * 3. Otherwise: empty (configure it with `POST /config`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ENTITY_ORDER, TABLES, foreignId } from './tables.ts';
import { StoreError, type ConfigData, type EntityName, type PageQuery, type Row, type Store } from './types.ts';
import { loadDeclarativeText } from '../declarative/index.ts';

export function emptyConfig(): ConfigData {
  return Object.fromEntries(ENTITY_ORDER.map((e) => [e, [] as Row[]])) as unknown as ConfigData;
}

/** A column's value in a row: unique columns are fields, foreign key columns (`service_id`) ids. */
function columnValue(entity: EntityName, row: Row, column: string): unknown {
  const fk = TABLES[entity].foreignKeys.find((f) => f.column === column);
  return fk ? foreignId(row, fk.field) : row[column];
}

/** The configuration in memory, swapped whole by `replaceAll`. Individual writes are refused. */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  #data: ConfigData = emptyConfig();
  #byId = new Map<EntityName, Map<string, Row>>();
  /** Rows by id order, for pages (built on first use after each replace). */
  #sorted = new Map<EntityName, Row[]>();
  #version: number;

  constructor(version = 1) {
    this.#version = version;
    this.#index();
  }

  async init(): Promise<void> {}
  async close(): Promise<void> {}

  async version(): Promise<number> {
    return this.#version;
  }

  #index(): void {
    this.#byId = new Map(ENTITY_ORDER.map((e) => [e, new Map((this.#data[e] ?? []).map((r) => [r.id, r]))]));
    this.#sorted = new Map();
  }

  #rows(entity: EntityName): Row[] {
    let rows = this.#sorted.get(entity);
    if (!rows) {
      rows = [...(this.#data[entity] ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      this.#sorted.set(entity, rows);
    }
    return rows;
  }

  async get(entity: EntityName, id: string): Promise<Row | null> {
    return this.#byId.get(entity)?.get(id) ?? null;
  }

  async findBy(entity: EntityName, column: string, value: string): Promise<Row | null> {
    return (this.#data[entity] ?? []).find((r) => columnValue(entity, r, column) === value) ?? null;
  }

  async page(entity: EntityName, q: PageQuery): Promise<Row[]> {
    const out: Row[] = [];
    for (const r of this.#rows(entity)) {
      if (q.after && r.id <= q.after) continue;
      if (q.where && columnValue(entity, r, q.where.column) !== q.where.value) continue;
      if (q.tags?.length) {
        const tags: string[] = Array.isArray(r.tags) ? r.tags : [];
        const match = q.tagsMode === 'or' ? q.tags.some((t) => tags.includes(t)) : q.tags.every((t) => tags.includes(t));
        if (!match) continue;
      }
      out.push(r);
      if (out.length >= q.size) break;
    }
    return out;
  }

  async count(entity: EntityName, where?: { column: string; value: string }): Promise<number> {
    const rows = this.#data[entity] ?? [];
    return where ? rows.filter((r) => columnValue(entity, r, where.column) === where.value).length : rows.length;
  }

  async write(): Promise<void> {
    throw new StoreError('unavailable', 'the configuration is declarative: replace it with POST /config');
  }

  async delete(): Promise<boolean> {
    throw new StoreError('unavailable', 'the configuration is declarative: replace it with POST /config');
  }

  async replaceAll(data: Partial<ConfigData>): Promise<void> {
    const next = emptyConfig();
    for (const e of ENTITY_ORDER) next[e] = [...(data[e] ?? [])];
    this.#data = next;
    this.#index();
    this.#version++;
  }

  async loadAll(): Promise<ConfigData> {
    const out = emptyConfig();
    for (const e of ENTITY_ORDER) out[e] = [...this.#data[e]];
    return out;
  }

  async health(): Promise<{ reachable: boolean; error?: string }> {
    return { reachable: true };
  }
}

/** What `declarative.json` holds. */
export interface SavedConfig {
  format: 1;
  /** `file`: loaded from MODELGATE_DECLARATIVE_CONFIG at start; `api`: posted to /config. */
  source: 'file' | 'api';
  /** SHA-256 of the file given at the start the configuration was loaded or posted under. */
  file_sha256: string | null;
  saved_at: string;
  entities: ConfigData;
}

/** The last good configuration on disk: written to a temporary file, synced, renamed over the old one. */
export class LastGoodConfig {
  readonly file: string;

  constructor(prefix: string) {
    this.file = path.join(prefix, 'declarative.json');
  }

  load(): SavedConfig | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const saved = JSON.parse(text) as SavedConfig;
    if (saved?.format !== 1 || typeof saved.entities !== 'object') throw new Error('unrecognised content');
    return saved;
  }

  save(saved: SavedConfig): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600); // it may hold provider keys
    try {
      fs.writeFileSync(fd, JSON.stringify(saved));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    try {
      const dir = fs.openSync(path.dirname(this.file), 'r');
      fs.fsyncSync(dir);
      fs.closeSync(dir);
    } catch {
      // some platforms cannot fsync a directory; the rename is still atomic
    }
  }
}

export class DeclarativeStartupError extends Error {}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The DB-less control plane: the store, where its configuration came from, and `replace()` for
 * `POST /config` (persist first, then swap: a configuration that cannot be saved is not applied,
 * so a restart never goes back to an older one silently). Replacements are serialised.
 */
export class DeclarativeConfig {
  readonly store = new MemoryStore();
  readonly #lastGood: LastGoodConfig;
  readonly #log: Logger;
  #fileSha: string | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  /** Where the configuration being served came from (for logs and `GET /status`). */
  source = 'empty';

  constructor(prefix: string, log: Logger) {
    this.#lastGood = new LastGoodConfig(prefix);
    this.#log = log;
  }

  /** Loads the start-up configuration (see the module comment for the precedence). */
  async start(file: string | null): Promise<void> {
    let saved: SavedConfig | null = null;
    try {
      saved = this.#lastGood.load();
    } catch (e) {
      this.#log.warn({ file: this.#lastGood.file, err: (e as Error).message }, 'ignoring an unreadable saved declarative configuration');
    }
    if (file) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        throw new DeclarativeStartupError(`MODELGATE_DECLARATIVE_CONFIG: cannot read '${file}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      this.#fileSha = sha256(text);
      if (saved && saved.source === 'api' && saved.file_sha256 === this.#fileSha) {
        await this.store.replaceAll(saved.entities);
        this.source = `posted to /config (${file} is unchanged since it was loaded)`;
        this.#log.info({ file, saved_at: saved.saved_at }, 'using the configuration last posted to /config; the declarative file is unchanged since it was loaded');
        return;
      }
      const result = loadDeclarativeText(text);
      if (result.errors) {
        const lines = result.errors.issues.map((i) => `  ${i.path}: ${i.message}`);
        throw new DeclarativeStartupError(`MODELGATE_DECLARATIVE_CONFIG: ${file} is invalid (${lines.length} error${lines.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
      }
      for (const w of result.warnings) this.#log.warn({ file }, `declarative configuration: ${w}`);
      this.#lastGood.save({ format: 1, source: 'file', file_sha256: this.#fileSha, saved_at: new Date().toISOString(), entities: result.data! });
      await this.store.replaceAll(result.data!);
      this.source = file;
      this.#log.info({ file, ...counts(result.data!) }, 'declarative configuration loaded');
      return;
    }
    if (saved) {
      await this.store.replaceAll(saved.entities);
      this.source = `last good configuration (${this.#lastGood.file})`;
      this.#log.info({ file: this.#lastGood.file, saved_at: saved.saved_at, ...counts(saved.entities) }, 'declarative configuration restored from the last good one');
      return;
    }
    this.#log.info('DB-less mode with no configuration yet: POST one to /config');
  }

  /** Replaces the whole configuration (already validated). */
  replace(data: ConfigData): Promise<void> {
    const run = this.#queue.then(async () => {
      this.#lastGood.save({ format: 1, source: 'api', file_sha256: this.#fileSha, saved_at: new Date().toISOString(), entities: data });
      await this.store.replaceAll(data);
      this.source = 'posted to /config';
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

export function counts(data: ConfigData): Record<string, number> {
  return Object.fromEntries(ENTITY_ORDER.map((e) => [e, data[e]?.length ?? 0]));
}
