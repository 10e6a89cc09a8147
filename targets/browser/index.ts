/**
 * @module targets/browser
 * edgepay for browsers and other web runtimes: what a device needs to pay and be paid, offline, and
 * settle later. WebCrypto Ed25519 where supported, noble elsewhere; keys, channels and the outbox in
 * IndexedDB. Nothing here may import a Node builtin (a test builds this bundle and checks).
 */

export { IdbChannelStore } from '../../src/channel/store-idb.js';
export { IdbKeyStore } from '../../src/identity/keystore-idb.js';
export { IdbOutbox } from '../../src/outbox/outbox-idb.js';
export * from '../common.js';
