/**
 * @module sync
 * From a device's outbox to a ledger: signed submissions, the HTTP, MQTT and failover clients, and the
 * sync loop that removes a record only on a valid ledger-signed receipt.
 */

export { type Receipt, verifyReceipt, verifyReceipts } from '../settlement/receipt.js';
export {
  FailoverLedgerClient,
  type FailoverOptions,
  HttpLedgerClient,
  type HttpLedgerClientOptions,
  type LedgerClient,
  type SyncFailure,
} from './client.js';
export { type DeadLetter, decodeDeadLetter } from './dead-letter.js';
export { MqttLedgerClient } from './mqtt.js';
export {
  ADMIN_CONTENT_TYPE,
  type AdminCall,
  MAX_BATCH_RECORDS,
  SUBMISSION_CONTENT_TYPE,
  type Submission,
  signAdmin,
  signSubmission,
} from './submission.js';
export { browserConnectivity, type Connectivity, Sync, type SyncEvents, type SyncOptions, type SyncResult } from './sync.js';
