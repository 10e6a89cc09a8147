/**
 * @module targets/node/identity
 * `edgepay/identity` on Node: the identity concept plus the encrypted file key store and file persistence.
 */

export * from '../../src/identity/index.js';
export { type EnvelopeOptions, envelopePublicKey, openKey, sealKey } from '../../src/identity/key-envelope.js';
export { type KeyStore, MemoryKeyStore } from '../../src/identity/keystore.js';
export { FileKeyStore } from '../../src/identity/keystore-file.js';
export { Pkcs11KeyStore, type Pkcs11Options } from '../../src/identity/keystore-pkcs11.js';
export { filePersistence } from '../../src/identity/node-files.js';
