/**
 * @module targets/node/platform
 * What `#platform` means on Node: native Ed25519 from `node:crypto`.
 */
import type { Ed25519Provider } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';

const ready = Promise.resolve(nodeEd25519);

export function platformEd25519(): Promise<Ed25519Provider> {
  return ready;
}
