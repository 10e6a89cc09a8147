import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, fromHex, sameBytes, toHex } from '../../src/bytes.js';
import { randomBytes } from '../../src/crypto/hash.js';

describe('hex', () => {
  it('toHex writes what Node writes, for any length and any view into a larger buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(8), fc.nat(8), (bytes, before, after) => {
        const host = new Uint8Array(before + bytes.length + after);
        host.set(bytes, before);
        const view = host.subarray(before, before + bytes.length);
        const hex = toHex(view);
        expect(hex).toBe(Buffer.from(bytes).toString('hex'));
        expect(fromHex(hex)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives each call its own string (the scratch buffer is not shared with results)', () => {
    const a = toHex(new Uint8Array(32).fill(0xab));
    const b = toHex(new Uint8Array(32).fill(0x01));
    expect(a).toBe('ab'.repeat(32));
    expect(b).toBe('01'.repeat(32));
  });
});

describe('sameBytes', () => {
  it('agrees with equalBytes on views into Buffers and arrays, short and long, with one byte changed anywhere', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat(16), fc.nat(), fc.boolean(), (bytes, offset, at, buffer) => {
        const host = buffer ? Buffer.alloc(offset + bytes.length + 3) : new Uint8Array(offset + bytes.length + 3);
        host.set(bytes, offset);
        const view = host.subarray(offset, offset + bytes.length);
        expect(sameBytes(view, bytes)).toBe(true);
        expect(sameBytes(bytes, view.subarray(0, Math.max(0, bytes.length - 1)))).toBe(bytes.length === 0);
        if (bytes.length === 0) return;
        const changed = new Uint8Array(bytes);
        const i = at % bytes.length;
        changed[i] = (changed[i] as number) ^ (1 << (at % 8));
        expect(sameBytes(view, changed)).toBe(false);
        expect(sameBytes(view, changed)).toBe(equalBytes(view, changed));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the hand-written helpers (no noble at start-up)', () => {
  it('fromHex takes upper and lower case and refuses odd lengths and non-hex digits with a code', () => {
    expect(fromHex('00FFab')).toEqual(new Uint8Array([0, 255, 171]));
    for (const bad of ['0', 'zz', '0g', ' 00', '00 ', '+1'])
      expect(() => fromHex(bad, 'kid'), bad).toThrow(expect.objectContaining({ code: 'CRYPTO_BYTES', field: 'kid' }));
  });

  it('equalBytes and concatBytes agree with Buffer; toHex of long inputs too', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 }), fc.uint8Array({ maxLength: 100 }), (parts, other) => {
        const joined = concatBytes(...parts);
        expect(Buffer.from(joined)).toEqual(Buffer.concat(parts));
        expect(equalBytes(joined, other)).toBe(Buffer.compare(joined, other) === 0);
        expect(equalBytes(joined, new Uint8Array(joined))).toBe(true);
        expect(toHex(joined)).toBe(Buffer.from(joined).toString('hex'));
      }),
      { numRuns: 1000 },
    );
  });

  it('randomBytes fills any length, beyond one getRandomValues call', () => {
    const r = randomBytes(200_000);
    expect(r.length).toBe(200_000);
    expect(r.subarray(190_000).some((b) => b !== 0)).toBe(true);
  });
});
