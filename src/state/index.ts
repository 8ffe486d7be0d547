/**
 * Where plugins get their shared state. A worker installs the stores it has at start-up (local
 * always; redis when `MODELGATE_REDIS_URL` is set); plugins ask by policy name as Kong's config
 * says it (`local` | `redis`), and get local when redis is not configured.
 *
 * Caches are asked for with a namespace (the plugin's name, say), which prefixes every key: two
 * plugins caching under the same key cannot read each other's values.
 */
import type { Redis } from 'ioredis';
import type { CacheStore, CounterStore, SharedState } from './types.ts';

const stores: { local: SharedState | null; redis: SharedState | null; client: Redis | null } = { local: null, redis: null, client: null };

/** `client`: the node's Redis connection itself, for stores that need more than the key-value cache (the semantic cache's vector index). */
export function installSharedState(s: { local: SharedState; redis?: SharedState | null; client?: Redis | null }): void {
  stores.local = s.local;
  stores.redis = s.redis ?? null;
  stores.client = s.client ?? null;
}

/** The node's Redis connection (null until it is installed, or when Redis is not configured). Not wrapped: a caller handles an outage itself. */
export function redisClient(): Redis | null {
  return stores.client;
}

function storeFor(policy: string): SharedState {
  const chosen = policy === 'redis' ? (stores.redis ?? stores.local) : stores.local;
  if (!chosen) throw new Error('shared state is not installed in this process');
  return chosen;
}

export function counterStore(policy: 'local' | 'redis' | 'cluster' | string): CounterStore {
  return storeFor(policy);
}

/** The cache for a policy, seen through a namespace. Resolved per call, so it follows a later install. */
export function cacheStore(policy: 'local' | 'redis' | string, namespace: string): CacheStore {
  if (!namespace || namespace.includes(':')) throw new Error(`a cache namespace must be a non-empty name without ':' (got ${JSON.stringify(namespace)})`);
  const k = (key: string) => `${namespace}:${key}`;
  return {
    get kind() {
      return storeFor(policy).kind;
    },
    get: (key) => storeFor(policy).get(k(key)),
    set: (key, value, ttlMs) => storeFor(policy).set(k(key), value, ttlMs),
    delete: (key) => storeFor(policy).delete(k(key)),
    setInRing: (ring, max, key, value, ttlMs) => storeFor(policy).setInRing(k(ring), max, k(key), value, ttlMs),
  };
}

export type { CounterStore, CounterIncrement, CacheStore, SharedState } from './types.ts';
