/**
 * The VectorStore a plugin instance uses, by `vectordb.strategy`. Memory stores outlive snapshots:
 * a configuration change elsewhere must not empty the cache, so one store is kept per plugin
 * instance, dimensions and metric (a change of either starts an empty one: old vectors cannot be
 * compared with new ones). The `redis` strategy registers its factory here (registerStrategy).
 */
import { MemoryVectorStore } from './memory-store.ts';
import type { DistanceMetric, VectorStore, VectorStoreOptions, VectorStrategy } from './vector-store.ts';
import type { SemanticCacheConfig } from './schema.ts';

export type StrategyFactory = (opts: VectorStoreOptions, config: SemanticCacheConfig['vectordb']) => VectorStore;

const factories = new Map<VectorStrategy, StrategyFactory>();

/** How a strategy module makes its stores (the redis strategy calls it when it loads). */
export function registerStrategy(strategy: VectorStrategy, factory: StrategyFactory): void {
  factories.set(strategy, factory);
}

/** Memory stores by plugin instance; at most this many kept (instances deleted from the configuration go first). */
const memoryStores = new Map<string, { dimensions: number; metric: DistanceMetric; store: MemoryVectorStore }>();
const MAX_MEMORY_STORES = 256;

export function vectorStoreFor(instance: string, config: SemanticCacheConfig['vectordb']): VectorStore {
  const opts: VectorStoreOptions = { dimensions: config.dimensions, metric: config.distance_metric };
  if (config.strategy !== 'memory') {
    const factory = factories.get(config.strategy);
    if (!factory) throw new Error(`vectordb.strategy ${config.strategy} is not available in this build`);
    return factory(opts, config);
  }
  const held = memoryStores.get(instance);
  if (held && held.dimensions === opts.dimensions && held.metric === opts.metric) {
    memoryStores.delete(instance);
    memoryStores.set(instance, held);
    return held.store;
  }
  const store = new MemoryVectorStore({ ...opts, maxEntries: config.memory?.max_entries ?? 10_000, maxBytes: config.memory?.max_bytes ?? 64 * 1024 * 1024 });
  memoryStores.delete(instance);
  if (memoryStores.size >= MAX_MEMORY_STORES) memoryStores.delete(memoryStores.keys().next().value!);
  memoryStores.set(instance, { dimensions: opts.dimensions, metric: opts.metric, store });
  return store;
}
