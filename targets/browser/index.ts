/**
 * @module targets/browser
 * edgepay for browsers and other web runtimes: WebCrypto Ed25519 where supported, noble elsewhere; keys
 * and state in IndexedDB. Nothing here may import a Node builtin (a test builds this bundle and checks).
 */

export * from '../../src/codec/index.js';
export * from '../../src/crypto/index.js';
export * from '../../src/errors.js';
export * from '../../src/settlement/index.js';
export * from '../../src/sync/index.js';
export * from '../../src/transport/index.js';
export * from './channel.js';
export * from './identity.js';
export * from './outbox.js';
