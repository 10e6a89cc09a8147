/**
 * @module codec/scan
 * A strict validator run over every input before cbor-x decodes it. cbor-x is fast and lenient: it accepts
 * non-shortest integers, unsorted and duplicate map keys, floats and dozens of tags (some build cyclic
 * structures). Money and identity need the opposite, so this pass enforces RFC 8949 section 4.2.1 core
 * deterministic encoding plus edgepay's profile, without allocating: definite lengths only, shortest
 * heads, map keys (integers or text) strictly increasing in byte order, no floats, no simple values but
 * false/true/null, integers within [-2^63, 2^64-1], valid UTF-8, bounded depth, and only the allowed
 * tags, only around the top-level item (objects nested in others travel as byte strings: COSE signs bytes).
 */

import { compareBytes } from '../bytes.js';
import { CodecError } from '../errors.js';

/** Bounds a decoder applies to untrusted input. */
export interface DecodeLimits {
  /** Largest input accepted, in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays, maps and tags accepted (the top-level item is depth 0). */
  readonly maxDepth: number;
  /** Tags accepted; every other tag is rejected with CBOR_FORBIDDEN_TAG. */
  readonly tags: readonly number[];
}

/** Defaults: 256 KiB, depth 16, tags 18 (COSE_Sign1) and 61 (CWT). */
export const DEFAULT_LIMITS: DecodeLimits = Object.freeze({ maxBytes: 256 * 1024, maxDepth: 16, tags: [18, 61] });

const utf8 = new TextDecoder('utf-8', { fatal: true });
const MIN_FOR_AI = [24, 0x100, 0x10000, 0x100000000]; // smallest value each 1/2/4/8-byte argument may carry
const INT64_MIN_NEG_ARG = 0x7fffffffffffffffn; // major type 1 carries -1-n: n at most 2^63-1

type Seg = string | number;

class Scanner {
  pos = 0;
  readonly path: Seg[] = [];
  constructor(
    readonly b: Uint8Array,
    readonly limits: DecodeLimits,
  ) {}

  fail(code: string, message: string, at = this.pos): never {
    throw new CodecError(code, `${message} (byte ${at})`, formatPath(this.path));
  }

  need(n: number, at: number): void {
    if (n > this.b.length - this.pos) this.fail('CBOR_TRUNCATED', 'input ends inside an item', at);
  }

  /** Reads an item head; returns [major, argument]; the argument is a bigint only when it needs 8 bytes. */
  head(): [number, number | bigint, number] {
    const at = this.pos;
    this.need(1, at);
    const ib = this.b[this.pos++] as number;
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai < 24) return [major, ai, ai];
    if (ai === 31) {
      if (major >= 2 && major <= 5) this.fail('CBOR_INDEFINITE_LENGTH', 'indefinite lengths are not deterministic', at);
      this.fail('CBOR_MALFORMED', `initial byte 0x${ib.toString(16)} is not well-formed here`, at);
    }
    if (ai > 27) this.fail('CBOR_MALFORMED', `reserved additional information ${ai}`, at);
    if (major === 7) return [7, 0, ai]; // floats and one-byte simple values: judged by the caller
    const size = 1 << (ai - 24);
    this.need(size, at);
    const b = this.b;
    const p = this.pos;
    let v: number | bigint;
    if (size === 1) v = b[p] as number;
    else if (size === 2) v = ((b[p] as number) << 8) | (b[p + 1] as number);
    else if (size === 4)
      v = (b[p] as number) * 0x1000000 + ((b[p + 1] as number) << 16) + (((b[p + 2] as number) << 8) | (b[p + 3] as number));
    else {
      const hi = (b[p] as number) * 0x1000000 + (((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number));
      const lo = (b[p + 4] as number) * 0x1000000 + (((b[p + 5] as number) << 16) | ((b[p + 6] as number) << 8) | (b[p + 7] as number));
      v = (BigInt(hi) << 32n) | BigInt(lo);
    }
    this.pos += size;
    if (v < (MIN_FOR_AI[ai - 24] as number)) this.fail('CBOR_NON_CANONICAL', 'integer or length not in its shortest form', at);
    return [major, v, ai];
  }

  length(v: number | bigint, at: number, perItem: number): number {
    // Each element takes at least one byte: a declared length beyond what is left is truncated input.
    if (typeof v === 'bigint' || v * perItem > this.b.length - this.pos)
      this.fail('CBOR_TRUNCATED', 'declared length exceeds the input', at);
    return v as number;
  }

  /** `prefix`: this item is the top-level item or directly inside top-level tags (where tags may stand). */
  item(depth: number, prefix = false): void {
    const at = this.pos;
    const [major, arg, ai] = this.head();
    switch (major) {
      case 0:
        return;
      case 1:
        if (typeof arg === 'bigint' && arg > INT64_MIN_NEG_ARG) this.fail('CBOR_INTEGER_RANGE', 'integer below -2^63', at);
        return;
      case 2:
      case 3: {
        const n = this.length(arg, at, 1);
        if (major === 3) {
          try {
            utf8.decode(this.b.subarray(this.pos, this.pos + n));
          } catch {
            this.fail('CBOR_INVALID_UTF8', 'text string is not valid UTF-8', at);
          }
        }
        this.pos += n;
        return;
      }
      case 4: {
        const n = this.length(arg, at, 1);
        this.deeper(depth, at);
        for (let i = 0; i < n; i++) {
          this.path.push(i);
          this.item(depth + 1);
          this.path.pop();
        }
        return;
      }
      case 5: {
        const n = this.length(arg, at, 2);
        this.deeper(depth, at);
        let prev: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const kAt = this.pos;
          const seg = this.key();
          const key = this.b.subarray(kAt, this.pos);
          if (prev !== undefined) {
            const c = compareBytes(prev, key);
            if (c === 0) this.fail('CBOR_DUPLICATE_KEY', 'map key repeated', kAt);
            if (c > 0) this.fail('CBOR_UNSORTED_KEYS', 'map keys not in deterministic (byte-wise) order', kAt);
          }
          prev = key;
          this.path.push(seg);
          this.item(depth + 1);
          this.path.pop();
        }
        return;
      }
      case 6: {
        if (typeof arg === 'bigint' || !this.limits.tags.includes(arg))
          this.fail('CBOR_FORBIDDEN_TAG', `tag ${arg} is not accepted here`, at);
        if (!prefix) this.fail('CBOR_FORBIDDEN_TAG', 'tags are accepted only around the top-level item', at);
        this.deeper(depth, at);
        this.item(depth + 1, true);
        return;
      }
      default: // 7
        if (ai === 20 || ai === 21 || ai === 22) return;
        if (ai >= 25 && ai <= 27) this.fail('CBOR_FLOAT', 'floating-point values are not accepted (amounts are integers)', at);
        this.fail('CBOR_SIMPLE_VALUE', 'only false, true and null are accepted', at);
    }
  }

  /** Reads a map key (an integer or a text string) and returns it as a path segment. */
  key(): Seg {
    const at = this.pos;
    this.need(1, at);
    const major = (this.b[at] as number) >> 5;
    if (major !== 0 && major !== 1 && major !== 3) this.fail('CBOR_MAP_KEY_TYPE', 'map keys must be integers or text', at);
    this.item(0);
    const h = new Scanner(this.b, this.limits); // re-read the (now validated) head for the key's value
    h.pos = at;
    const [, v, ai] = h.head();
    // Keys are labels: integer keys stay within [-2^32, 2^32), the range `encode` accepts, so every
    // accepted map re-encodes identically. An 8-byte head (ai 27) is, being shortest, outside it.
    if (major !== 3 && ai === 27) this.fail('CBOR_MAP_KEY_TYPE', 'integer map keys must lie in [-2^32, 2^32)', at);
    if (major === 3) return utf8.decode(this.b.subarray(h.pos, this.pos)).slice(0, 64);
    return major === 0 ? Number(v) : -1 - Number(v);
  }

  deeper(depth: number, at: number): void {
    if (depth + 1 > this.limits.maxDepth) this.fail('CBOR_TOO_DEEP', `nesting deeper than ${this.limits.maxDepth}`, at);
  }
}

function formatPath(path: readonly Seg[]): string {
  let s = '$';
  for (const seg of path) s += typeof seg === 'string' ? `.${seg}` : `[${seg}]`;
  return s;
}

/**
 * Checks that `bytes` is exactly one deterministically encoded CBOR item within `limits`.
 * @throws CodecError with codes CBOR_TOO_LARGE, CBOR_TRUNCATED, CBOR_TRAILING_BYTES, CBOR_MALFORMED,
 *   CBOR_NON_CANONICAL, CBOR_INDEFINITE_LENGTH, CBOR_UNSORTED_KEYS, CBOR_DUPLICATE_KEY, CBOR_MAP_KEY_TYPE,
 *   CBOR_FORBIDDEN_TAG, CBOR_FLOAT, CBOR_SIMPLE_VALUE, CBOR_INVALID_UTF8, CBOR_INTEGER_RANGE, CBOR_TOO_DEEP.
 */
export function scanDeterministic(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): void {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('CBOR_TYPE', 'expected a Uint8Array', '$');
  if (bytes.length > limits.maxBytes)
    throw new CodecError('CBOR_TOO_LARGE', `input of ${bytes.length} bytes exceeds the limit of ${limits.maxBytes}`, '$');
  const s = new Scanner(bytes, limits);
  s.item(0, true);
  if (s.pos !== bytes.length) s.fail('CBOR_TRAILING_BYTES', `${bytes.length - s.pos} bytes after the item`);
}
