/**
 * @module crypto/node
 * Ed25519 from `node:crypto` (OpenSSL): about 10x the speed of pure JS. Node-only: imported by
 * targets/node, never by anything a browser bundle reaches (a test checks the bundle).
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { concatBytes } from '../codec/bytes.js';
import { checkSecretKey, checkVerifyArgs, type Ed25519Provider, KeyCache, PKCS8_PREFIX, SPKI_PREFIX } from './ed25519.js';

const privateKey = (sk: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, sk)), format: 'der', type: 'pkcs8' });

const publicOf = (key: KeyObject): Uint8Array =>
  new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));

const publicKeys = new KeyCache<KeyObject | null>();
const publicKey = (pk: Uint8Array): KeyObject | null =>
  publicKeys.get(Buffer.from(pk.buffer, pk.byteOffset, pk.length).toString('latin1'), () => {
    try {
      return createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, pk)), format: 'der', type: 'spki' });
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
