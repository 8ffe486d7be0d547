/**
 * Versioned schema migrations, one list per database. Each entity table keeps the whole entity as JSON in `data`, plus
 * the columns the database must enforce or index: unique names, foreign keys (with Kong's cascade
 * rules), creation order and tags.
 */
export interface Migration {
  name: string;
  up: string;
}

export const SQLITE_MIGRATIONS: Migration[] = [
  {
    name: '000_base',
    up: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO meta (key, value) VALUES ('config_version', 1);
      CREATE TABLE services (
        id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, name TEXT UNIQUE, tags TEXT, data TEXT NOT NULL
      );
      CREATE TABLE routes (
        id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, name TEXT UNIQUE, tags TEXT, data TEXT NOT NULL,
        service_id TEXT REFERENCES services(id) ON DELETE RESTRICT
      );
      CREATE INDEX routes_service_id ON routes(service_id);
      CREATE TABLE consumers (
        id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, username TEXT UNIQUE, custom_id TEXT UNIQUE, tags TEXT, data TEXT NOT NULL
      );
      CREATE TABLE plugins (
        id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, instance_name TEXT UNIQUE, cache_key TEXT UNIQUE, tags TEXT, data TEXT NOT NULL,
        route_id TEXT REFERENCES routes(id) ON DELETE CASCADE,
        service_id TEXT REFERENCES services(id) ON DELETE CASCADE,
        consumer_id TEXT REFERENCES consumers(id) ON DELETE CASCADE
      );
      CREATE INDEX plugins_route_id ON plugins(route_id);
      CREATE INDEX plugins_service_id ON plugins(service_id);
      CREATE INDEX plugins_consumer_id ON plugins(consumer_id);
      CREATE TABLE keyauth_credentials (
        id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, key TEXT UNIQUE, tags TEXT, data TEXT NOT NULL,
        consumer_id TEXT NOT NULL REFERENCES consumers(id) ON DELETE CASCADE
      );
      CREATE INDEX keyauth_credentials_consumer_id ON keyauth_credentials(consumer_id);
    `,
  },
];

/**
 * PostgreSQL: the same tables. Ids compare byte-wise (`COLLATE "C"`, as SQLite compares text) so
 * pages follow the same order on both stores; `data` is `json`, not `jsonb`, to keep the field
 * order the DAO wrote; tags are a `text[]` with a GIN index for `?tags=` filters. Every write
 * bumps `meta.config_version` in its own transaction (the change feed's clock).
 */
export const PG_MIGRATIONS: Migration[] = [
  {
    name: '000_base',
    up: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
      INSERT INTO meta (key, value) VALUES ('config_version', 1);
      CREATE TABLE services (
        id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL, name TEXT UNIQUE, tags TEXT[], data JSON NOT NULL
      );
      CREATE TABLE routes (
        id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL, name TEXT UNIQUE, tags TEXT[], data JSON NOT NULL,
        service_id TEXT COLLATE "C" REFERENCES services(id) ON DELETE RESTRICT
      );
      CREATE INDEX routes_service_id ON routes(service_id);
      CREATE TABLE consumers (
        id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL, username TEXT UNIQUE, custom_id TEXT UNIQUE, tags TEXT[], data JSON NOT NULL
      );
      CREATE TABLE plugins (
        id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL, instance_name TEXT UNIQUE, cache_key TEXT UNIQUE, tags TEXT[], data JSON NOT NULL,
        route_id TEXT COLLATE "C" REFERENCES routes(id) ON DELETE CASCADE,
        service_id TEXT COLLATE "C" REFERENCES services(id) ON DELETE CASCADE,
        consumer_id TEXT COLLATE "C" REFERENCES consumers(id) ON DELETE CASCADE
      );
      CREATE INDEX plugins_route_id ON plugins(route_id);
      CREATE INDEX plugins_service_id ON plugins(service_id);
      CREATE INDEX plugins_consumer_id ON plugins(consumer_id);
      CREATE TABLE keyauth_credentials (
        id TEXT COLLATE "C" PRIMARY KEY, created_at BIGINT NOT NULL, key TEXT UNIQUE, tags TEXT[], data JSON NOT NULL,
        consumer_id TEXT COLLATE "C" NOT NULL REFERENCES consumers(id) ON DELETE CASCADE
      );
      CREATE INDEX keyauth_credentials_consumer_id ON keyauth_credentials(consumer_id);
      CREATE INDEX services_tags ON services USING GIN (tags);
      CREATE INDEX routes_tags ON routes USING GIN (tags);
      CREATE INDEX consumers_tags ON consumers USING GIN (tags);
      CREATE INDEX plugins_tags ON plugins USING GIN (tags);
      CREATE INDEX keyauth_credentials_tags ON keyauth_credentials USING GIN (tags);
    `,
  },
];
