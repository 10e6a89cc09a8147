/**
 * @module targets/node
 * edgepay for Node.js: everything in the SDK, with native Ed25519 (`node:crypto`) chosen automatically,
 * encrypted key files and atomic file persistence.
 */

export * from '../../src/codec/index.js';
export * from '../../src/crypto/index.js';
export { nodeEd25519 } from '../../src/crypto/node.js';
export * from '../../src/errors.js';
export * from '../../src/settlement/index.js';
export * from '../../src/sync/index.js';
export * from '../../src/transport/index.js';
export * from './channel.js';
export * from './identity.js';
export * from './outbox.js';
