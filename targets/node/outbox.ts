/**
 * @module targets/node/outbox
 * `edgepay/outbox` on Node: the outbox concept plus the append-only file log.
 */
export * from '../../src/outbox/index.js';
export { FileOutbox, type FileOutboxOptions, OutboxDamage } from '../../src/outbox/outbox-file.js';
