/**
 * Shared state in Redis (`MODELGATE_REDIS_URL`), seen by every node: counters and a cache on one
 * connection. Plugins get it wrapped in FailoverState (src/state/failover.ts, re-exported here so
 * a worker loads ioredis and the wrapper with one import, only when Redis is configured).
 *
 * Counters: one round trip per call — a Lua script does INCRBY and sets the expiry only on the
 * key's first increment (a window's lifetime must not be extended by later hits), for every key
 * of the call atomically. Cache: SET with PX (the time to live is set with the value, atomically),
 * GET, DEL; Redis bounds the memory (its `maxmemory` policy), not the gateway.
 *
 * The client never queues commands while disconnected and times out quickly, so an outage costs
 * a request milliseconds, not seconds.
 */
import { Redis } from 'ioredis';
import type { CounterIncrement, SharedState } from './types.ts';

const INCREMENT_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  local v = redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1])
  if redis.call('PTTL', KEYS[i]) == -1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
  out[i] = v
end
return out
`;

/** CacheStore.setInRing: the value with its expiry, its key pushed on the ring, keys beyond the last `max` popped and deleted. */
const RING_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local n = redis.call('RPUSH', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local max = tonumber(ARGV[3])
while n > max do
  local old = redis.call('LPOP', KEYS[2])
  if old and old ~= KEYS[1] then redis.call('DEL', old) end
  n = n - 1
end
return n
`;

type ScriptClient = Redis & {
  mgIncrement(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  mgRing(numKeys: number, ...args: (string | number)[]): Promise<number>;
};

export interface RedisStateOptions {
  /** Connect and command timeout. */
  timeoutMs: number;
  /** Namespace for every key (several gateways may share one Redis): counters under `<prefix>counter:`, cache under `<prefix>cache:`. */
  prefix?: string;
}

export class RedisState implements SharedState {
  readonly kind = 'redis' as const;
  readonly client: ScriptClient;
  readonly #counterPrefix: string;
  readonly #cachePrefix: string;

  constructor(url: string, opts: RedisStateOptions) {
    const prefix = opts.prefix ?? 'modelgate:';
    this.#counterPrefix = prefix + 'counter:';
    this.#cachePrefix = prefix + 'cache:';
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
    this.client.defineCommand('mgRing', { lua: RING_SCRIPT });
  }

  /** Connected and ready for commands. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  async increment(items: CounterIncrement[]): Promise<number[]> {
    if (!items.length) return [];
    const keys = items.map((i) => this.#counterPrefix + i.key);
    const args = items.flatMap((i) => [Math.trunc(i.delta), Math.max(1, Math.ceil(i.ttlMs))]);
    const out = await this.client.mgIncrement(keys.length, ...keys, ...args);
    return out.map(Number);
  }

  async add(items: CounterIncrement[]): Promise<void> {
    await this.increment(items); // the script answers anyway: nothing to save on a Redis round trip
  }

  async read(keys: string[]): Promise<number[]> {
    if (!keys.length) return [];
    const values = await this.client.mget(...keys.map((k) => this.#counterPrefix + k));
    return values.map((v) => (v === null ? 0 : Number(v)));
  }

  get(key: string): Promise<string | null> {
    return this.client.get(this.#cachePrefix + key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.client.set(this.#cachePrefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    await this.client.del(this.#cachePrefix + key);
  }

  async setInRing(ring: string, max: number, key: string, value: string, ttlMs: number): Promise<void> {
    await this.client.mgRing(2, this.#cachePrefix + key, `${this.#cachePrefix}ring:${ring}`, value, Math.max(1, Math.ceil(ttlMs)), Math.max(1, Math.trunc(max)));
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

export { FailoverState, type SharedRemote } from './failover.ts';
