/**
 * Where plugins get their counter store. A worker installs the stores it has at start-up (local
 * always; redis when `MODELGATE_REDIS_URL` is set); plugins ask by policy name as Kong's config
 * says it (`local` | `redis`), and get local when redis is not configured.
 */
import type { CounterStore } from './types.ts';

const stores: { local: CounterStore | null; redis: CounterStore | null } = { local: null, redis: null };

export function installCounterStores(s: { local: CounterStore; redis?: CounterStore | null }): void {
  stores.local = s.local;
  stores.redis = s.redis ?? null;
}

export function counterStore(policy: 'local' | 'redis' | 'cluster' | string): CounterStore {
  const chosen = policy === 'redis' ? (stores.redis ?? stores.local) : stores.local;
  if (!chosen) throw new Error('counter stores are not installed in this process');
  return chosen;
}

export type { CounterStore, CounterIncrement } from './types.ts';
