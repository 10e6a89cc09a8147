/**
 * @module identity/trust-store
 * What a device or the ledger trusts: the network issuers' keys (roots, from configuration), the newest
 * revocation state of each authority, and the party keys learned from verified chains (so a party's own
 * revocation list can be checked). State persists through a {@link Persistence} (memory, file, IndexedDB)
 * and is re-verified when loaded: a tampered file cannot revoke or un-revoke anyone.
 */
import { toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { verifySign1 } from '../codec/cose-sign1.js';
import { asArray, asBytes, asMap } from '../codec/fields.js';
import type { Ed25519Provider } from '../crypto/ed25519.js';
import { EdgepayError, IdentityError } from '../errors.js';
import { verifyParty } from './chain.js';
import type { Credential } from './credential.js';
import { decodeRevocationList, MAX_REVOCATION_BYTES, RevocationState } from './revocation.js';

/** A network issuer the holder trusts: its id (the `iss` of party credentials) and public key. */
export interface TrustRoot {
  readonly id: string;
  readonly publicKey: Uint8Array;
}

/** Where a trust store keeps its state between runs. */
export interface Persistence {
  /** The newest state saved, if any. */
  load(): Promise<Uint8Array | undefined>;
  /** Replaces the state with `bytes` (which include everything appended since the last save). */
  save(bytes: Uint8Array): Promise<void>;
  /**
   * Optional: keeps one learned party's credential without rewriting the rest, so a payee meeting
   * thousands of parties writes each once (with `save` alone, each new party rewrites them all).
   */
  append?(record: Uint8Array): Promise<void>;
  /** What was appended since the last save, in order (a record cut short by a crash is dropped). */
  loadAppended?(): Promise<Uint8Array[]>;
}

/** Keeps state in memory only. */
export function memoryPersistence(): Persistence & { bytes?: Uint8Array; appended: Uint8Array[] } {
  const p: Persistence & { bytes?: Uint8Array; appended: Uint8Array[] } = {
    appended: [],
    load: async () => p.bytes,
    save: async (b) => {
      p.bytes = b;
      p.appended = [];
    },
    append: async (r) => {
      p.appended.push(r);
    },
    loadAppended: async () => p.appended,
  };
  return p;
}

interface Authority {
  id: string;
  publicKey: Uint8Array;
  kid: Uint8Array;
}

/**
 * The network issuer keys a device trusts, and the newest signed revocation list of each authority, kept
 * (optionally persisted) for offline checks.
 */
export class TrustStore {
  private readonly roots = new Map<string, Authority>();
  private readonly parties = new Map<string, { authority: Authority; credential: Uint8Array }>();
  private readonly states = new Map<string, RevocationState>();
  /** Parties appended to the persistence since its last save. */
  private appended = 0;
  private restoring = false;
  private writing: Promise<void> = Promise.resolve();

  /** A store with `roots`, empty otherwise. Prefer {@link TrustStore.open} to restore persisted state. */
  constructor(
    roots: readonly TrustRoot[],
    /** Where state is saved; without one nothing is. */
    private readonly persistence?: Persistence,
    readonly provider?: Ed25519Provider,
  ) {
    for (const r of roots) {
      const kid = coseKeyThumbprint(r.publicKey);
      this.roots.set(toHex(kid), { id: r.id, publicKey: r.publicKey, kid });
    }
  }

  /** Opens a store and restores its persisted lists and parties, verifying each again. */
  static async open(roots: readonly TrustRoot[], persistence?: Persistence, provider?: Ed25519Provider): Promise<TrustStore> {
    const store = new TrustStore(roots, persistence, provider);
    const bytes = await persistence?.load();
    const m = bytes && asMap(decode(bytes, { maxBytes: 64 * MAX_REVOCATION_BYTES, maxDepth: 4, tags: [] }), 'trust');
    // Parties first (a party's lists need it known), those appended since the last save after the rest.
    // A persisted party stays known even if its credential has since expired: its lists still matter.
    const appended = (await persistence?.loadAppended?.()) ?? [];
    const saved = asArray(m?.get(2) ?? [], 'trust.parties').map((c) => asBytes(c, 'trust.parties[]'));
    const again = { trust: store, skipTimeCheck: true, skipRevocation: true };
    store.restoring = true; // what is being read back is not written again
    try {
      for (const c of saved) await verifyParty(c, again);
      // An append a power cut left whole in length but not in content fails here: it was never
      // acknowledged, and its party is learned again when next met, so it is dropped, not fatal.
      for (const c of appended)
        try {
          await verifyParty(c, again);
        } catch (e) {
          if (!(e instanceof EdgepayError)) throw e;
        }
    } finally {
      store.restoring = false;
    }
    store.appended = appended.length;
    for (const l of asArray(m?.get(1) ?? [], 'trust.lists'))
      await store.applyRevocationList(asBytes(l, 'trust.lists[]'), { persist: false });
    return store;
  }

  /** The trusted issuer whose key has thumbprint `kid`. */
  root(kid: Uint8Array): Authority | undefined {
    return this.roots.get(toHex(kid));
  }

  /** A root or a learned party, by key thumbprint. */
  authority(kid: Uint8Array): Authority | undefined {
    const k = toHex(kid);
    return this.roots.get(k) ?? this.parties.get(k)?.authority;
  }

  /** The credential of a learned party, by its key's thumbprint (what vouches for its revocation lists). */
  partyCredential(kid: Uint8Array): Uint8Array | undefined {
    return this.parties.get(toHex(kid))?.credential;
  }

  /** Records a party whose credential has been verified, so its revocation lists can be checked. */
  async learnParty(party: Credential): Promise<void> {
    const k = toHex(party.subjectKid);
    if (this.parties.has(k)) return;
    this.parties.set(k, {
      authority: { id: party.claims.subject, publicKey: party.claims.publicKey, kid: party.subjectKid },
      credential: party.bytes,
    });
    if (this.restoring) return;
    const p = this.persistence;
    // Appended alone until the log is as large as the saved state; then one save folds it in (each party is
    // written a constant number of times, amortized).
    if (p?.append && this.appended < Math.max(64, this.parties.size - this.appended)) {
      this.appended++;
      const append = p.append.bind(p);
      await this.serially(() => append(party.bytes));
    } else await this.save();
  }

  /**
   * Runs persistence writes one at a time: a save empties the log it folds in, so an append running beside
   * it could be dropped before the save had it.
   */
  private serially(write: () => Promise<void>): Promise<void> {
    const done = this.writing.then(write);
    this.writing = done.catch(() => {});
    return done;
  }

  /**
   * Verifies a signed revocation list against its authority and applies it if newer than what is held.
   * A party's list needs the party known: from a chain verified earlier, or `partyCredential`.
   * @throws IdentityError ID_UNKNOWN_ISSUER (authority unknown), ID_ISSUER_MISMATCH, ID_REVOCATION_GAP;
   *   CoseError COSE_SIGNATURE; CodecError for malformed input.
   */
  async applyRevocationList(
    bytes: Uint8Array,
    options: { persist?: boolean; partyCredential?: Uint8Array } = {},
  ): Promise<'applied' | 'stale'> {
    // A party's list may travel with the party's credential: learn the party first (verified, not revoked).
    if (options.partyCredential !== undefined) await verifyParty(options.partyCredential, { trust: this });
    const list = decodeRevocationList(bytes);
    const kid = list.sign1.kid;
    const auth = kid === undefined ? undefined : this.authority(kid);
    if (auth === undefined)
      throw new IdentityError('ID_UNKNOWN_ISSUER', 'the list is signed by no trusted issuer or known party', 'protected.kid');
    if (list.content.issuer !== auth.id)
      throw new IdentityError('ID_ISSUER_MISMATCH', `list names ${list.content.issuer} but is signed by ${auth.id}`, 'list.iss');
    await verifySign1(list.sign1, auth.publicKey, this.provider ? { provider: this.provider } : {});
    const key = toHex(auth.kid);
    let state = this.states.get(key);
    if (state === undefined) {
      state = new RevocationState(auth.kid);
      this.states.set(key, state);
    }
    const result = state.apply(list);
    if (result === 'applied' && options.persist !== false) await this.save();
    return result;
  }

  /** The revocation state of the authority whose key has thumbprint `authorityKid`. */
  revocation(authorityKid: Uint8Array): RevocationState | undefined {
    return this.states.get(toHex(authorityKid));
  }

  /**
   * When the newest list of the authority with hex kid `authority` revoked the kid whose first bytes, hex,
   * are `kidPrefixHex` (see `kidPrefix`); undefined when it did not. For callers that keep ids as hex.
   */
  revokedSince(authority: string, kidPrefixHex: string): number | undefined {
    return this.states.get(authority)?.revokedAtPrefix(kidPrefixHex);
  }

  /** Seconds since the newest list of that authority was issued; undefined when none is held. */
  age(authorityKid: Uint8Array, now: number): number | undefined {
    const s = this.revocation(authorityKid);
    return s === undefined ? undefined : now - s.issuedAt;
  }

  /** Newest version held per authority (hex kid -> version): what a device announces to its peers. */
  versions(): Map<string, number> {
    return new Map([...this.states].map(([k, s]) => [k, s.version]));
  }

  /** The signed lists behind the current state of every authority, to relay to a peer. */
  lists(): Uint8Array[] {
    return [...this.states.values()].flatMap((s) => s.lists);
  }

  /** Persists the learned parties and the signed lists. */
  async save(): Promise<void> {
    const p = this.persistence;
    if (!p) return;
    this.appended = 0;
    // Encoded when its turn comes: it then holds every party appended before it.
    await this.serially(() =>
      p.save(
        encode(
          new Map<number, CborValue>([
            [1, this.lists()],
            [2, [...this.parties.values()].map((x) => x.credential)],
          ]),
        ),
      ),
    );
  }
}
