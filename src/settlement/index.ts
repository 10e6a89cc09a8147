/**
 * @module settlement
 * The settlement record (between channel and sync): its format, the one way to queue it, its offline
 * verification, and the ledger's receipt for it.
 */
export * from './queue.js';
export * from './receipt.js';
export * from './record.js';
export * from './verify.js';
