/**
 * The `local` shared state as workers see it: requests to the primary's MemoryCounters and
 * MemoryCache over the cluster IPC channel. One round trip per call (tens of microseconds), paid
 * only by requests that go through a plugin using it. If the primary does not answer in time, the
 * call rejects and the plugin decides (rate limiters let the request through and log: a limiter
 * must not become an outage; a cache counts it as a miss).
 *
 * Counter calls travel as `state` messages, cache calls as `cache` messages: a primary that does
 * not serve the cache ignores the latter (the call times out) instead of misreading them as
 * counter reads. Both are answered with a `state-reply` carrying the same request id space.
 */
import type { MemoryCache } from './memory-cache.ts';
import type { CounterIncrement, SharedState } from './types.ts';

/** A counter call that counts or reads (batched per turn: IpcState's coalescing). */
type CountingOp = { op: 'increment'; items: CounterIncrement[] } | { op: 'read'; keys: string[] };
/** `dump`: every live counter, for a worker that owns the counters (src/state/owned.ts); never batched. */
type CounterOp = CountingOp | { op: 'dump' };
/**
 * The counter calls of one turn of a worker's event loop, in order (IpcState's coalescing), with
 * each distinct key written once, in `keys`: a call is `['r', key index ...]` (read) or
 * `['i', key index, delta, ttlMs, ...]` (increment). The calls of a turn name the same few keys
 * over and over (the limits of the same consumers, ~100 characters each): written out in full, a
 * turn of a dozen rate-limited requests was ~15 KB of JSON to write and parse, ~1 KB per request.
 */
type CounterBatchOp = { op: 'batch'; keys: string[]; ops: WireCounterOp[] };
type WireCounterOp = ['r', ...number[]] | ['i', ...number[]];
type CacheOp =
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: string; ttlMs: number }
  | { op: 'delete'; key: string }
  | { op: 'rings'; items: RingItem[] };

/** One CacheStore.setInRing call. */
interface RingItem {
  ring: string;
  max: number;
  key: string;
  value: string;
  ttlMs: number;
}
/** id 0: a request the worker does not wait for (IpcState.add and setInRing): the primary sends no reply. */
export type StateRequest = { t: 'state'; id: number } & (CounterOp | CounterBatchOp);
export type CacheRequest = { t: 'cache'; id: number } & CacheOp;
/** Counter values, or a cache value (null: a miss); empty for a cache write. */
export type StateValue = number | string | null;
export type StateReply = { t: 'state-reply'; id: number; values: StateValue[] };

const TIMEOUT_MS = 2000;
/** How long adds alone wait for a message to ride (IpcState.#flushCounters), and how many at most. */
const HOLD_ADDS_MS = 10;
const HOLD_ADDS_MAX = 256;

/** The node-wide counters as the primary holds them (MemoryCounters). */
interface Counters {
  increment(items: CounterIncrement[]): number[];
  read(keys: string[]): number[];
  dump(): (string | number)[];
}

/**
 * The primary's side of a counter request: one value per item or key, a batch's ops' values one
 * after the other; a dump's (key, value, ms left) triples.
 */
export function serveCounterRequest(counters: Counters, msg: StateRequest): StateValue[] {
  if (msg.op === 'increment') return counters.increment(msg.items);
  if (msg.op === 'read') return counters.read(msg.keys);
  if (msg.op === 'dump') return counters.dump();
  const keys = msg.keys;
  const values: number[] = [];
  for (const op of msg.ops) {
    if (op[0] === 'r') {
      const read: string[] = [];
      for (let i = 1; i < op.length; i++) read.push(keys[op[i] as number]);
      for (const v of counters.read(read)) values.push(v);
    } else {
      const items: CounterIncrement[] = [];
      for (let i = 1; i < op.length; i += 3) items.push({ key: keys[op[i] as number], delta: op[i + 1] as number, ttlMs: op[i + 2] as number });
      for (const v of counters.increment(items)) values.push(v);
    }
  }
  return values;
}

/** The primary's side of a cache request: what to put in the `state-reply`. */
export function serveCacheRequest(cache: MemoryCache, msg: CacheRequest): StateValue[] {
  switch (msg.op) {
    case 'get':
      return [cache.get(msg.key)];
    case 'set':
      cache.set(msg.key, msg.value, msg.ttlMs);
      return [];
    case 'delete':
      cache.delete(msg.key);
      return [];
    case 'rings':
      for (const r of msg.items) cache.setInRing(r.ring, r.max, r.key, r.value, r.ttlMs);
      return [];
  }
}

/** A caller waiting for its share of a batch's answer. */
type Waiter<R> = { resolve: (v: R) => void; reject: (e: Error) => void };

/** Settles the callers of a message sent without an answer (id 0): done once it is sent. */
function settleUnanswered<R>(waiters: Waiter<R>[], sent: boolean, value: R): void {
  for (const w of waiters) {
    if (sent) w.resolve(value);
    else w.reject(new Error('no IPC channel to the primary'));
  }
}

/**
 * Calls gathered over one turn of the event loop and handed to `flush` together when it ends (a
 * setImmediate): each caller's promise settles through its waiter.
 */
class TurnBatch<I, R> {
  #items: I[] = [];
  #waiters: Waiter<R>[] = [];
  readonly #flush: (items: I[], waiters: Waiter<R>[]) => void;

  constructor(flush: (items: I[], waiters: Waiter<R>[]) => void) {
    this.#flush = flush;
  }

  add(item: I): Promise<R> {
    if (this.#items.length === 0) {
      setImmediate(() => {
        const items = this.#items;
        const waiters = this.#waiters;
        this.#items = [];
        this.#waiters = [];
        this.#flush(items, waiters);
      });
    }
    return new Promise((resolve, reject) => {
      this.#items.push(item);
      this.#waiters.push({ resolve, reject });
    });
  }
}

/** Counter calls as one message: a single call as it is, several as a batch naming each key once (CounterBatchOp). */
function counterMessage(ops: CountingOp[]): { t: 'state' } & (CountingOp | CounterBatchOp) {
  if (ops.length === 1) return { t: 'state', ...ops[0] };
  const keys: string[] = [];
  const index = new Map<string, number>();
  const indexOf = (key: string): number => {
    let i = index.get(key);
    if (i === undefined) {
      index.set(key, (i = keys.length));
      keys.push(key);
    }
    return i;
  };
  const wire: WireCounterOp[] = [];
  for (const op of ops) {
    if (op.op === 'read') {
      const w: WireCounterOp = ['r'];
      for (const k of op.keys) w.push(indexOf(k));
      wire.push(w);
    } else {
      const w: WireCounterOp = ['i'];
      for (const it of op.items) w.push(indexOf(it.key), it.delta, it.ttlMs);
      wire.push(w);
    }
  }
  return { t: 'state', op: 'batch', keys, ops: wire };
}

/** How many values a counter call answers: one per item or key. */
const valuesOf = (op: CountingOp): number => (op.op === 'increment' ? op.items.length : op.keys.length);

/** A counter call waiting for its turn's message; `quiet`: its caller reads no values (IpcState.add). */
type QueuedCounterOp = { op: CountingOp; quiet: boolean };

export class IpcState implements SharedState {
  readonly kind = 'local' as const;
  readonly #rings = new TurnBatch<RingItem, void>((items, waiters) => this.#flushRings(items, waiters));
  readonly #counters = new TurnBatch<QueuedCounterOp, number[]>((ops, waiters) => this.#flushCounters(ops, waiters));
  /** Adds waiting for the next message that wants an answer (or for HOLD_ADDS_MS): IpcState.#flushCounters. */
  #heldOps: CountingOp[] = [];
  #heldWaiters: Waiter<number[]>[] = [];
  #heldTimer: NodeJS.Timeout | null = null;
  #next = 1;
  /** Request ids start at 1: 0 is a message without an answer. */
  readonly #pending = new Map<number, Waiter<StateValue[]> & { timer: NodeJS.Timeout }>();
  readonly #send: (msg: StateRequest | CacheRequest) => boolean;

  constructor(send: (msg: StateRequest | CacheRequest) => boolean) {
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

  #call(msg: { t: 'state' } & (CountingOp | CounterBatchOp)): Promise<number[]>;
  #call(msg: { t: 'state'; op: 'dump' }): Promise<StateValue[]>;
  #call(msg: { t: 'cache' } & CacheOp): Promise<StateValue[]>;
  #call(msg: ({ t: 'state' } & (CounterOp | CounterBatchOp)) | ({ t: 'cache' } & CacheOp)): Promise<StateValue[]> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the primary did not answer a ${msg.t === 'cache' ? 'cache' : 'counter'} request in time`));
      }, TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      if (!this.#send({ ...msg, id } as StateRequest | CacheRequest)) {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(new Error('no IPC channel to the primary'));
      }
    });
  }

  increment(items: CounterIncrement[]): Promise<number[]> {
    return this.#counters.add({ op: { op: 'increment', items }, quiet: false });
  }

  async add(items: CounterIncrement[]): Promise<void> {
    await this.#counters.add({ op: { op: 'increment', items }, quiet: true });
  }

  read(keys: string[]): Promise<number[]> {
    return this.#counters.add({ op: { op: 'read', keys }, quiet: false });
  }

  /**
   * Counter calls of one turn of the event loop go to the primary as one message, answered by one:
   * a rate-limited route made two or three round trips per request, each a pipe write and a wake-up
   * on both sides, which cost more CPU than the request itself (docs/performance.md). Under load
   * the requests whose bodies arrived in the same turn share them. The primary applies the calls
   * in their order, so each still sees the ones before it.
   *
   * A turn whose calls are all `add`s (the usage counted after answers, refunds) is held for the
   * next message that wants an answer, at the front of it, or sent on its own without an answer
   * after HOLD_ADDS_MS: under load the usage of one request rides the next request's limit check
   * instead of costing a message of its own. Nobody reads those counts sooner than that anyway:
   * the limit check that follows on this worker carries them, and another worker's check could as
   * well have come a moment earlier.
   */
  #flushCounters(queued: QueuedCounterOp[], waiters: Waiter<number[]>[]): void {
    if (queued.every((q) => q.quiet)) {
      for (let i = 0; i < queued.length; i++) this.#heldOps.push(queued[i].op);
      this.#heldWaiters.push(...waiters);
      if (this.#heldOps.length >= HOLD_ADDS_MAX) this.flushHeldAdds();
      else this.#heldTimer ??= setTimeout(() => this.flushHeldAdds(), HOLD_ADDS_MS).unref();
      return;
    }
    let ops = queued.map((q) => q.op);
    if (this.#heldOps.length > 0) {
      // the held adds were made before these calls: they go first, and settle with the answer
      const held = this.#takeHeld();
      ops = held.ops.concat(ops);
      waiters = held.waiters.concat(waiters);
    }
    this.#call(counterMessage(ops)).then(
      (values) => {
        let at = 0;
        ops.forEach((op, i) => waiters[i].resolve(values.slice(at, (at += valuesOf(op)))));
      },
      (e: Error) => {
        for (const w of waiters) w.reject(e);
      },
    );
  }

  #takeHeld(): { ops: CountingOp[]; waiters: Waiter<number[]>[] } {
    const held = { ops: this.#heldOps, waiters: this.#heldWaiters };
    this.#heldOps = [];
    this.#heldWaiters = [];
    if (this.#heldTimer !== null) {
      clearTimeout(this.#heldTimer);
      this.#heldTimer = null;
    }
    return held;
  }

  /** Sends the held adds now, without an answer (the hold's end, a worker's drain). */
  flushHeldAdds(): void {
    if (this.#heldOps.length === 0) return;
    const { ops, waiters } = this.#takeHeld();
    settleUnanswered(waiters, this.#send({ ...counterMessage(ops), id: 0 }), []);
  }

  /** The primary's live counters, as (key, value, ms left) triples: what a worker that owns the counters starts from. */
  dump(): Promise<StateValue[]> {
    return this.#call({ t: 'state', op: 'dump' });
  }

  /** Increments sent without an answer, right away (an owning worker's copy to the primary: src/state/owned.ts). */
  mirror(items: CounterIncrement[]): boolean {
    return this.#send({ t: 'state', id: 0, op: 'increment', items });
  }

  async get(key: string): Promise<string | null> {
    const [value] = await this.#call({ t: 'cache', op: 'get', key });
    return typeof value === 'string' ? value : null;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#call({ t: 'cache', op: 'set', key, value, ttlMs });
  }

  async delete(key: string): Promise<void> {
    await this.#call({ t: 'cache', op: 'delete', key });
  }

  /**
   * Ring writes of one turn of the event loop go to the primary as one message: under load a
   * message per write (the Responses store saves after every answer) costs more CPU in IPC than
   * the answer itself. Each caller's promise settles with the batch.
   */
  setInRing(ring: string, max: number, key: string, value: string, ttlMs: number): Promise<void> {
    return this.#rings.add({ ring, max, key, value, ttlMs });
  }

  /**
   * Sent without waiting for an answer (id 0: the primary sends none): the primary handles a
   * worker's messages in order, so this worker's later reads see the write, and another worker's
   * read that follows the client's next request finds it too. Saves half the messages.
   */
  #flushRings(items: RingItem[], waiters: Waiter<void>[]): void {
    settleUnanswered(waiters, this.#send({ t: 'cache', id: 0, op: 'rings', items }), undefined);
  }
}
