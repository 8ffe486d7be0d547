/**
 * The Store: where configuration entities live. The control plane is its only user; the proxy
 * never reads it (workers serve from the Snapshot). Implementations: sqlite.ts (embedded
 * default), postgres.ts (many nodes). Rows are whole entities as the Admin API returns them.
 */

export type EntityName = 'services' | 'routes' | 'plugins' | 'consumers' | 'keyauth_credentials';

export type Row = Record<string, any> & { id: string; created_at: number };

export interface ForeignKey {
  /** Field of the entity holding `{id}` (e.g. `service`). */
  field: string;
  /** Column holding the referenced id. */
  column: string;
  references: EntityName;
  /** What deleting the referenced entity does: Kong cascades plugins, refuses services with routes. */
  onDelete: 'cascade' | 'restrict';
}

export interface TableSpec {
  entity: EntityName;
  /** Single-column unique fields (name, instance_name, key...). */
  unique: string[];
  foreignKeys: ForeignKey[];
  /** A computed unique key over several fields (Kong's plugin `cache_key`). */
  cacheKey?: (row: Row) => string;
}

export interface PageQuery {
  size: number;
  /** Return rows whose id sorts after this one. */
  after?: string;
  tags?: string[];
  tagsMode?: 'and' | 'or';
  /** Only rows whose foreign key column equals the value (e.g. routes of one service). */
  where?: { column: string; value: string };
}

export type StoreErrorKind = 'unique' | 'foreign' | 'referenced' | 'unavailable' | 'not_found';

export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  readonly detail: Record<string, unknown>;
  constructor(kind: StoreErrorKind, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.kind = kind;
    this.detail = detail;
  }
}

/** Everything a snapshot is built from. */
export type ConfigData = Record<EntityName, Row[]>;

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  init(): Promise<void>;
  close(): Promise<void>;
  /** Monotonic configuration version, bumped by every write. */
  version(): Promise<number>;
  get(entity: EntityName, id: string): Promise<Row | null>;
  findBy(entity: EntityName, column: string, value: string): Promise<Row | null>;
  page(entity: EntityName, query: PageQuery): Promise<Row[]>;
  count(entity: EntityName, where?: { column: string; value: string }): Promise<number>;
  /** Insert or replace (when `replace` and the id exists) one entity; bumps the version. */
  write(entity: EntityName, row: Row, mode: 'insert' | 'update' | 'upsert'): Promise<void>;
  /** Delete one entity (cascading as the foreign keys say); bumps the version. */
  delete(entity: EntityName, id: string): Promise<boolean>;
  /** Replace the whole configuration atomically (declarative `POST /config`, db_import). */
  replaceAll(data: Partial<ConfigData>): Promise<void>;
  loadAll(): Promise<ConfigData>;
  health(): Promise<{ reachable: boolean; error?: string }>;
}
