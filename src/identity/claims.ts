/**
 * @module identity/claims
 * The claims of an edgepay credential: standard CWT claims (iss, sub, iat, nbf, exp, cnf) plus one
 * private claim, label -65537, holding edgepay's own map with small integer keys (compact on the wire):
 *
 * ```
 * -65537: { 0 version: 1, 1 role: 1 party | 2 device,
 *           2 limits: { 1 asset: tstr, 2 perPayment: uint, 3 perChannel: uint, 4 perPeriod: uint,
 *                       5 periodSeconds: uint, 6 totalOutstanding: uint },
 *           3 category: tstr, ? 4 counterparties: [* tstr], ? 5 device: { 1 model: tstr, 2 serial: tstr },
 *           ? 6 paymentRef: tstr, ? 7 crit: [* label] }
 * ```
 * Amounts are integer minor units of `asset`. A party credential carries every limit; a device credential
 * may leave a limit out, inheriting its party's.
 */
import { type CborValue, Tagged } from '../codec/cbor.js';
import type { CoseKey } from '../codec/cose-key.js';
import { CLAIM, type CwtClaims, claimsMap, readClaims } from '../codec/cwt.js';
import { asAmount, asArray, asInt, asMap, asText, asUint, type CborMap, MAX_COUNTER, need, onlyKeys } from '../codec/fields.js';
import { CodecError, IdentityError } from '../errors.js';

export const EDGEPAY_CLAIM = -65537;
export const CREDENTIAL_VERSION = 1;

export type Role = 'party' | 'device';
const ROLE_CODE: Record<Role, number> = { party: 1, device: 2 };

/** Spending limits, in integer minor units of `asset`. */
export interface Limits {
  /** Currency or token code, e.g. `EUR`, `JPY`, `kWh-credit`. */
  asset: string;
  /** Largest single payment (one voucher's increase). */
  perPayment: bigint;
  /** Largest cap of one channel. */
  perChannel: bigint;
  /** Most that may be spent in `periodSeconds`. */
  perPeriod: bigint;
  periodSeconds: number;
  /** Most that may be outstanding (signed but not settled) at once. */
  totalOutstanding: bigint;
}

export interface DeviceInfo {
  model: string;
  serial: string;
}

/** What a credential says, typed. Times are whole seconds since the epoch. */
export interface CredentialClaims {
  role: Role;
  /** `iss`: who vouches (the network issuer's id for a party, the party's id for a device). */
  issuer: string;
  /** `sub`: who is vouched for. */
  subject: string;
  /** `cnf`: the subject's Ed25519 public key. */
  publicKey: Uint8Array;
  issuedAt: number;
  notBefore: number;
  expiresAt: number;
  /** Every limit for a party; a device may omit some, inheriting its party's. */
  limits: Partial<Limits>;
  /** This subject's own category, e.g. `drone`, `charging-pad`, `toll-gate`. */
  category: string;
  /** Categories of counterparty allowed; absent means any. */
  counterparties?: readonly string[] | undefined;
  device?: DeviceInfo | undefined;
  /** An opaque token for the party's conventional payment details (never a raw card or account number). */
  paymentRef?: string | undefined;
  /** Labels of claims a verifier must understand to accept the credential. */
  critical?: readonly (number | string)[] | undefined;
}

const LIMIT_KEYS = { asset: 1, perPayment: 2, perChannel: 3, perPeriod: 4, periodSeconds: 5, totalOutstanding: 6 } as const;
/** Top-level claim labels this version understands. */
export const UNDERSTOOD_CLAIMS: readonly (number | string)[] = [...Object.values(CLAIM), EDGEPAY_CLAIM];

/**
 * The CWT claims map of `c`.
 * @throws IdentityError ID_CLAIMS when a party credential lacks a limit or a required field is malformed.
 */
export function credentialClaimsMap(c: CredentialClaims): Map<number | string, CborValue> {
  if (c.role === 'party')
    for (const k of Object.keys(LIMIT_KEYS))
      if (c.limits[k as keyof Limits] === undefined)
        throw new IdentityError('ID_CLAIMS', 'a party credential carries every limit', `limits.${k}`);
  const limits = new Map<number, CborValue>();
  for (const [k, label] of Object.entries(LIMIT_KEYS)) {
    const v = c.limits[k as keyof Limits];
    if (v !== undefined) limits.set(label, v);
  }
  const ep = new Map<number, CborValue>([
    [0, CREDENTIAL_VERSION],
    [1, ROLE_CODE[c.role]],
    [2, limits],
    [3, c.category],
  ]);
  if (c.counterparties !== undefined) ep.set(4, [...c.counterparties]);
  if (c.device !== undefined)
    ep.set(
      5,
      new Map<number, CborValue>([
        [1, c.device.model],
        [2, c.device.serial],
      ]),
    );
  if (c.paymentRef !== undefined) ep.set(6, c.paymentRef);
  if (c.critical !== undefined) ep.set(7, [...c.critical]);
  const cose: CoseKey = { publicKey: c.publicKey };
  const cwt: CwtClaims = {
    iss: c.issuer,
    sub: c.subject,
    iat: c.issuedAt,
    nbf: c.notBefore,
    exp: c.expiresAt,
    cnf: cose,
    extra: new Map([[EDGEPAY_CLAIM, ep]]),
  };
  return claimsMap(cwt);
}

/**
 * Reads credential claims from a decoded CWT payload. Strict: every field typed, unknown fields inside
 * edgepay's map rejected, a `crit` label this version does not understand rejected.
 * @throws CodecError FIELD_* naming the field; IdentityError ID_CLAIMS, ID_CRITICAL_CLAIM.
 */
export function readCredentialClaims(value: CborValue): CredentialClaims {
  const cwt = readClaims(value, 'claims');
  const f = 'claims';
  const req = <T>(v: T | undefined, name: string): T => {
    if (v === undefined) throw new CodecError('FIELD_MISSING', 'required claim is missing', `${f}.${name}`);
    return v;
  };
  const epv = cwt.extra?.get(EDGEPAY_CLAIM);
  if (epv === undefined || epv instanceof Tagged)
    throw new CodecError('FIELD_MISSING', 'edgepay claim (-65537) is missing', `${f}.edgepay`);
  const ep = asMap(epv, `${f}.edgepay`);
  const ef = `${f}.edgepay`;
  onlyKeys(ep, [0, 1, 2, 3, 4, 5, 6, 7], ef);
  const version = asInt(need(ep, 0, `${ef}.version`), `${ef}.version`);
  if (version !== CREDENTIAL_VERSION)
    throw new IdentityError('ID_CLAIMS', `credential version ${version} is not supported`, `${ef}.version`);
  const roleCode = asInt(need(ep, 1, `${ef}.role`), `${ef}.role`);
  const role = (Object.keys(ROLE_CODE) as Role[]).find((r) => ROLE_CODE[r] === roleCode);
  if (role === undefined) throw new IdentityError('ID_CLAIMS', `unknown role ${roleCode}`, `${ef}.role`);
  const critical = ep.has(7)
    ? asArray(ep.get(7), `${ef}.crit`).map((l, i) => (typeof l === 'string' ? l : asInt(l, `${ef}.crit[${i}]`)))
    : undefined;
  for (const label of critical ?? [])
    if (!UNDERSTOOD_CLAIMS.includes(label))
      throw new IdentityError('ID_CRITICAL_CLAIM', `critical claim ${String(label)} is not understood`, `${ef}.crit`);
  const claims: CredentialClaims = {
    role,
    issuer: req(cwt.iss, 'iss'),
    subject: req(cwt.sub, 'sub'),
    publicKey: req(cwt.cnf, 'cnf').publicKey,
    issuedAt: req(cwt.iat, 'iat'),
    notBefore: cwt.nbf ?? req(cwt.iat, 'iat'),
    expiresAt: req(cwt.exp, 'exp'),
    limits: readLimits(asMap(need(ep, 2, `${ef}.limits`), `${ef}.limits`), `${ef}.limits`),
    category: asText(need(ep, 3, `${ef}.category`), `${ef}.category`, 64),
    counterparties: ep.has(4)
      ? asArray(ep.get(4), `${ef}.counterparties`).map((c, i) => asText(c, `${ef}.counterparties[${i}]`, 64))
      : undefined,
    device: ep.has(5) ? readDevice(asMap(ep.get(5), `${ef}.device`), `${ef}.device`) : undefined,
    paymentRef: ep.has(6) ? asText(ep.get(6), `${ef}.paymentRef`, 256) : undefined,
    critical,
  };
  if (role === 'party')
    for (const k of Object.keys(LIMIT_KEYS))
      if (claims.limits[k as keyof Limits] === undefined)
        throw new IdentityError('ID_CLAIMS', 'a party credential carries every limit', `${ef}.limits.${k}`);
  if (claims.expiresAt <= claims.notBefore) throw new IdentityError('ID_CLAIMS', 'exp is not after nbf', `${f}.exp`);
  return claims;
}

function readLimits(m: CborMap, f: string): Partial<Limits> {
  onlyKeys(m, Object.values(LIMIT_KEYS), f);
  const l: Partial<Limits> = {};
  if (m.has(1)) l.asset = asText(m.get(1), `${f}.asset`, 32);
  if (m.has(2)) l.perPayment = asAmount(m.get(2), `${f}.perPayment`);
  if (m.has(3)) l.perChannel = asAmount(m.get(3), `${f}.perChannel`);
  if (m.has(4)) l.perPeriod = asAmount(m.get(4), `${f}.perPeriod`);
  if (m.has(5)) {
    l.periodSeconds = asUint(m.get(5), `${f}.periodSeconds`, MAX_COUNTER, 1);
  }
  if (m.has(6)) l.totalOutstanding = asAmount(m.get(6), `${f}.totalOutstanding`);
  return l;
}

function readDevice(m: CborMap, f: string): DeviceInfo {
  onlyKeys(m, [1, 2], f);
  return { model: asText(need(m, 1, `${f}.model`), `${f}.model`, 64), serial: asText(need(m, 2, `${f}.serial`), `${f}.serial`, 64) };
}
