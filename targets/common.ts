/**
 * @module targets/common
 * The root entry's names that are the same on every platform, in the order of the data flow: keys and
 * identity, channels, settlement, outbox, sync, transport. The API report test keeps the list on purpose.
 */

export { fromHex, toHex } from '../src/bytes.js';
export {
  MeteredPayer,
  MeteredService,
  type OpenTerms,
  type PaidEvent,
  Payee,
  type PayeeEvents,
  type PayeeOptions,
  Payer,
  type PayerEvents,
  type PayerOptions,
  PayerSession,
  servePayee,
} from '../src/channel/index.js';
export { type ChannelRecord, type ChannelStore, MemoryChannelStore } from '../src/channel/store.js';
export type { Signer } from '../src/crypto/ed25519.js';
export { createEs256Signer, createSigner, generateSecretKey, getEd25519 } from '../src/crypto/index.js';
export { EdgepayError, isEdgepayError } from '../src/errors.js';
export {
  type Device,
  decodeChain,
  encodeChain,
  issueCredential,
  type Limits,
  openDevice,
  type TrustRoot,
  TrustStore,
  verifyChain,
} from '../src/identity/index.js';
export { type KeyStore, MemoryKeyStore } from '../src/identity/keystore.js';
export { MemoryOutbox, type Outbox } from '../src/outbox/outbox.js';
export { type Receipt, type SettlementSink, settlements } from '../src/settlement/index.js';
export {
  type DeadLetter,
  FailoverLedgerClient,
  HttpLedgerClient,
  type LedgerClient,
  MqttLedgerClient,
  Sync,
  type SyncEvents,
  type SyncOptions,
  type SyncResult,
} from '../src/sync/index.js';
export { MemoryNetwork, MqttTransport, type Transport } from '../src/transport/index.js';
