/**
 * The node registry (PostgreSQL mode): each node's primary writes one row of `cluster_nodes`
 * (migration 003) every MODELGATE_CLUSTER_HEARTBEAT_MS, and at once after its configuration
 * version or its ready workers change, so that any node's Admin API (`GET /cluster/nodes`) can
 * list every node sharing the database. Nodes still talk only through the database: there is no
 * node-to-node connection.
 *
 * - Off the request path: the heartbeat runs in the primary on its own small pool (one
 *   connection), never in a worker. A database outage makes a beat fail (logged once, and once
 *   when it is back); the next tick tries again and traffic never notices.
 * - Times come from the database's clock (`now()`), so nodes with skewed clocks agree on ages: a
 *   row older than 3 of its own heartbeats is `unreachable`; rows older than a day are pruned.
 * - A clean shutdown deletes the node's row; a node that died keeps it, shown unreachable, until
 *   the prune.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { classifyPgError } from '../store/pg-errors.ts';
import type { ClusterNode, ClusterNodesAnswer } from './cluster-node-types.ts';

export type { ClusterNode, ClusterNodesAnswer } from './cluster-node-types.ts';

/** What a node says of itself: its heartbeat row, and the first entry of `GET /cluster/nodes`. */
export interface NodeReport {
  id: string;
  hostname: string;
  version: string;
  pid: number;
  /** ms since the epoch, the primary's clock */
  started_at: number;
  configuration_version: number;
  workers: number;
  workers_ready: number;
  primary_rss_bytes: number;
  /** the workers' last reported RSS, summed */
  workers_rss_bytes: number;
  redis: { configured: boolean; workers_connected?: number };
}


/** A row is unreachable after this many of its own heartbeats without a new one. */
export const MISSED_BEATS = 3;
/** Rows not seen for this long are deleted (by any node, at its start and hourly). */
const PRUNE_AFTER = '1 day';
const PRUNE_EVERY_MS = 3_600_000;

interface Row {
  id: string;
  hostname: string;
  version: string;
  pid: number;
  started_at: Date;
  last_seen: Date;
  heartbeat_ms: number;
  configuration_version: string;
  workers: number;
  workers_ready: number;
  primary_rss_bytes: string;
  workers_rss_bytes: string;
  redis_configured: boolean;
  redis_workers_connected: number | null;
  age_ms: number;
}

const UPSERT = `
  INSERT INTO cluster_nodes (id, hostname, version, pid, started_at, last_seen, heartbeat_ms, configuration_version,
    workers, workers_ready, primary_rss_bytes, workers_rss_bytes, redis_configured, redis_workers_connected)
  VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), now(), $6, $7, $8, $9, $10, $11, $12, $13)
  ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, version = EXCLUDED.version, pid = EXCLUDED.pid,
    last_seen = EXCLUDED.last_seen, heartbeat_ms = EXCLUDED.heartbeat_ms, configuration_version = EXCLUDED.configuration_version,
    workers = EXCLUDED.workers, workers_ready = EXCLUDED.workers_ready, primary_rss_bytes = EXCLUDED.primary_rss_bytes,
    workers_rss_bytes = EXCLUDED.workers_rss_bytes, redis_configured = EXCLUDED.redis_configured,
    redis_workers_connected = EXCLUDED.redis_workers_connected
  RETURNING last_seen`;

const LIST = `
  SELECT n.*, (extract(epoch FROM now() - n.last_seen) * 1000)::float8 AS age_ms,
    (SELECT value FROM meta WHERE key = 'config_version') AS newest
  FROM cluster_nodes n ORDER BY n.hostname, n.id`;

export interface NodeRegistryOptions {
  /** the store's connection settings; the registry opens one connection of its own */
  config: pg.PoolConfig;
  log: Logger;
  intervalMs: number;
  self: () => NodeReport;
}

export class NodeRegistry {
  readonly #opts: NodeRegistryOptions;
  readonly #pool: pg.Pool;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #failing = false;
  #lastPrune = 0;
  /** the last beat the database took: its time, and this clock's time then */
  #lastSeen: { db: Date; local: number } | null = null;
  /** what the last beat wrote, to beat again at once when it changes */
  #written = '';

  constructor(opts: NodeRegistryOptions) {
    this.#opts = opts;
    this.#pool = new pg.Pool({ ...opts.config, max: 1 });
    // an idle connection dropped by the server must not crash the primary; the next beat reconnects
    this.#pool.on('error', (e) => opts.log.debug({ err: e.message }, 'node registry: idle PostgreSQL connection lost'));
  }

  /** Writes the first row (whatever the outcome), then beats every interval. */
  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.beat(), this.#opts.intervalMs);
    this.#timer.unref();
    await this.beat();
  }

  /** Called after a configuration change: beats now if the version or ready workers moved. */
  nudge(): void {
    if (this.#stopped || this.#key(this.#opts.self()) === this.#written) return;
    void this.beat();
  }

  /** One heartbeat; a call while one is running makes one more after it, not two at once. */
  beat(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#inFlight) {
      this.#again = true;
      return this.#inFlight;
    }
    this.#inFlight = (async () => {
      try {
        do {
          this.#again = false;
          await this.#beatOnce();
        } while (this.#again && !this.#stopped);
      } finally {
        this.#inFlight = null;
      }
    })();
    return this.#inFlight;
  }

  #key(r: NodeReport): string {
    return `${r.configuration_version}/${r.workers}/${r.workers_ready}`;
  }

  async #beatOnce(): Promise<void> {
    const r = this.#opts.self();
    try {
      const rows = await this.#pool.query<{ last_seen: Date }>(UPSERT, [
        r.id, r.hostname, r.version, r.pid, r.started_at, this.#opts.intervalMs, r.configuration_version,
        r.workers, r.workers_ready, r.primary_rss_bytes, r.workers_rss_bytes, r.redis.configured, r.redis.configured ? (r.redis.workers_connected ?? 0) : null,
      ]);
      this.#lastSeen = { db: rows.rows[0].last_seen, local: Date.now() };
      this.#written = this.#key(r);
      if (this.#failing) this.#opts.log.info('node registry: heartbeat written again');
      this.#failing = false;
    } catch (e) {
      if (!this.#failing) this.#opts.log.warn({ err: (e as Error).message, kind: classifyPgError(e) }, 'node registry: cannot write this node\'s heartbeat; retrying every interval (traffic is not affected)');
      this.#failing = true;
      return;
    }
    if (Date.now() - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = Date.now();
      await this.#pool.query(`DELETE FROM cluster_nodes WHERE last_seen < now() - interval '${PRUNE_AFTER}'`).catch((e: Error) => this.#opts.log.debug({ err: e.message }, 'node registry: prune failed'));
    }
  }

  /** Every node of the database, this one first (from its live state), for `GET /cluster/nodes`. */
  async list(): Promise<ClusterNodesAnswer> {
    const me = this.#opts.self();
    const registry = { kind: 'postgres' as const, heartbeat_ms: this.#opts.intervalMs };
    let rows: (Row & { newest: string | null })[];
    try {
      rows = (await this.#pool.query<Row & { newest: string | null }>(LIST)).rows;
    } catch (e) {
      return { data: [this.#selfNode(me)], next: null, configuration_version: me.configuration_version, registry: { ...registry, reachable: false, error: (e as Error).message } };
    }
    const peers = rows.filter((row) => row.id !== me.id).map(peerNode);
    const newest = rows.length && rows[0].newest !== null ? Number(rows[0].newest) : Math.max(me.configuration_version, ...peers.map((p) => p.configuration_version));
    return { data: [this.#selfNode(me), ...peers], next: null, configuration_version: newest, registry: { ...registry, reachable: true } };
  }

  #selfNode(r: NodeReport): ClusterNode {
    const seen = this.#lastSeen;
    return { ...selfNode(r), last_seen: seen ? seen.db.toISOString() : null, last_seen_age_ms: seen ? Date.now() - seen.local : null, heartbeat_ms: this.#opts.intervalMs };
  }

  /** Stops beating and deletes this node's row (a clean shutdown leaves the list at once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    // a beat still running would write the row back after the delete
    await this.#inFlight?.catch(() => {});
    try {
      await this.#pool.query('DELETE FROM cluster_nodes WHERE id = $1', [this.#opts.self().id]);
    } catch (e) {
      this.#opts.log.warn({ err: (e as Error).message }, 'node registry: cannot remove this node\'s row; others show it unreachable until it is pruned');
    }
    await this.#pool.end().catch(() => {});
  }
}

/** This node as an entry, without a registry (SQLite, DB-less) or before its times are known. */
export function selfNode(r: NodeReport): ClusterNode {
  return {
    id: r.id,
    self: true,
    state: 'running',
    hostname: r.hostname,
    version: r.version,
    pid: r.pid,
    started_at: new Date(r.started_at).toISOString(),
    last_seen: null,
    last_seen_age_ms: null,
    heartbeat_ms: null,
    configuration_version: r.configuration_version,
    workers: r.workers,
    workers_ready: r.workers_ready,
    memory: { primary_rss_bytes: r.primary_rss_bytes, workers_rss_bytes: r.workers_rss_bytes },
    redis: r.redis,
  };
}

/** SQLite and DB-less: nodes share nothing, so the list is this node. */
export function standaloneAnswer(r: NodeReport): ClusterNodesAnswer {
  return { data: [selfNode(r)], next: null, configuration_version: r.configuration_version, registry: { kind: 'none' } };
}

function peerNode(row: Row): ClusterNode {
  return {
    id: row.id,
    self: false,
    state: row.age_ms > MISSED_BEATS * row.heartbeat_ms ? 'unreachable' : 'running',
    hostname: row.hostname,
    version: row.version,
    pid: row.pid,
    started_at: row.started_at.toISOString(),
    last_seen: row.last_seen.toISOString(),
    last_seen_age_ms: Math.max(0, Math.round(row.age_ms)),
    heartbeat_ms: row.heartbeat_ms,
    configuration_version: Number(row.configuration_version),
    workers: row.workers,
    workers_ready: row.workers_ready,
    memory: { primary_rss_bytes: Number(row.primary_rss_bytes), workers_rss_bytes: Number(row.workers_rss_bytes) },
    redis: row.redis_configured ? { configured: true, workers_connected: row.redis_workers_connected ?? 0 } : { configured: false },
  };
}
