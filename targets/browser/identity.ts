/**
 * @module targets/browser/identity
 * `edgepay/identity` in browsers: the identity concept plus the IndexedDB key store (non-extractable
 * WebCrypto keys) and IndexedDB persistence.
 */
export * from '../../src/identity/index.js';
export { type EnvelopeOptions, envelopePublicKey, openKey, sealKey } from '../../src/identity/key-envelope.js';
export { type KeyStore, MemoryKeyStore } from '../../src/identity/keystore.js';
export { IdbKeyStore, type IdbKeyStoreOptions, idbPersistence } from '../../src/identity/keystore-idb.js';
