import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/codec/bytes.js';

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
