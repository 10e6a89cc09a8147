/**
 * @module crypto/platform-browser
 * What `#platform` means in browsers and other non-Node runtimes (Deno, workers, React Native):
 * WebCrypto Ed25519 where the engine really supports it (detected once), else `@noble/curves`.
 */
import type { Ed25519Provider } from './ed25519.js';
import { type Es256Provider, nobleEs256, webCryptoEs256 } from './es256.js';
import { nobleEd25519 } from './noble.js';
import { detectWebCryptoEd25519 } from './webcrypto.js';

let chosen: Promise<Ed25519Provider> | undefined;

export function platformEd25519(): Promise<Ed25519Provider> {
  chosen ??= detectWebCryptoEd25519().then((p) => p ?? nobleEd25519);
  return chosen;
}

let chosenEs256: Promise<Es256Provider> | undefined;

/** ES256 from WebCrypto, which every browser has for P-256; noble where there is no `crypto.subtle`. */
export function platformEs256(): Promise<Es256Provider> {
  chosenEs256 ??= Promise.resolve(globalThis.crypto?.subtle ? webCryptoEs256() : nobleEs256);
  return chosenEs256;
}

/** SHA-256 from `@noble/hashes` (synchronous, unlike WebCrypto's digest). */
export { sha256 as platformSha256 } from '@noble/hashes/sha2.js';
