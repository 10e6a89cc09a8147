/**
 * @module sync/submission
 * What a device sends a ledger: a batch of settlement records, signed by the device (or its party), with
 * the credential chain that says who signed. The ledger takes no anonymous writes; the records verify
 * on their own as well, so a device may relay records that other devices made.
 *
 * ```
 * COSE_Sign1, protected { 1: -8, 3: "application/edgepay-submission+cbor", 4: signer kid }
 * payload { 1 chain: bstr (an encoded [party, device] chain, or [party]), 2 records: [+ bstr], 3 time: uint }
 * ```
 *
 * Administrative calls (funding, credit lines, statements) are signed the same way by a trust root
 * (the issuer's key), with `{ 1 op: tstr, 2 args: map, 3 time: uint, 4 nonce: bstr }`.
 */
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, type Sign1, signSign1 } from '../codec/cose-sign1.js';
import { asArray, asBytes, asMap, asText, asTime, need } from '../codec/fields.js';
import { DEFAULT_LIMITS } from '../codec/scan.js';
import type { Signer } from '../crypto/ed25519.js';
import { SyncError } from '../errors.js';

export const SUBMISSION_CONTENT_TYPE = 'application/edgepay-submission+cbor';
export const ADMIN_CONTENT_TYPE = 'application/edgepay-admin+cbor';
/** Most records in one submission. */
export const MAX_BATCH_RECORDS = 1000;

export interface Submission {
  sign1: Sign1;
  chain: Uint8Array;
  records: Uint8Array[];
  time: number;
}

export function signSubmission(signer: Signer, chain: Uint8Array, records: readonly Uint8Array[], time: number): Promise<Uint8Array> {
  const m = new Map<number, CborValue>([
    [1, chain],
    [2, [...records]],
    [3, time],
  ]);
  return signSign1(encode(m), signer, { kid: coseKeyThumbprint(signer.publicKey), contentType: SUBMISSION_CONTENT_TYPE });
}

/**
 * Decodes a submission (its signature is checked by the ledger, against the chain's key).
 * @throws SyncError SYNC_SUBMISSION when it is not one; CodecError, CoseError for malformed input.
 */
export function decodeSubmission(bytes: Uint8Array, maxBytes = 8 * 1024 * 1024): Submission {
  const sign1 = decodeSign1(bytes, { ...DEFAULT_LIMITS, maxBytes });
  if (sign1.contentType !== SUBMISSION_CONTENT_TYPE || sign1.payload === null)
    throw new SyncError('SYNC_SUBMISSION', 'not a submission', 'protected.content_type');
  const m = asMap(decode(sign1.payload, { maxBytes, maxDepth: 4, tags: [] }), 'submission');
  const records = asArray(need(m, 2, 'submission.records'), 'submission.records');
  if (records.length < 1 || records.length > MAX_BATCH_RECORDS)
    throw new SyncError('SYNC_SUBMISSION', `a submission holds 1 to ${MAX_BATCH_RECORDS} records`, 'submission.records');
  return {
    sign1,
    chain: asBytes(need(m, 1, 'submission.chain'), 'submission.chain'),
    records: records.map((r, i) => asBytes(r, `submission.records[${i}]`)),
    time: asTime(need(m, 3, 'submission.time'), 'submission.time'),
  };
}

export interface AdminCall {
  sign1: Sign1;
  op: string;
  args: ReadonlyMap<string | number, CborValue>;
  time: number;
  nonce: Uint8Array;
}

/** Signs an administrative call with a trust root's key. `nonce` makes a retry of the same call idempotent. */
export function signAdmin(
  issuer: Signer,
  op: string,
  args: Record<string, CborValue>,
  time: number,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  const m = new Map<number, CborValue>([
    [1, op],
    [2, new Map(Object.entries(args))],
    [3, time],
    [4, nonce],
  ]);
  return signSign1(encode(m), issuer, { kid: coseKeyThumbprint(issuer.publicKey), contentType: ADMIN_CONTENT_TYPE });
}

/** @throws SyncError SYNC_SUBMISSION when it is not an admin call; CodecError, CoseError. */
export function decodeAdmin(bytes: Uint8Array): AdminCall {
  const sign1 = decodeSign1(bytes, { ...DEFAULT_LIMITS, maxBytes: 64 * 1024 });
  if (sign1.contentType !== ADMIN_CONTENT_TYPE || sign1.payload === null)
    throw new SyncError('SYNC_SUBMISSION', 'not an administrative call', 'protected.content_type');
  const m = asMap(decode(sign1.payload, { maxBytes: 64 * 1024, maxDepth: 4, tags: [] }), 'admin');
  return {
    sign1,
    op: asText(need(m, 1, 'admin.op'), 'admin.op'),
    args: asMap(need(m, 2, 'admin.args'), 'admin.args'),
    time: asTime(need(m, 3, 'admin.time'), 'admin.time'),
    nonce: asBytes(need(m, 4, 'admin.nonce'), 'admin.nonce', { min: 8, max: 64 }),
  };
}
