/**
 * @module ledger/history
 * The ledger judges each channel's history itself, by the rules a payee keeps (channel/payee): a voucher's
 * seq only rises and its amount and tick checkpoint never fall; two different vouchers for one seq are
 * equivocation, whichever records (and whoever) bring them; nothing counts after a close. A channel's state
 * is its newest voucher and the highest tick proven; what it owes is derived from them, never taken from
 * one record alone, so an old record cannot raise a newer state and a newer one cannot lower it.
 */
import { sameSignedContent } from '../codec/cose-sign1.js';
import type { VerifiedSettlement } from '../settlement/verify.js';

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

/** A verified record's claim on its channel: its newest voucher and ticks, what it alone makes owed, and one tick's value. */
export type Claim = Pick<VerifiedSettlement, 'seq' | 'voucher' | 'voucherAmount' | 'voucherTicks' | 'ticks' | 'amount' | 'closed'> & {
  tickValue: bigint;
};

export type Verdict =
  /** Two different payer-signed vouchers for one seq: the stored one and the record's. */
  | { kind: 'equivocation'; evidence: [Uint8Array, Uint8Array] }
  | { kind: 'refused'; code: 'LEDGER_SEQ' | 'LEDGER_CLOSED'; why: string }
  /** The channel's state with the record taken in (see {@link adopt}), and what it then owes in all. */
  | ({ kind: 'state'; owed: bigint } & Pick<ChannelHistory, 'seq' | 'voucher' | 'vcum' | 'vticks' | 'ticks'>);

/** Judges `c` (on a channel whose cap is `cap`) against the channel's history `h`. Pure: see {@link adopt}. */
export function judge(h: ChannelHistory, c: Claim, cap: bigint): Verdict {
  if (c.voucher && h.voucher && c.seq === h.seq && !sameSignedContent(c.voucher, h.voucher))
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
  const same = c.seq === h.seq && c.voucher !== undefined;
  const vcum = newer ? c.voucherAmount : (h.vcum ?? (same ? c.voucherAmount : undefined));
  const vticks = newer ? c.voucherTicks : h.vticks;
  const ticks = Math.max(h.ticks, c.ticks);
  // A channel whose newest voucher is not known (a row from before they were kept) owes the most any
  // record showed; otherwise its newest voucher plus the ticks proven beyond its checkpoint, within the cap.
  let owed: bigint;
  // biome-ignore lint/complexity/useMathMinMax: bigints; Math.max takes numbers only
  if (vcum === undefined) owed = h.applied > c.amount ? h.applied : c.amount;
  else {
    const sum = vcum + (ticks > vticks ? BigInt(ticks - vticks) * c.tickValue : 0n);
    owed = sum < cap ? sum : cap;
  }
  return {
    kind: 'state',
    seq: newer ? c.seq : h.seq,
    voucher: newer ? c.voucher : (h.voucher ?? (same ? c.voucher : undefined)),
    vcum,
    vticks,
    ticks,
    owed,
  };
}

/** Takes a `state` verdict into the channel's history. */
export function adopt(h: ChannelHistory, v: Extract<Verdict, { kind: 'state' }>): void {
  h.seq = v.seq;
  h.voucher = v.voucher;
  h.vcum = v.vcum;
  h.vticks = v.vticks;
  h.ticks = v.ticks;
}
