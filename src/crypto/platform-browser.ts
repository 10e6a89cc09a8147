/**
 * @module crypto/platform-browser
 * What `#platform` means in browsers and other non-Node runtimes (Deno, workers, React Native):
 * WebCrypto Ed25519 where the engine really supports it (detected once), else `@noble/curves`.
 */
import type { Ed25519Provider } from './ed25519.js';
import { nobleEd25519 } from './noble.js';
import { detectWebCryptoEd25519 } from './webcrypto.js';

let chosen: Promise<Ed25519Provider> | undefined;

export function platformEd25519(): Promise<Ed25519Provider> {
  chosen ??= detectWebCryptoEd25519().then((p) => p ?? nobleEd25519);
  return chosen;
}

/** SHA-256 from `@noble/hashes` (synchronous, unlike WebCrypto's digest). */
export { sha256 as platformSha256 } from '@noble/hashes/sha2.js';
