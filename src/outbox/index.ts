/**
 * @module outbox
 * Durable settlement records waiting for the ledger: the Outbox interface and the memory store; the Node
 * log-structured store and the browser IndexedDB store come with their targets.
 */
export { MAX_RECORD_BYTES, MemoryOutbox, type Outbox, type OutboxEntry, recordId } from './outbox.js';
