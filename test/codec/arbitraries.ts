import fc from 'fast-check';
import type { CborValue } from '../../src/codec/cbor.js';

/** Arbitrary values of edgepay's CBOR profile, as cborg can also encode them. */
export const cborValue = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 5 }),
    fc
      .uniqueArray(fc.tuple(fc.oneof(fc.integer({ min: -1000, max: 100000 }), fc.string({ maxLength: 8 })), tie('v')), {
        maxLength: 5,
        selector: ([k]) => k,
      })
      .map((e) => new Map(e)),
  ),
})).v;
