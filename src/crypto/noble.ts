/**
 * @module crypto/noble
 * Pure-JS Ed25519 from `@noble/curves`: runs everywhere, used where the platform has no native Ed25519.
 * `zip215: false` makes verification strict RFC 8032 / FIPS 186-5, the same rule OpenSSL and WebCrypto
 * apply, so a device and the ledger never disagree on whether a signature is valid.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { checkSecretKey, checkVerifyArgs, type Ed25519Provider } from './ed25519.js';

export const nobleEd25519: Ed25519Provider = {
  name: 'noble',
  async getPublicKey(secretKey) {
    checkSecretKey(secretKey);
    return ed25519.getPublicKey(secretKey);
  },
  async sign(message, secretKey) {
    checkSecretKey(secretKey);
    return ed25519.sign(message, secretKey);
  },
  async verify(signature, message, publicKey) {
    checkVerifyArgs(signature, message, publicKey);
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  async signer(secretKey) {
    checkSecretKey(secretKey);
    const key = new Uint8Array(secretKey); // a copy: a Buffer's slice() would share (and a caller may zero) its memory
    return { publicKey: ed25519.getPublicKey(key), sign: async (m) => ed25519.sign(m, key) };
  },
};
