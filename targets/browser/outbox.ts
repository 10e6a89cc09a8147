/**
 * @module targets/browser/outbox
 * `edgepay/outbox` in browsers: the outbox concept plus the IndexedDB store.
 */
export * from '../../src/outbox/index.js';
export { IdbOutbox } from '../../src/outbox/outbox-idb.js';
