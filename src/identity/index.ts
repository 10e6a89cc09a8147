/**
 * @module identity
 * Device keys bound to responsible parties: credentials (CWT in COSE_Sign1), offline chain verification
 * with effective limits, signed revocation lists, the trust store, and key stores.
 */

export * from './chain.js';
export * from './claims.js';
export * from './credential.js';
export * from './device.js';
export * from './revocation.js';
export * from './trust-store.js';
