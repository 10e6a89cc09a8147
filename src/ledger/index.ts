/**
 * @module ledger
 * The settlement ledger: verifies settlement records and applies them as double-entry postings on
 * PGlite (embedded) or PostgreSQL, with signed receipts. Loads the database drivers; device code never
 * imports this module.
 */

export * from '../settlement/receipt.js';
export * from './db.js';
export * from './http.js';
export * from './ledger.js';
export * from './mqtt.js';
export * from './schema.js';
export * from './service.js';
export * from './statement.js';
