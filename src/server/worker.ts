/**
 * A proxy worker process: listens on the proxy addresses (ports shared through node:cluster),
 * serves every request from the snapshot it holds, swaps snapshots between requests when the
 * primary sends a new one, and drains on request. It never opens the database.
 */
import http from 'node:http';
import module from 'node:module';
import { formatListen, type Settings } from '../settings.ts';
import { createLogger } from '../observability/logger.ts';
import { compileSnapshotAsync, type Snapshot } from '../snapshot/compile.ts';
import type { SnapshotData } from '../snapshot/types.ts';
import { ProxyServer } from '../proxy/server.ts';
import { setEgressPolicy } from '../proxy/egress.ts';
import { closePools } from '../proxy/upstream.ts';
import { runExitSteps } from './exit-steps.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { IpcState } from '../state/ipc.ts';
import { OwnedCounters } from '../state/owned.ts';
import { installSharedState } from '../state/index.ts';
import { WARM_ENV } from './compile-cache.ts';
import { workerSettings } from './worker-settings.ts';
import { SpendQueue } from '../spend/queue.ts';
import { spendRowOf } from '../spend/row.ts';
import { SpendCostClient } from '../spend/cost-query.ts';
import { installSpendSeeder } from '../plugins/ai-budget/seed.ts';
import { loadPluginHandlers, pluginNames } from '../plugins/registry.ts';

if (process.env[WARM_ENV]) {
  // filling the compile cache (compile-cache.ts): the modules above are loaded; so are the lazy
  // ones (Redis, every plugin's handler), which a worker may load later
  await import('../state/redis.ts');
  await loadPluginHandlers(pluginNames());
  module.flushCompileCache();
  process.exit(0);
}

const settings: Settings = workerSettings();
const log = createLogger(settings.log_level, { role: 'proxy' });
setEgressPolicy({ allowMetadata: settings.allow_metadata_egress, deny: settings.egress_deny, allow: settings.egress_allow });

function send(msg: FromWorker): void {
  if (process.connected) process.send?.(msg);
}

const ipcState = new IpcState((msg) => process.connected && process.send!(msg));
// a node's only worker holds the `local` counters itself, the primary keeping a copy (src/state/owned.ts)
const localState =
  settings.workers === 1
    ? new OwnedCounters(ipcState, (e) => log.warn({ err: e.message }, 'could not read the counters the primary kept; counting from zero'))
    : ipcState;
// budgets refill their local counters after a restart from the primary's spend log (whatever its database)
const spendCost = new SpendCostClient((msg) => process.connected && process.send!(msg));
if (settings.spend_log) installSpendSeeder(async (consumer, from, to) => (await spendCost.costOf(consumer, from, to)) ?? 0);
installSharedState({ local: localState });
// ioredis is loaded only when Redis is configured (~25 MB a worker would carry for nothing); until
// it is, `redis`-policy counters and caches use the local store, as they do during a Redis outage.
let redisState: { close(): Promise<void>; readonly ready: boolean } | null = null;
if (settings.redis_url) {
  void import('../state/redis.ts').then(({ RedisState, FailoverState }) => {
    const redis = new RedisState(settings.redis_url!, { timeoutMs: settings.redis_timeout_ms });
    redisState = redis;
    installSharedState({ local: localState, redis: new FailoverState(redis, localState, log), client: redis.client });
  });
}

let snapshot: Snapshot | null = null;
const proxy = new ProxyServer(settings, log, () => snapshot);
const servers: http.Server[] = [];
let listening = false;

// The spend log (MODELGATE_SPEND_LOG): each AI request's row is queued after the log phase and
// reaches the primary in batches; the proxy only calls the hook. `false` from process.send means
// a backlog, not a loss (the message is queued and its callback still fires): only a closed
// channel is "not sent".
const spendQueue = settings.spend_log
  ? new SpendQueue({
      send: (msg, done) => {
        if (!process.connected) return false;
        process.send!(msg, undefined, {}, () => done());
        return true;
      },
    })
  : null;
if (spendQueue) {
  proxy.afterLog = (ctx) => {
    const row = spendRowOf(ctx);
    if (row) spendQueue.push(row);
  };
}

/**
 * On Linux each worker listens on its own SO_REUSEPORT socket and the kernel spreads connections.
 * With the cluster module's default hand-off, a connection passed to a worker that is dying is
 * never answered and the client hangs until its own timeout; with its own socket, a dying worker's
 * pending connections are reset at once and the others carry on. Elsewhere: the default sharing.
 */
const OWN_SOCKET = process.platform === 'linux' ? { exclusive: true, reusePort: true } : {};

function listen(): void {
  if (listening) return;
  listening = true;
  for (const addr of settings.proxy_listen) {
    const server = proxy.createServer();
    servers.push(server);
    const name = formatListen(addr);
    server.once('error', (e: NodeJS.ErrnoException) => {
      send({ t: 'listen-error', address: name, code: e.code ?? 'UNKNOWN', message: e.message });
    });
    server.listen({ host: addr.host, port: addr.port, ...OWN_SOCKET }, () => send({ t: 'listening', address: name }));
  }
}

// memory for `GET /status` (operators and the soak watch each worker's heap, not only its RSS), and
// whether its Redis connection is up (each worker holds its own)
const MEMORY_REPORT_MS = 5000;
const reportMemory = () => {
  const m = process.memoryUsage();
  send({ t: 'memory', rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, ...(settings.redis_url ? { redis: redisState?.ready ?? false } : {}) });
};
setInterval(reportMemory, MEMORY_REPORT_MS).unref();

/** The newest configuration version received: a compile that finishes after a newer one arrived is dropped. */
let newestVersion = 0;

/**
 * Compiles in slices (requests keep being served on the current snapshot meanwhile), then swaps
 * it in between two requests. Snapshots are whole: the newest one received wins.
 */
async function applySnapshot(data: SnapshotData): Promise<void> {
  newestVersion = Math.max(newestVersion, data.version);
  const started = performance.now();
  let compiled: Snapshot;
  try {
    compiled = await compileSnapshotAsync(data);
  } catch (e) {
    log.error({ err: (e as Error).message, version: data.version }, 'could not compile configuration; keeping the previous one');
    send({ t: 'snapshot-error', version: data.version, message: (e as Error).message });
    return;
  }
  const compileMs = Math.round((performance.now() - started) * 10) / 10;
  if (data.version < newestVersion) {
    // superseded while compiling; the newer one acknowledges
    log.debug({ version: data.version, newest: newestVersion, compile_ms: compileMs }, 'configuration superseded while compiling; dropped');
    return;
  }
  snapshot = compiled;
  send({ t: 'applied', version: data.version });
  log.debug({ version: data.version, compile_ms: compileMs, routes: compiled.routes.size, services: compiled.services.size }, 'configuration applied');
  reportMemory();
  // listen only once there is something to serve: a request never sees an empty gateway
  if (!listening) {
    module.flushCompileCache(); // whatever this worker compiled is cached for the next one
  }
  listen();
}

process.on('message', (msg: ToWorker) => {
  if (msg.t === 'snapshot') {
    void applySnapshot(msg.data);
  } else if (msg.t === 'drain') {
    void drain(msg.timeoutMs);
  } else if (msg.t === 'state-reply') {
    ipcState.onReply(msg);
  } else if (msg.t === 'spend-cost-reply') {
    spendCost.onReply(msg);
  }
});

/** At exit, how long the worker waits for its last spend batch to be written to the channel. */
const SPEND_FLUSH_AT_EXIT_MS = 2000;

async function drain(timeoutMs: number): Promise<void> {
  await proxy.drain(servers, timeoutMs);
  localState.flushHeldAdds(); // usage counted after the last answers, held for a message to ride
  // the last spend rows go to the primary before this process exits
  spendQueue?.close();
  await spendQueue?.sent(SPEND_FLUSH_AT_EXIT_MS);
  await runExitSteps(SPEND_FLUSH_AT_EXIT_MS); // what modules loaded on demand still have to send (the OTLP exporters), within the same bound
  await closePools();
  await redisState?.close();
  process.exit(0);
}

// The primary is gone (crashed or killed): nobody will send configuration or drain us.
process.on('disconnect', () => void drain(settings.drain_timeout_ms));
process.on('SIGTERM', () => {}); // the primary coordinates shutdown; a group SIGTERM must not cut requests
process.on('SIGINT', () => {});

process.on('uncaughtException', (e) => {
  log.fatal({ err: e.message, stack: e.stack }, 'uncaught exception in proxy worker');
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  log.error({ err: (e as Error)?.message ?? String(e) }, 'unhandled rejection in proxy worker');
});
