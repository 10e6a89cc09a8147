/**
 * @module settlement
 * The settlement record (between channel and sync): its format, the one way to queue it, its offline
 * verification, and the ledger's receipt for it.
 */
export type { SettlementSink } from '../channel/sink.js';
export { type RecordQueue, settlements } from './queue.js';
export {
  RECEIPT_CONTENT_TYPE,
  type Receipt,
  type ReceiptResult,
  type ReceiptStatus,
  verifyReceipt,
  verifyReceipts,
} from './receipt.js';
export { encodeSettlement, encodeSettlementParts, MAX_SETTLEMENT_BYTES, type SettlementParts } from './record.js';
export { type ChainSource, type VerifiedSettlement, verifySettlement } from './verify.js';
