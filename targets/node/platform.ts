/**
 * @module targets/node/platform
 * What `#platform` means on Node: native Ed25519 from `node:crypto`.
 */

import { createHash } from 'node:crypto';
import type { Ed25519Provider } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';

const ready = Promise.resolve(nodeEd25519);

export function platformEd25519(): Promise<Ed25519Provider> {
  return ready;
}

/** SHA-256 by OpenSSL: several times noble's speed on the kilobyte inputs a ledger hashes per record. */
export function platformSha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}
