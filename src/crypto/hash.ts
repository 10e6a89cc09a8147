/**
 * @module crypto/hash
 * SHA-256 (the same results everywhere): OpenSSL's on Node, `@noble/hashes` elsewhere (see `#platform`).
 */
import { platformSha256 } from '#platform';

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return platformSha256(data);
}

/** `n` bytes from the platform's CSPRNG (`crypto.getRandomValues`). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes a call.
  for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65_536)));
  return out;
}
