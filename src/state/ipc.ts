/**
 * The `local` counter store as workers see it: requests to the primary's MemoryCounters over the
 * cluster IPC channel. One round trip per call (tens of microseconds), paid only by requests that
 * go through a counting plugin. If the primary does not answer in time, the call rejects and the
 * plugin decides (rate limiters let the request through and log: a limiter must not become an
 * outage).
 */
import type { CounterIncrement, CounterStore } from './types.ts';

type StateOp = { op: 'increment'; items: CounterIncrement[] } | { op: 'read'; keys: string[] };
export type StateRequest = { t: 'state'; id: number } & StateOp;
export type StateReply = { t: 'state-reply'; id: number; values: number[] };

const TIMEOUT_MS = 2000;

export class IpcCounters implements CounterStore {
  readonly kind = 'local' as const;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: number[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #send: (msg: StateRequest) => boolean;

  constructor(send: (msg: StateRequest) => boolean) {
    this.#send = send;
  }

  /** Feed every `state-reply` message from the primary here. */
  onReply(msg: StateReply): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    p.resolve(msg.values);
  }

  #call(msg: StateOp): Promise<number[]> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('the primary did not answer a counter request in time'));
      }, TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      if (!this.#send({ t: 'state', id, ...msg } as StateRequest)) {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(new Error('no IPC channel to the primary'));
      }
    });
  }

  increment(items: CounterIncrement[]): Promise<number[]> {
    return this.#call({ op: 'increment', items });
  }

  read(keys: string[]): Promise<number[]> {
    return this.#call({ op: 'read', keys });
  }
}
