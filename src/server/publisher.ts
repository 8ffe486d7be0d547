/**
 * Turns store writes into snapshots the workers serve. Writes are coalesced: while one snapshot
 * is being built and delivered, later writes wait for the next one, so a burst of N writes costs
 * a couple of rebuilds, not N. `refresh()` resolves once every worker serves a configuration that
 * includes all writes made before the call (read-your-writes for Admin API clients), or after the
 * propagation timeout. If the store cannot be read, workers keep their last snapshot.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types.ts';
import type { SnapshotData } from '../snapshot/types.ts';

export interface SnapshotSink {
  publish(snapshot: SnapshotData, timeoutMs: number): Promise<void>;
}

export async function loadSnapshotData(store: Store): Promise<SnapshotData> {
  // version first: a write landing between the two reads makes the data newer than the version,
  // never older, and the next refresh delivers it again under its own version
  const version = await store.version();
  const data = await store.loadAll();
  return { ...data, version };
}

export class SnapshotPublisher {
  readonly #store: Store;
  readonly #sink: SnapshotSink;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #requested = 0;
  #delivered = 0;
  #running = false;
  #waiters: { generation: number; resolve: () => void }[] = [];
  current: SnapshotData | null = null;

  constructor(opts: { store: Store; sink: SnapshotSink; log: Logger; timeoutMs: number }) {
    this.#store = opts.store;
    this.#sink = opts.sink;
    this.#log = opts.log;
    this.#timeoutMs = opts.timeoutMs;
  }

  refresh(): Promise<void> {
    const generation = ++this.#requested;
    const done = new Promise<void>((resolve) => this.#waiters.push({ generation, resolve }));
    void this.#run();
    return done;
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#delivered < this.#requested) {
        const generation = this.#requested;
        try {
          const data = await loadSnapshotData(this.#store);
          if (!this.current || data.version !== this.current.version) {
            this.current = data;
            await this.#sink.publish(data, this.#timeoutMs);
          }
        } catch (e) {
          this.#log.error({ err: (e as Error).message }, 'could not read the configuration; proxies keep serving the last one');
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
}
