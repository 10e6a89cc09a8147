/**
 * @module crypto/noble
 * Pure-JS Ed25519 from `@noble/curves`: runs everywhere, used where the platform has no native Ed25519.
 * `zip215: false` makes verification strict RFC 8032 / FIPS 186-5, the same rule OpenSSL and WebCrypto
 * apply, so a device and the ledger never disagree on whether a signature is valid.
 */
import { checkSecretKey, checkVerifyArgs, type Ed25519Provider } from './ed25519.js';

// Loaded on first use: where the platform signs natively (Node, most browsers) the curve code is never
// parsed, which is most of a device's start-up time and memory otherwise.
let curve: Promise<typeof import('@noble/curves/ed25519.js')> | undefined;
const ed = async () => {
  curve ??= import('@noble/curves/ed25519.js');
  return (await curve).ed25519;
};

export const nobleEd25519: Ed25519Provider = {
  name: 'noble',
  async getPublicKey(secretKey) {
    checkSecretKey(secretKey);
    return (await ed()).getPublicKey(secretKey);
  },
  async sign(message, secretKey) {
    checkSecretKey(secretKey);
    return (await ed()).sign(message, secretKey);
  },
  async verify(signature, message, publicKey) {
    checkVerifyArgs(signature, message, publicKey);
    const ed25519 = await ed();
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  async signer(secretKey) {
    checkSecretKey(secretKey);
    const ed25519 = await ed();
    const key = new Uint8Array(secretKey); // a copy: a Buffer's slice() would share (and a caller may zero) its memory
    return { publicKey: ed25519.getPublicKey(key), sign: async (m) => ed25519.sign(m, key) };
  },
};
