/**
 * @module codec/fields
 * Typed reads from decoded CBOR, for the decoders of signed objects. Each read names the field, so a
 * rejection says exactly which field was missing or of the wrong type.
 */
import { CodecError } from '../errors.js';
import { type CborValue, Tagged } from './cbor.js';

export type CborMap = ReadonlyMap<number | string, CborValue>;

function type(v: CborValue | undefined, want: string, field: string): never {
  const got =
    v === undefined
      ? 'nothing'
      : v === null
        ? 'null'
        : v instanceof Uint8Array
          ? 'bytes'
          : v instanceof Map
            ? 'map'
            : Array.isArray(v)
              ? 'array'
              : v instanceof Tagged
                ? `tag ${v.tag}`
                : typeof v;
  throw new CodecError('FIELD_TYPE', `expected ${want}, got ${got}`, field);
}

/** The value as a map. */
export function asMap(v: CborValue | undefined, field: string): CborMap {
  if (!(v instanceof Map)) type(v, 'a map', field);
  return v as CborMap;
}

/** The value as an array, of `length` when given. */
export function asArray(v: CborValue | undefined, field: string, length?: number): readonly CborValue[] {
  if (!Array.isArray(v)) type(v, 'an array', field);
  const a = v as readonly CborValue[];
  if (length !== undefined && a.length !== length)
    throw new CodecError('FIELD_TYPE', `expected an array of ${length}, got ${a.length}`, field);
  return a;
}

/** The value as bytes, of `length` when given (or between min and max). */
export function asBytes(v: CborValue | undefined, field: string, length?: number | { min?: number; max?: number }): Uint8Array {
  if (!(v instanceof Uint8Array)) type(v, 'bytes', field);
  const b = v as Uint8Array;
  if (typeof length === 'number' && b.length !== length)
    throw new CodecError('FIELD_RANGE', `expected ${length} bytes, got ${b.length}`, field);
  if (typeof length === 'object' && (b.length < (length.min ?? 0) || b.length > (length.max ?? Number.POSITIVE_INFINITY)))
    throw new CodecError('FIELD_RANGE', `${b.length} bytes is outside [${length.min ?? 0}, ${length.max ?? '∞'}]`, field);
  return b;
}

/**
 * The value as text of at most `maxLength` UTF-16 code units, without U+0000: no text a signed object
 * carries may hold a NUL, which PostgreSQL's `text` cannot store (a ledger must hold whatever it accepts).
 */
export function asText(v: CborValue | undefined, field: string, maxLength = 256): string {
  if (typeof v !== 'string') type(v, 'text', field);
  const s = v as string;
  if (s.length > maxLength) throw new CodecError('FIELD_RANGE', `text longer than ${maxLength}`, field);
  if (s.includes('\u0000')) throw new CodecError('FIELD_RANGE', 'text holds a NUL character', field);
  return s;
}

/** The value as a safe integer, negative or not (enumerations, claim labels). Counters and times: {@link asUint}, {@link asTime}. */
export function asInt(v: CborValue | undefined, field: string): number {
  if (typeof v !== 'number') {
    if (typeof v === 'bigint') throw new CodecError('FIELD_RANGE', 'integer too large', field);
    type(v, 'an integer', field);
  }
  return v as number;
}

/**
 * The one range of every counter on the wire (a voucher's seq and ticks, a tick's index, an ack, a
 * revocation list's version): 0 to 2^32 - 1, what the fixed frame layouts carry and the ledger stores.
 */
export const MAX_COUNTER = 0xffff_ffff;

/** The one range of every time on the wire, in whole seconds since 1970: up to 9999-12-31T23:59:59Z. */
export const MAX_TIME = 253_402_300_799;

/** The value as an integer in [min, max] (default [0, {@link MAX_COUNTER}]). */
export function asUint(v: CborValue | undefined, field: string, max = MAX_COUNTER, min = 0): number {
  const n = asInt(v, field);
  if (n < min || n > max) throw new CodecError('FIELD_RANGE', `${n} is outside [${min}, ${max}]`, field);
  return n;
}

/** The value as a time: whole seconds since 1970, in [0, {@link MAX_TIME}]. */
export function asTime(v: CborValue | undefined, field: string): number {
  return asUint(v, field, MAX_TIME);
}

/** The value as a non-negative integer amount, always as bigint (money is never a float). */
export function asAmount(v: CborValue | undefined, field: string, max = 2n ** 63n - 1n): bigint {
  if (typeof v !== 'number' && typeof v !== 'bigint') type(v, 'an integer amount', field);
  const n = BigInt(v as number | bigint);
  if (n < 0n || n > max) throw new CodecError('FIELD_RANGE', `amount ${n} is outside [0, ${max}]`, field);
  return n;
}

/** The value as a boolean. */
export function asBool(v: CborValue | undefined, field: string): boolean {
  if (typeof v !== 'boolean') type(v, 'a boolean', field);
  return v as boolean;
}

/** A required entry of `m`. */
export function need(m: CborMap, key: number | string, field: string): CborValue {
  const v = m.get(key);
  if (v === undefined) throw new CodecError('FIELD_MISSING', 'required field is missing', field);
  return v;
}

/** Rejects entries of `m` whose keys are not in `known` (strict objects: nothing unread is signed). */
export function onlyKeys(m: CborMap, known: readonly (number | string)[], field: string): void {
  for (const k of m.keys())
    if (!known.includes(k)) throw new CodecError('FIELD_UNKNOWN', `unknown field ${String(k)}`, `${field}.${String(k)}`);
}
