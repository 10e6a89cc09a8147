/**
 * What the browser tests' page loads as `window.edgepay`: the root entry and the concept entries the
 * tests reach into (codec, crypto, identity), each as a user's bundler would resolve it for browsers.
 */
export * from '../../src/codec/index.js';
export * from '../../src/crypto/index.js';
export * from '../../targets/browser/identity.js';
export * from '../../targets/browser/index.js';
