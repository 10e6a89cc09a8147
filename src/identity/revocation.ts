/**
 * @module identity/revocation
 * Signed revocation lists. An authority (the network issuer for parties, a party for its devices) signs
 * a list with a monotonically increasing version; a delta names the version it applies on. Entries are
 * 8-byte prefixes of the revoked key's thumbprint with the time from which its signatures are invalid,
 * so what a retired key signed before that time stays verifiable for settlement.
 *
 * ```
 * payload: { 1 iss: tstr, 2 version: uint, 3 issuedAt: uint, ? 4 base: uint,
 *            5 entries: [* kidPrefix: bstr .size 8, revokedAt: uint] }   (flat pairs, kid order)
 * protected: { 1: -8, 3: "application/edgepay-revocation+cbor", 4: authority kid }
 * ```
 */

import { compareBytes, toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, type Sign1, signSign1 } from '../codec/cose-sign1.js';
import { asArray, asBytes, asMap, asText, asTime, asUint, need, onlyKeys } from '../codec/fields.js';
import type { Signer } from '../crypto/ed25519.js';
import { IdentityError } from '../errors.js';

export const REVOCATION_CONTENT_TYPE = 'application/edgepay-revocation+cbor';
/** Revoked keys are named by the first 8 bytes of their RFC 9679 thumbprint. */
export const KID_PREFIX_LENGTH = 8;
/** Lists may be large (10,000 entries is about 140 KB); this bounds what a decoder accepts. */
export const MAX_REVOCATION_BYTES = 4 * 1024 * 1024;

export interface RevocationEntry {
  /** Thumbprint (or its 8-byte prefix) of the revoked key. */
  kid: Uint8Array;
  /** Signatures made at or after this time (seconds) are invalid. */
  revokedAt: number;
}

export interface RevocationListContent {
  /** The authority's id: the issuer's id, or the party's `sub`. */
  issuer: string;
  version: number;
  issuedAt: number;
  /** For a delta: the version it applies on. Absent for a full list. */
  base?: number | undefined;
  entries: readonly RevocationEntry[];
}

export interface RevocationList {
  readonly bytes: Uint8Array;
  readonly sign1: Sign1;
  readonly content: RevocationListContent;
}

/** The 8-byte prefix a list names a key by. */
export function kidPrefix(kid: Uint8Array): Uint8Array {
  return kid.subarray(0, KID_PREFIX_LENGTH);
}

/** Signs a (full or delta) revocation list. */
export async function signRevocationList(signer: Signer, content: RevocationListContent): Promise<Uint8Array> {
  const entries = [...content.entries]
    .map((e) => ({ kid: kidPrefix(e.kid), revokedAt: e.revokedAt }))
    .sort((a, b) => compareBytes(a.kid, b.kid));
  const flat: CborValue[] = [];
  for (const e of entries) flat.push(e.kid, e.revokedAt);
  const m = new Map<number, CborValue>([
    [1, content.issuer],
    [2, content.version],
    [3, content.issuedAt],
    [5, flat],
  ]);
  if (content.base !== undefined) m.set(4, content.base);
  return signSign1(encode(m), signer, { kid: coseKeyThumbprint(signer.publicKey), contentType: REVOCATION_CONTENT_TYPE });
}

/**
 * Decodes a revocation list strictly (signature not checked: see TrustStore.applyRevocationList).
 * @throws CodecError / CoseError for malformed input; IdentityError ID_REVOCATION_LIST.
 */
export function decodeRevocationList(bytes: Uint8Array): RevocationList {
  const limits = { maxBytes: MAX_REVOCATION_BYTES, maxDepth: 4, tags: [18] };
  const sign1 = decodeSign1(bytes, limits);
  if (sign1.contentType !== REVOCATION_CONTENT_TYPE)
    throw new IdentityError('ID_REVOCATION_LIST', 'not a revocation list (content type)', 'protected.content_type');
  if (sign1.payload === null) throw new IdentityError('ID_REVOCATION_LIST', 'a revocation list carries its payload', 'payload');
  const m = asMap(decode(sign1.payload, limits), 'list');
  onlyKeys(m, [1, 2, 3, 4, 5], 'list');
  const flat = asArray(need(m, 5, 'list.entries'), 'list.entries');
  if (flat.length % 2 !== 0) throw new IdentityError('ID_REVOCATION_LIST', 'entries come in (kid, revokedAt) pairs', 'list.entries');
  const entries: RevocationEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const kid = asBytes(flat[i], `list.entries[${i}]`, KID_PREFIX_LENGTH);
    if (entries.length > 0 && compareBytes((entries[entries.length - 1] as RevocationEntry).kid, kid) >= 0)
      throw new IdentityError('ID_REVOCATION_LIST', 'entries must be in strictly increasing kid order', `list.entries[${i}]`);
    entries.push({ kid, revokedAt: asTime(flat[i + 1], `list.entries[${i + 1}]`) });
  }
  const content: RevocationListContent = {
    issuer: asText(need(m, 1, 'list.iss'), 'list.iss'),
    version: asUint(need(m, 2, 'list.version'), 'list.version'),
    issuedAt: asTime(need(m, 3, 'list.issuedAt'), 'list.issuedAt'),
    base: m.has(4) ? asUint(m.get(4), 'list.base') : undefined,
    entries,
  };
  if (content.base !== undefined && content.base >= content.version)
    throw new IdentityError('ID_REVOCATION_LIST', 'a delta must be newer than its base', 'list.base');
  return { bytes, sign1, content };
}

/** One authority's current revocation state: the newest version seen, built from a base and its deltas. */
export class RevocationState {
  readonly revoked = new Map<string, number>();
  version = 0;
  issuedAt = 0;
  /** The signed lists that make up this state (a full list, then deltas), for persistence and relaying. */
  readonly lists: Uint8Array[] = [];

  constructor(readonly authorityKid: Uint8Array) {}

  /**
   * Applies a verified list. A full list newer than the state replaces it; a delta applies only on
   * exactly its base version. An older or equal version changes nothing ('stale').
   * @throws IdentityError ID_REVOCATION_GAP when a delta's base is not the current version.
   */
  apply(list: RevocationList): 'applied' | 'stale' {
    const c = list.content;
    if (c.version <= this.version) return 'stale';
    if (c.base !== undefined) {
      if (c.base !== this.version)
        throw new IdentityError('ID_REVOCATION_GAP', `delta on version ${c.base}, but the newest held is ${this.version}`, 'list.base');
    } else {
      this.revoked.clear();
      this.lists.length = 0;
    }
    for (const e of c.entries) {
      const k = toHex(e.kid);
      const prev = this.revoked.get(k);
      this.revoked.set(k, prev === undefined ? e.revokedAt : Math.min(prev, e.revokedAt));
    }
    this.version = c.version;
    this.issuedAt = c.issuedAt;
    this.lists.push(list.bytes);
    return 'applied';
  }

  /** The time from which `kid`'s signatures are invalid, if it is revoked. */
  revokedAt(kid: Uint8Array): number | undefined {
    return this.revoked.get(toHex(kidPrefix(kid)));
  }

  /** The same, for a kid prefix already in hex. */
  revokedAtPrefix(kidPrefixHex: string): number | undefined {
    return this.revoked.get(kidPrefixHex);
  }
}
