import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/codec/cbor.js';
import { decodeChain, encodeChain, fastChain } from '../../src/identity/credential.js';
import { mutated } from '../codec/helpers.js';

describe('credential chain fast path', () => {
  it('reads canonical chains as the general decoder does, and declines what it does not cover', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 4 }), (creds) => {
        const b = encodeChain(creds);
        expect(fastChain(b)).toEqual(decode(b));
        expect(decodeChain(b)).toEqual(creds);
      }),
      { numRuns: 500 },
    );
    expect(fastChain(encode([]))).toBeUndefined();
    expect(
      fastChain(encode([new Uint8Array(1), new Uint8Array(1), new Uint8Array(1), new Uint8Array(1), new Uint8Array(1)])),
    ).toBeUndefined();
    expect(fastChain(encode([new Uint8Array(16 * 1024 + 1)]))).toBeUndefined();
    expect(fastChain(encode([1, 2]))).toBeUndefined();
  });

  it('accepts only what the strict general decoder accepts as the same chain (mutations)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (creds, at, byte, cut) => {
          const good = encodeChain(creds);
          const bad = mutated(good, at, byte, cut);
          const fast = fastChain(bad);
          if (fast !== undefined) expect(fast).toEqual(decode(bad, { maxBytes: 64 * 1024, maxDepth: 4, tags: [] }));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
