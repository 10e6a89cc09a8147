/**
 * @module crypto/node
 * Ed25519 from `node:crypto` (OpenSSL): about 10x the speed of pure JS. Node-only: imported by
 * targets/node, never by anything a browser bundle reaches (a test checks the bundle).
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { concatBytes } from '../bytes.js';
import { checkSecretKey, checkVerifyArgs, type Ed25519Provider, KeyCache, PKCS8_PREFIX } from './ed25519.js';

// Keys are imported as JWK: OpenSSL 3's DER decoders cost several times a verify for each key, and a ledger
// meets a fresh payer key in almost every record.
const b64u = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url');
/** A placeholder `x`: Node derives the public key from `d` (checked in the test suite); DER if that ever changes. */
const NO_X = b64u(new Uint8Array(32));
const privateKey = (sk: Uint8Array): KeyObject => {
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64u(sk), x: NO_X }, format: 'jwk' });
  } catch {
    return createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, sk)), format: 'der', type: 'pkcs8' });
  }
};

const publicOf = (key: KeyObject): Uint8Array =>
  new Uint8Array(Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x as string, 'base64url'));

const publicKeys = new KeyCache<KeyObject | null>();
const publicKey = (pk: Uint8Array): KeyObject | null =>
  publicKeys.get(Buffer.from(pk.buffer, pk.byteOffset, pk.length).toString('latin1'), () => {
    try {
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(pk) }, format: 'jwk' });
    } catch {
      return null; // not a valid point: every signature under it is invalid
    }
  });

const signWith = (key: KeyObject, m: Uint8Array) => new Uint8Array(sign(null, m, key));

export const nodeEd25519: Ed25519Provider = {
  name: 'node',
  async getPublicKey(secretKey) {
    checkSecretKey(secretKey);
    return publicOf(privateKey(secretKey));
  },
  async sign(message, secretKey) {
    checkSecretKey(secretKey);
    return signWith(privateKey(secretKey), message);
  },
  async verify(signature, message, pk) {
    checkVerifyArgs(signature, message, pk);
    const key = publicKey(pk);
    return key !== null && verify(null, message, key, signature);
  },
  async signer(secretKey) {
    checkSecretKey(secretKey);
    const key = privateKey(secretKey);
    return { publicKey: publicOf(key), sign: async (m) => signWith(key, m) };
  },
};
