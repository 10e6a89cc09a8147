/**
 * @module settlement/verify
 * Verifying a settlement record offline: the payer's chain and signed terms, the payee's chain and signed
 * accept, the newest voucher (and close) under the right keys and channel, a tick against the committed
 * root, equivocation evidence, and the payer credential's limits again. Where the chains come from is the
 * caller's ({@link ChainSource}): verified here by default; a ledger's own source knows the chains it met
 * before.
 */
import { equalBytes } from '../bytes.js';
import { type TickProof, verifyTickProof } from '../channel/hashchain.js';
import { checkCheckpoint, checkTermsWithin, decodeFrame, type Frame, type OpenTerms, type Voucher } from '../channel/messages.js';
import type { CborValue } from '../codec/cbor.js';
import { checkAlgForKey, type Sign1, sigStructure } from '../codec/cose-sign1.js';
import { asArray, asBytes, asUint } from '../codec/fields.js';
import { verifyWithKey } from '../crypto/index.js';
import { ChannelError, CoseError } from '../errors.js';
import { type ChainFacts, type ChainVerifyOptions, checkCounterparty, verifyChain } from '../identity/chain.js';
import type { TrustStore } from '../identity/trust-store.js';
import { readSettlement, type SettlementFrames } from './record.js';

/** What a verified settlement record proves. */
export interface VerifiedSettlement {
  channelId: Uint8Array;
  terms: OpenTerms;
  payer: ChainFacts;
  payee: ChainFacts;
  /** The newest payer-signed voucher (absent: none yet): its seq, bytes, amount and tick checkpoint. */
  seq: number;
  voucher: Uint8Array | undefined;
  voucherAmount: bigint;
  voucherTicks: number;
  /** The ticks proven (the checkpoint, or a newer tick the record carries) and the amount they make owed. */
  ticks: number;
  amount: bigint;
  /** True when the payee countersigned the final state (a cooperative close). */
  closed: boolean;
  /** Two different payer-signed vouchers for one seq, both verified. */
  equivocation?: [Voucher, Voucher] | undefined;
}

const bad = (why: string, field: string): never => {
  throw new ChannelError('CH_SETTLEMENT', why, field);
};

/** A signature a settlement needs checked: the ledger batches these over worker threads. */
export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  field: string;
  /**
   * Called once the signature verified (a cache may then skip it next time). `stored`: it was not checked
   * now because a ledger's store says its chain verified before.
   */
  verified?: (stored?: boolean) => void;
  /** Called when it did not. */
  failed?: () => void;
  /** For a credential chain's signature: the chain's hash (hex), so a ledger that verified it before may skip it. */
  chain?: string;
  /** For a credential chain's signature: what the chain proves, for a ledger to store once it verified. */
  chainFacts?: ChainFacts;
  /**
   * For an accept: another accept in the same batch by the same payee key with the same chain. If that one
   * verifies, this one binds the same and need not be checked; if it fails, this one is checked on its own.
   */
  vouchedBy?: SignatureCheck;
}

/**
 * Where a verifier gets the credential chains a record carries. By default each is verified where it is
 * met ({@link verifyChain}); a ledger's source knows the chains it verified before, and leaves the
 * signatures of new ones to a batch.
 */
export interface ChainSource {
  /**
   * What `chain` proves, revocation judged against the newest lists: verified now, or known already. Signatures
   * a source leaves to the caller are pushed to `deferred`; the chain stands only once they verify.
   */
  facts(chain: Uint8Array, o: ChainVerifyOptions, deferred: SignatureCheck[]): Promise<ChainFacts>;
  /**
   * The accept's signature check as it must be made: undefined when the payee key `kid` has bound this chain
   * with an accept before (another accept by that key with that chain binds the same).
   */
  accept?(kid: Uint8Array, chain: Uint8Array, check: SignatureCheck): SignatureCheck | undefined;
}

/** Each chain verified where it is met. */
const verifyHere: ChainSource = { facts: (chain, o) => verifyChain(chain, o) };

export interface SettlementCheckOptions {
  trust: TrustStore;
  now: number;
  /** When revocation is judged (default `now`). */
  revocationAt?: number;
  /**
   * Refuse a record whose channel expired more than this many seconds ago (a ledger's settlement window:
   * devices sync late, but a credential's holder cannot settle channels back-dated into its validity for ever).
   */
  settlementWindowSeconds?: number;
  chains?: ChainSource;
}

/**
 * Verifies a settlement record offline: the payer's chain and signed terms, the payee's chain and signed
 * accept, the newest voucher (and close) under the right keys and channel, a tick against the committed
 * root, equivocation evidence. Revocation is judged as of `revocationAt` (a ledger passes when it first saw
 * the channel).
 * @throws ChannelError CH_SETTLEMENT, IdentityError, CoseError, CodecError, each naming the field.
 */
export async function verifySettlement(bytes: Uint8Array, o: SettlementCheckOptions): Promise<VerifiedSettlement> {
  const { settlement, signatures, tick } = await checkSettlement(bytes, o);
  for (const c of signatures) {
    if (!(await verifyWithKey(c.signature, c.message, c.publicKey)))
      throw new CoseError('COSE_SIGNATURE', 'signature does not verify', c.field);
    c.verified?.();
  }
  // Hashed only once the signatures binding the chain's root have verified.
  if (tick && !verifyTickProof(tick)) bad('the tick does not verify against the committed root', 'settlement.tick');
  return settlement;
}

const sigCheck = (frame: { sign1: Sign1 }, publicKey: Uint8Array, field: string): SignatureCheck => {
  checkAlgForKey(frame.sign1, publicKey, `${field}.protected.alg`);
  return {
    publicKey,
    message: sigStructure(frame.sign1.protectedBytes, new Uint8Array(0), frame.sign1.payload as Uint8Array),
    signature: frame.sign1.signature,
    field,
  };
};

/**
 * Checks everything in a settlement record but the signatures of its frames and its tick, and says which
 * signatures must still verify for the record to stand (one, in the common case: the payer's newest
 * voucher) and which tick must then be hashed. Nothing here costs more than reading the record.
 * Why the others may be skipped:
 * - the open: its channel id is the SHA-256 of the signed terms, and the voucher signs that id, so the
 *   payer's voucher signature binds the terms (the open's own signature is checked only without a voucher);
 * - the accept: it binds the payee's key to the chain that names the party to credit. Once a payee key has
 *   signed an accept with a chain, any accept by that key with that chain binds the same (a
 *   {@link ChainSource} may know it); a different chain for the key needs its own signature.
 */
export async function checkSettlement(
  record: Uint8Array | SettlementFrames,
  o: SettlementCheckOptions,
): Promise<{ settlement: VerifiedSettlement; signatures: SignatureCheck[]; tick?: TickProof | undefined }> {
  const { m, open, accept } = record instanceof Uint8Array ? readSettlement(record) : record;
  // Credentials are judged as of when they were used: their expiry does not void a payment made in time. The
  // channel's expiry (within every credential of both chains) and the settlement window bound how late.
  const chainOpts = { trust: o.trust, now: o.now, revocationAt: o.revocationAt, skipTimeCheck: true };
  const signatures: SignatureCheck[] = [];
  const chains = o.chains ?? verifyHere;
  const payer = await chains.facts(open.terms.chain, chainOpts, signatures);
  const payee = await chains.facts(accept.chain, chainOpts, signatures);
  if (!equalBytes(payee.kid, open.terms.payeeKid)) bad('accepted by another payee than the terms name', 'settlement.accept');
  // What the payee checked offline, checked again: a rogue payer and a colluding payee cannot widen limits.
  const t = open.terms;
  const limits = payer.limits;
  checkTermsWithin(t, payer, 'settlement.open', payee);
  if (o.settlementWindowSeconds !== undefined && o.now > t.expiresAt + o.settlementWindowSeconds)
    throw new ChannelError('CH_EXPIRED', 'the channel expired more than the settlement window ago', 'settlement.open.expiresAt');
  // Either side's credentials may name the categories it deals with; the other's credential says what it is.
  checkCounterparty(payer.counterparties, payee.deviceCategory, 'settlement.accept');
  checkCounterparty(payee.counterparties, payer.deviceCategory, 'settlement.open');
  const pw = t.payword;

  // Everything below is read and compared, never hashed or verified: the work a record can cause before
  // its signatures verify is a few decodes. Signatures are collected for the caller; the tick is returned.
  const voucherOf = (b: CborValue | undefined, f: string, key: Uint8Array, type: 'voucher' | 'close'): Voucher | undefined => {
    if (b === undefined) return undefined;
    const fr: Frame = decodeFrame(asBytes(b, f), true);
    if (fr.type !== type || !equalBytes(fr.voucher.channelId, open.channelId)) return bad(`not a ${type} of this channel`, f);
    checkCheckpoint(fr.voucher, pw, f);
    signatures.push(sigCheck(fr, key, f));
    return fr.voucher;
  };
  const voucher = voucherOf(m.get(3), 'settlement.voucher', payer.publicKey, 'voucher');
  if (!voucher) signatures.push(sigCheck(open, payer.publicKey, 'settlement.open'));
  const acceptCheck = sigCheck(accept, payee.publicKey, 'settlement.accept');
  const c = chains.accept ? chains.accept(payee.kid, accept.chain, acceptCheck) : acceptCheck;
  if (c) signatures.push(c);
  const close = voucherOf(m.get(4), 'settlement.close', payee.publicKey, 'close');
  if (close && (!voucher?.final || close.seq !== voucher.seq || close.cumulative !== voucher.cumulative))
    bad('the close does not countersign the final voucher', 'settlement.close');
  const voucherTicks = voucher?.ticks ?? 0;
  let ticks = voucherTicks;
  let amount = voucher?.cumulative ?? 0n;
  let tick: TickProof | undefined;
  if (m.has(5)) {
    const [index, word] = asArray(m.get(5), 'settlement.tick', 2);
    const i = asUint(index, 'settlement.tick[0]');
    const w = asBytes(word, 'settlement.tick[1]', 32);
    if (!pw || i > pw.length || i <= ticks) bad('a tick beyond the voucher is not valid here', 'settlement.tick');
    amount += BigInt(i - ticks) * (pw as NonNullable<typeof pw>).tickValue;
    ticks = i;
    // From the root: at most the chain's length, and (the cap being checked below, and a voucher's checkpoint
    // worth its ticks) at most cap / tick value steps.
    tick = { known: (pw as NonNullable<typeof pw>).root, word: w, steps: i };
  }
  if (amount > t.cap) bad(`claims ${amount}, above the cap ${t.cap}`, 'settlement');
  // Each payment a payee takes is at most the per-payment limit, and there were at most seq vouchers and
  // `ticks` ticks: the newest state cannot claim more than that many payments could add up to.
  const steps = BigInt((voucher?.seq ?? 0) + ticks);
  if (amount > steps * limits.perPayment)
    throw new ChannelError('CH_LIMIT', `claims ${amount} in ${steps} payments of at most ${limits.perPayment}`, 'settlement');
  let equivocation: [Voucher, Voucher] | undefined;
  if (m.has(6)) {
    const [a, b] = asArray(m.get(6), 'settlement.evidence', 2);
    const va = voucherOf(a, 'settlement.evidence[0]', payer.publicKey, 'voucher') as Voucher;
    const vb = voucherOf(b, 'settlement.evidence[1]', payer.publicKey, 'voucher') as Voucher;
    if (va.seq !== vb.seq || equalBytes(asBytes(a, 'e'), asBytes(b, 'e')))
      bad('evidence must be two different vouchers for one seq', 'settlement.evidence');
    equivocation = [va, vb];
  }
  const settlement: VerifiedSettlement = {
    channelId: open.channelId,
    terms: t,
    payer,
    payee,
    seq: voucher?.seq ?? 0,
    voucherTicks,
    voucherAmount: voucher?.cumulative ?? 0n,
    voucher: m.get(3) as Uint8Array | undefined,
    ticks,
    amount,
    closed: close !== undefined,
    equivocation,
  };
  return { settlement, signatures, tick };
}
