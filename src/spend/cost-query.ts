/**
 * A worker's question to the primary's spend log: what a consumer spent over [from, to). The
 * ai-budget plugin asks it to refill a local counter after a restart (plugins/ai-budget/seed.ts);
 * only the primary holds the SpendStore (SQLite or PostgreSQL alike), so workers ask over IPC.
 * An answer that does not come within the timeout is null: the budget then counts from zero,
 * as a limiter must not wait on its own bookkeeping.
 */
export interface SpendCostRequest {
  t: 'spend-cost';
  id: number;
  consumer: string;
  from: number;
  to: number;
}

export interface SpendCostReply {
  t: 'spend-cost-reply';
  id: number;
  /** Null when the spend log is off or its store did not answer. */
  cost: number | null;
}

const TIMEOUT_MS = 2000;

export class SpendCostClient {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (cost: number | null) => void; timer: NodeJS.Timeout }>();
  readonly #send: (msg: SpendCostRequest) => boolean;

  constructor(send: (msg: SpendCostRequest) => boolean) {
    this.#send = send;
  }

  costOf(consumer: string, from: number, to: number): Promise<number | null> {
    const id = this.#next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(null);
      }, TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, { resolve, timer });
      if (!this.#send({ t: 'spend-cost', id, consumer, from, to })) {
        this.#pending.delete(id);
        clearTimeout(timer);
        resolve(null);
      }
    });
  }

  /** Feed every `spend-cost-reply` from the primary here. */
  onReply(msg: SpendCostReply): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg.cost);
  }
}
