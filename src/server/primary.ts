/**
 * The primary process (control plane): owns the store, serves the Admin API, builds snapshots and
 * pushes them to the proxy workers, and coordinates start-up and shutdown. It does no proxying.
 *
 * Start-up order makes `GET /` and `GET /status` honest: the Admin API starts listening only once
 * every worker has its first snapshot and listens on the proxy ports.
 */
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { formatListen, publicSettings, type Settings } from '../settings.ts';
import { createLogger } from '../observability/logger.ts';
import { registerSecret } from '../observability/redact.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { Dao } from '../store/dao.ts';
import { createAdminServer } from '../admin/server.ts';
import { WorkerPool, ListenError } from './workers.ts';
import { SnapshotPublisher, loadSnapshotData } from './publisher.ts';
import { getPlugin, pluginNames } from '../plugins/registry.ts';
import { VERSION } from '../proxy/names.ts';
import { randomUUID } from 'node:crypto';
import { MemoryCounters } from '../state/memory.ts';

export class StartupError extends Error {}

export interface Gateway {
  stop(): Promise<void>;
}

function openStore(settings: Settings): Store {
  if (settings.database === 'sqlite') return new SqliteStore(path.join(settings.prefix, 'modelgate.db'));
  throw new StartupError(`MODELGATE_DATABASE: '${settings.database}' is not available in this build yet`);
}

export async function startGateway(settings: Settings): Promise<Gateway> {
  const log = createLogger(settings.log_level, { role: 'primary' });
  registerSecret(settings.admin_token);
  const nodeId = randomUUID();

  const store = openStore(settings);
  try {
    await store.init();
  } catch (e) {
    throw new StartupError(`database: cannot open the ${settings.database} store (${(e as Error).message})`);
  }
  const dao = new Dao(store);

  const pool = new WorkerPool({ count: settings.workers, listenCount: settings.proxy_listen.length, log, env: {} });
  const counters = new MemoryCounters();
  pool.onStateRequest((msg) => (msg.op === 'increment' ? counters.increment(msg.items) : counters.read(msg.keys)));
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
    await Promise.race([pool.start(initial), fatalError]);
  } catch (e) {
    pool.kill();
    await store.close();
    if (e instanceof ListenError) throw new StartupError(`MODELGATE_PROXY_LISTEN: cannot listen on ${e.address} (${describeListenError(e.code, e.message)})`);
    throw e;
  }
  for (const a of settings.proxy_listen) log.info({ listen: formatListen(a), workers: settings.workers }, `proxy listening on ${formatListen(a)}`);

  const startedAt = Date.now();
  const admin = createAdminServer({
    settings,
    dao,
    log,
    afterWrite: () => publisher.refresh(),
    info: () => ({
      version: VERSION,
      tagline: 'Welcome to modelgate',
      hostname: os.hostname(),
      node_id: nodeId,
      node_version: process.version,
      pids: { master: process.pid, workers: pool.pids },
      plugins: {
        available_on_server: Object.fromEntries(pluginNames().map((n) => [n, { version: getPlugin(n)!.schema.version, priority: getPlugin(n)!.schema.priority }])),
        enabled_in_cluster: [...new Set((publisher.current?.plugins ?? []).map((p) => p.name as string))].sort(),
      },
      configuration: publicSettings(settings),
    }),
    status: async () => {
      const db = await store.health();
      const versions = pool.appliedVersions;
      const current = publisher.current?.version ?? 0;
      return {
        database: { reachable: db.reachable, ...(db.error ? { error: db.error } : {}) },
        server: {
          workers: pool.size,
          workers_ready: versions.filter((v) => v >= current).length,
          uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
        },
        configuration: { version: current, applied_versions: versions },
        memory: { primary_rss_bytes: process.memoryUsage.rss() },
      };
    },
  });

  let extraAdmin: http.Server[] = [];
  try {
    extraAdmin = await listenAdmin(admin, settings, log);
  } catch (e) {
    await pool.stop(0);
    await store.close();
    throw e;
  }

  let stopping: Promise<void> | null = null;
  return {
    stop() {
      stopping ??= (async () => {
        log.info({ timeout_ms: settings.drain_timeout_ms }, 'draining: no new connections, waiting for in-flight requests');
        for (const s of extraAdmin) s.close();
        await admin.close();
        await pool.stop(settings.drain_timeout_ms);
        await store.close();
        counters.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
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

async function listenOne(admin: FastifyInstance, host: string, port: number): Promise<void> {
  try {
    await admin.listen({ host, port });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new StartupError(`MODELGATE_ADMIN_LISTEN: cannot listen on ${formatListen({ host, port })} (${describeListenError(err.code ?? '', err.message)})`);
  }
}

function describeListenError(code: string, message: string): string {
  if (code === 'EADDRINUSE') return 'address already in use';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EADDRNOTAVAIL') return 'address not available on this machine';
  return message;
}
