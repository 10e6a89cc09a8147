/**
 * @module identity/chain
 * Offline verification of a device's credential chain: network issuer -> responsible party -> device.
 * Every check has its own code, so a payee (or the ledger) can say exactly why it refused:
 *
 * signatures (COSE_SIGNATURE), `kid` = thumbprint of the parent's key (ID_KID_MISMATCH), `iss` = the
 * parent's id (ID_ISSUER_MISMATCH), issuer trusted (ID_UNKNOWN_ISSUER, ID_SELF_SIGNED), roles (ID_ROLE),
 * time windows with a clock-skew allowance (ID_NOT_YET_VALID, ID_EXPIRED), the device inside its party's
 * window (ID_OUTLIVES_PARENT) and limits (ID_LIMITS_WIDENED), revocation (ID_REVOKED) and its freshness
 * (ID_REVOCATION_STALE), the expected key (ID_CNF) and counterparty category (ID_CATEGORY).
 */
import { equalBytes, toHex } from '../bytes.js';
import { checkAlgForKey, type Sign1, sigStructure, verifySign1 } from '../codec/cose-sign1.js';
import { IdentityError } from '../errors.js';
import type { Limits } from './claims.js';
import { type Credential, decodeChain, decodeCredential } from './credential.js';
import type { TrustStore } from './trust-store.js';

export interface ChainVerifyOptions {
  trust: TrustStore;
  /** Verification time, seconds since the epoch (default: now). */
  now?: number;
  /** How far clocks may disagree, in seconds (default 300): devices' clocks drift. */
  skewSeconds?: number;
  /** Time at which revocation is judged (default `now`); a settlement checks a payment as of when it was made. */
  revocationAt?: number;
  /** Refuse when an authority's newest revocation list is older than this (seconds), or absent. */
  maxRevocationAgeSeconds?: number;
  /** The key the device is expected to sign with (its messages' key): must be the credential's `cnf`. */
  expectedKey?: Uint8Array;
  /** The category of the counterparty: must be allowed by the chain. */
  counterpartyCategory?: string;
  /** @internal restoring persisted parties */
  skipTimeCheck?: boolean;
  /** @internal restoring persisted parties */
  skipRevocation?: boolean;
  /**
   * @internal A ledger checks signatures in batches on worker threads: the chain's two signature checks are
   * pushed here instead of made (the chain stands only once both verify), and the party is not learned.
   */
  deferSignatures?: DeferredCheck[];
  /** Remember the party's key, for its own revocation lists (default true; a ledger has no use for it). */
  learnParty?: boolean;
}

/** A signature left for the caller to check (see `deferSignatures`). */
export interface DeferredCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  field: string;
}

async function checkSignature(s: Sign1, publicKey: Uint8Array, o: ChainVerifyOptions, field: string): Promise<void> {
  if (!o.deferSignatures) return void (await verifySign1(s, publicKey, o.trust.provider ? { provider: o.trust.provider } : {}));
  checkAlgForKey(s, publicKey, `${field}.protected.alg`);
  const message = sigStructure(s.protectedBytes, new Uint8Array(0), s.payload as Uint8Array);
  o.deferSignatures.push({ publicKey, message, signature: s.signature, field });
}

/**
 * What a verified chain proves, flat: all a ledger needs of it. A ledger stores these for each chain it has
 * verified, so a chain it meets again (in another process, after a restart) is looked up, not decoded.
 */
export interface ChainFacts {
  /** The party's id (its credential's `sub`), category, key and key thumbprint. */
  readonly partyId: string;
  readonly partyCategory: string;
  readonly partyKey: Uint8Array;
  readonly partyKid: Uint8Array;
  /** The thumbprint of the network issuer key that signed the party credential. */
  readonly issuerKid: Uint8Array;
  readonly deviceCategory: string;
  /** The device's key (its credential's `cnf`) and that key's thumbprint. */
  readonly publicKey: Uint8Array;
  readonly kid: Uint8Array;
  /** The device's limits with its party's filling any it leaves out. */
  readonly limits: Limits;
  /** Counterparty categories allowed by both credentials; undefined means any. */
  readonly counterparties: readonly string[] | undefined;
  readonly paymentRef: string | undefined;
  /** The earliest expiry along the chain. */
  readonly validUntil: number;
}

/** What a verified chain proves, with the credentials themselves. */
export interface VerifiedChain extends ChainFacts {
  readonly party: Credential;
  readonly device: Credential;
  /** Age in seconds of the oldest revocation list consulted; undefined when an authority has none. */
  readonly revocationAge: number | undefined;
}

const DEFAULT_SKEW = 300;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function fail(code: string, message: string, field: string): never {
  throw new IdentityError(code, message, field);
}

/**
 * Throws ID_CATEGORY unless a chain's allowed counterparty categories (undefined: any) include `category`.
 * `verifyChain` checks it for a live peer; a ledger checks it again on each record, both ways.
 */
export function checkCounterparty(counterparties: readonly string[] | undefined, category: string, field: string): void {
  if (counterparties !== undefined && !counterparties.includes(category))
    fail('ID_CATEGORY', `counterparty category ${category} is not allowed`, field);
}

function checkTime(c: Credential, o: ChainVerifyOptions, field: string): void {
  if (o.skipTimeCheck) return;
  const now = o.now ?? nowSeconds();
  const skew = o.skewSeconds ?? DEFAULT_SKEW;
  if (now + skew < c.claims.notBefore) fail('ID_NOT_YET_VALID', `valid from ${c.claims.notBefore}, now is ${now}`, `${field}.nbf`);
  if (now - skew >= c.claims.expiresAt) fail('ID_EXPIRED', `expired at ${c.claims.expiresAt}, now is ${now}`, `${field}.exp`);
}

function checkRevocation(
  trust: TrustStore,
  authorityKid: Uint8Array,
  c: Credential,
  o: ChainVerifyOptions,
  field: string,
): number | undefined {
  if (o.skipRevocation) return undefined;
  const now = o.now ?? nowSeconds();
  const at = o.revocationAt ?? now;
  const revokedAt = trust.revocation(authorityKid)?.revokedAt(c.subjectKid);
  if (revokedAt !== undefined && at >= revokedAt) fail('ID_REVOKED', `${c.claims.subject} is revoked since ${revokedAt}`, field);
  const age = trust.age(authorityKid, now);
  if (o.maxRevocationAgeSeconds !== undefined && (age === undefined || age > o.maxRevocationAgeSeconds))
    fail(
      'ID_REVOCATION_STALE',
      age === undefined ? 'no revocation list is held for this authority' : `the newest revocation list is ${age} s old`,
      field,
    );
  return age;
}

/**
 * Verifies a party credential against the trust roots.
 * @throws IdentityError (see module doc), CoseError COSE_SIGNATURE, CodecError for malformed input.
 */
export async function verifyParty(bytes: Uint8Array, o: ChainVerifyOptions): Promise<Credential> {
  return (await checkParty(bytes, o)).party;
}

async function checkParty(bytes: Uint8Array, o: ChainVerifyOptions): Promise<{ party: Credential; age: number | undefined }> {
  const party = decodeCredential(bytes);
  if (party.claims.role !== 'party') fail('ID_ROLE', `expected a party credential, got ${party.claims.role}`, 'party.role');
  const kid = party.sign1.kid;
  if (kid === undefined) fail('ID_UNKNOWN_ISSUER', 'no kid names the issuer key', 'party.protected.kid');
  const root = o.trust.root(kid);
  if (root === undefined) {
    if (equalBytes(kid, party.subjectKid))
      fail('ID_SELF_SIGNED', 'a party credential must be issued by a network issuer, not by the party', 'party.protected.kid');
    fail('ID_UNKNOWN_ISSUER', `issuer key ${toHex(kid).slice(0, 16)}… is not trusted`, 'party.protected.kid');
  }
  if (party.claims.issuer !== root.id)
    fail('ID_ISSUER_MISMATCH', `iss is ${party.claims.issuer}, the signing issuer is ${root.id}`, 'party.iss');
  await checkSignature(party.sign1, root.publicKey, o, 'party.signature');
  checkTime(party, o, 'party');
  const age = checkRevocation(o.trust, root.kid, party, o, 'party');
  if (o.learnParty !== false && !o.deferSignatures) await o.trust.learnParty(party);
  return { party, age };
}

/**
 * Verifies a device's chain `[party, device]` (as an array of credentials or its encoding) offline.
 * @returns the effective limits and what else the chain proves.
 * @throws IdentityError with the code of the first failed check (see module doc), CoseError, CodecError.
 * @example const v = await verifyChain(chain, { trust, expectedKey: peerKey, counterpartyCategory: 'drone' });
 */
export async function verifyChain(chain: readonly Uint8Array[] | Uint8Array, o: ChainVerifyOptions): Promise<VerifiedChain> {
  const creds = chain instanceof Uint8Array ? decodeChain(chain) : chain;
  if (creds.length !== 2) fail('ID_CHAIN', `a device chain is [party, device], got ${creds.length} credentials`, 'chain');
  const { party, age: partyAge } = await checkParty(creds[0] as Uint8Array, o);
  const device = decodeCredential(creds[1] as Uint8Array);
  const d = device.claims;
  const p = party.claims;
  if (d.role !== 'device') fail('ID_ROLE', `expected a device credential, got ${d.role}`, 'device.role');
  const kid = device.sign1.kid;
  if (kid === undefined || !equalBytes(kid, party.subjectKid)) {
    if (kid !== undefined && equalBytes(kid, device.subjectKid))
      fail('ID_SELF_SIGNED', 'a device credential must be issued by its party', 'device.protected.kid');
    fail('ID_KID_MISMATCH', 'kid is not the thumbprint of the party key', 'device.protected.kid');
  }
  if (d.issuer !== p.subject) fail('ID_ISSUER_MISMATCH', `iss is ${d.issuer}, the party is ${p.subject}`, 'device.iss');
  await checkSignature(device.sign1, p.publicKey, o, 'device.signature');
  checkTime(device, o, 'device');
  if (d.notBefore < p.notBefore || d.expiresAt > p.expiresAt)
    fail('ID_OUTLIVES_PARENT', "the device's validity must lie within its party's", 'device.exp');
  const limits = narrow(p.limits as Limits, d.limits);
  const counterparties = narrowCategories(p.counterparties, d.counterparties);
  const deviceAge = checkRevocation(o.trust, party.subjectKid, device, o, 'device');
  // The network issuer may revoke a device directly too (the ledger does, on a dispute).
  if (!o.skipRevocation) {
    const at = o.revocationAt ?? o.now ?? nowSeconds();
    const byRoot = o.trust.revocation(party.sign1.kid as Uint8Array)?.revokedAt(device.subjectKid);
    if (byRoot !== undefined && at >= byRoot) fail('ID_REVOKED', `${d.subject} is revoked by the issuer since ${byRoot}`, 'device');
  }
  if (o.expectedKey !== undefined && !equalBytes(o.expectedKey, d.publicKey))
    fail('ID_CNF', "the key in use is not the credential's cnf key", 'device.cnf');
  if (o.counterpartyCategory !== undefined) checkCounterparty(counterparties, o.counterpartyCategory, 'device.counterparties');
  const ages = [partyAge, deviceAge];
  return {
    party,
    device,
    partyId: p.subject,
    partyCategory: p.category,
    partyKey: p.publicKey,
    partyKid: party.subjectKid,
    issuerKid: party.sign1.kid as Uint8Array,
    deviceCategory: d.category,
    publicKey: d.publicKey,
    kid: device.subjectKid,
    limits,
    counterparties,
    paymentRef: p.paymentRef,
    validUntil: Math.min(p.expiresAt, d.expiresAt),
    revocationAge: ages.includes(undefined) ? undefined : Math.max(...(ages as number[])),
  };
}

/**
 * The device's limits, each no wider than its party's (a device may leave one out to inherit it).
 * @throws IdentityError ID_LIMITS_WIDENED naming the limit.
 */
export function narrow(p: Limits, d: Partial<Limits>): Limits {
  const widened = (k: keyof Limits) => fail('ID_LIMITS_WIDENED', `device ${k} exceeds its party's`, `device.limits.${k}`);
  if (d.asset !== undefined && d.asset !== p.asset) widened('asset');
  for (const k of ['perPayment', 'perChannel', 'perPeriod', 'totalOutstanding'] as const)
    if (d[k] !== undefined && (d[k] as bigint) > p[k]) widened(k);
  // A longer period with no more per period never spends faster than the party allows; a shorter one could.
  if (d.periodSeconds !== undefined && d.periodSeconds < p.periodSeconds) widened('periodSeconds');
  return { ...p, ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) } as Limits;
}

/** The device's counterparty categories, each allowed by its party. @throws IdentityError ID_LIMITS_WIDENED. */
export function narrowCategories(p: readonly string[] | undefined, d: readonly string[] | undefined): readonly string[] | undefined {
  if (d === undefined) return p;
  if (p !== undefined)
    for (const c of d) if (!p.includes(c)) fail('ID_LIMITS_WIDENED', `category ${c} is not allowed by the party`, 'device.counterparties');
  return d;
}
