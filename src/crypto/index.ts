/**
 * @module crypto
 * Ed25519 signing and verification with the fastest provider the platform has, chosen automatically:
 * `node:crypto` on Node, WebCrypto where the browser supports Ed25519, `@noble/curves` everywhere else.
 * The choice lives in `#platform`, which package.json maps to platform-node.ts or platform-browser.ts here.
 */
import { platformEd25519 } from '#platform';
import { type Ed25519Provider, SECRET_KEY_LENGTH, type Signer } from './ed25519.js';
import { randomBytes } from './hash.js';

export type { Ed25519Provider, Signer } from './ed25519.js';
export { PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SIGNATURE_LENGTH } from './ed25519.js';
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
