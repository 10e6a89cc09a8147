import { encode as cborgEncode, rfc8949EncodeOptions } from 'cborg';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { type CborValue, decode, encode, Tagged } from '../../src/codec/cbor.js';
import { CodecError } from '../../src/errors.js';
import vectors from '../vectors/cbor/rfc8949.json';
import { cborValue } from './arbitraries.js';

function codeOf(hex: string): string {
  try {
    decode(fromHex(hex));
    return 'accepted';
  } catch (e) {
    expect(e).toBeInstanceOf(CodecError);
    return (e as CodecError).code;
  }
}

describe('deterministic CBOR', () => {
  it.each(vectors.integers)('integer $value encodes as $hex (shortest form) and back', ({ value, hex }) => {
    const n = BigInt(value);
    expect(toHex(encode(n))).toBe(hex);
    if (Number.isSafeInteger(Number(value))) expect(toHex(encode(Number(value)))).toBe(hex);
    expect(BigInt(decode(fromHex(hex)) as number | bigint)).toBe(n);
  });

  it.each(vectors.values)('$json encodes as $hex', ({ json, hex }) => {
    const value = JSON.parse(json);
    expect(toHex(encode(value))).toBe(hex);
    expect(toHex(encode(decode(fromHex(hex))))).toBe(hex);
  });

  it.each(vectors.bytes)('bytes $hex_value encode untagged', ({ hex_value, hex }) => {
    expect(toHex(encode(fromHex(hex_value)))).toBe(hex);
    expect(decode(fromHex(hex))).toEqual(fromHex(hex_value));
  });

  it('sorts map keys in RFC 8949 4.2.1 order whatever the insertion order', () => {
    const m = new Map<number | string, CborValue>([
      ['aa', 5],
      ['z', 4],
      [-1, 3],
      [100, 2],
      [10, 1],
    ]);
    expect(toHex(encode(m))).toBe(vectors.keyOrder.hex);
  });

  it('bigint amounts round-trip exactly over the whole int64/uint64 range', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), (n) => {
        const back = decode(encode(n));
        expect(typeof back === 'bigint' || typeof back === 'number').toBe(true);
        expect(BigInt(back as bigint)).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees byte for byte with an independent RFC 8949 deterministic encoder (cborg)', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        expect(toHex(encode(v))).toBe(toHex(cborgEncode(v, rfc8949EncodeOptions)));
      }),
      { numRuns: 2000 },
    );
  });

  it('decode(encode(v)) re-encodes to the same bytes, and earlier results are never overwritten', () => {
    fc.assert(
      fc.property(cborValue, cborValue, (a, b) => {
        const ea = encode(a);
        const copy = ea.slice();
        const eb = encode(b);
        expect(toHex(encode(decode(ea)))).toBe(toHex(ea));
        expect(toHex(encode(decode(eb)))).toBe(toHex(eb));
        expect(ea).toEqual(copy);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes byte strings as plain Uint8Array and tags as Tagged', () => {
    const v = decode(encode(new Tagged(18, [new Uint8Array([1, 2])])));
    expect(v).toBeInstanceOf(Tagged);
    const inner = (v as Tagged).value as CborValue[];
    expect(inner[0]!.constructor).toBe(Uint8Array);
  });

  it.each([
    ['CBOR_TRUNCATED', '1a0001'],
    ['CBOR_TRUNCATED', ''],
    ['CBOR_TRUNCATED', '9bffffffffffffffff'],
    ['CBOR_TRAILING_BYTES', '0000'],
    ['CBOR_NON_CANONICAL', '1817'],
    ['CBOR_NON_CANONICAL', '190017'],
    ['CBOR_NON_CANONICAL', '1b00000000ffffffff'],
    ['CBOR_NON_CANONICAL', '5801ff'],
    ['CBOR_INDEFINITE_LENGTH', '9fff'],
    ['CBOR_INDEFINITE_LENGTH', '5f4101ff'],
    ['CBOR_MALFORMED', '1c'],
    ['CBOR_MALFORMED', 'ff'],
    ['CBOR_UNSORTED_KEYS', 'a203040102'],
    ['CBOR_UNSORTED_KEYS', 'a2616202616101'],
    ['CBOR_DUPLICATE_KEY', 'a201020103'],
    ['CBOR_MAP_KEY_TYPE', 'a14101f6'],
    ['CBOR_MAP_KEY_TYPE', 'a11b000000010000000000'],
    ['CBOR_MAP_KEY_TYPE', 'a13b000000010000000000'],
    ['accepted', 'a11affffffff00'],
    ['CBOR_FORBIDDEN_TAG', 'c11a514b67b0'],
    ['CBOR_FORBIDDEN_TAG', 'd81c81d81d00'],
    ['CBOR_FORBIDDEN_TAG', 'c249010000000000000000'],
    ['CBOR_FORBIDDEN_TAG', '81d24100'],
    ['accepted', 'd83dd24100'],
    ['CBOR_FLOAT', 'fb3ff8000000000000'],
    ['CBOR_FLOAT', 'f93c00'],
    ['CBOR_SIMPLE_VALUE', 'f7'],
    ['CBOR_SIMPLE_VALUE', 'f820'],
    ['CBOR_INVALID_UTF8', '62c328'],
    ['CBOR_INTEGER_RANGE', '3bffffffffffffffff'],
    ['CBOR_TOO_DEEP', `${'81'.repeat(17)}00`],
    ['accepted', `${'81'.repeat(16)}00`],
  ])('rejects with %s: %s', (code, hex) => {
    expect(codeOf(hex)).toBe(code);
  });

  it('names the field at fault and rejects inputs over the size limit', () => {
    const bad = fromHex('a1616182011817'); // {"a": [1, 23 as non-shortest]}
    expect(() => decode(bad)).toThrow(expect.objectContaining({ code: 'CBOR_NON_CANONICAL', field: '$.a[1]' }));
    expect(() => decode(new Uint8Array(300_000))).toThrow(expect.objectContaining({ code: 'CBOR_TOO_LARGE' }));
    expect(() => decode(encode(new Uint8Array(100)), { maxBytes: 50, maxDepth: 4, tags: [] })).toThrow(
      expect.objectContaining({ code: 'CBOR_TOO_LARGE' }),
    );
  });

  it.each<[string, unknown]>([
    ['CBOR_UNSUPPORTED_TYPE', 1.5],
    ['CBOR_UNSUPPORTED_TYPE', Number.NaN],
    ['CBOR_UNSUPPORTED_TYPE', 2 ** 60],
    ['CBOR_UNSUPPORTED_TYPE', undefined],
    ['CBOR_UNSUPPORTED_TYPE', new Date()],
    ['CBOR_INTEGER_RANGE', 2n ** 64n],
    ['CBOR_INTEGER_RANGE', -(2n ** 63n) - 1n],
    ['CBOR_MAP_KEY_TYPE', new Map([[1.5, 1]])],
    ['CBOR_MAP_KEY_TYPE', new Map([[2 ** 40, 1]])],
  ])('encode refuses with %s: %s', (code, value) => {
    expect(() => encode(value as CborValue)).toThrow(expect.objectContaining({ code }));
  });

  it('encode refuses tags below the top level (the profile never nests them)', () => {
    expect(() => encode([new Tagged(18, 1)])).toThrow(expect.objectContaining({ code: 'CBOR_UNSUPPORTED_TYPE', field: '$[0]' }));
    expect(toHex(encode(new Tagged(61, new Tagged(18, 1))))).toBe('d83dd201');
    expect(toHex(encode(new Tagged(70000, 1)))).toBe('da0001117001');
  });

  it('encode refuses cycles instead of hanging', () => {
    const a: unknown[] = [];
    a.push(a);
    expect(() => encode(a as CborValue)).toThrow(expect.objectContaining({ code: 'CBOR_TOO_DEEP' }));
  });
});
