/**
 * The primary's spend writer: workers' batches (src/spend/queue.ts) wait in a bounded in-memory
 * queue and go to the SpendStore in transactions of up to `batchRows` rows, one at a time. While
 * the store refuses writes (a PostgreSQL outage), the batch stays at the head of the queue and is
 * retried with a capped backoff; rows keep arriving until the bound (rows, `MODELGATE_SPEND_QUEUE_ROWS`,
 * and estimated bytes), and
 * beyond it new rows are dropped and counted (`modelgate_spend_rows_dropped_total{where="primary"}`).
 * Nothing here waits on a worker or a request. Retention: rows older than
 * `MODELGATE_SPEND_RETENTION_DAYS` are pruned at start and then hourly.
 */
import type { Logger } from 'pino';
import type { SpendRow, SpendStore } from './types.ts';
import { rowBytes } from './queue.ts';

export interface SpendWriterOptions {
  store: SpendStore;
  log: Pick<Logger, 'warn' | 'info' | 'error'>;
  retentionDays: number;
  /** Counts dropped rows by where (`worker`: reported by a worker; `primary`: dropped here). */
  onDropped?: (where: 'worker' | 'primary', n: number) => void;
  maxRows?: number;
  maxBytes?: number;
  batchRows?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  pruneEveryMs?: number;
  now?: () => number;
}

export const SPEND_WRITER_DEFAULTS = { maxRows: 100_000, maxBytes: 64 * 1024 * 1024, batchRows: 500, retryMinMs: 250, retryMaxMs: 10_000, pruneEveryMs: 3_600_000 };

const DAY_MS = 86_400_000;

/**
 * The bytes bound that goes with a rows bound: the default's ratio (64 MiB per 100 000 rows, ~670
 * estimated bytes a row), never below 64 MiB. A larger MODELGATE_SPEND_QUEUE_ROWS then holds that
 * many rows instead of stopping at the default's bytes; a smaller one is bounded by its rows.
 */
export function defaultMaxBytes(maxRows: number): number {
  const { maxRows: rows, maxBytes: bytes } = SPEND_WRITER_DEFAULTS;
  return Math.max(bytes, Math.ceil((maxRows * bytes) / rows));
}

export class SpendWriter {
  readonly #store: SpendStore;
  readonly #log: SpendWriterOptions['log'];
  readonly #retentionMs: number;
  readonly #onDropped: NonNullable<SpendWriterOptions['onDropped']>;
  readonly #maxRows: number;
  readonly #maxBytes: number;
  readonly #batchRows: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #now: () => number;
  #queue: SpendRow[] = [];
  #sizes: number[] = [];
  #bytes = 0;
  #writing: Promise<void> | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #retryWake: (() => void) | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;
  #failing = false;
  #stopped = false;
  /** Rows dropped here (tests, status). */
  dropped = 0;
  /** Rows written to the store. */
  written = 0;

  constructor(opts: SpendWriterOptions) {
    this.#store = opts.store;
    this.#log = opts.log;
    this.#retentionMs = opts.retentionDays * DAY_MS;
    this.#onDropped = opts.onDropped ?? (() => {});
    this.#maxRows = opts.maxRows ?? SPEND_WRITER_DEFAULTS.maxRows;
    this.#maxBytes = opts.maxBytes ?? defaultMaxBytes(this.#maxRows);
    this.#batchRows = opts.batchRows ?? SPEND_WRITER_DEFAULTS.batchRows;
    this.#retryMinMs = opts.retryMinMs ?? SPEND_WRITER_DEFAULTS.retryMinMs;
    this.#retryMaxMs = opts.retryMaxMs ?? SPEND_WRITER_DEFAULTS.retryMaxMs;
    this.#now = opts.now ?? Date.now;
    const pruneEveryMs = opts.pruneEveryMs ?? SPEND_WRITER_DEFAULTS.pruneEveryMs;
    if (pruneEveryMs > 0) {
      this.#pruneTimer = setInterval(() => void this.prune(), pruneEveryMs);
      this.#pruneTimer.unref();
      setImmediate(() => void this.prune());
    }
  }

  /** Rows waiting for the store. */
  get pending(): number {
    return this.#queue.length;
  }

  get store(): SpendStore {
    return this.#store;
  }

  /** A worker's batch: queued within the bound, the rest dropped and counted. Never waits. */
  accept(rows: readonly SpendRow[], workerDropped = 0): void {
    if (workerDropped > 0) this.#onDropped('worker', workerDropped);
    let dropped = 0;
    for (const r of rows) {
      const size = rowBytes(r);
      if (this.#stopped || this.#queue.length >= this.#maxRows || this.#bytes + size > this.#maxBytes) {
        dropped++;
        continue;
      }
      this.#queue.push(r);
      this.#sizes.push(size);
      this.#bytes += size;
    }
    if (dropped > 0) {
      this.dropped += dropped;
      this.#onDropped('primary', dropped);
    }
    if (this.#queue.length > 0) this.#writing ??= this.#drain().finally(() => (this.#writing = null));
  }

  /** Writes batches until the queue is empty; a failed batch is retried (capped backoff) until it goes in. */
  async #drain(): Promise<void> {
    let delay = this.#retryMinMs;
    while (this.#queue.length > 0) {
      const n = Math.min(this.#batchRows, this.#queue.length);
      const batch = this.#queue.slice(0, n);
      try {
        await this.#store.write(batch);
      } catch (e) {
        if (!this.#failing) this.#log.warn({ err: (e as Error).message, pending: this.#queue.length }, 'spend log: the store refused a batch; keeping rows in memory and retrying');
        this.#failing = true;
        if (this.#stopped) return;
        await this.#sleep(delay);
        delay = Math.min(this.#retryMaxMs, delay * 2);
        continue;
      }
      if (this.#failing) this.#log.info({ pending: this.#queue.length }, 'spend log: the store accepts writes again');
      this.#failing = false;
      delay = this.#retryMinMs;
      this.#queue.splice(0, n);
      let freed = 0;
      for (const s of this.#sizes.splice(0, n)) freed += s;
      this.#bytes -= freed;
      this.written += n;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#retryWake = resolve;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#retryWake = null;
        resolve();
      }, ms);
      this.#retryTimer.unref();
    });
  }

  /** Retention: rows (and rollups) older than the retention period go. */
  async prune(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#store.prune(this.#now() - this.#retentionMs);
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'spend log: retention prune failed; retried at the next period');
    }
  }

  /**
   * Shutdown: what is queued gets one more try (bounded by `timeoutMs`), then the store is closed.
   * Rows still queued after that are lost, and counted.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    this.#pruneTimer = null;
    if (this.#writing) {
      // a retry waiting for its delay tries once more now; a store still away is not waited for
      if (this.#retryTimer) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
        this.#retryWake?.();
      }
      this.#stopped = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#writing, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.#stopped = true;
    if (this.#queue.length > 0) {
      this.#log.warn({ rows: this.#queue.length }, 'spend log: rows not written at shutdown (store away)');
      this.dropped += this.#queue.length;
      this.#onDropped('primary', this.#queue.length);
      this.#queue = [];
      this.#sizes = [];
      this.#bytes = 0;
    }
  }
}
