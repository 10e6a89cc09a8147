/**
 * @module bytes
 * Byte helpers and boundary checks. Checks name the field (noble's `abytes(value, 'publicKey')` style).
 * Written here rather than taken from noble's utils: a few lines each, and a device then loads no noble
 * module at all where its platform signs natively.
 */
import { CryptoError } from './errors.js';

/** Throws CRYPTO_BYTES unless `value` is a Uint8Array (of `length`, when given). */
export function abytes(value: unknown, field: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CryptoError('CRYPTO_BYTES', 'expected a Uint8Array', field);
  if (length !== undefined && value.length !== length)
    throw new CryptoError('CRYPTO_BYTES', `expected ${length} bytes, got ${value.length}`, field);
  return value;
}

// Two ASCII hex digits per byte, as one 16-bit unit in this platform's byte order.
const HEX_PAIRS = (() => {
  const t = new Uint16Array(256);
  const b = new Uint8Array(t.buffer);
  const digits = '0123456789abcdef';
  for (let i = 0; i < 256; i++) {
    b[2 * i] = digits.charCodeAt(i >> 4);
    b[2 * i + 1] = digits.charCodeAt(i & 15);
  }
  return t;
})();
const HEX_SCRATCH = new Uint16Array(64);
const ascii = new TextDecoder();

/**
 * Lower-case hex of `bytes`. Ids and keys (up to 64 bytes) are written into one scratch buffer and
 * decoded as one string: half the time of building it digit by digit, and no intermediate strings for the
 * collector (a ledger makes a dozen of these per record).
 */
export function toHex(bytes: Uint8Array): string {
  const out = bytes.length > HEX_SCRATCH.length ? new Uint16Array(bytes.length) : HEX_SCRATCH.subarray(0, bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = HEX_PAIRS[bytes[i] as number] as number;
  return ascii.decode(out);
}

/** Bytes of a hex string; throws CRYPTO_BYTES on odd length or a non-hex digit. */
export function fromHex(hex: string, field = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0) throw new CryptoError('CRYPTO_BYTES', 'expected an even-length hex string', field);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX_VALUE[hex.charCodeAt(2 * i)] ?? 16;
    const lo = HEX_VALUE[hex.charCodeAt(2 * i + 1)] ?? 16;
    if ((hi | lo) > 15) throw new CryptoError('CRYPTO_BYTES', 'expected an even-length hex string', field);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

// Each ASCII code's value as a hex digit, 16 for anything else (a code beyond the table reads as undefined).
const HEX_VALUE = (() => {
  const t = new Uint8Array(128).fill(16);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i;
    t[97 + i] = 10 + i;
  }
  return t;
})();

/** The bytes of each of `parts`, one after another. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += abytes(p, 'bytes').length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when `a` and `b` hold the same bytes, in time that depends only on their length (for secrets). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

// Node's `Buffer.compare` is a native memcmp that takes any Uint8Array: ten times a JavaScript loop on the
// half-kilobyte credential chains a ledger compares. Elsewhere, the loop.
const nativeCompare = (globalThis as { Buffer?: { compare(a: Uint8Array, b: Uint8Array): number } }).Buffer?.compare;

/**
 * True when `a` and `b` hold the same bytes. Not constant-time: for public data (credential chains, ids),
 * where it may stop at the first difference; {@link equalBytes} is for anything secret.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (nativeCompare !== undefined && a.length > 64) return nativeCompare(a, b) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Bytes `[start, end)` of `b` as a plain copy that owns its memory, even from a Buffer (whose `slice` is a
 * view into the caller's memory): what decoders return unless told the caller owns the input.
 */
export function copyRange(b: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(b.subarray(start, end));
}

/** Bytes `[start, end)` of `b` as a view, for a caller that owns `b` and will not change it. */
export function viewRange(b: Uint8Array, start: number, end: number): Uint8Array {
  return b.subarray(start, end);
}

/** Lexicographic byte order, as RFC 8949 section 4.2.1 sorts map keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
