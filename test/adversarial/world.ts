/**
 * What a hostile but enrolled device can make: records its own key signs, with whatever fields it likes,
 * on channels its counterparty really accepted (so every signature is genuine), and records whose
 * frames carry junk signatures.
 */
import { signVoucher, type Voucher } from '../../src/channel/messages.js';
import type { ChannelRecord } from '../../src/channel/store.js';
import { type CborValue, decode, encode, Tagged } from '../../src/codec/cbor.js';
import { DEFAULT_LIMITS } from '../../src/codec/scan.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import type { Db } from '../../src/ledger/db.js';
import { Ledger, type LedgerOptions } from '../../src/ledger/ledger.js';
import { encodeSettlementParts, type SettlementParts } from '../../src/settlement/record.js';
import { deliver, type Pair } from '../channel/world.js';

export const ledgerSeed = new Uint8Array(32).fill(77);

/** A ledger on `db` trusting `p`'s issuer, on `p`'s clock, funded for the fleet. */
export async function ledgerFor(db: Db, p: Pair, o: Partial<LedgerOptions> = {}): Promise<Ledger> {
  const ledger = await Ledger.open({
    db,
    signer: await nodeEd25519.signer(ledgerSeed),
    id: 'ledger:test',
    trust: new TrustStore(p.roots),
    now: () => p.clock.now,
    ...o,
  });
  await ledger.fund('party:fleet', 'EUR', 1_000_000n);
  return ledger;
}

/** A channel the pad accepted (the open and accept are genuine), with its terms. */
export async function acceptedChannel(
  p: Pair,
  o: { cap?: bigint; payword?: { length: number; tickValue: bigint } } = {},
): Promise<{ id: Uint8Array; parts: Pick<SettlementParts, 'open' | 'accept'>; record: () => ChannelRecord }> {
  const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: o.cap ?? 10_000n, payword: o.payword });
  await deliver(p, frame);
  const r = p.payer.channel(channelId) as ChannelRecord;
  return {
    id: channelId,
    parts: { open: r.open, accept: r.accept as Uint8Array },
    record: () => p.payer.channel(channelId) as ChannelRecord,
  };
}

/** A voucher the drone's own key signs, with any fields (the payer's rules not applied). */
export function forgeVoucher(p: Pair, v: Voucher): Promise<Uint8Array> {
  return signVoucher(p.drone, v);
}

/** The same COSE_Sign1 frame with its signature replaced by junk (64 bytes that verify under no key). */
export function junkSignature(frame: Uint8Array): Uint8Array {
  const t = decode(frame, { ...DEFAULT_LIMITS, tags: [18] }) as Tagged;
  const [prot, unprot, payload] = t.value as CborValue[];
  return encode(new Tagged(18, [prot as CborValue, unprot as CborValue, payload as CborValue, new Uint8Array(64).fill(0x5a)]));
}

/** A settlement record from its parts. */
export const record = (parts: SettlementParts): Uint8Array => encodeSettlementParts(parts);
