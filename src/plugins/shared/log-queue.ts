/**
 * Kong's plugin queue (`kong/tools/queue.lua`, the `queue` record of http-log): entries wait in a
 * bounded queue per worker and leave in batches; a failed batch is retried with exponential
 * back-off until `max_retry_time`, then dropped. When the queue is full (entries, or bytes) the
 * oldest entries are dropped, as Kong does, and counted (`modelgate_log_entries_dropped_total`):
 * a slow or dead log server costs bounded memory and never slows requests.
 *
 * One batch is in flight per queue at a time, so entries reach the server in order.
 */
import { logger } from '../../observability/logger.ts';
import { metrics } from '../../observability/metrics.ts';
import type { Field } from '../../schema/types.ts';

export interface QueueParams {
  max_batch_size: number;
  /** Seconds after the first queued entry before a partial batch is sent. */
  max_coalescing_delay: number;
  max_entries: number;
  max_bytes: number | null;
  /** Seconds before a failing batch is dropped; -1: no retries. */
  max_retry_time: number;
  initial_retry_delay: number;
  max_retry_delay: number;
}

/** Kong's `typedefs.queue` (3.6). */
export function queueRecord(): Field {
  return {
    type: 'record',
    fields: {
      max_batch_size: { type: 'integer', default: 1, between: [1, 1_000_000] },
      max_coalescing_delay: { type: 'number', default: 1, between: [0, 3600] },
      max_entries: { type: 'integer', default: 10_000, between: [1, 1_000_000] },
      max_bytes: { type: 'integer' },
      max_retry_time: { type: 'number', default: 60 },
      initial_retry_delay: { type: 'number', default: 0.01, between: [0.001, 1_000_000] },
      max_retry_delay: { type: 'number', default: 60, between: [0.001, 1_000_000] },
    },
  };
}

/** Without `max_bytes`, a queue still never holds more than this (payload logging can make entries large). */
export const DEFAULT_MAX_QUEUE_BYTES = 32 * 1024 * 1024;

export type BatchSender = (entries: string[]) => Promise<void>;

export class LogQueue {
  readonly name: string;
  readonly plugin: string;
  readonly #params: QueueParams;
  readonly #send: BatchSender;
  readonly #maxBytes: number;
  #entries: string[] = [];
  #head = 0;
  #bytes = 0;
  #running = false;
  #full = false;
  #wake: (() => void) | null = null;
  #closed = false;
  /** Entries dropped since the queue was created (tests, status). */
  dropped = 0;
  sent = 0;

  constructor(name: string, plugin: string, params: QueueParams, send: BatchSender) {
    this.name = name;
    this.plugin = plugin;
    this.#params = params;
    this.#send = send;
    this.#maxBytes = params.max_bytes ?? DEFAULT_MAX_QUEUE_BYTES;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  #drop(count: number, reason: string): void {
    this.dropped += count;
    metrics.logEntriesDropped.inc({ plugin: this.plugin, reason }, count);
  }

  #dropOldest(): void {
    const e = this.#entries[this.#head];
    this.#entries[this.#head] = '';
    this.#head++;
    this.#bytes -= e.length;
    this.#drop(1, 'queue_full');
    if (!this.#full) {
      this.#full = true;
      logger().error({ plugin: this.plugin, queue: this.name }, 'log queue full, dropping old entries until processing is successful again');
    }
  }

  enqueue(entry: string): boolean {
    if (this.#closed) return false;
    if (entry.length > this.#maxBytes) {
      this.#drop(1, 'too_large');
      logger().error({ plugin: this.plugin, bytes: entry.length, max_bytes: this.#maxBytes }, 'log entry larger than the queue may hold; dropped');
      return false;
    }
    while (this.length >= this.#params.max_entries) this.#dropOldest();
    while (this.length > 0 && this.#bytes + entry.length > this.#maxBytes) this.#dropOldest();
    this.#entries.push(entry);
    this.#bytes += entry.length;
    if (this.#wake) {
      const w = this.#wake;
      this.#wake = null;
      w();
    }
    if (!this.#running) void this.#run();
    return true;
  }

  #take(n: number): string[] {
    const end = Math.min(this.#entries.length, this.#head + n);
    const batch = this.#entries.slice(this.#head, end);
    this.#head = end;
    for (const e of batch) this.#bytes -= e.length;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  /** Waits until a batch is full or the coalescing delay since the first entry has passed. */
  async #coalesce(): Promise<void> {
    const p = this.#params;
    if (p.max_batch_size <= 1 || this.length >= p.max_batch_size) return;
    const deadline = Date.now() + p.max_coalescing_delay * 1000;
    while (this.length < p.max_batch_size && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.#wake = null;
          resolve();
        }, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.length > 0) {
        await this.#coalesce();
        const batch = this.#take(this.#params.max_batch_size);
        if (batch.length === 0) continue;
        await this.#deliver(batch);
      }
    } finally {
      this.#running = false;
    }
  }

  async #deliver(batch: string[]): Promise<void> {
    const p = this.#params;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#send(batch);
        this.sent += batch.length;
        this.#full = false;
        return;
      } catch (e) {
        logger().warn({ plugin: this.plugin, queue: this.name, err: (e as Error).message, attempt: attempt + 1 }, 'log handler could not process entries');
        if (this.#closed || p.max_retry_time < 0 || Date.now() - started > p.max_retry_time * 1000) {
          this.#drop(batch.length, 'retries_exhausted');
          logger().error({ plugin: this.plugin, queue: this.name, entries: batch.length }, 'could not send log entries, giving up after retries');
          return;
        }
        const delay = Math.min(p.max_retry_delay, 2 ** attempt * p.initial_retry_delay) * 1000;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Stops retrying (shutdown, tests); queued entries are dropped. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }
}

const queues = new Map<string, LogQueue>();

/** The queue for a name (same log server settings share one), created on first use. */
export function queueFor(name: string, plugin: string, params: QueueParams, send: BatchSender): LogQueue {
  let q = queues.get(name);
  if (!q) {
    q = new LogQueue(name, plugin, params, send);
    queues.set(name, q);
  }
  return q;
}
