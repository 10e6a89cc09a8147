/**
 * @module targets/node
 * edgepay for Node.js: what a device needs to pay and be paid, offline, and settle later. Native Ed25519
 * (`node:crypto`) is chosen automatically; keys, channels and the outbox live in files. Each concept's
 * full surface is its own entry (`edgepay/identity`, `/channel`, `/settlement`, `/outbox`, `/sync`,
 * `/transport`, `/codec`, `/crypto`); the ledger is `edgepay/ledger`.
 */

export { FileChannelStore } from '../../src/channel/store-file.js';
export { FileKeyStore } from '../../src/identity/keystore-file.js';
export { FileOutbox } from '../../src/outbox/outbox-file.js';
export * from '../common.js';
