/**
 * @module channel/settlement
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
import { BoundedMap, BoundedSet } from '../bounded.js';
import { equalBytes, sameBytes, toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { type Sign1, sigStructure } from '../codec/cose-sign1.js';
import { asArray, asBytes, asInt, asMap, asUint, type CborMap, need, onlyKeys } from '../codec/fields.js';
import { sha256 } from '../crypto/hash.js';
import { getEd25519 } from '../crypto/index.js';
import { ChannelError, CoseError, EdgepayError, IdentityError } from '../errors.js';
import { type ChainFacts, checkCounterparty, type DeferredCheck, verifyChain } from '../identity/chain.js';
import { kidPrefix } from '../identity/revocation.js';
import type { TrustStore } from '../identity/trust-store.js';
import { fastReadSettlement, MAX_SETTLEMENT_BYTES } from './fastframe.js';
import { type TickProof, verifyTickProof } from './hashchain.js';
import { checkCheckpoint, checkTermsWithin, decodeFrame, type Frame, type OpenTerms, type Voucher } from './messages.js';
import type { SettlementSink } from './metered.js';
import type { ChannelRecord } from './store.js';

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
 * Verifies a settlement record offline: the payer's chain and signed terms, the payee's chain and signed
 * accept, the newest voucher (and close) under the right keys and channel, a tick against the committed
 * root, equivocation evidence. Revocation is judged as of `revocationAt` (a ledger passes when it first saw
 * the channel).
 * @throws ChannelError CH_SETTLEMENT, IdentityError, CoseError, CodecError, each naming the field.
 */
export async function verifySettlement(bytes: Uint8Array, o: SettlementCheckOptions): Promise<VerifiedSettlement> {
  const { settlement, signatures, tick } = await checkSettlement(bytes, o);
  const provider = await getEd25519();
  for (const c of signatures) {
    if (!(await provider.verify(c.signature, c.message, c.publicKey)))
      throw new CoseError('COSE_SIGNATURE', 'signature does not verify', c.field);
    c.verified?.();
  }
  // Hashed only once the signatures binding the chain's root have verified.
  if (tick && !verifyTickProof(tick)) bad('the tick does not verify against the committed root', 'settlement.tick');
  return settlement;
}

export interface SettlementCheckOptions {
  trust: TrustStore;
  now: number;
  revocationAt?: number;
  /**
   * Refuse a record whose channel expired more than this many seconds ago (a ledger's settlement window:
   * devices sync late, but a credential's holder cannot settle channels back-dated into its validity for ever).
   */
  settlementWindowSeconds?: number;
  chains?: ChainCache;
  /** Leave the signatures of chains not yet cached to the caller too (a ledger batches them); needs `chains`. */
  deferChains?: boolean;
  /**
   * One batch's accept checks by payee key and chain: a payee's backlog of records in one batch then
   * costs one accept signature, not one each (see {@link SignatureCheck.vouchedBy}).
   */
  batchAccepts?: Map<string, SignatureCheck>;
  /**
   * The bytes are the caller's own copy and stay unchanged while the result is in use (a ledger copies a
   * whole batch into one buffer): read in place, not copied first.
   */
  owned?: boolean;
  /**
   * What a ledger's store holds for chains it verified before, by chain key ({@link ChainCache.keyOf}): such a
   * chain is taken from here, not decoded (revocation is still checked against the newest lists).
   */
  storedChains?: ReadonlyMap<string, ChainFacts>;
  /**
   * The record's payer and payee chain keys as `chains.keyFor` gives them, when the caller worked them out
   * already (a ledger does, to look the chains up). A wrong key would take another chain's facts.
   */
  chainKeys?: readonly [payer: string, payee: string];
}

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

const sigCheck = (frame: { sign1: Sign1 }, publicKey: Uint8Array, field: string): SignatureCheck => ({
  publicKey,
  message: sigStructure(frame.sign1.protectedBytes, new Uint8Array(0), frame.sign1.payload as Uint8Array),
  signature: frame.sign1.signature,
  field,
});

/**
 * Checks everything in a settlement record but the signatures of its frames and its tick, and says which
 * signatures must still verify for the record to stand (one, in the common case: the payer's newest
 * voucher) and which tick must then be hashed. Nothing here costs more than reading the record.
 * Why the others may be skipped:
 * - the open: its channel id is the SHA-256 of the signed terms, and the voucher signs that id, so the
 *   payer's voucher signature binds the terms (the open's own signature is checked only without a voucher);
 * - the accept: it binds the payee's key to the chain that names the party to credit. Once a payee key has
 *   signed an accept with a chain, any accept by that key with that chain binds the same (`ChainCache`
 *   remembers it); a different chain for the key needs its own signature.
 * Credential chains are verified once each (`ChainCache`), revocation and expiry on every use.
 */
export async function checkSettlement(
  record: Uint8Array | SettlementFrames,
  o: SettlementCheckOptions,
): Promise<{ settlement: VerifiedSettlement; signatures: SignatureCheck[]; tick?: TickProof | undefined }> {
  const { m, open, accept } = record instanceof Uint8Array ? readSettlement(record, o.owned) : record;
  // Credentials are judged as of when they were used: their expiry does not void a payment made in time. The
  // channel's expiry (within every credential of both chains) and the settlement window bound how late.
  const chainOpts = { trust: o.trust, now: o.now, revocationAt: o.revocationAt, skipTimeCheck: true };
  const signatures: SignatureCheck[] = [];
  const chain = (bytes: Uint8Array, key?: string) =>
    o.chains
      ? o.chains.verify(bytes, chainOpts, o.deferChains ? signatures : undefined, key, o.storedChains)
      : verifyChain(bytes, chainOpts);
  // Each chain hashed once: the payee's key is asked for again below, and a ledger hashed both to look them up.
  const [payerChainKey, payeeChainKey] =
    o.chainKeys ?? (o.chains ? [o.chains.keyFor(open.terms.chain), o.chains.keyFor(accept.chain)] : ['', '']);
  const payer = await chain(open.terms.chain, payerChainKey);
  const payee = await chain(accept.chain, payeeChainKey);
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
  if (!o.chains?.acceptProven(payee.kid, payeeChainKey)) {
    const c = sigCheck(accept, payee.publicKey, 'settlement.accept');
    const cache = o.chains;
    if (cache) c.verified = () => cache.proveAccept(payee.kid, payeeChainKey);
    if (o.batchAccepts) {
      const k = `${toHex(payee.kid)}:${payeeChainKey}`;
      const first = o.batchAccepts.get(k);
      if (first) c.vouchedBy = first;
      else o.batchAccepts.set(k, c);
    }
    signatures.push(c);
  }
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

/** A chain's length and last three bytes (a signature's: as good as random), to find it among remembered ones. */
function tagOf(chain: Uint8Array): number {
  const n = chain.length;
  return n * 2 ** 24 + (((chain[n - 1] ?? 0) | ((chain[n - 2] ?? 0) << 8) | ((chain[n - 3] ?? 0) << 16)) >>> 0);
}

/**
 * Verifies each credential chain once: its signatures do not change, so a hit only re-checks revocation
 * (against the newest lists, which may have changed since). Bounded; the oldest entries go first.
 */
export class ChainCache {
  private readonly map: BoundedMap<string, Known>;
  /** Chains whose signatures a caller is checking (deferred): records in flight share the same checks. */
  private readonly pending = new Map<string, { known: Known; checks: SignatureCheck[] }>();
  /** Payee key (hex) -> hashes of chains it has signed an accept with. */
  private readonly accepts: BoundedMap<string, Set<string>>;
  /** A chain's key here and in a ledger's `chains` table: its SHA-256, hex. */
  static keyOf(chain: Uint8Array): string {
    return toHex(sha256(chain));
  }

  /**
   * Cached chains' keys, found by length and last bytes (a signature's: as good as random) and confirmed
   * byte for byte, so a cached chain is not hashed again: every record brings two chains, and
   * hashing them was a fifth of a ledger's hashing. A miss, or a crafted lookalike, is simply hashed.
   */
  private readonly keys: BoundedMap<number, { bytes: Uint8Array; key: string }>;

  /** {@link ChainCache.keyOf}, remembered for the chains cached here. */
  keyFor(chain: Uint8Array): string {
    const hit = this.keys.get(tagOf(chain));
    return hit !== undefined && sameBytes(hit.bytes, chain) ? hit.key : ChainCache.keyOf(chain);
  }

  /** True when the payee key `kid` has signed an accept carrying the chain whose key is `chainKey` before. */
  acceptProven(kid: Uint8Array, chainKey: string): boolean {
    return this.accepts.get(toHex(kid))?.has(chainKey) ?? false;
  }

  proveAccept(kid: Uint8Array, chainKey: string): void {
    const k = toHex(kid);
    let set = this.accepts.get(k);
    if (!set) {
      set = new Set();
      this.accepts.set(k, set);
    }
    set.add(chainKey);
  }

  constructor(max = 20_000) {
    this.map = new BoundedMap(max);
    this.accepts = new BoundedMap(max);
    this.keys = new BoundedMap(max);
    this.once = new BoundedSet(max);
  }

  /**
   * The verified chain from cache, or verified now. With `deferred`, a chain not cached has everything
   * checked but its two signatures, which are pushed to `deferred` (tagged with the chain's hash); it is
   * cached once both have verified.
   */
  async verify(
    bytes: Uint8Array,
    opts: Parameters<typeof verifyChain>[1],
    deferred?: SignatureCheck[],
    key = this.keyFor(bytes),
    stored?: ReadonlyMap<string, ChainFacts>,
  ): Promise<ChainFacts> {
    const hit = this.map.get(key);
    if (hit) return recheck(hit, opts);
    const facts = stored?.get(key);
    if (facts) {
      const k = known(facts);
      this.admit(bytes, key, k, false);
      return recheck(k, opts);
    }
    if (!deferred) {
      const k = known(factsOf(await verifyChain(bytes, opts)));
      this.put(bytes, key, k);
      return k.chain;
    }
    const pending = this.pending.get(key);
    if (pending) {
      deferred.push(...pending.checks);
      return recheck(pending.known, opts);
    }
    const raw: DeferredCheck[] = [];
    const v = await verifyChain(bytes, { ...opts, deferSignatures: raw, learnParty: false });
    const done = new Set<number>();
    let checkedNow = false;
    // The facts alone are kept and returned: a checked record then holds no decoded credentials.
    const k = known(factsOf(v));
    const checks = raw.map(
      (c, i): SignatureCheck => ({
        ...c,
        chain: key,
        chainFacts: k.chain,
        verified: (stored) => {
          done.add(i);
          checkedNow ||= !stored;
          if (done.size < raw.length) return;
          this.pending.delete(key);
          this.admit(bytes, key, k, checkedNow);
        },
        failed: () => this.pending.delete(key),
      }),
    );
    this.pending.set(key, { known: k, checks });
    deferred.push(...checks);
    return k.chain;
  }

  /** True when the chain whose key is `key` is cached here (verified, or taken from a store, before). */
  has(key: string): boolean {
    return this.map.has(key);
  }

  /**
   * Keys of chains met once whose signatures a ledger's store vouched for: such a chain is cached the
   * second time it comes. Caching it at once saves only a decode, and a stream of one-off chains (every
   * device settling once) would fill the cache with entries that are never asked for again, each kept
   * long enough to be copied into the old generation and collected there.
   */
  private readonly once: BoundedSet<string>;

  private admit(bytes: Uint8Array, key: string, k: Known, checkedNow: boolean): void {
    if (checkedNow || this.once.delete(key)) this.put(bytes, key, k);
    else this.once.add(key);
  }

  private put(bytes: Uint8Array, key: string, k: Known): void {
    this.map.set(key, k);
    this.keys.set(tagOf(bytes), { bytes: new Uint8Array(bytes), key }); // a copy: `bytes` may be a view into a whole record
  }
}

/**
 * A verified chain with what its revocation re-check looks up (authority and revoked-kid prefix, hex),
 * worked out once: a ledger re-checks every record's chains against the newest lists.
 */
interface Known {
  chain: ChainFacts;
  revocation: readonly { authority: string; subject: string; field: string }[];
}

function known(chain: ChainFacts): Known {
  const root = toHex(chain.issuerKid);
  const party = toHex(chain.partyKid);
  const partyPrefix = toHex(kidPrefix(chain.partyKid));
  const devicePrefix = toHex(kidPrefix(chain.kid));
  return {
    chain,
    revocation: [
      { authority: root, subject: partyPrefix, field: 'party' },
      { authority: party, subject: devicePrefix, field: 'device' },
      { authority: root, subject: devicePrefix, field: 'device' },
    ],
  };
}

/** A verified chain's facts alone: what is cached need not keep the decoded credentials alive. */
export function factsOf(v: ChainFacts): ChainFacts {
  return {
    partyId: v.partyId,
    partyCategory: v.partyCategory,
    partyKey: v.partyKey,
    partyKid: v.partyKid,
    issuerKid: v.issuerKid,
    deviceCategory: v.deviceCategory,
    publicKey: v.publicKey,
    kid: v.kid,
    limits: v.limits,
    counterparties: v.counterparties,
    paymentRef: v.paymentRef,
    validUntil: v.validUntil,
  };
}

/**
 * A cached chain checked again for what may have changed since it was verified: revocation (against the
 * newest lists held) and, unless the caller judges time itself (`skipTimeCheck`), expiry.
 */
function recheck(k: Known, opts: Parameters<typeof verifyChain>[1]): ChainFacts {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const at = opts.revocationAt ?? now;
  for (let i = 0; i < k.revocation.length; i++) {
    const r = k.revocation[i] as Known['revocation'][number];
    const revokedAt = opts.trust.revokedSince(r.authority, r.subject);
    if (revokedAt !== undefined && at >= revokedAt) throw new IdentityError('ID_REVOKED', `revoked since ${revokedAt}`, r.field);
  }
  if (!opts.skipTimeCheck && now - (opts.skewSeconds ?? 300) >= k.chain.validUntil)
    throw new IdentityError('ID_EXPIRED', `expired at ${k.chain.validUntil}, now is ${now}`, 'device.exp');
  return k.chain;
}

/** Whether the newest lists in `trust` revoke the chain whose facts are `chain` as of `at`: the refusal, or undefined. */
export function revokedChain(chain: ChainFacts, trust: TrustStore, at: number): IdentityError | undefined {
  try {
    recheck(known(chain), { trust, now: at, skipTimeCheck: true });
    return undefined;
  } catch (e) {
    if (e instanceof IdentityError) return e;
    throw e;
  }
}

/** A settlement sink that puts each closed (or checkpointed) channel's record in an outbox. */
export function outboxSink(outbox: { append(record: Uint8Array): Promise<Uint8Array> }): SettlementSink {
  return {
    async enqueue(record) {
      try {
        await outbox.append(encodeSettlement(record));
      } catch (e) {
        if (!(e instanceof EdgepayError) || e.code !== 'CH_NOT_OPEN') throw e; // nothing to settle
      }
    },
  };
}
