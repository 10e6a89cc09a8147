/**
 * @module bounded
 * Maps and sets that hold at most `max` entries, the oldest inserted going first: the caches of keys,
 * chains and roots that a long-running ledger or device fills from untrusted input.
 *
 * Why not `map.delete(map.keys().next().value)`: V8 leaves a deleted entry as a hole until the table is
 * rebuilt, and an iterator from the start walks every hole, so evicting that way from a full map costs a
 * walk over every hole on each insert. The insertion order is kept in a ring of keys instead. A key deleted and set again may go early, when
 * its older slot comes round: a cache may forget early, never hold more than `max`.
 */

/** Insertion order of at most `max` keys: taking a slot for a new key hands back the key it pushes out. */
class Ring<K> {
  private keys: K[] = [];
  private head = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max is a whole number above 0');
  }

  /** Records `key`; calls `drop` with the oldest key when the ring was full. */
  push(key: K, drop: (oldest: K) => void): void {
    if (this.keys.length < this.max) {
      this.keys.push(key);
      return;
    }
    drop(this.keys[this.head] as K);
    this.keys[this.head] = key;
    this.head = (this.head + 1) % this.max;
  }

  clear(): void {
    this.keys = [];
    this.head = 0;
  }
}

/** A `Map` of at most `max` entries; setting a new key past that deletes the oldest inserted. */
export class BoundedMap<K, V> extends Map<K, V> {
  private readonly ring: Ring<K>;

  constructor(max: number) {
    super();
    this.ring = new Ring(max);
  }

  override set(key: K, value: V): this {
    if (!this.has(key)) this.ring.push(key, (k) => super.delete(k));
    return super.set(key, value);
  }

  override clear(): void {
    super.clear();
    this.ring.clear();
  }
}

/** A `Set` of at most `max` values; adding a new one past that deletes the oldest added. */
export class BoundedSet<T> extends Set<T> {
  private readonly ring: Ring<T>;

  constructor(max: number) {
    super();
    this.ring = new Ring(max);
  }

  override add(value: T): this {
    if (!this.has(value)) this.ring.push(value, (v) => super.delete(v));
    return super.add(value);
  }

  override clear(): void {
    super.clear();
    this.ring.clear();
  }
}
