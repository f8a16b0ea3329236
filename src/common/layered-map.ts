/** Changes to a LayeredMap: a value sets its key, null deletes it. */
export type LayerChanges<K, V> = Iterable<readonly [K, V | null]>;

/**
 * An immutable map whose copies with a few changes cost the changes, not the whole map: a
 * copy shares the base map and carries the changes since in a small top layer, folded into a
 * new base once it outgrows `maxTop` (so a lookup stays two Map reads, and folding, which
 * copies the whole map, happens once per `maxTop` changes). Copying a 10,000-entry Map costs
 * about 3.5 ms; a tenant's keys are copied at every write.
 */
export class LayeredMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly top: ReadonlyMap<K, V | null>,
    private readonly maxTop: number,
  ) {}

  static of<K, V>(entries: Iterable<readonly [K, V]>, maxTop = 256): LayeredMap<K, V> {
    return new LayeredMap<K, V>(new Map(entries), new Map(), maxTop);
  }

  get(key: K): V | undefined {
    const changed = this.top.get(key);
    if (changed === undefined) return this.base.get(key);
    return changed ?? undefined;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /** This map with `changes` applied in order; this one stays as it is. */
  with(changes: LayerChanges<K, V>): LayeredMap<K, V> {
    const top = new Map(this.top);
    for (const [key, value] of changes) top.set(key, value);
    if (top.size <= this.maxTop) return new LayeredMap<K, V>(this.base, top, this.maxTop);
    const base = new Map(this.base);
    for (const [key, value] of top) {
      if (value === null) base.delete(key);
      else base.set(key, value);
    }
    return new LayeredMap<K, V>(base, new Map(), this.maxTop);
  }
}
