/**
 * @module sync
 * From a device's outbox to a ledger: signed submissions, the HTTP client, and the sync loop that
 * removes a record only on a valid ledger-signed receipt.
 */

export { type Receipt, verifyReceipt, verifyReceipts } from '../settlement/receipt.js';
export * from './client.js';
export * from './dead-letter.js';
export * from './mqtt.js';
export * from './submission.js';
export * from './sync.js';
