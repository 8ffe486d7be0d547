/**
 * The primary process (control plane): owns the store, serves the Admin API, builds snapshots and
 * pushes them to the proxy workers, and coordinates start-up and shutdown. It does no proxying.
 *
 * Start-up order makes `GET /` and `GET /status` honest: the Admin API starts listening only once
 * every worker has its first snapshot and listens on the proxy ports.
 *
 * The store depends on `MODELGATE_DATABASE` (see STORE_MODES): SQLite for one node; PostgreSQL for
 * many, with a change feed that refreshes this node's snapshot when another node writes; or none
 * (DB-less), with the configuration replaced as a whole through `POST /config`.
 */
import os from 'node:os';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { formatListen, publicSettings, type Settings } from '../settings.ts';
import { guiHandler } from '../gui/server.ts';
import { AdminGuard } from '../admin/guard.ts';
import { createLogger } from '../observability/logger.ts';
import { registerSecret } from '../observability/redact.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { PostgresStore, pgConfig } from '../store/postgres.ts';
import { PgChangeFeed } from '../store/postgres-feed.ts';
import { DeclarativeConfig, DeclarativeStartupError } from '../store/declarative.ts';
import type { Store } from '../store/types.ts';
import { Dao } from '../store/dao.ts';
import { createAdminServer } from '../admin/server.ts';
import { configRoutes, type DeclarativeTarget } from '../admin/config-routes.ts';
import { WorkerPool, ListenError } from './workers.ts';
import { workerSettingsEnv } from './worker-settings.ts';
import { installCrashGuard } from './crash-guard.ts';
import { failCurrentRequest } from '../admin/request-scope.ts';
import { SnapshotPublisher, loadSnapshotData } from './publisher.ts';
import { getPluginSchema, pluginNames } from '../plugins/registry.ts';
import { VERSION } from '../proxy/names.ts';
import { randomUUID } from 'node:crypto';
import { MemoryCounters } from '../state/memory.ts';
import { MemoryCache } from '../state/memory-cache.ts';
import { serveCacheRequest, serveCounterRequest } from '../state/ipc.ts';
import { SpendWriter } from '../spend/writer.ts';
import { decodeBatch } from '../spend/queue.ts';
import { openSpendStore, closeSpendStore } from '../spend/store.ts';
import { spendRowsDropped } from '../observability/metrics.ts';
import { NodeRegistry, standaloneAnswer, type ClusterNodesAnswer, type NodeReport } from './cluster-nodes.ts';

export class StartupError extends Error {}

/** After a fatal error, how much longer than the drain the stop may take before the process exits anyway. */
const FATAL_STOP_MARGIN_MS = 5000;

export interface Gateway {
  stop(): Promise<void>;
}

/** What a store mode brings beyond the store: DB-less `/config`, a change feed ... */
interface StoreMode {
  store: Store;
  declarative: DeclarativeTarget | null;
  /** Starts listening for other nodes' changes (and telling them of this one), once the publisher exists. */
  follow(publisher: SnapshotPublisher, self: () => NodeReport): Promise<void>;
  /** After this node's configuration or ready workers may have changed (a write, another node's). */
  changed(): void;
  /** `GET /cluster/nodes`: this node, and its peers where the store keeps a registry. */
  nodes(self: NodeReport): Promise<ClusterNodesAnswer>;
  /** Extra `GET /status` fields under `database`. */
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

const nothing = async () => {};
const standalone = async (self: NodeReport) => standaloneAnswer(self);

const STORE_MODES: Record<Settings['database'], (settings: Settings, log: Logger) => Promise<StoreMode>> = {
  sqlite: async (settings) => {
    const store = new SqliteStore(path.join(settings.prefix, 'modelgate.db'));
    await store.init();
    return { store, declarative: null, follow: nothing, changed: () => {}, nodes: standalone, status: () => ({}), stop: nothing };
  },
  postgres: async (settings, log) => {
    const config = pgConfig(settings);
    const store = new PostgresStore(config, { bootstrapIfEmpty: true, log });
    try {
      await store.init();
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
    let feed: PgChangeFeed | null = null;
    let registry: NodeRegistry | null = null;
    return {
      store,
      declarative: null,
      follow: async (publisher, self) => {
        // the registry's first row is written before the Admin API answers: peers see this node as soon as it serves
        registry = new NodeRegistry({ config, log, intervalMs: settings.cluster_heartbeat_ms, self });
        await registry.start();
        // a version another node wrote, once served here, is in this node's row at once (not a heartbeat later)
        feed = new PgChangeFeed({ config, log, pollIntervalMs: settings.pg_poll_interval_ms, onChange: () => void publisher.refresh().then(() => registry?.nudge()) });
        await feed.start();
      },
      changed: () => registry?.nudge(),
      nodes: async (self) => (registry ? registry.list() : standaloneAnswer(self)),
      status: () => ({ change_feed: feed?.connected ? 'listening' : 'reconnecting' }),
      stop: async () => {
        await Promise.all([feed?.stop(), registry?.stop()]);
      },
    };
  },
  off: async (settings, log) => {
    const declarative = new DeclarativeConfig(settings.prefix, log);
    await declarative.start(settings.declarative_config);
    return {
      store: declarative.store,
      declarative: { replace: (data) => declarative.replace(data), loadAll: () => declarative.store.loadAll() },
      follow: nothing,
      changed: () => {},
      nodes: standalone,
      status: () => ({ source: declarative.source }),
      stop: nothing,
    };
  },
};

export async function startGateway(settings: Settings): Promise<Gateway> {
  const log = createLogger(settings.log_level, { role: 'primary' });
  registerSecret(settings.admin_token);
  for (const secret of connectionSecrets(settings)) registerSecret(secret);
  const nodeId = randomUUID();

  let mode: StoreMode;
  try {
    mode = await STORE_MODES[settings.database](settings, log);
  } catch (e) {
    if (e instanceof DeclarativeStartupError) throw new StartupError(e.message);
    throw new StartupError(`database: cannot open the ${settings.database} store (${(e as Error).message})`);
  }
  const { store } = mode;
  const dao = new Dao(store);

  const pool = new WorkerPool({ count: settings.workers, listenCount: settings.proxy_listen.length, log, env: workerSettingsEnv(settings) });
  const counters = new MemoryCounters();
  pool.onStateRequest((msg) => serveCounterRequest(counters, msg));
  // the node-wide `local` cache, next to the counters (src/state/memory-cache.ts)
  const cache = new MemoryCache();
  pool.onCacheRequest((msg) => serveCacheRequest(cache, msg));
  const spend = await startSpendLog(settings, log, pool);
  const publisher = new SnapshotPublisher({ store, sink: pool, log, timeoutMs: settings.propagation_wait_ms });
  const initial = await loadSnapshotData(store);
  publisher.current = initial;

  let fatal: ((e: Error) => void) | null = null;
  const fatalError = new Promise<never>((_, reject) => {
    fatal = reject;
  });
  fatalError.catch(() => {});
  pool.onFatal((e) => fatal?.(e));

  try {
    // Workers bind with SO_REUSEPORT (worker.ts), which would let a second gateway share a port
    // by mistake: bind each address once without it first, so a taken port fails here, clearly.
    for (const a of settings.proxy_listen) await probeListen(a);
    await Promise.race([pool.start(initial), fatalError]);
  } catch (e) {
    pool.kill();
    await stopSpendLog(spend, 0, log);
    await mode.stop();
    await store.close();
    if (e instanceof ListenError) throw new StartupError(`MODELGATE_PROXY_LISTEN: cannot listen on ${e.address} (${describeListenError(e.code, e.message)})`);
    throw e;
  }
  for (const a of settings.proxy_listen) log.info({ listen: formatListen(a), workers: settings.workers }, `proxy listening on ${formatListen(a)}`);
  const startedAt = Date.now();
  // what this node says of itself in the node registry and `GET /cluster/nodes`, from the same sources as `GET /status`
  const self = (): NodeReport => {
    const current = publisher.current?.version ?? 0;
    return {
      id: nodeId,
      hostname: os.hostname(),
      version: VERSION,
      pid: process.pid,
      started_at: startedAt,
      configuration_version: current,
      workers: pool.size,
      workers_ready: pool.appliedVersions.filter((v) => v >= current).length,
      primary_rss_bytes: process.memoryUsage.rss(),
      workers_rss_bytes: pool.memory.reduce((sum, w) => sum + w.rss_bytes, 0),
      redis: settings.redis_url ? { configured: true, workers_connected: pool.redisConnected } : { configured: false },
    };
  };
  await mode.follow(publisher, self);
  // this node's writes: served here first (read-your-writes), then in its registry row (not awaited)
  const afterWrite = async () => {
    await publisher.refresh();
    mode.changed();
  };

  const admin = createAdminServer({
    settings,
    dao,
    log,
    afterWrite,
    extend: configRoutes({ declarative: mode.declarative, afterWrite, log }),
    info: () => ({
      version: VERSION,
      tagline: 'Welcome to modelgate',
      hostname: os.hostname(),
      node_id: nodeId,
      node_version: process.version,
      pids: { master: process.pid, workers: pool.pids },
      plugins: {
        available_on_server: Object.fromEntries(pluginNames().map((n) => [n, { version: getPluginSchema(n)!.version, priority: getPluginSchema(n)!.priority }])),
        enabled_in_cluster: [...new Set((publisher.current?.plugins ?? []).map((p) => p.name as string))].sort(),
      },
      configuration: publicSettings(settings),
    }),
    status: async () => {
      const db = await store.health();
      const versions = pool.appliedVersions;
      const current = publisher.current?.version ?? 0;
      return {
        database: { kind: settings.database, reachable: db.reachable, ...(db.error ? { error: db.error } : {}), ...mode.status() },
        server: {
          workers: pool.size,
          workers_ready: versions.filter((v) => v >= current).length,
          uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
        },
        // stale: the store could not be read lately; the proxies serve the last configuration they got
        configuration: { version: current, applied_versions: versions, stale: publisher.stale },
        memory: { primary_rss_bytes: process.memoryUsage.rss(), workers: pool.memory },
        // each worker holds its own Redis connection (shared counters); they report it every 5 s
        redis: settings.redis_url ? { configured: true, workers_connected: pool.redisConnected } : { configured: false },
      };
    },
    clusterNodes: () => mode.nodes(self()),
  });

  let extraAdmin: http.Server[] = [];
  try {
    extraAdmin = await listenAdmin(admin, settings, log);
    extraAdmin.push(...(await listenGui(admin, settings, log)));
  } catch (e) {
    for (const s of extraAdmin) s.close();
    await admin.close();
    await pool.stop(0);
    await stopSpendLog(spend, 0, log);
    publisher.stop();
    await mode.stop();
    await store.close();
    throw e;
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      log.info({ timeout_ms: settings.drain_timeout_ms }, 'draining: no new connections, waiting for in-flight requests');
      for (const s of extraAdmin) s.close();
      await admin.close();
      publisher.stop();
      await mode.stop();
      await pool.stop(settings.drain_timeout_ms);
      await new Promise((r) => setImmediate(r)); // a last batch read with the exit is handled first
      await stopSpendLog(spend, SPEND_STOP_MS, log); // after the workers: their last batches are in
      await store.close();
      counters.close();
      log.info('stopped');
    })();
    return stopping;
  };
  // from here on, a bug outside a request's promise chain is logged and survived, not a crash
  installCrashGuard({ log, answer: failCurrentRequest, stop, deadlineMs: settings.drain_timeout_ms + FATAL_STOP_MARGIN_MS });
  return { stop };
}

/** At shutdown, how long the spend writer may take to write what it holds. */
const SPEND_STOP_MS = 5000;

/**
 * The spend log's primary half (MODELGATE_SPEND_LOG): the node's spend store (src/spend/store.ts,
 * which the Admin API's `/usage` reads through `spendStore()`) and the writer fed by the workers'
 * batches. A store that cannot be opened costs the spend log, never the gateway: logged, and the
 * workers' batches are ignored.
 */
async function startSpendLog(settings: Settings, log: Logger, pool: WorkerPool): Promise<SpendWriter | null> {
  if (!settings.spend_log) return null;
  try {
    const store = await openSpendStore(settings);
    const writer = new SpendWriter({ store, log, retentionDays: settings.spend_retention_days, maxRows: settings.spend_queue_rows, onDropped: (where, n) => spendRowsDropped.inc({ where }, n) });
    pool.onSpend((msg) => writer.accept(decodeBatch(msg.batch), msg.dropped));
    pool.onSpendCost((consumer, from, to) => store.costOf(consumer, from, to));
    return writer;
  } catch (e) {
    log.error({ err: (e as Error).message }, 'spend log: cannot open its store; no spend rows are recorded');
    return null;
  }
}

async function stopSpendLog(writer: SpendWriter | null, timeoutMs: number, log: Logger): Promise<void> {
  if (!writer) return;
  await writer.stop(timeoutMs);
  try {
    await closeSpendStore(); // SQLite writes the rollup sums it still holds (src/spend/sqlite.ts)
  } catch (e) {
    // the rows are in; their last second of rollups is not: said, and the shutdown goes on
    log.error({ err: (e as Error).message }, 'spend log: closing the store failed; the rollups of the last rows written may be missing');
  }
}

async function listenAdmin(admin: FastifyInstance, settings: Settings, log: Logger): Promise<http.Server[]> {
  const servers: http.Server[] = [];
  if (settings.admin_listen.length === 0) return servers;
  // Fastify listens on one address; further admin addresses get plain servers routed into it.
  const [first, ...rest] = settings.admin_listen;
  await listenOne(admin, first.host, first.port);
  log.info({ listen: formatListen(first) }, `admin API listening on ${formatListen(first)}`);
  for (const a of rest) {
    const extra = http.createServer((req, res) => admin.routing(req, res));
    await new Promise<void>((resolve, reject) => {
      extra.once('error', (e: NodeJS.ErrnoException) => reject(new StartupError(`MODELGATE_ADMIN_LISTEN: cannot listen on ${formatListen(a)} (${describeListenError(e.code ?? '', e.message)})`)));
      extra.listen(a.port, a.host, () => resolve());
    });
    servers.push(extra);
    log.info({ listen: formatListen(a) }, `admin API listening on ${formatListen(a)}`);
  }
  return servers;
}

/** The Admin GUI's listeners (src/gui/server.ts); the admin app is made ready for in-process routing. */
async function listenGui(admin: FastifyInstance, settings: Settings, log: Logger): Promise<http.Server[]> {
  const servers: http.Server[] = [];
  if (settings.admin_gui_listen.length === 0) return servers;
  await admin.ready();
  const handler = guiHandler({ admin, guard: new AdminGuard(settings), proxy: settings.proxy_listen[0] ?? null, log });
  try {
    for (const a of settings.admin_gui_listen) {
      const server = http.createServer({ requestTimeout: settings.client_body_timeout_ms + settings.client_header_timeout_ms }, handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) => reject(new StartupError(`MODELGATE_ADMIN_GUI_LISTEN: cannot listen on ${formatListen(a)} (${describeListenError(e.code ?? '', e.message)})`)));
        server.listen(a.port, a.host, () => resolve());
      });
      servers.push(server);
      log.info({ listen: formatListen(a) }, `admin GUI listening on http://${formatListen(a)}`);
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return servers;
}

async function listenOne(admin: FastifyInstance, host: string, port: number): Promise<void> {
  try {
    await admin.listen({ host, port });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new StartupError(`MODELGATE_ADMIN_LISTEN: cannot listen on ${formatListen({ host, port })} (${describeListenError(err.code ?? '', err.message)})`);
  }
}

/** Passwords in the database and Redis settings: masked in every log line, like provider keys. */
function connectionSecrets(s: Settings): string[] {
  const out = [s.pg_password ?? ''];
  for (const url of [s.pg_url, s.redis_url]) {
    try {
      if (url) out.push(decodeURIComponent(new URL(url).password));
    } catch {
      // not a URL: the driver will say so
    }
  }
  return out.filter(Boolean);
}

function probeListen(a: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => reject(new ListenError(formatListen(a), e.code ?? 'UNKNOWN', e.message)));
    probe.listen({ host: a.host, port: a.port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function describeListenError(code: string, message: string): string {
  if (code === 'EADDRINUSE') return 'address already in use';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EADDRNOTAVAIL') return 'address not available on this machine';
  return message;
}
