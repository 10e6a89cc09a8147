/**
 * @module channel
 * Offline payment channels between devices: signed cumulative vouchers, PayWord hash-chain ticks,
 * payee-side rule enforcement with equivocation evidence, and durable channel state.
 */

export * from './hashchain.js';
export * from './hello.js';
export * from './messages.js';
export * from './metered.js';
export * from './payee.js';
export * from './payer.js';
export * from './reservation.js';
export * from './session.js';
export * from './sink.js';
export * from './store.js';
