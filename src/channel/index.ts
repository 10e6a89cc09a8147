/**
 * @module channel
 * Offline payment channels between devices: signed cumulative vouchers, PayWord hash-chain ticks,
 * payee-side rule enforcement with equivocation evidence, and durable channel state. The frames' signing
 * and answering stay inside (the Payer and Payee make them); their format is public for relays and tools.
 */

export { HashChain, MAX_CHAIN_LENGTH, type TickProof, verifyTickProof } from './hashchain.js';
export { decodeFrame, type Frame, MAX_FRAME_BYTES, MSG, type OpenTerms, PROTOCOL_VERSION, type Voucher, verifyFrame } from './messages.js';
export {
  MeteredPayer,
  type MeteredPayerEvents,
  type MeteredPayerOptions,
  MeteredService,
  type MeteredServiceEvents,
  type MeteredServiceOptions,
} from './metered.js';
export { Payee } from './payee.js';
export type { PaidEvent, PayeeEvents, PayeeOptions } from './payee-rules.js';
export { type OpenRequest, Payer, type PayerEvents, type PayerOptions } from './payer.js';
export { RESERVATION_CONTENT_TYPE, type Reservation, reservationId, signReservation, verifyReservation } from './reservation.js';
export { PayerSession, type ServePayeeOptions, servePayee } from './session.js';
export type { SettlementSink } from './sink.js';
export {
  type ChannelRecord,
  type ChannelRole,
  type ChannelState,
  type ChannelStore,
  copyRecord,
  type DamageHandler,
  MemoryChannelStore,
} from './store.js';
