/**
 * @module ledger/chain-facts
 * What a verified credential chain proves ({@link ChainFacts}), as the ledger stores it beside the chain's
 * hash in `chains`: a chain any ledger process verified before (or enrolled) is then looked up with its
 * batch, not decoded again. Deterministic CBOR:
 *
 * ```
 * facts = [ 1, partyId: tstr, partyCategory: tstr, partyKey: bstr, partyKid: bstr, issuerKid: bstr,
 *           deviceCategory: tstr, publicKey: bstr, kid: bstr,
 *           limits: [ asset: tstr, perPayment: uint, perChannel: uint, perPeriod: uint, periodSeconds: uint,
 *                     totalOutstanding: uint ],
 *           counterparties: [* tstr] / null, paymentRef: tstr / null, validUntil: uint ]
 * ```
 */
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { asAmount, asArray, asBytes, asText, asTime, asUint, MAX_COUNTER } from '../codec/fields.js';
import { LedgerError } from '../errors.js';
import type { ChainFacts } from '../identity/chain.js';

export function encodeChainFacts(f: ChainFacts): Uint8Array {
  const l = f.limits;
  return encode([
    1,
    f.partyId,
    f.partyCategory,
    f.partyKey,
    f.partyKid,
    f.issuerKid,
    f.deviceCategory,
    f.publicKey,
    f.kid,
    [l.asset, l.perPayment, l.perChannel, l.perPeriod, l.periodSeconds, l.totalOutstanding],
    f.counterparties === undefined ? null : [...f.counterparties],
    f.paymentRef ?? null,
    f.validUntil,
  ]);
}

/** @throws LedgerError LEDGER_CHAIN_FACTS (or a CodecError) for bytes {@link encodeChainFacts} did not write. */
/** A public key as facts hold it: 32 bytes (Ed25519) or a 65-byte P-256 point (ES256). */
function asKey(v: CborValue | undefined, field: string): Uint8Array {
  const b = asBytes(v, field, { min: 32, max: 65 });
  if (b.length !== 32 && !(b.length === 65 && b[0] === 0x04))
    throw new LedgerError('LEDGER_CHAIN_FACTS', 'a key is 32 bytes or a 65-byte P-256 point', field);
  return b;
}

export function decodeChainFacts(bytes: Uint8Array): ChainFacts {
  const a = asArray(decode(bytes), 'facts', 13);
  if (a[0] !== 1) throw new LedgerError('LEDGER_CHAIN_FACTS', 'unknown chain facts version', 'facts[0]');
  const l = asArray(a[9], 'facts.limits', 6);
  const orNull = <T>(v: CborValue | undefined, read: (v: CborValue) => T) => (v === null ? undefined : read(v as CborValue));
  return {
    partyId: asText(a[1], 'facts.partyId'),
    partyCategory: asText(a[2], 'facts.partyCategory'),
    partyKey: asKey(a[3], 'facts.partyKey'),
    partyKid: asBytes(a[4], 'facts.partyKid'),
    issuerKid: asBytes(a[5], 'facts.issuerKid'),
    deviceCategory: asText(a[6], 'facts.deviceCategory'),
    publicKey: asKey(a[7], 'facts.publicKey'),
    kid: asBytes(a[8], 'facts.kid'),
    limits: {
      asset: asText(l[0], 'facts.limits.asset'),
      perPayment: asAmount(l[1], 'facts.limits.perPayment'),
      perChannel: asAmount(l[2], 'facts.limits.perChannel'),
      perPeriod: asAmount(l[3], 'facts.limits.perPeriod'),
      periodSeconds: asUint(l[4], 'facts.limits.periodSeconds', MAX_COUNTER, 1),
      totalOutstanding: asAmount(l[5], 'facts.limits.totalOutstanding'),
    },
    counterparties: orNull(a[10], (v) => asArray(v, 'facts.counterparties').map((c, i) => asText(c, `facts.counterparties[${i}]`))),
    paymentRef: orNull(a[11], (v) => asText(v, 'facts.paymentRef')),
    validUntil: asTime(a[12], 'facts.validUntil'),
  };
}
