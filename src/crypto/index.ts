/**
 * @module crypto
 * Ed25519 (and ES256, P-256, for secure elements that do only that) signing and verification with the
 * fastest provider the platform has, chosen automatically: `node:crypto` on Node, WebCrypto in browsers
 * (for Ed25519 where supported), `@noble/curves` everywhere else. The choice lives in `#platform`, which
 * package.json maps to platform-node.ts or platform-browser.ts here.
 */
import { platformEd25519, platformEs256 } from '#platform';
import { CryptoError } from '../errors.js';
import { type Ed25519Provider, SECRET_KEY_LENGTH, type Signer } from './ed25519.js';
import { ES256_PUBLIC_KEY_LENGTH, type Es256Provider, P256_N } from './es256.js';
import { randomBytes } from './hash.js';

export type { Ed25519Provider, Signer } from './ed25519.js';
export { PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SIGNATURE_LENGTH } from './ed25519.js';
export { type Es256Provider, nobleEs256, webCryptoEs256 } from './es256.js';
export { randomBytes, sha256 } from './hash.js';
export { nobleEd25519 } from './noble.js';
export { detectWebCryptoEd25519, generateWebCryptoSigner, webCryptoEd25519 } from './webcrypto.js';

/**
 * The platform's preferred Ed25519 provider (resolved once, then cached).
 * @example const ed = await getEd25519(); ed.name // 'node' on Node
 */
export function getEd25519(): Promise<Ed25519Provider> {
  return platformEd25519();
}

/** A fresh random 32-byte Ed25519 secret key. */
export function generateSecretKey(): Uint8Array {
  return randomBytes(SECRET_KEY_LENGTH);
}

/**
 * A signer for `secretKey` (a new random key when omitted) on the platform's provider.
 * @throws CryptoError CRYPTO_BYTES unless `secretKey` is 32 bytes.
 * @example const s = await createSigner(); const sig = await s.sign(msg);
 */
export async function createSigner(secretKey: Uint8Array = generateSecretKey(), provider?: Ed25519Provider): Promise<Signer> {
  return (provider ?? (await platformEd25519())).signer(secretKey);
}

/** The platform's preferred ES256 (P-256) provider: `node:crypto` on Node, WebCrypto elsewhere. */
export function getEs256(): Promise<Es256Provider> {
  return platformEs256();
}

/** A fresh random P-256 secret key (a scalar in [1, n)). */
export function generateEs256SecretKey(): Uint8Array {
  for (;;) {
    const k = randomBytes(32);
    let d = 0n;
    for (const b of k) d = (d << 8n) | BigInt(b);
    if (d > 0n && d < P256_N) return k;
  }
}

/**
 * An ES256 signer for `secretKey` (a new random key when omitted): its `publicKey` is the 65-byte
 * uncompressed point, which is how everything downstream knows it signs ES256.
 * @throws CryptoError CRYPTO_BYTES unless `secretKey` is a P-256 scalar.
 */
export async function createEs256Signer(secretKey: Uint8Array = generateEs256SecretKey(), provider?: Es256Provider): Promise<Signer> {
  return (provider ?? (await platformEs256())).signer(secretKey);
}

/** The algorithm a public key signs with, known from its form: 32 bytes Ed25519, a 65-byte point ES256. */
export function keyAlgorithm(publicKey: Uint8Array): 'EdDSA' | 'ES256' {
  if (publicKey.length === 32) return 'EdDSA';
  if (publicKey.length === ES256_PUBLIC_KEY_LENGTH && publicKey[0] === 0x04) return 'ES256';
  throw new CryptoError('CRYPTO_BYTES', 'a public key is 32 bytes (Ed25519) or a 65-byte P-256 point', 'publicKey');
}

/**
 * Verifies `signature` over `message` under `publicKey` with the algorithm its form names (see
 * {@link keyAlgorithm}), on the given or the platform's provider.
 */
export async function verifyWithKey(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
  o: { ed25519?: Ed25519Provider; es256?: Es256Provider } = {},
): Promise<boolean> {
  if (keyAlgorithm(publicKey) === 'ES256') return (o.es256 ?? (await platformEs256())).verify(signature, message, publicKey);
  return (o.ed25519 ?? (await platformEd25519())).verify(signature, message, publicKey);
}
