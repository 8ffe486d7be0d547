/**
 * A cache in memory with expiry, bounded in entries and in bytes. Lives in the primary (one per
 * node, next to MemoryCounters); workers reach it through src/state/ipc.ts.
 *
 * Least recently used entries are evicted first: a Map keeps insertion order, and a hit re-inserts
 * its entry at the end. The byte bound counts two bytes per UTF-16 unit of key and value, an upper
 * bound on what V8 keeps, so the bound holds whatever the text. Expired entries go on access, by
 * eviction, and by a periodic sweep bounded in work.
 */
interface Entry {
  value: string;
  expiresAt: number;
  bytes: number;
}

export interface MemoryCacheOptions {
  maxEntries?: number;
  maxBytes?: number;
  sweepEveryMs?: number;
}

const sizeOf = (key: string, value: string) => 2 * (key.length + value.length);

/** A ring's keys, oldest first, and when the ring itself expires (with its newest value). */
interface Ring {
  keys: string[];
  expiresAt: number;
}

export class MemoryCache {
  readonly #entries = new Map<string, Entry>();
  /** Rings by name, least recently written first; bounded in number like the entries. */
  readonly #rings = new Map<string, Ring>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #timer: NodeJS.Timeout;
  #bytes = 0;

  constructor(opts: MemoryCacheOptions = {}) {
    this.#maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.#maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.#timer = setInterval(() => this.sweep(), opts.sweepEveryMs ?? 10_000);
    this.#timer.unref();
  }

  get(key: string, now = Date.now()): string | null {
    const e = this.#entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= now) {
      this.#remove(key, e);
      return null;
    }
    // most recently used goes last
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value;
  }

  set(key: string, value: string, ttlMs: number, now = Date.now()): void {
    this.delete(key);
    const bytes = sizeOf(key, value);
    // a value bigger than the whole cache would evict everything and still not fit
    if (bytes > this.#maxBytes) return;
    while (this.#entries.size >= this.#maxEntries || this.#bytes + bytes > this.#maxBytes) this.#evictOldest();
    this.#entries.set(key, { value, expiresAt: now + Math.max(1, ttlMs), bytes });
    this.#bytes += bytes;
  }

  delete(key: string): void {
    const e = this.#entries.get(key);
    if (e) this.#remove(key, e);
  }

  /** set(), and `key` appended to `ring`, whose keys beyond the last `max` are deleted (CacheStore.setInRing). */
  setInRing(ring: string, max: number, key: string, value: string, ttlMs: number, now = Date.now()): void {
    this.set(key, value, ttlMs, now);
    let r = this.#rings.get(ring);
    if (r && r.expiresAt <= now) r = undefined;
    this.#rings.delete(ring);
    if (!r) {
      r = { keys: [], expiresAt: 0 };
      // a ring's keys cost memory too: as many rings as entries at most, the least recently written go first
      while (this.#rings.size >= this.#maxEntries) this.#rings.delete(this.#rings.keys().next().value as string);
    }
    r.keys.push(key);
    r.expiresAt = now + Math.max(1, ttlMs);
    while (r.keys.length > Math.max(1, max)) {
      const old = r.keys.shift() as string;
      if (old !== key) this.delete(old);
    }
    this.#rings.set(ring, r);
  }

  sweep(now = Date.now(), budget = 100_000): void {
    for (const [key, e] of this.#entries) {
      if (budget-- <= 0) return;
      if (e.expiresAt <= now) this.#remove(key, e);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #evictOldest(): void {
    const oldest = this.#entries.entries().next();
    if (!oldest.done) this.#remove(oldest.value[0], oldest.value[1]);
  }

  #remove(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }
}
