/**
 * @module targets/browser/channel
 * `edgepay/channel` in browsers: the channel concept plus the IndexedDB channel store.
 */
export * from '../../src/channel/index.js';
export { IdbChannelStore } from '../../src/channel/store-idb.js';
