/**
 * The proxy worker pool, seen from the primary: forks `MODELGATE_WORKERS` processes sharing the
 * proxy ports, hands each the current snapshot, waits for acknowledgements, replaces workers that
 * die, and drains them on shutdown.
 */
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import type { Logger } from 'pino';
import type { FromWorker, ToWorker } from './messages.ts';
import { prepareWorkerCompileCache } from './compile-cache.ts';
import type { SnapshotData } from '../snapshot/types.ts';
import type { CacheRequest, StateRequest, StateValue } from '../state/ipc.ts';
import type { SpendBatchMessage } from '../spend/queue.ts';

export class ListenError extends Error {
  readonly address: string;
  readonly code: string;
  constructor(address: string, code: string, message: string) {
    super(message);
    this.address = address;
    this.code = code;
  }
}

/**
 * V8 and Node flags of the proxy workers, on top of the primary's.
 *
 * `--no-allocation-site-pretenuring`: V8 moves an allocation site to the old generation once most
 * of its objects survive a scavenge. Under load a proxy's per-request objects often do (dozens of
 * requests in flight when a scavenge runs) though they die a moment later: allocated in the old
 * generation they cost V8's slower paths and write barriers, and garbage for the mark-compactor.
 * Without it: +5% throughput, -4% CPU per request (interleaved A/B, docs/performance.md).
 *
 * `--no-async-context-frame`: Node 24 carries AsyncLocalStorage's context through every
 * `process.nextTick`, timer and promise job by default (an "async context frame" saved and
 * restored around each). A worker uses no AsyncLocalStorage (the Admin API's request scope lives in
 * the primary), and the ~16 ticks of a chat request paid ~13 k instructions for it (335 k → 322 k,
 * docs/performance.md, "Changes and their effect"). AsyncLocalStorage still works without it, on
 * async hooks, should a plugin ever use it in a worker. Given only where this Node knows the flag.
 *
 * No start-up `gc()`: a worker that ran one major collection before listening (~6 MB less idle
 * RSS) then paid ~10 µs more CPU on every request, for as long as it lived (docs/decisions.md).
 */
const WORKER_V8_FLAGS = ['--no-allocation-site-pretenuring', ...(process.allowedNodeEnvironmentFlags.has('--no-async-context-frame') ? ['--no-async-context-frame'] : [])];

interface WorkerState {
  worker: Worker;
  applied: number;
  listening: number;
  /** The worker's last memory report (every few seconds). */
  memory: { rss: number; heapUsed: number; heapTotal: number } | null;
  /** Whether the worker's Redis connection was ready at its last report (null: not reported). */
  redis: boolean | null;
}

interface AckWaiter {
  version: number;
  resolve: () => void;
}

export class WorkerPool {
  readonly #count: number;
  readonly #listenCount: number;
  readonly #log: Logger;
  readonly #states = new Map<number, WorkerState>();
  readonly #waiters: AckWaiter[] = [];
  #snapshot: SnapshotData | null = null;
  #stopping = false;
  #onFatal: (e: Error) => void = () => {};
  #onState: ((msg: StateRequest) => StateValue[]) | null = null;
  #onCache: ((msg: CacheRequest) => StateValue[]) | null = null;
  #onSpend: ((msg: SpendBatchMessage) => void) | null = null;
  #onSpendCost: ((consumer: string, from: number, to: number) => Promise<number | null>) | null = null;

  constructor(opts: { count: number; listenCount: number; log: Logger; env: Record<string, string> }) {
    this.#count = opts.count;
    this.#listenCount = opts.listenCount;
    this.#log = opts.log;
    const exec = path.join(import.meta.dirname, 'worker.ts');
    // workers run with the primary's flags and their own; the compile cache is filled with the same ones
    const execArgv = [...process.execArgv, ...WORKER_V8_FLAGS];
    cluster.setupPrimary({
      exec,
      execArgv,
      // structured clone: snapshots are large object graphs, cheaper than JSON for IPC
      serialization: 'advanced',
      silent: false,
    });
    for (const [k, v] of Object.entries({ ...prepareWorkerCompileCache(exec, process.env, execArgv), ...opts.env })) process.env[k] = v;
  }

  /** Called when a worker cannot listen (port in use ...): the process must stop. */
  onFatal(fn: (e: Error) => void): void {
    this.#onFatal = fn;
  }

  /** Serves workers' counter requests (the node-wide `local` counter store lives in the primary). */
  onStateRequest(fn: (msg: StateRequest) => StateValue[]): void {
    this.#onState = fn;
  }

  /** Serves workers' cache requests (the node-wide `local` cache lives in the primary too). */
  onCacheRequest(fn: (msg: CacheRequest) => StateValue[]): void {
    this.#onCache = fn;
  }

  /** Receives workers' spend batches (the spend writer); without it they are ignored (spend log off). */
  /** Answers workers' spend questions (budgets refilled after a restart) from the primary's spend log. */
  onSpendCost(fn: (consumer: string, from: number, to: number) => Promise<number | null>): void {
    this.#onSpendCost = fn;
  }

  onSpend(fn: (msg: SpendBatchMessage) => void): void {
    this.#onSpend = fn;
  }

  /** Forks every worker and resolves once all of them listen with the given snapshot applied. */
  start(snapshot: SnapshotData): Promise<void> {
    this.#snapshot = snapshot;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.#count; i++) ready.push(this.#fork());
    return Promise.all(ready).then(() => undefined);
  }

  #fork(): Promise<void> {
    const worker = cluster.fork();
    const state: WorkerState = { worker, applied: 0, listening: 0, memory: null, redis: null };
    this.#states.set(worker.id, state);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      worker.on('online', () => {
        this.#log.debug({ worker: worker.process.pid }, 'proxy worker started');
        if (this.#snapshot) this.#send(worker, { t: 'snapshot', data: this.#snapshot });
      });
      worker.on('message', (msg: FromWorker) => {
        switch (msg.t) {
          case 'listening':
            state.listening++;
            if (state.listening >= this.#listenCount && state.applied > 0) settle();
            break;
          case 'listen-error': {
            const err = new ListenError(msg.address, msg.code, msg.message);
            settle(err);
            this.#onFatal(err);
            break;
          }
          case 'applied':
            this.#log.debug({ worker: worker.process.pid, version: msg.version }, 'worker serves configuration');
            state.applied = Math.max(state.applied, msg.version);
            if (state.listening >= this.#listenCount) settle();
            this.#checkWaiters();
            break;
          case 'memory':
            state.memory = { rss: msg.rss, heapUsed: msg.heapUsed, heapTotal: msg.heapTotal };
            state.redis = msg.redis ?? null;
            break;
          case 'state':
            if (this.#onState) this.#answerState(worker, msg.id, this.#onState(msg));
            break;
          case 'cache':
            if (this.#onCache) this.#answerState(worker, msg.id, this.#onCache(msg));
            break;
          case 'spend':
            this.#onSpend?.(msg);
            break;
          case 'spend-cost': {
            const ask = this.#onSpendCost;
            const reply = (cost: number | null) => this.#send(worker, { t: 'spend-cost-reply', id: msg.id, cost });
            if (!ask) reply(null);
            else ask(msg.consumer, msg.from, msg.to).then(reply, () => reply(null));
            break;
          }
          case 'snapshot-error':
            this.#log.error({ worker: worker.process.pid, version: msg.version, err: msg.message }, 'worker could not apply configuration');
            break;
        }
      });
      // a message to a worker that just died fails with EPIPE, emitted here: unheard, it would crash the primary
      worker.on('error', (e: Error) => this.#log.warn({ worker: worker.process.pid, err: e.message }, 'could not send to a proxy worker'));
      worker.on('exit', (code, signal) => {
        this.#states.delete(worker.id);
        this.#checkWaiters();
        if (this.#stopping) return;
        if (!settled) {
          settle(new Error(`proxy worker exited during start-up (code ${code}, signal ${signal})`));
          return;
        }
        this.#log.error({ pid: worker.process.pid, code, signal }, 'proxy worker died; starting a replacement');
        this.#fork().catch((e: Error) => this.#log.error({ err: e.message }, 'replacement worker failed to start'));
      });
    });
  }

  #send(worker: Worker, msg: ToWorker): void {
    if (worker.isConnected()) worker.send(msg);
  }

  /** A counter or cache call's values, unless it was sent with id 0 (IpcState.add, setInRing: served, not answered). */
  #answerState(worker: Worker, id: number, values: StateValue[]): void {
    if (id !== 0) this.#send(worker, { t: 'state-reply', id, values });
  }

  /** Sends a new snapshot to every worker; resolves when all acknowledged it, or after `timeoutMs`. */
  publish(snapshot: SnapshotData, timeoutMs: number): Promise<void> {
    this.#snapshot = snapshot;
    for (const s of this.#states.values()) this.#send(s.worker, { t: 'snapshot', data: snapshot });
    if (timeoutMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#log.warn({ version: snapshot.version }, 'not every worker acknowledged the new configuration in time');
        resolve();
      }, timeoutMs);
      timer.unref();
      this.#waiters.push({
        version: snapshot.version,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.#checkWaiters();
    });
  }

  #checkWaiters(): void {
    if (!this.#waiters.length) return;
    let min = Infinity;
    for (const s of this.#states.values()) min = Math.min(min, s.applied);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if (this.#waiters[i].version <= min) {
        this.#waiters[i].resolve();
        this.#waiters.splice(i, 1);
      }
    }
  }

  get appliedVersions(): number[] {
    return [...this.#states.values()].map((s) => s.applied);
  }

  /** Each worker's last reported memory, for `GET /status`. */
  get memory(): { pid: number; rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number }[] {
    return [...this.#states.values()]
      .filter((s) => s.memory)
      .map((s) => ({ pid: s.worker.process.pid ?? 0, rss_bytes: s.memory!.rss, heap_used_bytes: s.memory!.heapUsed, heap_total_bytes: s.memory!.heapTotal }));
  }

  /** Workers whose Redis connection was ready at their last report. */
  get redisConnected(): number {
    return [...this.#states.values()].filter((s) => s.redis === true).length;
  }

  get size(): number {
    return this.#states.size;
  }

  get pids(): number[] {
    return [...this.#states.values()].map((s) => s.worker.process.pid ?? 0);
  }

  /** Asks every worker to drain; resolves when all exited (or were killed after the deadline). */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#states.values()].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.worker.isDead()) return resolve();
          s.worker.once('exit', () => resolve());
          this.#send(s.worker, { t: 'drain', timeoutMs });
          const kill = setTimeout(() => s.worker.process.kill('SIGKILL'), timeoutMs + 2000);
          kill.unref();
        }),
    );
    await Promise.all(exits);
  }

  kill(): void {
    this.#stopping = true;
    for (const s of this.#states.values()) s.worker.process.kill('SIGKILL');
  }
}
