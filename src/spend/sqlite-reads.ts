/**
 * `/usage` and `/usage/requests` on SQLite, answered in a worker thread. node:sqlite is
 * synchronous, and the store lives in the primary, whose event loop also serves the workers'
 * shared counters and spend batches: a query that reads many rollup rows (two dimensions over a
 * month by hour) would stall them for its whole duration. The thread opens the same file read-only
 * (WAL lets it read while the primary writes) and runs the store's own query code; queries queue
 * in it one at a time. Writes, retention and `costOf` (a small indexed sum) stay in the primary.
 */
import { Worker } from 'node:worker_threads';
import { UsageTooLargeError, type RequestsAnswer, type RequestsQuery, type SpendStore, type UsageAnswer, type UsageQuery } from './types.ts';
import { SpendCursorError, type SqliteSpendStore } from './sqlite.ts';

type Call = { id: number; op: 'usage'; q: UsageQuery } | { id: number; op: 'requests'; q: RequestsQuery };
type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; cursor: boolean; tooLarge: boolean };

export class SqliteReadThread {
  readonly #worker: Worker;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(file: string) {
    this.#worker = new Worker(new URL('./sqlite-read-worker.ts', import.meta.url), { workerData: { file } });
    this.#worker.unref();
    this.#worker.on('message', (a: Answer) => {
      const p = this.#pending.get(a.id);
      if (!p) return;
      this.#pending.delete(a.id);
      if (a.ok) p.resolve(a.value);
      else p.reject(a.cursor ? new SpendCursorError(a.message) : a.tooLarge ? new UsageTooLargeError(a.message) : new Error(a.message));
    });
    // a thread that died fails what it held; the next query starts none (the Admin API answers 500)
    this.#worker.on('error', (e) => this.#failAll(e));
    this.#worker.on('exit', () => this.#failAll(new Error('the spend query thread stopped')));
  }

  #call<T>(call: Omit<Call, 'id'>): Promise<T> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ ...call, id });
    });
  }

  usage(q: UsageQuery): Promise<UsageAnswer> {
    return this.#call({ op: 'usage', q });
  }

  requests(q: RequestsQuery): Promise<RequestsAnswer> {
    return this.#call({ op: 'requests', q });
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** The store with its queries answered by the thread. */
export function withReadThread(store: SqliteSpendStore, reads: SqliteReadThread): SpendStore {
  return {
    kind: store.kind,
    write: (rows) => store.write(rows),
    // the rollup sums the writer still holds go in first: a query sees every row written so far
    usage: (q) => {
      store.beforeRead();
      return reads.usage(q);
    },
    requests: (q) => reads.requests(q),
    costOf: (c, from, to) => store.costOf(c, from, to),
    prune: (before) => store.prune(before),
    close: async () => {
      await reads.close();
      await store.close();
    },
  };
}
