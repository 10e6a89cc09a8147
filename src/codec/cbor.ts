/**
 * @module codec/cbor
 * Deterministic CBOR (RFC 8949 section 4.2.1) on top of cbor-x.
 *
 * Encoding normalises the value first, then lets cbor-x write it: integers are put in the form cbor-x
 * writes shortest (numbers below 2^32, bigints above), map keys are sorted in byte order of their
 * encodings, byte strings are never tagged. Decoding runs {@link scanDeterministic} first, so cbor-x only
 * ever sees input that is already proven well-formed, canonical and within limits.
 *
 * Integers decode as `number` when |n| < 2^32 and as `bigint` beyond; typed readers (see `readUint`)
 * turn amounts into `bigint` whatever their size.
 */
// The subpaths without cbor-x's native string extractor and streams: a device loads less at start, and
// edgepay's CBOR is bytes and integers (strings are few and short).
import { Decoder } from 'cbor-x/decode';
import { Encoder } from 'cbor-x/encode';
import { compareBytes, concatBytes } from '../bytes.js';
import { CodecError } from '../errors.js';
import { DEFAULT_LIMITS, type DecodeLimits, scanDeterministic } from './scan.js';

/** A CBOR tag around a value (e.g. tag 18 around a COSE_Sign1 array). */
export class Tagged<T = CborValue> {
  constructor(
    readonly tag: number,
    readonly value: T,
  ) {}
}

/** Values edgepay's CBOR profile carries. Maps decode as `Map`; plain objects encode as text-keyed maps. */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | readonly CborValue[]
  | ReadonlyMap<number | string, CborValue>
  | Tagged
  | { readonly [key: string]: CborValue };

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  tagUint8Array: false,
  variableMapSize: true,
  pack: false,
  structuredClone: false,
});
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' } as ConstructorParameters<typeof Decoder>[0]);

const U32 = 0x100000000;
const INT_MIN = -(2n ** 63n);
const UINT_MAX = 2n ** 64n - 1n;
const textEncoder = new TextEncoder();

/**
 * Encodes `value` as deterministic CBOR.
 * @throws CodecError CBOR_UNSUPPORTED_TYPE (floats, undefined, functions...), CBOR_INTEGER_RANGE,
 *   CBOR_MAP_KEY_TYPE, CBOR_TOO_DEEP (cycles or nesting over 64).
 * @example encode(new Map([[1, -8]])) // a1 01 27
 */
export function encode(value: CborValue): Uint8Array {
  // Top-level tags are written here, not by cbor-x: its tag extensions are process-global, and another
  // library (cose-kit registers tag 18) could otherwise change what a tag means to us.
  const tags: number[] = [];
  let inner: unknown = value;
  while (inner instanceof Tagged) {
    if (!Number.isSafeInteger(inner.tag) || inner.tag < 0 || inner.tag >= U32)
      throw new CodecError('CBOR_UNSUPPORTED_TYPE', 'tag must be an integer in [0, 2^32)', '$');
    tags.push(inner.tag);
    inner = inner.value;
  }
  const body = encoder.encode(normalize(inner, '$', 0));
  // Always a copy: cbor-x returns a view into its shared buffer, whose `.buffer` would expose other data.
  if (tags.length === 0) return new Uint8Array(body);
  const heads = tags.map(tagHead);
  return concatBytes(...heads, body);
}

function tagHead(tag: number): Uint8Array {
  if (tag < 24) return new Uint8Array([0xc0 | tag]);
  if (tag < 0x100) return new Uint8Array([0xd8, tag]);
  if (tag < 0x10000) return new Uint8Array([0xd9, tag >> 8, tag & 0xff]);
  return new Uint8Array([0xda, tag >>> 24, (tag >> 16) & 0xff, (tag >> 8) & 0xff, tag & 0xff]);
}

/**
 * Decodes exactly one deterministically encoded CBOR item.
 * @throws CodecError with the codes of {@link scanDeterministic}.
 * @example decode(encode([1, 2n ** 40n])) // [1, 1099511627776n]
 */
export function decode(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): CborValue {
  scanDeterministic(bytes, limits);
  // Peel the (validated, top-level only) tags ourselves, so cbor-x never interprets a tag.
  const tags: number[] = [];
  let p = 0;
  while ((bytes[p] as number) >> 5 === 6) {
    const ai = (bytes[p] as number) & 31;
    const size = ai < 24 ? 0 : 1 << (ai - 24);
    let tag = ai < 24 ? ai : 0;
    for (let i = 1; i <= size; i++) tag = tag * 256 + (bytes[p + i] as number);
    tags.push(tag);
    p += 1 + size;
  }
  // cbor-x caches a DataView as a property of its input: hand it a fresh view, never the caller's array.
  let v = fromCborX(decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset + p, bytes.length - p)));
  for (let i = tags.length - 1; i >= 0; i--) v = new Tagged(tags[i] as number, v);
  return v;
}

const MAX_ENCODE_DEPTH = 64;

function normalize(v: unknown, path: string, depth: number): unknown {
  if (depth > MAX_ENCODE_DEPTH) throw new CodecError('CBOR_TOO_DEEP', `nesting deeper than ${MAX_ENCODE_DEPTH} (or a cycle)`, path);
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v))
        throw new CodecError('CBOR_UNSUPPORTED_TYPE', `${v} is not a safe integer (floats are not encoded; use bigint)`, path);
      return v >= U32 || v < -U32 ? BigInt(v) : v;
    case 'bigint':
      if (v < INT_MIN || v > UINT_MAX) throw new CodecError('CBOR_INTEGER_RANGE', 'integer outside [-2^63, 2^64-1]', path);
      return v >= -U32 && v < U32 ? Number(v) : v;
    case 'string':
    case 'boolean':
      return v;
    case 'object': {
      if (v === null || v instanceof Uint8Array) return v;
      if (Array.isArray(v)) return v.map((x, i) => normalize(x, `${path}[${i}]`, depth + 1));
      if (v instanceof Tagged) throw new CodecError('CBOR_UNSUPPORTED_TYPE', 'tags are encoded only around the top-level item', path);
      const entries = v instanceof Map ? [...v.entries()] : Object.getPrototypeOf(v) === Object.prototype ? Object.entries(v) : undefined;
      if (entries === undefined) throw new CodecError('CBOR_UNSUPPORTED_TYPE', `cannot encode ${v.constructor?.name ?? 'object'}`, path);
      const keyed = entries.map(([k, x]) => {
        if (typeof k === 'string') return { k, kb: keyBytes(k), x };
        if (typeof k === 'number' && Number.isInteger(k) && k < U32 && k >= -U32) return { k, kb: undefined, x };
        throw new CodecError('CBOR_MAP_KEY_TYPE', 'map keys must be strings or integers in [-2^32, 2^32)', path);
      });
      keyed.sort(compareKeys);
      const m = new Map();
      for (const { k, x } of keyed) m.set(k, normalize(x, `${path}.${k}`, depth + 1));
      return m;
    }
    default:
      throw new CodecError('CBOR_UNSUPPORTED_TYPE', `cannot encode ${typeof v}`, path);
  }
}

function keyBytes(k: string): Uint8Array {
  return textEncoder.encode(k);
}

// RFC 8949 4.2.1 orders keys by their encoded bytes. For integer and text keys that is: unsigned before
// negative before text; unsigned ascending; negative by magnitude; text shorter first, then byte-wise.
function compareKeys(
  a: { k: string | number; kb?: Uint8Array | undefined },
  b: { k: string | number; kb?: Uint8Array | undefined },
): number {
  const ra = rank(a.k);
  const rb = rank(b.k);
  if (ra !== rb) return ra - rb;
  if (typeof a.k === 'number' && typeof b.k === 'number') return ra === 0 ? a.k - b.k : b.k - a.k;
  const x = a.kb as Uint8Array;
  const y = b.kb as Uint8Array;
  return x.length !== y.length ? x.length - y.length : compareBytes(x, y);
}

function rank(k: string | number): number {
  return typeof k === 'string' ? 2 : k >= 0 ? 0 : 1;
}

function fromCborX(v: unknown): CborValue {
  if (v instanceof Uint8Array) return new Uint8Array(v); // own memory, not a view into the input
  if (Array.isArray(v)) return v.map(fromCborX);
  if (v instanceof Map) {
    const m = new Map<number | string, CborValue>();
    for (const [k, x] of v) m.set(k, fromCborX(x));
    return m;
  }
  return v as CborValue;
}

export type { DecodeLimits };
export { DEFAULT_LIMITS, scanDeterministic };
