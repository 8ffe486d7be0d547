/**
 * Counters shared by every node, in Redis (`MODELGATE_REDIS_URL`), and the failover wrapper that
 * plugins get as the `redis` counter store.
 *
 * RedisCounters: one round trip per call — a Lua script does INCRBY and sets the expiry only on
 * the key's first increment (a window's lifetime must not be extended by later hits), for every
 * key of the call atomically. The client never queues commands while disconnected and times out
 * quickly, so an outage costs a request milliseconds, not seconds.
 *
 * FailoverCounters: uses Redis while it answers, the node's local counters while it does not
 * (limits then hold per node instead of cluster-wide), with one warning when Redis goes away,
 * a reminder at most every 30 s while it stays away, and a note when it is back. A counting
 * plugin never fails a request because Redis is down.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CounterIncrement, CounterStore } from './types.ts';

const INCREMENT_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  local v = redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
  if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
  out[i] = v
end
return out
`;

type ScriptClient = Redis & { mgIncrement(numKeys: number, ...args: (string | number)[]): Promise<number[]> };

export interface RedisCountersOptions {
  /** Connect and command timeout. */
  timeoutMs: number;
  /** Namespace for every key (several gateways may share one Redis). */
  prefix?: string;
}

export class RedisCounters implements CounterStore {
  readonly kind = 'redis' as const;
  readonly client: ScriptClient;
  readonly #prefix: string;

  constructor(url: string, opts: RedisCountersOptions) {
    this.#prefix = opts.prefix ?? 'modelgate:counter:';
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      connectTimeout: opts.timeoutMs,
      commandTimeout: opts.timeoutMs,
      maxRetriesPerRequest: 0,
      // keep trying to come back, at most every 2 s
      retryStrategy: (times) => Math.min(times * 100, 2000),
      enableReadyCheck: true,
    }) as ScriptClient;
    // Connection errors are reported by the failover wrapper; an unhandled 'error' event would crash.
    this.client.on('error', () => {});
    this.client.defineCommand('mgIncrement', { lua: INCREMENT_SCRIPT });
  }

  /** Connected and ready for commands. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  async increment(items: CounterIncrement[]): Promise<number[]> {
    if (!items.length) return [];
    const keys = items.map((i) => this.#prefix + i.key);
    const args = items.flatMap((i) => [Math.trunc(i.delta), Math.max(1, Math.ceil(i.ttlMs))]);
    const out = await this.client.mgIncrement(keys.length, ...keys, ...args);
    return out.map(Number);
  }

  async read(keys: string[]): Promise<number[]> {
    if (!keys.length) return [];
    const values = await this.client.mget(...keys.map((k) => this.#prefix + k));
    return values.map((v) => (v === null ? 0 : Number(v)));
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/** What the wrapper needs from the shared store. */
export interface SharedCounters extends CounterStore {
  readonly ready: boolean;
}

export class FailoverCounters implements CounterStore {
  readonly kind = 'redis' as const;
  readonly #shared: SharedCounters;
  readonly #local: CounterStore;
  readonly #log: Logger;
  readonly #remindEveryMs: number;
  #downSince: number | null = null;
  #lastWarning = 0;

  constructor(shared: SharedCounters, local: CounterStore, log: Logger, remindEveryMs = 30_000) {
    this.#shared = shared;
    this.#local = local;
    this.#log = log;
    this.#remindEveryMs = remindEveryMs;
  }

  /** Whether counts currently go to the local store. */
  get degraded(): boolean {
    return this.#downSince !== null;
  }

  increment(items: CounterIncrement[]): Promise<number[]> {
    return this.#call((s) => s.increment(items));
  }

  read(keys: string[]): Promise<number[]> {
    return this.#call((s) => s.read(keys));
  }

  async #call(op: (s: CounterStore) => Promise<number[]>): Promise<number[]> {
    if (this.#shared.ready) {
      try {
        const out = await op(this.#shared);
        this.#up();
        return out;
      } catch (e) {
        this.#down((e as Error).message);
      }
    } else this.#down('not connected');
    return op(this.#local);
  }

  #down(reason: string): void {
    const now = Date.now();
    if (this.#downSince === null) {
      this.#downSince = now;
      this.#lastWarning = now;
      this.#log.warn({ err: reason }, 'Redis is unreachable: counting locally on this node (limits hold per node) until it is back');
    } else if (now - this.#lastWarning >= this.#remindEveryMs) {
      this.#lastWarning = now;
      this.#log.warn({ err: reason, down_ms: now - this.#downSince }, 'Redis still unreachable: counting locally');
    }
  }

  #up(): void {
    if (this.#downSince === null) return;
    this.#log.info({ down_ms: Date.now() - this.#downSince }, 'Redis is reachable again: counters are shared across nodes again');
    this.#downSince = null;
  }
}
