/**
 * A memo of values made from keys that repeat (header names, provider origins, span names): a Map
 * that forgets everything when a new key comes while it holds `max`. The keys come from clients or
 * configuration, so the memo is bounded all the same; starting over is cheap and rare.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly max: number;

  constructor(max: number) {
    super();
    this.max = max;
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
