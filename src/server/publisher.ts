/**
 * Turns store writes into snapshots the workers serve. Writes are coalesced: while one snapshot
 * is being built and delivered, later writes wait for the next one, so a burst of N writes costs
 * a couple of rebuilds, not N. `refresh()` resolves once every worker serves a configuration that
 * includes all writes made before the call (read-your-writes for Admin API clients), or after the
 * propagation timeout.
 *
 * A refresh first reads the version alone and loads the configuration only when it changed, so
 * the cluster change feed can call it on every notification and poll at little cost.
 * If the store cannot be read (database down), workers keep their last snapshot and the
 * publisher retries with backoff until it can; the outage and the recovery are logged once each.
 */
import type { Logger } from 'pino';
import type { ConfigData, Store } from '../store/types.ts';
import type { SnapshotData } from '../snapshot/types.ts';

export interface SnapshotSink {
  publish(snapshot: SnapshotData, timeoutMs: number): Promise<void>;
}

/** Stores that can read the version and every table in one consistent read (PostgreSQL). */
interface VersionedLoad {
  loadVersioned(): Promise<{ version: number; data: ConfigData }>;
}

function hasVersionedLoad(store: Store): store is Store & VersionedLoad {
  return typeof (store as Partial<VersionedLoad>).loadVersioned === 'function';
}

export async function loadSnapshotData(store: Store): Promise<SnapshotData> {
  if (hasVersionedLoad(store)) {
    const { version, data } = await store.loadVersioned();
    return { ...data, version };
  }
  // version first: a write landing between the two reads makes the data newer than the version,
  // never older, and the next refresh delivers it again under its own version
  const version = await store.version();
  const data = await store.loadAll();
  return { ...data, version };
}

const ms = (v: number) => Math.round(v * 10) / 10;

function entityCounts(data: SnapshotData): Record<string, number> {
  return { services: data.services.length, routes: data.routes.length, plugins: data.plugins.length, consumers: data.consumers.length };
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export class SnapshotPublisher {
  readonly #store: Store;
  readonly #sink: SnapshotSink;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #requested = 0;
  #delivered = 0;
  #running = false;
  #waiters: { generation: number; resolve: () => void }[] = [];
  #failingSince: number | null = null;
  #retryDelay = RETRY_MIN_MS;
  #retryTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  current: SnapshotData | null = null;

  constructor(opts: { store: Store; sink: SnapshotSink; log: Logger; timeoutMs: number }) {
    this.#store = opts.store;
    this.#sink = opts.sink;
    this.#log = opts.log;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** Whether the last attempt to read the store failed (the proxies serve an older snapshot). */
  get stale(): boolean {
    return this.#failingSince !== null;
  }

  refresh(): Promise<void> {
    const generation = ++this.#requested;
    const done = new Promise<void>((resolve) => this.#waiters.push({ generation, resolve }));
    void this.#run();
    return done;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#delivered < this.#requested) {
        const generation = this.#requested;
        try {
          await this.#refreshOnce();
          this.#recovered();
        } catch (e) {
          this.#failed(e as Error);
        }
        this.#delivered = generation;
        this.#waiters = this.#waiters.filter((w) => {
          if (w.generation > generation) return true;
          w.resolve();
          return false;
        });
      }
    } finally {
      this.#running = false;
    }
  }

  async #refreshOnce(): Promise<void> {
    if (this.current && (await this.#store.version()) === this.current.version) {
      this.#log.trace({ version: this.current.version }, 'configuration unchanged');
      return;
    }
    const started = performance.now();
    const data = await loadSnapshotData(this.#store);
    if (this.current && data.version === this.current.version) return;
    const loaded = performance.now();
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug({ version: data.version, load_ms: ms(loaded - started), ...entityCounts(data) }, 'configuration loaded');
    }
    this.current = data;
    await this.#sink.publish(data, this.#timeoutMs);
    this.#log.debug({ version: data.version, publish_ms: ms(performance.now() - loaded) }, 'configuration published');
  }

  #failed(e: Error): void {
    if (this.#failingSince === null) {
      this.#failingSince = Date.now();
      this.#log.error({ err: e.message }, 'could not read the configuration; proxies keep serving the last one, retrying');
    } else {
      this.#log.debug({ err: e.message }, 'configuration still unreadable');
    }
    if (this.#retryTimer || this.#stopped) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.refresh();
    }, delay);
    this.#retryTimer.unref();
  }

  #recovered(): void {
    this.#retryDelay = RETRY_MIN_MS;
    if (this.#failingSince === null) return;
    this.#log.info({ down_ms: Date.now() - this.#failingSince, version: this.current?.version }, 'configuration readable again; proxies are up to date');
    this.#failingSince = null;
  }
}
