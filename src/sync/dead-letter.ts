/**
 * @module sync/dead-letter
 * A record the ledger refused for good, kept for the operator instead of blocking the records behind it:
 * the record itself, why (the ledger's code, and its signed rejection receipt when there is one) and when.
 * Dead letters are appended to any Outbox (a FileOutbox of their own on Node) and listed with
 * `edgepay outbox <dir>`.
 *
 * ```
 * { 1 record: bstr, 2 code: tstr, 3 time: uint, ? 4 receipt: bstr, ? 5 message: tstr }
 * ```
 */
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { asBytes, asMap, asText, asTime, need, onlyKeys } from '../codec/fields.js';

/**
 * A record the ledger refused for good, kept with why (its code and message) and when, so nothing queued
 * behind it waits.
 */
export interface DeadLetter {
  record: Uint8Array;
  code: string;
  /** Seconds since the epoch, when it was refused. */
  time: number;
  receipt?: Uint8Array | undefined;
  message?: string | undefined;
}

export function encodeDeadLetter(d: DeadLetter): Uint8Array {
  const m = new Map<number, CborValue>([
    [1, d.record],
    [2, d.code],
    [3, d.time],
  ]);
  if (d.receipt) m.set(4, d.receipt);
  if (d.message) m.set(5, d.message.slice(0, 1024));
  return encode(m);
}

/** @throws CodecError for bytes that are not a dead letter. */
export function decodeDeadLetter(bytes: Uint8Array): DeadLetter {
  const m = asMap(decode(bytes, { maxBytes: 256 * 1024, maxDepth: 2, tags: [] }), 'deadLetter');
  onlyKeys(m, [1, 2, 3, 4, 5], 'deadLetter');
  return {
    record: asBytes(need(m, 1, 'deadLetter.record'), 'deadLetter.record'),
    code: asText(need(m, 2, 'deadLetter.code'), 'deadLetter.code', 64),
    time: asTime(need(m, 3, 'deadLetter.time'), 'deadLetter.time'),
    receipt: m.has(4) ? asBytes(m.get(4), 'deadLetter.receipt') : undefined,
    message: m.has(5) ? asText(m.get(5), 'deadLetter.message', 1024) : undefined,
  };
}
