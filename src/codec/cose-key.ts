/**
 * @module codec/cose-key
 * COSE_Key for Ed25519 public keys (RFC 9053 section 7.2: kty OKP, crv Ed25519), its RFC 9679
 * thumbprint (edgepay's key id), and JWK (RFC 8037) conversion.
 */

import { fromBase64Url, toBase64Url } from '../base64.js';
import { abytes } from '../bytes.js';
import { sha256 } from '../crypto/hash.js';
import { CoseError } from '../errors.js';
import { type CborValue, encode } from './cbor.js';
import { asMap, type CborMap } from './fields.js';

export const KTY = 1;
export const KID = 2;
export const ALG = 3;
export const CRV = -1;
export const X = -2;
export const D = -4;
export const KTY_OKP = 1;
export const CRV_ED25519 = 6;
export const ALG_EDDSA = -8;
/** Ed25519 by its fully specified identifier (RFC 9864): accepted when verifying, beside EdDSA (-8). */
export const ALG_ED25519 = -19;
/** The algorithm identifiers that mean Ed25519 here. */
export const ED25519_ALGS: readonly number[] = [ALG_EDDSA, ALG_ED25519];

/** A decoded Ed25519 public COSE_Key. */
export interface CoseKey {
  readonly publicKey: Uint8Array;
  readonly kid?: Uint8Array | undefined;
}

/** The COSE_Key map of an Ed25519 public key (deterministically encodable). */
export function coseKeyMap(publicKey: Uint8Array, kid?: Uint8Array): Map<number, CborValue> {
  abytes(publicKey, 'publicKey', 32);
  const m = new Map<number, CborValue>([
    [KTY, KTY_OKP],
    [ALG, ALG_EDDSA],
    [CRV, CRV_ED25519],
    [X, publicKey],
  ]);
  if (kid !== undefined) m.set(KID, abytes(kid, 'kid'));
  return m;
}

/**
 * Reads an Ed25519 public COSE_Key. Rejects other key types and curves, a wrong-length `x`, an `alg`
 * other than EdDSA or Ed25519, and any private part (`d`): a credential must never carry a secret key.
 * @throws CoseError COSE_KEY with the field at fault.
 */
export function readCoseKey(value: CborValue | undefined, field = 'cose_key'): CoseKey {
  let m: CborMap;
  try {
    m = asMap(value, field);
  } catch {
    throw new CoseError('COSE_KEY', 'COSE_Key must be a map', field);
  }
  const bad = (f: string, why: string): never => {
    throw new CoseError('COSE_KEY', why, `${field}.${f}`);
  };
  if (m.get(KTY) !== KTY_OKP) bad('kty', 'key type must be OKP (1)');
  if (m.get(CRV) !== CRV_ED25519) bad('crv', 'curve must be Ed25519 (6)');
  if (m.has(ALG) && !ED25519_ALGS.includes(m.get(ALG) as number)) bad('alg', 'alg must be EdDSA (-8) or Ed25519 (-19)');
  if (m.has(D)) bad('d', 'a public COSE_Key must not carry the private key');
  const x = m.get(X);
  if (!(x instanceof Uint8Array) || x.length !== 32) bad('x', 'x must be 32 bytes');
  const kid = m.get(KID);
  if (kid !== undefined && !(kid instanceof Uint8Array)) bad('kid', 'kid must be bytes');
  return { publicKey: x as Uint8Array, kid: kid as Uint8Array | undefined };
}

/**
 * RFC 9679 COSE Key Thumbprint: SHA-256 over the deterministic encoding of the required parameters
 * {kty, crv, x}. edgepay uses it as the `kid` of every key, so the kid commits to the key.
 */
export function coseKeyThumbprint(publicKey: Uint8Array): Uint8Array {
  abytes(publicKey, 'publicKey', 32);
  // {kty, crv, x} encodes as a fixed prefix then x (x sorts last): hashed without building the map each
  // time, as a ledger does for every credential it reads.
  thumbprintPrefix ??= encode(
    new Map<number, CborValue>([
      [KTY, KTY_OKP],
      [CRV, CRV_ED25519],
      [X, new Uint8Array(32)],
    ]),
  ).subarray(0, -32);
  const input = new Uint8Array(thumbprintPrefix.length + 32);
  input.set(thumbprintPrefix);
  input.set(publicKey, thumbprintPrefix.length);
  return sha256(input);
}
let thumbprintPrefix: Uint8Array | undefined;

/** JWK (RFC 8037) of an Ed25519 public key. */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid?: string;
}

/** The public JWK of `publicKey`, with the base64url thumbprint as `kid` unless one is given. */
export function toJwk(publicKey: Uint8Array, kid: Uint8Array = coseKeyThumbprint(publicKey)): Ed25519Jwk {
  return { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(abytes(publicKey, 'publicKey', 32)), kid: toBase64Url(kid) };
}

/**
 * The public key in an Ed25519 JWK. Rejects private JWKs (`d`).
 * @throws CoseError COSE_KEY
 */
export function fromJwk(jwk: unknown, field = 'jwk'): CoseKey {
  const j = jwk as Record<string, unknown> | null;
  if (typeof j !== 'object' || j === null || j.kty !== 'OKP' || j.crv !== 'Ed25519')
    throw new CoseError('COSE_KEY', 'expected an OKP Ed25519 JWK', field);
  if ('d' in j) throw new CoseError('COSE_KEY', 'a public JWK must not carry the private key', `${field}.d`);
  let x: Uint8Array;
  try {
    x = fromBase64Url(j.x as string, `${field}.x`);
  } catch {
    throw new CoseError('COSE_KEY', 'x is not base64url', `${field}.x`);
  }
  if (x.length !== 32) throw new CoseError('COSE_KEY', 'x must be 32 bytes', `${field}.x`);
  return { publicKey: x, kid: typeof j.kid === 'string' ? fromBase64Url(j.kid, `${field}.kid`) : undefined };
}
