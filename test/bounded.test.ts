import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedMap, BoundedSet } from '../src/bounded.js';

type Op = { kind: 'set' | 'delete' | 'clear'; key: number; value: number };
const ops = fc.array(
  fc.record({
    kind: fc.constantFrom<Op['kind']>('set', 'set', 'set', 'delete', 'clear'),
    key: fc.integer({ min: 0, max: 12 }),
    value: fc.integer(),
  }),
  { maxLength: 200 },
);

/** The plain FIFO the bounded map stands for: evict the oldest insertion, scanning as V8 does. */
class Model {
  m = new Map<number, number>();
  constructor(readonly max: number) {}
  apply(op: Op) {
    if (op.kind === 'clear') this.m.clear();
    else if (op.kind === 'delete') this.m.delete(op.key);
    else {
      if (!this.m.has(op.key) && this.m.size >= this.max) this.m.delete(this.m.keys().next().value as number);
      this.m.set(op.key, op.value);
    }
  }
}

describe('BoundedMap and BoundedSet', () => {
  it('hold at most max, the oldest inserted going first; with no deletes, exactly the plain FIFO', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), ops, fc.boolean(), (max, list, withDeletes) => {
        const b = new BoundedMap<number, number>(max);
        const s = new BoundedSet<number>(max);
        const model = new Model(max);
        const latest = new Model(Number.POSITIVE_INFINITY); // everything set and not deleted since
        for (const op of list) {
          if (!withDeletes && op.kind !== 'set') continue;
          if (op.kind === 'clear') {
            b.clear();
            s.clear();
          } else if (op.kind === 'delete') {
            b.delete(op.key);
            s.delete(op.key);
          } else {
            b.set(op.key, op.value);
            s.add(op.key);
          }
          model.apply(op);
          latest.apply(op);
          expect(b.size).toBeLessThanOrEqual(max);
          expect([...s]).toEqual([...b.keys()]);
          // What it holds it holds at its newest value, never a deleted key (with deletes, the order may
          // differ from the plain FIFO's: a key deleted and set again can go early, at its older turn).
          for (const [k, v] of b) expect(latest.m.get(k)).toBe(v);
          if (!withDeletes) expect([...b]).toEqual([...model.m]);
        }
      }),
    );
  });

  it('setting a key it holds changes the value, not the order', () => {
    const b = new BoundedMap<string, number>(2);
    b.set('a', 1).set('b', 2).set('a', 3).set('c', 4);
    expect([...b]).toEqual([
      ['b', 2],
      ['c', 4],
    ]);
  });

  it('refuses a max that is not a whole number above 0', () => {
    for (const max of [0, -1, 1.5, Number.NaN]) {
      expect(() => new BoundedMap(max)).toThrow(RangeError);
      expect(() => new BoundedSet(max)).toThrow(RangeError);
    }
  });
});
