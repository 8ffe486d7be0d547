/**
 * The VectorStore a plugin instance uses, by `vectordb.strategy`. Memory stores outlive snapshots:
 * a configuration change elsewhere must not empty the cache, so one store is kept per plugin
 * instance, dimensions, metric and index layout (a change of dimensions or metric starts an empty
 * one: old vectors cannot be compared with new ones; a change of `vectordb.lsh` or, for euclidean,
 * of the threshold starts an empty one too, as it does for the redis strategy, whose keys name the
 * layout). The `redis` strategy registers its factory here (registerStrategy).
 */
import { MemoryVectorStore } from './memory-store.ts';
import type { VectorStore, VectorStoreOptions, VectorStrategy } from './vector-store.ts';
import { LSH_DEFAULTS, type LshSettings } from './redis-lsh.ts';
import type { SemanticCacheConfig } from './schema.ts';

export type StrategyFactory = (opts: VectorStoreOptions, config: SemanticCacheConfig['vectordb']) => VectorStore;

const factories = new Map<VectorStrategy, StrategyFactory>();

/** How a strategy module makes its stores (the redis strategy calls it when it loads). */
export function registerStrategy(strategy: VectorStrategy, factory: StrategyFactory): void {
  factories.set(strategy, factory);
}

/** Memory stores by plugin instance; at most this many kept (instances deleted from the configuration go first). */
const memoryStores = new Map<string, { shape: string; store: MemoryVectorStore }>();
const MAX_MEMORY_STORES = 256;

export function vectorStoreFor(instance: string, config: SemanticCacheConfig['vectordb']): VectorStore {
  const opts: VectorStoreOptions = { dimensions: config.dimensions, metric: config.distance_metric };
  if (config.strategy !== 'memory') {
    const factory = factories.get(config.strategy);
    if (!factory) throw new Error(`vectordb.strategy ${config.strategy} is not available in this build`);
    return factory(opts, config);
  }
  const lsh: LshSettings = { ...LSH_DEFAULTS, ...(config.lsh ?? {}) };
  const shape = JSON.stringify([opts.dimensions, opts.metric, opts.metric === 'euclidean' ? config.threshold : null, lsh]);
  const held = memoryStores.get(instance);
  if (held && held.shape === shape) {
    memoryStores.delete(instance);
    memoryStores.set(instance, held);
    return held.store;
  }
  const store = new MemoryVectorStore({ ...opts, threshold: config.threshold, lsh, maxEntries: config.memory?.max_entries ?? 10_000, maxBytes: config.memory?.max_bytes ?? 64 * 1024 * 1024 });
  memoryStores.delete(instance);
  if (memoryStores.size >= MAX_MEMORY_STORES) memoryStores.delete(memoryStores.keys().next().value!);
  memoryStores.set(instance, { shape, store });
  return store;
}
