/**
 * @module codec/cwt
 * CBOR Web Token claims (RFC 8392) with the `cnf` proof-of-possession claim (RFC 8747) holding a
 * COSE_Key. Standard claims are typed; private claims (negative or text labels) pass through untouched.
 */
import { CodecError } from '../errors.js';
import type { CborValue } from './cbor.js';
import { type CoseKey, coseKeyMap, readCoseKey } from './cose-key.js';
import { asBytes, asMap, asText, asTime, type CborMap } from './fields.js';

export const CLAIM = { iss: 1, sub: 2, aud: 3, exp: 4, nbf: 5, iat: 6, cti: 7, cnf: 8 } as const;
const CNF_COSE_KEY = 1;
const STANDARD: readonly number[] = Object.values(CLAIM);

/** Typed CWT claims. Times are NumericDate: whole seconds since the epoch. */
export interface CwtClaims {
  iss?: string;
  sub?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  cti?: Uint8Array;
  /** The subject's key, bound by RFC 8747 `cnf` with a COSE_Key. */
  cnf?: CoseKey;
  /** Private claims, by their labels. */
  extra?: ReadonlyMap<number | string, CborValue>;
}

/**
 * The claims map, ready for deterministic encoding as a CWT payload.
 * @throws CodecError CWT_CLAIM when a private claim reuses a registered label.
 */
export function claimsMap(c: CwtClaims): Map<number | string, CborValue> {
  const m = new Map<number | string, CborValue>();
  if (c.iss !== undefined) m.set(CLAIM.iss, c.iss);
  if (c.sub !== undefined) m.set(CLAIM.sub, c.sub);
  if (c.aud !== undefined) m.set(CLAIM.aud, c.aud);
  if (c.exp !== undefined) m.set(CLAIM.exp, c.exp);
  if (c.nbf !== undefined) m.set(CLAIM.nbf, c.nbf);
  if (c.iat !== undefined) m.set(CLAIM.iat, c.iat);
  if (c.cti !== undefined) m.set(CLAIM.cti, c.cti);
  if (c.cnf !== undefined) m.set(CLAIM.cnf, new Map([[CNF_COSE_KEY, coseKeyMap(c.cnf.publicKey, c.cnf.kid)]]));
  for (const [k, v] of c.extra ?? []) {
    if (typeof k === 'number' && STANDARD.includes(k))
      throw new CodecError('CWT_CLAIM', `private claim reuses registered label ${k}`, `claims.${k}`);
    m.set(k, v);
  }
  return m;
}

/**
 * Reads CWT claims from a decoded payload, checking the type of every registered claim.
 * @throws CodecError FIELD_TYPE / FIELD_RANGE naming the claim; CoseError COSE_KEY for a bad `cnf` key.
 */
export function readClaims(value: CborValue, field = 'claims'): CwtClaims {
  const m = asMap(value, field);
  const c: CwtClaims = {};
  const extra = new Map<number | string, CborValue>();
  for (const [k, v] of m) {
    switch (k) {
      case CLAIM.iss:
        c.iss = asText(v, `${field}.iss`);
        break;
      case CLAIM.sub:
        c.sub = asText(v, `${field}.sub`);
        break;
      case CLAIM.aud:
        c.aud = asText(v, `${field}.aud`);
        break;
      case CLAIM.exp:
        c.exp = asTime(v, `${field}.exp`);
        break;
      case CLAIM.nbf:
        c.nbf = asTime(v, `${field}.nbf`);
        break;
      case CLAIM.iat:
        c.iat = asTime(v, `${field}.iat`);
        break;
      case CLAIM.cti:
        c.cti = asBytes(v, `${field}.cti`, { max: 64 });
        break;
      case CLAIM.cnf:
        c.cnf = readCnf(asMap(v, `${field}.cnf`), `${field}.cnf`);
        break;
      default:
        extra.set(k, v);
    }
  }
  if (extra.size > 0) c.extra = extra;
  return c;
}

function readCnf(m: CborMap, field: string): CoseKey {
  if (m.size !== 1 || !m.has(CNF_COSE_KEY)) throw new CodecError('FIELD_TYPE', 'cnf must hold exactly a COSE_Key (label 1)', field);
  return readCoseKey(m.get(CNF_COSE_KEY), `${field}.COSE_Key`);
}
