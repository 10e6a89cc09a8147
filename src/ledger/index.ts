/**
 * @module ledger
 * The settlement ledger: verifies settlement records and applies them as double-entry postings on
 * PGlite (embedded) or PostgreSQL, with signed receipts; serves devices over HTTP and MQTT and operators
 * on a separate listener. Loads the database drivers; device code never imports this module.
 */

export { type BatchVerifier, inlineVerifier, workerVerifier } from '../crypto/workers.js';
export { type Receipt, type ReceiptResult, type ReceiptStatus, verifyReceipt, verifyReceipts } from '../settlement/receipt.js';
export { type Db, type DbState, openPglite, type Sql } from './db.js';
export { DEFAULT_HTTP_LIMITS, type HttpLedger, type HttpLimits, type HttpOptions, serveHttp, serveOperator } from './http.js';
export { EXTERNAL, Ledger, type LedgerOptions, SETTLEMENT_WINDOW, type SubmitResult } from './ledger.js';
export { type Logger, type LogLevel, openLogger } from './log.js';
export { type Counts, LedgerMetrics } from './metrics.js';
export { type MqttIngest, type MqttIngestOptions, serveMqtt } from './mqtt.js';
export { openPostgres, type PostgresOptions } from './postgres.js';
export { migrate } from './schema.js';
export { type AdminResult, DEFAULT_LIMITS, LedgerService, type LedgerServiceOptions, type Metrics, type ServiceLimits } from './service.js';
export {
  currencyExponent,
  formatMinor,
  type Payout,
  type PayoutBatch,
  payoutPain001,
  readStatement,
  type Statement,
  type StatementLine,
  statementCsv,
} from './statement.js';
export type { PayoutLine, PayoutOptions, PayoutResult } from './treasury.js';
