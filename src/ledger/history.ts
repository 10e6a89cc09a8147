/**
 * @module ledger/history
 * The ledger judges each channel's history itself, by the rules a payee keeps (channel/payee): a voucher's
 * seq only rises and its amount and tick checkpoint never fall; two different vouchers for one seq are
 * equivocation, whichever records (and whoever) bring them; nothing counts after a close. A channel's state
 * is its newest voucher and the highest tick proven; what it owes is derived from them, never taken from
 * one record alone, so an old record cannot raise a newer state and a newer one cannot lower it.
 */
import { equalBytes } from '../codec/bytes.js';

/** What the ledger keeps of a channel to judge the next record (a row of `channels`). */
export interface ChannelHistory {
  /** What has been posted for the channel so far. */
  applied: bigint;
  /** The newest voucher: its seq, and (when known: rows written before vouchers were kept have none) its bytes, amount and checkpoint. */
  seq: number;
  voucher: Uint8Array | undefined;
  vcum: bigint | undefined;
  vticks: number;
  /** The highest tick proven. */
  ticks: number;
  closed: boolean;
  disputed: boolean;
}

/** A verified record's claim on its channel (see `VerifiedSettlement`). */
export interface Claim {
  seq: number;
  voucher: Uint8Array | undefined;
  voucherAmount: bigint;
  voucherTicks: number;
  ticks: number;
  /** What the record alone makes owed. */
  amount: bigint;
  tickValue: bigint;
  cap: bigint;
  /** The payee countersigned the final voucher. */
  closed: boolean;
}

export type Verdict =
  /** Two different payer-signed vouchers for one seq: the stored one and the record's. */
  | { kind: 'equivocation'; evidence: [Uint8Array, Uint8Array] }
  | { kind: 'refused'; code: 'LEDGER_SEQ' | 'LEDGER_CLOSED'; why: string }
  /** The channel's state with the record taken in, and what it then owes in all. */
  | { kind: 'state'; next: Pick<ChannelHistory, 'seq' | 'voucher' | 'vcum' | 'vticks' | 'ticks'>; owed: bigint };

/** Judges `c` against the channel's history `h`. Pure: the caller applies the verdict. */
export function judge(h: ChannelHistory, c: Claim): Verdict {
  if (c.voucher && h.voucher && c.seq === h.seq && !equalBytes(c.voucher, h.voucher))
    return { kind: 'equivocation', evidence: [h.voucher, c.voucher] };
  if (h.vcum !== undefined && c.voucher) {
    if (c.seq < h.seq && (c.voucherAmount > h.vcum || c.voucherTicks > h.vticks))
      return { kind: 'refused', code: 'LEDGER_SEQ', why: `voucher ${c.seq} claims more than the newer voucher ${h.seq}` };
    if (c.seq > h.seq && (c.voucherAmount < h.vcum || c.voucherTicks < h.vticks))
      return { kind: 'refused', code: 'LEDGER_SEQ', why: `voucher ${c.seq} claims less than the older voucher ${h.seq}` };
  }
  if (h.closed && (c.seq > h.seq || c.ticks > h.ticks))
    return { kind: 'refused', code: 'LEDGER_CLOSED', why: 'the channel was closed at an earlier state' };
  const newer = c.seq > h.seq;
  const next = {
    seq: newer ? c.seq : h.seq,
    voucher: newer ? c.voucher : (h.voucher ?? (c.seq === h.seq ? c.voucher : undefined)),
    vcum: newer ? c.voucherAmount : (h.vcum ?? (c.seq === h.seq && c.voucher ? c.voucherAmount : undefined)),
    vticks: newer ? c.voucherTicks : h.vticks,
    ticks: Math.max(h.ticks, c.ticks),
  };
  // A channel whose newest voucher is not known (a row from before they were kept) owes the most any
  // record showed; otherwise its newest voucher plus the ticks proven beyond its checkpoint, within the cap.
  let owed: bigint;
  // biome-ignore lint/complexity/useMathMinMax: bigints; Math.max takes numbers only
  if (next.vcum === undefined) owed = h.applied > c.amount ? h.applied : c.amount;
  else {
    const sum = next.vcum + BigInt(Math.max(0, next.ticks - next.vticks)) * c.tickValue;
    owed = sum < c.cap ? sum : c.cap;
  }
  return { kind: 'state', next, owed };
}
