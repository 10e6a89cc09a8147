/**
 * @module ledger/receipt
 * Ledger-signed receipts, one per settlement record: accepted (with the amount posted), rejected (with
 * its code), disputed, or duplicate (valid, but nothing new). A device removes a record from its outbox only on a valid receipt.
 *
 * ```
 * COSE_Sign1, protected { 1: -8, 3: "application/edgepay-receipt+cbor", 4: ledger kid }
 * payload { 1 ledger: tstr, 2 recordId: bstr 32, 3 status: 1 accepted | 2 rejected | 3 disputed | 4 duplicate,
 *           4 posted: uint, ? 5 code: tstr, 6 time: uint }
 * ```
 */
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../codec/cose-sign1.js';
import { asAmount, asBytes, asInt, asMap, asText, need } from '../codec/fields.js';
import type { Signer } from '../crypto/ed25519.js';
import { LedgerError } from '../errors.js';

export const RECEIPT_CONTENT_TYPE = 'application/edgepay-receipt+cbor';
/** `duplicate`: valid, but the channel already had this state (or a newer one) applied: nothing moved. */
export type ReceiptStatus = 'accepted' | 'rejected' | 'disputed' | 'duplicate';
const STATUS: ReceiptStatus[] = ['accepted', 'rejected', 'disputed', 'duplicate'];

export interface Receipt {
  ledger: string;
  recordId: Uint8Array;
  status: ReceiptStatus;
  /** Minor units this record moved (its increase over what the channel already had applied). */
  posted: bigint;
  code?: string | undefined;
  time: number;
}

export function signReceipt(ledger: Signer, r: Receipt): Promise<Uint8Array> {
  const m = new Map<number, CborValue>([
    [1, r.ledger],
    [2, r.recordId],
    [3, STATUS.indexOf(r.status) + 1],
    [4, r.posted],
    [6, r.time],
  ]);
  if (r.code) m.set(5, r.code);
  return signSign1(encode(m), ledger, { kid: coseKeyThumbprint(ledger.publicKey), contentType: RECEIPT_CONTENT_TYPE });
}

/**
 * Verifies a receipt under the ledger's key.
 * @throws LedgerError LEDGER_RECEIPT when it is not a receipt; CoseError COSE_SIGNATURE.
 */
export async function verifyReceipt(bytes: Uint8Array, ledgerKey: Uint8Array): Promise<Receipt> {
  const s = decodeSign1(bytes);
  if (s.contentType !== RECEIPT_CONTENT_TYPE || s.payload === null) throw new LedgerError('LEDGER_RECEIPT', 'not a receipt', 'receipt');
  await verifySign1(s, ledgerKey);
  const m = asMap(decode(s.payload), 'receipt');
  const status = STATUS[asInt(need(m, 3, 'receipt.status'), 'receipt.status') - 1];
  if (!status) throw new LedgerError('LEDGER_RECEIPT', 'unknown status', 'receipt.status');
  return {
    ledger: asText(need(m, 1, 'receipt.ledger'), 'receipt.ledger'),
    recordId: asBytes(need(m, 2, 'receipt.record'), 'receipt.record', 32),
    status,
    posted: asAmount(need(m, 4, 'receipt.posted'), 'receipt.posted'),
    code: m.has(5) ? asText(m.get(5), 'receipt.code') : undefined,
    time: asInt(need(m, 6, 'receipt.time'), 'receipt.time'),
  };
}
