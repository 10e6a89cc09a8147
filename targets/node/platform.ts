/**
 * @module targets/node/platform
 * What `#platform` means on Node: native Ed25519 from `node:crypto`.
 */

import { hash } from 'node:crypto';
import type { Ed25519Provider } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';

const ready = Promise.resolve(nodeEd25519);

export function platformEd25519(): Promise<Ed25519Provider> {
  return ready;
}

/**
 * SHA-256 by OpenSSL, one shot (`crypto.hash`, Node 20.12+): faster than noble for a 32-byte tick word and
 * about eight times faster on the kilobyte records a ledger hashes.
 */
export function platformSha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(hash('sha256', data, 'buffer'));
}
