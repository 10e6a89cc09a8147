/**
 * @module settlement/record
 * The settlement record: everything a ledger needs to verify and apply a channel's newest state with no
 * other context. Either side produces it (on close, or as a checkpoint); either copy, or both, may reach
 * the ledger, and any online peer may relay it: it authenticates itself.
 *
 * ```
 * { 0 version: 1, 1 open: bstr (payer-signed terms, with the payer's credential chain),
 *   2 accept: bstr (payee-signed, with the payee's chain), ? 3 voucher: bstr (the newest, payer-signed),
 *   ? 4 close: bstr (the payee's countersignature of a final voucher), ? 5 tick: [index, word],
 *   ? 6 evidence: [bstr, bstr] (two payer-signed vouchers for one seq) }
 * ```
 */
import { equalBytes } from '../bytes.js';
import { fastReadSettlement, MAX_SETTLEMENT_BYTES } from '../channel/fastframe.js';
import { decodeFrame, type Frame } from '../channel/messages.js';
import type { ChannelRecord } from '../channel/store.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { asBytes, asInt, asMap, type CborMap, need, onlyKeys } from '../codec/fields.js';
import { ChannelError } from '../errors.js';

export { MAX_SETTLEMENT_BYTES };

/** The signed frames a settlement record carries (see the module doc). */
export interface SettlementParts {
  open: Uint8Array;
  accept: Uint8Array;
  voucher?: Uint8Array | undefined;
  close?: Uint8Array | undefined;
  tick?: [index: number, word: Uint8Array] | undefined;
  evidence?: [Uint8Array, Uint8Array] | undefined;
}

/** A settlement record from its frames (a relay or a tool that holds frames, not a channel store). */
export function encodeSettlementParts(p: SettlementParts): Uint8Array {
  const m = new Map<number, CborValue>([
    [0, 1],
    [1, p.open],
    [2, p.accept],
  ]);
  if (p.voucher) m.set(3, p.voucher);
  if (p.close) m.set(4, p.close);
  if (p.tick) m.set(5, p.tick);
  if (p.evidence) m.set(6, p.evidence);
  return encode(m);
}

/** The settlement record of a channel's current state. */
export function encodeSettlement(r: ChannelRecord): Uint8Array {
  if (!r.accept) throw new ChannelError('CH_NOT_OPEN', 'a channel never accepted has nothing to settle', 'accept');
  return encodeSettlementParts({
    open: r.open,
    accept: r.accept,
    voucher: r.voucher,
    close: r.close,
    // Ticks beyond the newest voucher are proven by the newest verified word.
    tick:
      r.role === 'payee' && r.tickWord && r.tickIndex !== undefined && r.tickIndex > r.voucherTicks ? [r.tickIndex, r.tickWord] : undefined,
    evidence: r.evidence as [Uint8Array, Uint8Array] | undefined,
  });
}

const bad = (why: string, field: string): never => {
  throw new ChannelError('CH_SETTLEMENT', why, field);
};

/** A settlement record's frames, read but not yet checked ({@link readSettlement}). */
export interface SettlementFrames {
  m: CborMap;
  open: Extract<Frame, { type: 'open' }>;
  accept: Extract<Frame, { type: 'accept' }>;
}

/**
 * Reads a settlement record's map and its open and accept frames; {@link checkSettlement} does the rest. A
 * ledger reads a batch first to look up the chains it carries in one query.
 * @throws ChannelError CH_SETTLEMENT, CodecError, CoseError, each naming the field.
 */
export function readSettlement(bytes: Uint8Array, owned = false): SettlementFrames {
  // One copy of the whole record, then every frame read in place: what the result holds (terms, chain
  // bytes, signatures) are views into that copy, which nobody else can change. A ledger reads thousands
  // a second, and copying each field out cost more memory traffic than the reading.
  const own = owned || bytes.length > MAX_SETTLEMENT_BYTES ? bytes : new Uint8Array(bytes); // too large: refused below
  const m = fastReadSettlement(own) ?? asMap(decode(own, { maxBytes: MAX_SETTLEMENT_BYTES, maxDepth: 4, tags: [] }), 'settlement');
  onlyKeys(m, [0, 1, 2, 3, 4, 5, 6], 'settlement');
  if (asInt(need(m, 0, 'settlement.version'), 'settlement.version') !== 1) bad('unsupported version', 'settlement.version');
  // Every byte string in `m` is ours (views into `own`, or the general decoder's copies): frames read in place.
  const open = decodeFrame(asBytes(need(m, 1, 'settlement.open'), 'settlement.open'), true);
  const accept = decodeFrame(asBytes(need(m, 2, 'settlement.accept'), 'settlement.accept'), true);
  if (open.type !== 'open') return bad('not an open frame', 'settlement.open');
  if (accept.type !== 'accept' || !equalBytes(accept.channelId, open.channelId))
    return bad('not the accept of this channel', 'settlement.accept');
  return { m, open, accept };
}
