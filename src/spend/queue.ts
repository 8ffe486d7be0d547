/**
 * The worker's spend queue: rows built in the log phase wait here and go to the primary in batches
 * (one IPC message per ~250 ms or 500 rows), so a request pays one array push, never an await.
 *
 * Bounded twice: by rows and by (estimated) bytes in the queue, and by batches sent but not yet
 * written to the IPC channel (a primary that stops reading must not make the channel's own
 * buffer grow). A full queue drops the new row and counts it; the count rides on the next batch
 * (`dropped`), so the primary's one counter shows both sides
 * (`modelgate_spend_rows_dropped_total{where="worker"}`).
 */
import { SPEND_ROW_FIELDS, type SpendRow } from './types.ts';
import { columnsOf, rowsOf } from './columns.ts';

/** What a worker sends the primary (src/server/messages.ts). */
export interface SpendBatchMessage {
  t: 'spend';
  /**
   * The rows as JSON, by column (encodeBatch): one string for the IPC serializer to copy. Measured
   * per row of a 500-row batch, worker + primary: objects through the structured-clone serializer
   * 1.3 + 2.1 µs (each row repeats 29 keys), arrays of plain values 2.7 + 2.4 µs, columns 1.6 +
   * 0.9 µs; a column whose rows all hold the same value once (docs/performance.md).
   */
  batch: string;
  /** Rows this worker dropped since its previous message. */
  dropped: number;
}

/**
 * Rows as a batch: `{"n": rows, "columns": [...]}`, `columns[k]` row by row the values of field
 * SPEND_ROW_FIELDS[k] (an absent value travels as null), or `{"same": v}` when every row holds v.
 * A route's rows repeat most of their fields (route, service, plugin, consumer, provider, model,
 * status…): written once, a one-route batch is about a third of the bytes to stringify, copy
 * over IPC and parse again.
 */
export function encodeBatch(rows: readonly SpendRow[]): string {
  const columns: unknown[] = columnsOf(rows);
  for (let k = 0; k < columns.length; k++) {
    const c = columns[k] as unknown[];
    if (c.length > 1 && allSame(c)) columns[k] = { same: c[0] };
  }
  return JSON.stringify({ n: rows.length, columns });
}

function allSame(c: readonly unknown[]): boolean {
  const first = c[0];
  for (let i = 1; i < c.length; i++) if (c[i] !== first) return false;
  return true;
}

/** A batch as rows again (the primary's side); a malformed batch gives no rows. */
export function decodeBatch(batch: string): SpendRow[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(batch);
  } catch {
    return [];
  }
  const { n, columns } = (parsed ?? {}) as { n?: unknown; columns?: unknown };
  if (!Number.isSafeInteger(n) || (n as number) < 0 || !Array.isArray(columns) || columns.length !== SPEND_ROW_FIELDS.length) return [];
  const full: unknown[][] = [];
  for (const c of columns as unknown[]) {
    if (Array.isArray(c)) {
      if (c.length !== n) return [];
      full.push(c);
    } else if (c !== null && typeof c === 'object' && Object.hasOwn(c, 'same')) full.push(new Array(n as number).fill((c as { same: unknown }).same));
    else return [];
  }
  return rowsOf(full, n as number);
}

export interface SpendQueueOptions {
  /** Hands a batch to the channel; `done` once it is written. False: not sent (channel closed). */
  send: (msg: SpendBatchMessage, done: () => void) => boolean;
  maxRows?: number;
  maxBytes?: number;
  flushMs?: number;
  batchRows?: number;
  /** Batches handed to the channel and not yet written. */
  maxInFlight?: number;
}

export const SPEND_QUEUE_DEFAULTS = { maxRows: 20_000, maxBytes: 16 * 1024 * 1024, flushMs: 250, batchRows: 500, maxInFlight: 8 };

/** Fixed part of a row's size (numbers, booleans, keys) plus its strings: an estimate, cheap to compute. */
const ROW_OVERHEAD = 400;
/** One attempt of a balanced route: a few numbers, a provider and a model name. */
const ATTEMPT_BYTES = 120;

export function rowBytes(r: SpendRow): number {
  return (
    ROW_OVERHEAD +
    r.request_id.length +
    (r.consumer_id?.length ?? 0) +
    (r.credential_id?.length ?? 0) +
    (r.route_id?.length ?? 0) +
    (r.service_id?.length ?? 0) +
    (r.plugin_id?.length ?? 0) +
    (r.provider?.length ?? 0) +
    (r.model_requested?.length ?? 0) +
    (r.model_served?.length ?? 0) +
    (r.attempts ? r.attempts.length * ATTEMPT_BYTES : 0) +
    // UTF-16 units, not bytes: each side is bounded (PAYLOAD_MAX_BYTES) before it gets here
    (r.payload ? r.payload.request.length + r.payload.response.length : 0)
  );
}

export class SpendQueue {
  readonly #send: SpendQueueOptions['send'];
  readonly #maxRows: number;
  readonly #maxBytes: number;
  readonly #flushMs: number;
  readonly #batchRows: number;
  readonly #maxInFlight: number;
  #rows: SpendRow[] = [];
  #sizes: number[] = [];
  #bytes = 0;
  #inFlight = 0;
  /** Dropped since the last message: reported with the next one. */
  #unreported = 0;
  /** Dropped in all (tests, status). */
  dropped = 0;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #closed = false;
  #idle: (() => void) | null = null;

  constructor(opts: SpendQueueOptions) {
    this.#send = opts.send;
    this.#maxRows = opts.maxRows ?? SPEND_QUEUE_DEFAULTS.maxRows;
    this.#maxBytes = opts.maxBytes ?? SPEND_QUEUE_DEFAULTS.maxBytes;
    this.#flushMs = opts.flushMs ?? SPEND_QUEUE_DEFAULTS.flushMs;
    this.#batchRows = opts.batchRows ?? SPEND_QUEUE_DEFAULTS.batchRows;
    this.#maxInFlight = opts.maxInFlight ?? SPEND_QUEUE_DEFAULTS.maxInFlight;
  }

  get size(): number {
    return this.#rows.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** On the request path: a push, or a counted drop. Never throws, never waits. */
  push(row: SpendRow): void {
    if (this.#closed) return;
    const size = rowBytes(row);
    if (this.#rows.length >= this.#maxRows || this.#bytes + size > this.#maxBytes) {
      this.dropped++;
      this.#unreported++;
      this.#schedule();
      return;
    }
    this.#rows.push(row);
    this.#sizes.push(size);
    this.#bytes += size;
    if (this.#rows.length >= this.#batchRows) {
      // a full batch goes out after the current turn, not inside the request's log phase
      this.#immediate ??= setImmediate(() => {
        this.#immediate = null;
        this.flush();
      });
    } else {
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, this.#flushMs);
    this.#timer.unref();
  }

  /** Sends what waits, in batches of at most `batchRows`, while the channel takes them. */
  flush(): void {
    while ((this.#rows.length > 0 || this.#unreported > 0) && this.#inFlight < this.#maxInFlight) {
      const n = Math.min(this.#batchRows, this.#rows.length);
      const rows = this.#rows.slice(0, n);
      const msg: SpendBatchMessage = { t: 'spend', batch: encodeBatch(rows), dropped: this.#unreported };
      this.#inFlight++;
      let sent: boolean;
      try {
        sent = this.#send(msg, () => this.#written());
      } catch {
        sent = false;
      }
      if (!sent) {
        this.#inFlight--;
        break; // the channel is closed or refused: keep the rows (bounded) for a later try
      }
      this.#rows.splice(0, n);
      let freed = 0;
      for (const s of this.#sizes.splice(0, n)) freed += s;
      this.#bytes -= freed;
      this.#unreported = 0;
    }
    if (this.#rows.length > 0 || this.#unreported > 0) this.#schedule();
  }

  #written(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = null;
      idle();
    }
    if (this.#rows.length >= this.#batchRows) this.flush();
  }

  /** Resolves once every batch handed to the channel was written (a draining worker exits after it), or after `timeoutMs`. */
  sent(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Drain: what waits is sent now; nothing is accepted after. */
  close(): void {
    this.flush();
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
  }
}
