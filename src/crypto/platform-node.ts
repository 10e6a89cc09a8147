/**
 * @module crypto/platform-node
 * What `#platform` means on Node: native Ed25519 and ES256 from `node:crypto`.
 */

import { hash } from 'node:crypto';
import type { Ed25519Provider } from './ed25519.js';
import type { Es256Provider } from './es256.js';
import { nodeEs256 } from './es256-node.js';
import { nodeEd25519 } from './node.js';

const ready = Promise.resolve(nodeEd25519);
const readyEs256 = Promise.resolve(nodeEs256);

export function platformEd25519(): Promise<Ed25519Provider> {
  return ready;
}

export function platformEs256(): Promise<Es256Provider> {
  return readyEs256;
}

/**
 * SHA-256 by OpenSSL, one shot (`crypto.hash`, Node 20.12+): faster than noble for a 32-byte tick word and
 * about eight times faster on the kilobyte records a ledger hashes. The digest comes back as a 'binary'
 * (latin1) string, one char a byte, exact, not a Buffer: a Buffer takes an ArrayBuffer of its own, off V8's heap,
 * which costs more than hashing a tick word.
 */
export function platformSha256(data: Uint8Array): Uint8Array {
  const s = hash('sha256', data, 'binary');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i);
  return out;
}
