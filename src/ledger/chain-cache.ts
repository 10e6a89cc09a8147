/**
 * @module ledger/chain-cache
 * The ledger's memory of credential chains: each is verified once (its signatures do not change), so a
 * hit only re-checks what may have changed since (revocation against the newest lists, and expiry where
 * the caller judges time). One per ledger process, shared by its `Ledger` and `LedgerService`. Bounded;
 * the oldest entries go first.
 */
import { BoundedMap, BoundedSet } from '../bounded.js';
import { sameBytes, toHex } from '../bytes.js';
import { sha256 } from '../crypto/hash.js';
import { IdentityError } from '../errors.js';
import { type ChainFacts, type DeferredCheck, verifyChain } from '../identity/chain.js';
import { kidPrefix } from '../identity/revocation.js';
import type { TrustStore } from '../identity/trust-store.js';
import type { ChainSource, SignatureCheck } from '../settlement/verify.js';

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

  /**
   * A {@link ChainSource} for one batch of records: a chain from this cache, from `stored` (what the ledger's
   * store holds, by chain key), or checked now with its signatures left to the batch; a payee's accept
   * checked once per key and chain, the batch's first such check vouching for the rest. `keys` holds the
   * chain keys the caller worked out already (by the chain's bytes), so no chain is hashed twice.
   */
  batch(stored: ReadonlyMap<string, ChainFacts>, keys: ReadonlyMap<Uint8Array, string>): ChainSource {
    const accepts = new Map<string, SignatureCheck>();
    const keyOf = (chain: Uint8Array) => keys.get(chain) ?? this.keyFor(chain);
    return {
      facts: (chain, o, deferred) => this.verify(chain, o, deferred, keyOf(chain), stored),
      accept: (kid, chain, check) => {
        const key = keyOf(chain);
        if (this.acceptProven(kid, key)) return undefined;
        check.verified = () => this.proveAccept(kid, key);
        const k = `${toHex(kid)}:${key}`;
        const first = accepts.get(k);
        if (first) check.vouchedBy = first;
        else accepts.set(k, check);
        return check;
      },
    };
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
