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
      ${spendRollups()}
    `,
  },
  {
    // The spend row's attempts (a balanced route's calls) and payloads (routes with
    // logging.log_payloads), both JSON read back as they were written: json, not jsonb, which
    // would refuse a \u0000 a body may hold. ALTER on the partitioned parent reaches every
    // partition; old rows read null. Every rollup gets a time-to-first-token histogram
    // (ttft_hist, the latency one's buckets, streamed rows only), empty for the rows 001 summed.
    // Then the combination rollups (src/spend/rollups.ts), filled from the full-key rollups 001
    // kept: /usage by two dimensions reads them from now on. What a semantic cache hit saved
    // (issue 22): saved_tokens and saved_cost on the rows (0 and null for rows before) and summed
    // in every rollup (0 for what 001 summed).
    name: '002_spend_details_and_combinations',
    up: `
      ALTER TABLE spend_requests ADD COLUMN attempts JSON, ADD COLUMN payload JSON,
        ADD COLUMN saved_tokens INTEGER NOT NULL DEFAULT 0, ADD COLUMN saved_cost NUMERIC;
      ${spendTtftHistograms()}
      ${spendCombinations()}
    `,
  },
  {
    // The node registry (src/server/cluster-nodes.ts): one row per running node, upserted by its
    // heartbeat, deleted at a clean shutdown, pruned a day after its last beat (by last_seen).
    // Times are the database's clock; heartbeat_ms is the node's own interval, so each row says
    // when it is overdue. Not configuration: writing it bumps no version and NOTIFYs nobody.
    name: '003_cluster_nodes',
    up: `
      CREATE TABLE cluster_nodes (
        id TEXT COLLATE "C" PRIMARY KEY, hostname TEXT NOT NULL, version TEXT NOT NULL, pid INTEGER NOT NULL,
        started_at TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL, heartbeat_ms INTEGER NOT NULL,
        configuration_version BIGINT NOT NULL, workers INTEGER NOT NULL, workers_ready INTEGER NOT NULL,
        primary_rss_bytes BIGINT NOT NULL, workers_rss_bytes BIGINT NOT NULL,
        redis_configured BOOLEAN NOT NULL, redis_workers_connected INTEGER
      );
      CREATE INDEX cluster_nodes_last_seen ON cluster_nodes (last_seen);
    `,
  },
];

/**
 * Migration 002's time-to-first-token histogram and saved sums (semantic cache hits) on 001's
 * rollup tables (full key and each dimension, per interval): '{}' and 0 for what they summed
 * before (defaults PostgreSQL 11+ adds without rewriting the table); the writes fill them from then on.
 */
function spendTtftHistograms(): string {
  const out: string[] = [];
  for (const interval of ['minute', 'hour', 'day']) {
    for (const t of [`spend_rollup_${interval}`, ...['route', 'consumer', 'provider', 'model'].map((d) => `spend_rollup_${interval}_${d}`)]) {
      out.push(`ALTER TABLE ${t} ADD COLUMN ttft_hist JSONB NOT NULL DEFAULT '{}', ADD COLUMN saved_tokens BIGINT NOT NULL DEFAULT 0, ADD COLUMN saved_cost NUMERIC NOT NULL DEFAULT 0;`);
    }
  }
  return out.join('\n      ');
}

/**
 * Migration 002's combination rollups: per interval and combination, keyed by bucket and the
 * combination's columns (named, typed and collated as in the full-key table), and filled from the
 * full-key rollup: sums added, latency histograms merged index by index, as the writes would have
 * made them. Their ttft_hist starts empty: the full-key ones were added empty just before.
 * The list is written out here, not read from rollups.ts: a migration is fixed once it has run.
 */
function spendCombinations(): string {
  // each row's sums, as in 001's rollup tables, and the ttft histogram 002 adds to those
  const columns = `requests BIGINT NOT NULL, errors BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL,
        cost NUMERIC NOT NULL, unpriced_requests BIGINT NOT NULL, latency_hist JSONB NOT NULL, ttft_hist JSONB NOT NULL DEFAULT '{}',
        saved_tokens BIGINT NOT NULL DEFAULT 0, saved_cost NUMERIC NOT NULL DEFAULT 0`;
  const sums = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens', 'total_tokens', 'cost', 'unpriced_requests', 'saved_tokens', 'saved_cost'];
  const combinations = [['route_id', 'consumer_id'], ['route_id', 'provider', 'model'], ['consumer_id', 'provider', 'model']];
  const names: Record<string, string> = { route_id: 'route', consumer_id: 'consumer', provider: 'provider', model: 'model' };
  const out: string[] = [];
  for (const interval of ['minute', 'hour', 'day']) {
    const full = `spend_rollup_${interval}`;
    for (const cols of combinations) {
      const t = `${full}_${cols.map((c) => names[c]).join('_')}`;
      const key = ['bucket', ...cols].join(', ');
      out.push(`CREATE TABLE ${t} (bucket TIMESTAMPTZ NOT NULL, ${cols.map((c) => `${c} TEXT COLLATE "C" NOT NULL`).join(', ')}, ${columns}, PRIMARY KEY (${key}));
      INSERT INTO ${t} (${key}, ${sums.join(', ')}, latency_hist)
        SELECT ${key}, ${sums.join(', ')}, h.hist
        FROM (SELECT ${key}, ${sums.map((c) => `sum(${c}) AS ${c}`).join(', ')} FROM ${full} GROUP BY ${key}) AS s
        JOIN (
          SELECT ${key}, jsonb_object_agg(k, n) AS hist
          FROM (SELECT ${key}, e.key AS k, sum(e.value::bigint) AS n FROM ${full}, jsonb_each_text(${full}.latency_hist) AS e GROUP BY ${key}, e.key) AS x
          GROUP BY ${key}
        ) AS h USING (${key});`);
    }
  }
  return out.join('\n      ');
}

/**
 * Migration 001's rollup tables, per interval: by the full key (route, consumer, provider, model),
 * indexed by consumer for `costOf`; and by each dimension alone, keyed by (bucket, value), so a
 * /usage query grouping or filtering by at most one dimension reads as many rows as that dimension
 * has values per bucket instead of every combination. `value` is '' for NULL as in the full-key
 * tables, COLLATE "C" so groups order byte-wise there too.
 */
function spendRollups(): string {
  const sums = `requests BIGINT NOT NULL, errors BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, total_tokens BIGINT NOT NULL,
        cost NUMERIC NOT NULL, unpriced_requests BIGINT NOT NULL, latency_hist JSONB NOT NULL`;
  const out: string[] = [];
  for (const interval of ['minute', 'hour', 'day']) {
    const t = `spend_rollup_${interval}`;
    out.push(`CREATE TABLE ${t} (
        bucket TIMESTAMPTZ NOT NULL,
        route_id TEXT COLLATE "C" NOT NULL, consumer_id TEXT COLLATE "C" NOT NULL, provider TEXT COLLATE "C" NOT NULL, model TEXT COLLATE "C" NOT NULL,
        ${sums},
        PRIMARY KEY (bucket, route_id, consumer_id, provider, model)
      );
      CREATE INDEX ${t}_by_consumer ON ${t} (consumer_id, bucket);`);
    for (const dim of ['route', 'consumer', 'provider', 'model']) {
      out.push(`CREATE TABLE ${t}_${dim} (bucket TIMESTAMPTZ NOT NULL, value TEXT COLLATE "C" NOT NULL, ${sums}, PRIMARY KEY (bucket, value));`);
      if (dim === 'consumer') out.push(`CREATE INDEX ${t}_${dim}_value ON ${t}_${dim} (value, bucket);`);
    }
  }
  return out.join('\n      ');
}
