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
  {
    // The spend log (src/spend/postgres.ts). spend_requests is partitioned by day on \`time\`; the
    // store creates each day's partition ahead of the rows (spend_requests_pYYYYMMDD) and drops
    // whole days past the retention, so nothing here names a day. The rollups key a NULL
    // dimension as '' (a unique key must not hold NULLs before PostgreSQL 15's NULLS NOT
    // DISTINCT); cost is NUMERIC so sums added by many nodes in any order are exact;
    // latency_hist is the sparse {"index": count} histogram of src/spend/sqlite.ts's latencyIndex.
    name: '001_spend_log',
    up: `
      CREATE TABLE spend_requests (
        time TIMESTAMPTZ NOT NULL, request_id TEXT COLLATE "C" NOT NULL,
        consumer_id TEXT COLLATE "C", credential_id TEXT COLLATE "C", route_id TEXT COLLATE "C", service_id TEXT COLLATE "C", plugin_id TEXT COLLATE "C",
        client_api TEXT, provider TEXT, model_requested TEXT, model_served TEXT, status INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,
        cost NUMERIC, latency_ms DOUBLE PRECISION NOT NULL, ttft_ms DOUBLE PRECISION,
        stream BOOLEAN NOT NULL, cache_hit BOOLEAN NOT NULL, estimated BOOLEAN NOT NULL, error_class TEXT,
        PRIMARY KEY (time, request_id)
      ) PARTITION BY RANGE (time);
      CREATE INDEX spend_requests_consumer ON spend_requests (consumer_id, time);
      CREATE TABLE spend_rollup_minute (
        bucket TIMESTAMPTZ NOT NULL,
        route_id TEXT COLLATE "C" NOT NULL, consumer_id TEXT COLLATE "C" NOT NULL, provider TEXT COLLATE "C" NOT NULL, model TEXT COLLATE "C" NOT NULL,
        requests BIGINT NOT NULL, errors BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL,
        cost NUMERIC NOT NULL, unpriced_requests BIGINT NOT NULL, latency_hist JSONB NOT NULL,
        PRIMARY KEY (bucket, route_id, consumer_id, provider, model)
      );
      CREATE INDEX spend_rollup_minute_consumer ON spend_rollup_minute (consumer_id, bucket);
      CREATE TABLE spend_rollup_hour (
        bucket TIMESTAMPTZ NOT NULL,
        route_id TEXT COLLATE "C" NOT NULL, consumer_id TEXT COLLATE "C" NOT NULL, provider TEXT COLLATE "C" NOT NULL, model TEXT COLLATE "C" NOT NULL,
        requests BIGINT NOT NULL, errors BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL,
        cost NUMERIC NOT NULL, unpriced_requests BIGINT NOT NULL, latency_hist JSONB NOT NULL,
        PRIMARY KEY (bucket, route_id, consumer_id, provider, model)
      );
      CREATE INDEX spend_rollup_hour_consumer ON spend_rollup_hour (consumer_id, bucket);
      CREATE TABLE spend_rollup_day (
        bucket TIMESTAMPTZ NOT NULL,
        route_id TEXT COLLATE "C" NOT NULL, consumer_id TEXT COLLATE "C" NOT NULL, provider TEXT COLLATE "C" NOT NULL, model TEXT COLLATE "C" NOT NULL,
        requests BIGINT NOT NULL, errors BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL,
        cost NUMERIC NOT NULL, unpriced_requests BIGINT NOT NULL, latency_hist JSONB NOT NULL,
        PRIMARY KEY (bucket, route_id, consumer_id, provider, model)
      );
      CREATE INDEX spend_rollup_day_consumer ON spend_rollup_day (consumer_id, bucket);
    `,
  },
  {
    // Per-dimension rollups (src/spend/postgres.ts): for each interval and each single dimension,
    // the same sums and histogram keyed by (bucket, value) only, so a /usage query grouping or
    // filtering by at most one dimension reads as many rows as that dimension has values per
    // bucket instead of every (route, consumer, provider, model) combination. value is '' for
    // NULL as in the full-key tables, COLLATE "C" so groups order byte-wise there too. The
    // tables start as the full-key rollups summed per value (taken under a SHARE lock so a batch
    // committing meanwhile is either in both or in neither); from then on each batch upserts them
    // in the statement that writes its rows. 001's index spend_rollup_<interval>_consumer is
    // renamed spend_rollup_<interval>_by_consumer: tables and indexes share one namespace.
    name: '002_spend_dimension_rollups',
    up: dimensionRollups(),
  },
];

/**
 * Migration 002's DDL and backfill: spend_rollup_<interval>_<dimension> for 3 intervals × 4
 * dimensions, each filled from its interval's full-key table (histograms merged index by index).
 */
function dimensionRollups(): string {
  const tokens = ['prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens', 'total_tokens'];
  const sums = ['requests', 'errors', ...tokens, 'cost', 'unpriced_requests'];
  const dims: [name: string, column: string][] = [['route', 'route_id'], ['consumer', 'consumer_id'], ['provider', 'provider'], ['model', 'model']];
  const out = ['LOCK TABLE spend_rollup_minute, spend_rollup_hour, spend_rollup_day IN SHARE MODE;'];
  for (const interval of ['minute', 'hour', 'day']) {
    // 001 named the full-key tables' consumer index what is now a table's name (one namespace)
    out.push(`ALTER INDEX spend_rollup_${interval}_consumer RENAME TO spend_rollup_${interval}_by_consumer;`);
    for (const [dim, column] of dims) {
      const t = `spend_rollup_${interval}_${dim}`;
      out.push(`CREATE TABLE ${t} (
        bucket TIMESTAMPTZ NOT NULL, value TEXT COLLATE "C" NOT NULL,
        requests BIGINT NOT NULL, errors BIGINT NOT NULL,
        ${tokens.map((c) => `${c} BIGINT NOT NULL`).join(', ')},
        cost NUMERIC NOT NULL, unpriced_requests BIGINT NOT NULL, latency_hist JSONB NOT NULL,
        PRIMARY KEY (bucket, value)
      );`);
      if (dim === 'consumer') out.push(`CREATE INDEX ${t}_value ON ${t} (value, bucket);`);
      out.push(`INSERT INTO ${t} (bucket, value, ${sums.join(', ')}, latency_hist)
        SELECT bucket, ${column}, ${sums.map((c) => `sum(${c})`).join(', ')},
          (SELECT jsonb_object_agg(k, n) FROM (SELECT e.key AS k, sum(e.value::bigint) AS n FROM unnest(array_agg(latency_hist)) AS h(j), jsonb_each_text(h.j) AS e GROUP BY e.key) AS m)
        FROM spend_rollup_${interval} GROUP BY bucket, ${column};`);
    }
  }
  return out.join('\n');
}
