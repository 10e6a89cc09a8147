/**
 * @module crypto/hash
 * SHA-256 (the same results everywhere): OpenSSL's on Node, `@noble/hashes` elsewhere (see `#platform`).
 */
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import { platformSha256 } from '#platform';

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return platformSha256(data);
}

/** `n` bytes from the platform's CSPRNG (`crypto.getRandomValues`). */
export function randomBytes(n: number): Uint8Array {
  return nobleRandomBytes(n);
}
