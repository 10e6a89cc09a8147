/**
 * @module targets/node/channel
 * `edgepay/channel` on Node: the channel concept plus the file channel store.
 */
export * from '../../src/channel/index.js';
export { FileChannelStore, type FileChannelStoreOptions } from '../../src/channel/store-file.js';
