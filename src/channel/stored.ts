/**
 * @module channel/stored
 * A stored channel checked against the frames it keeps, when a payer or payee loads it: damage a store's
 * checksum cannot see (a store without one, a record changed in memory) must never pass for a payment, nor
 * make a payer sign a second voucher for a seq, nor become equivocation evidence.
 */
import { equalBytes } from '../bytes.js';
import { decodeFrame, type OpenTerms, verifyFrame } from './messages.js';
import type { ChannelRecord } from './store.js';

/** The record's terms when its open, accept and newest voucher (signed by `payerKey`) match it; else why not. */
export async function checkStored(
  record: ChannelRecord,
  payerKey: (terms: OpenTerms) => Promise<Uint8Array>,
): Promise<{ terms: OpenTerms; payerKey: Uint8Array } | { damaged: string }> {
  const open = decodeFrame(record.open);
  if (open.type !== 'open' || !equalBytes(open.channelId, record.id)) return { damaged: 'the stored open is not this channel' };
  if (record.accept) {
    const a = decodeFrame(record.accept);
    if (a.type !== 'accept' || !equalBytes(a.channelId, record.id)) return { damaged: 'the stored accept is not this channel' };
  }
  const key = await payerKey(open.terms);
  if (record.voucher) {
    const v = decodeFrame(record.voucher);
    const ok =
      v.type === 'voucher' &&
      equalBytes(v.voucher.channelId, record.id) &&
      v.voucher.seq === record.seq &&
      v.voucher.cumulative === record.cumulative &&
      (v.voucher.ticks ?? 0) === record.voucherTicks &&
      (await verifyFrame(v, key).then(
        () => true,
        () => false,
      ));
    if (!ok) return { damaged: 'the stored voucher is not the stored seq and amount, signed by the payer' };
  } else if (record.seq !== 0 || record.cumulative !== 0n) return { damaged: 'a payment is stored without its voucher' };
  return { terms: open.terms, payerKey: key };
}
