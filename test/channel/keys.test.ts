import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { IdKeys } from '../../src/channel/keys.js';

describe('IdKeys', () => {
  it('gives the hex of whatever id it is asked for, in any order, repeats remembered', () => {
    const ids = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(ids, fc.array(fc.nat(), { maxLength: 40 }), (pool, picks) => {
        const keys = new IdKeys();
        for (const p of picks) {
          const id = pool[p % pool.length] as Uint8Array;
          expect(keys.key(id)).toBe(toHex(id));
        }
      }),
    );
  });

  it('is not fooled by a caller that reuses its buffer for the next id', () => {
    const keys = new IdKeys();
    const buf = new Uint8Array(32).fill(1);
    expect(keys.key(buf)).toBe('01'.repeat(32));
    buf.fill(2);
    expect(keys.key(buf)).toBe('02'.repeat(32));
    expect(keys.key(new Uint8Array(32).fill(1))).toBe('01'.repeat(32));
  });
});
