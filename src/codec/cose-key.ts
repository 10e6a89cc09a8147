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

export const KTY_EC2 = 2;
export const CRV_P256 = 1;
export const Y = -3;
export const ALG_ES256 = -7;

/** A decoded Ed25519 public COSE_Key. */
export interface CoseKey {
  readonly publicKey: Uint8Array;
  readonly kid?: Uint8Array | undefined;
}

/** The COSE_Key map of a public key (deterministically encodable): OKP for Ed25519, EC2 for a P-256 point. */
export function coseKeyMap(publicKey: Uint8Array, kid?: Uint8Array): Map<number, CborValue> {
  if (publicKey?.length === 65) return ec2KeyMap(publicKey, kid);
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

/** `value` as a map. @throws CoseError COSE_KEY when it is not one. */
function keyMap(value: CborValue | undefined, field: string): CborMap {
  try {
    return asMap(value, field);
  } catch {
    throw new CoseError('COSE_KEY', 'COSE_Key must be a map', field);
  }
}

/**
 * Reads a public COSE_Key: an Ed25519 OKP key (32 bytes), or a P-256 EC2 key (its 65-byte point, see
 * {@link readEc2Key}). Rejects other key types and curves, a wrong-length `x`, an `alg` other than EdDSA
 * or Ed25519 (ES256 for EC2), and any private part (`d`): a credential must never carry a secret key.
 * @throws CoseError COSE_KEY with the field at fault.
 */
export function readCoseKey(value: CborValue | undefined, field = 'cose_key'): CoseKey {
  const m = keyMap(value, field);
  if (m.get(KTY) === KTY_EC2) return readEc2Key(m, field);
  const bad = (f: string, why: string): never => {
    throw new CoseError('COSE_KEY', why, `${field}.${f}`);
  };
  if (m.get(KTY) !== KTY_OKP) bad('kty', 'key type must be OKP (1) or EC2 (2)');
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
 * {kty, crv, x} ({kty, crv, x, y} for a P-256 point). edgepay uses it as the `kid` of every key, so the
 * kid commits to the key.
 */
export function coseKeyThumbprint(publicKey: Uint8Array): Uint8Array {
  if (publicKey?.length === 65) return ec2Thumbprint(publicKey);
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

/** The COSE_Key map (RFC 9053 section 7.1.1) of a P-256 public key given as its 65-byte uncompressed point. */
export function ec2KeyMap(point: Uint8Array, kid?: Uint8Array): Map<number, CborValue> {
  checkPoint(point);
  const m = new Map<number, CborValue>([
    [KTY, KTY_EC2],
    [ALG, ALG_ES256],
    [CRV, CRV_P256],
    [X, point.slice(1, 33)],
    [Y, point.slice(33, 65)],
  ]);
  if (kid !== undefined) m.set(KID, abytes(kid, 'kid'));
  return m;
}

function checkPoint(point: Uint8Array): void {
  abytes(point, 'publicKey', 65);
  if (point[0] !== 0x04) throw new CoseError('COSE_KEY', 'a P-256 key is an uncompressed point (0x04 first)', 'publicKey');
}

/**
 * Reads a P-256 public COSE_Key (kty EC2, crv P-256, alg ES256 when present, x and y of 32 bytes, no `d`)
 * as its 65-byte uncompressed point. Whether the point is on the curve is checked where it verifies.
 * @throws CoseError COSE_KEY with the field at fault.
 */
export function readEc2Key(value: CborValue | undefined, field = 'cose_key'): CoseKey {
  const m = keyMap(value, field);
  const bad = (f: string, why: string): never => {
    throw new CoseError('COSE_KEY', why, `${field}.${f}`);
  };
  if (m.get(KTY) !== KTY_EC2) bad('kty', 'key type must be EC2 (2)');
  if (m.get(CRV) !== CRV_P256) bad('crv', 'curve must be P-256 (1)');
  if (m.has(ALG) && m.get(ALG) !== ALG_ES256) bad('alg', 'alg must be ES256 (-7)');
  if (m.has(D)) bad('d', 'a public COSE_Key must not carry the private key');
  const x = m.get(X);
  const y = m.get(Y);
  if (!(x instanceof Uint8Array) || x.length !== 32) bad('x', 'x must be 32 bytes');
  if (!(y instanceof Uint8Array) || y.length !== 32) bad('y', 'y must be 32 bytes (compressed points are not taken)');
  const kid = m.get(KID);
  if (kid !== undefined && !(kid instanceof Uint8Array)) bad('kid', 'kid must be bytes');
  const point = new Uint8Array(65);
  point[0] = 0x04;
  point.set(x as Uint8Array, 1);
  point.set(y as Uint8Array, 33);
  return { publicKey: point, kid: kid as Uint8Array | undefined };
}

/** RFC 9679 thumbprint of a P-256 key: SHA-256 over the deterministic encoding of {kty, crv, x, y}. */
export function ec2Thumbprint(point: Uint8Array): Uint8Array {
  checkPoint(point);
  return sha256(
    encode(
      new Map<number, CborValue>([
        [KTY, KTY_EC2],
        [CRV, CRV_P256],
        [X, point.slice(1, 33)],
        [Y, point.slice(33, 65)],
      ]),
    ),
  );
}

/** JWK (RFC 8037) of an Ed25519 public key. */
export interface Ed25519Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid?: string;
}

/** JWK (RFC 7518) of a P-256 public key. */
export interface P256Jwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid?: string;
}

/** The public JWK of `publicKey` (Ed25519, or a 65-byte P-256 point), with the base64url thumbprint as `kid` unless one is given. */
export function toJwk(publicKey: Uint8Array, kid: Uint8Array = coseKeyThumbprint(publicKey)): Ed25519Jwk | P256Jwk {
  if (publicKey?.length === 65) {
    checkPoint(publicKey);
    return {
      kty: 'EC',
      crv: 'P-256',
      x: toBase64Url(publicKey.subarray(1, 33)),
      y: toBase64Url(publicKey.subarray(33)),
      kid: toBase64Url(kid),
    };
  }
  return { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(abytes(publicKey, 'publicKey', 32)), kid: toBase64Url(kid) };
}

/**
 * The public key in an Ed25519 or P-256 JWK (a P-256 key as its 65-byte point). Rejects private JWKs (`d`).
 * @throws CoseError COSE_KEY
 */
export function fromJwk(jwk: unknown, field = 'jwk'): CoseKey {
  const j = jwk as Record<string, unknown> | null;
  const ec = typeof j === 'object' && j !== null && j.kty === 'EC' && j.crv === 'P-256';
  if (!ec && (typeof j !== 'object' || j === null || j.kty !== 'OKP' || j.crv !== 'Ed25519'))
    throw new CoseError('COSE_KEY', 'expected an OKP Ed25519 or EC P-256 JWK', field);
  const k = j as Record<string, unknown>;
  if ('d' in k) throw new CoseError('COSE_KEY', 'a public JWK must not carry the private key', `${field}.d`);
  const coordinate = (c: 'x' | 'y') => {
    let v: Uint8Array;
    try {
      v = fromBase64Url(k[c] as string, `${field}.${c}`);
    } catch {
      throw new CoseError('COSE_KEY', `${c} is not base64url`, `${field}.${c}`);
    }
    if (v.length !== 32) throw new CoseError('COSE_KEY', `${c} must be 32 bytes`, `${field}.${c}`);
    return v;
  };
  const kid = typeof k.kid === 'string' ? fromBase64Url(k.kid, `${field}.kid`) : undefined;
  if (!ec) return { publicKey: coordinate('x'), kid };
  const point = new Uint8Array(65);
  point[0] = 0x04;
  point.set(coordinate('x'), 1);
  point.set(coordinate('y'), 33);
  return { publicKey: point, kid };
}
