import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { encode } from '../../src/codec/cbor.js';
import { bigSize, readBig, readBytes, readUint, uintSize, writeBig, writeBytes, writeUint } from '../../src/codec/fixed.js';

const at = (size: number, write: (out: Uint8Array) => number) => {
  const out = new Uint8Array(size);
  expect(write(out)).toBe(size);
  return out;
};

describe('fixed-layout CBOR items', () => {
  it('writes what the general deterministic encoder writes, and reads it back', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.nat(300), fc.nat(70_000), fc.maxSafeNat()),
        fc.bigInt(0n, 2n ** 64n - 1n),
        fc.uint8Array({ maxLength: 300 }),
        (n, big, bytes) => {
          const u = at(uintSize(n), (o) => writeUint(o, 0, n));
          expect(toHex(u)).toBe(toHex(encode(n)));
          // Like the general decoder (a bigint from 2^32, which `asInt` refuses): only below 2^32.
          expect(readUint(u, 0)).toEqual(n < 2 ** 32 ? [n, u.length] : undefined);
          const b = at(bigSize(big), (o) => writeBig(o, 0, big));
          expect(toHex(b)).toBe(toHex(encode(big)));
          expect(readBig(b, 0, 2n ** 64n - 1n)).toEqual([big, b.length]);
          const s = at(uintSize(bytes.length) + bytes.length, (o) => writeBytes(o, 0, bytes));
          expect(toHex(s)).toBe(toHex(encode(bytes)));
          expect(readBytes(s, 0)).toEqual([s.length - bytes.length, s.length]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads only the shortest form, within bounds', () => {
    expect(readUint(new Uint8Array([0x18, 0x17]), 0)).toBeUndefined(); // 23 in two bytes
    expect(readUint(new Uint8Array([0x19, 0x00, 0xff]), 0)).toBeUndefined();
    expect(readUint(new Uint8Array([0x1a, 0, 0, 0]), 0)).toBeUndefined(); // truncated
    expect(readUint(new Uint8Array([0x20]), 0)).toBeUndefined(); // a negative integer
    expect(readUint(new Uint8Array([0x1b, 0, 0, 0, 1, 0, 0, 0, 0]), 0)).toBeUndefined(); // 2^32: a bigint to the general decoder
    expect(readBig(new Uint8Array([0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), 0, 2n ** 63n)).toBeUndefined();
    expect(readBig(new Uint8Array([0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0]), 0, 2n ** 63n - 1n)).toBeUndefined(); // above max
    expect(readBig(new Uint8Array([0x05]), 0, 4n)).toBeUndefined();
    expect(readBytes(new Uint8Array([0x58, 0x01, 0xaa]), 0)).toBeUndefined(); // 1 byte with a 1-byte length
    expect(readBytes(new Uint8Array([0x43, 0xaa]), 0)).toBeUndefined(); // content cut short
    expect(readBytes(new Uint8Array([0x5f]), 0)).toBeUndefined(); // indefinite length
  });
});
