/**
 * @module outbox/outbox
 * Settlement records wait here until a ledger has signed a receipt for them. A record is opaque bytes;
 * its id is their SHA-256, so appending the same record twice keeps one (retries are idempotent).
 * `append` resolves only once the record is durable; `remove` happens only after a receipt.
 */
import { toHex } from '../bytes.js';
import { sha256 } from '../crypto/hash.js';
import { OutboxError } from '../errors.js';

export interface OutboxEntry {
  id: Uint8Array;
  bytes: Uint8Array;
}

/**
 * Settlement records waiting for the ledger: an append is durable before it resolves; a record leaves only
 * when removed (on a valid receipt).
 */
export interface Outbox {
  /** Stores `record` durably and returns its id. Idempotent. */
  append(record: Uint8Array): Promise<Uint8Array>;
  /** Records not yet removed, oldest first, bounded by count and total bytes (at least one if any). */
  pending(limits?: { maxCount?: number; maxBytes?: number }): Promise<OutboxEntry[]>;
  /** Removes records by id (unknown ids are ignored). Durable when it resolves. */
  remove(ids: readonly Uint8Array[]): Promise<void>;
  /** How many records wait. */
  size(): Promise<number>;
  close(): Promise<void>;
}

/** Largest record an outbox takes: a settlement record with two credential chains is a few KB. */
export const MAX_RECORD_BYTES = 64 * 1024;

export function recordId(record: Uint8Array): Uint8Array {
  return sha256(record);
}

export function checkRecord(record: Uint8Array): void {
  if (!(record instanceof Uint8Array) || record.length === 0)
    throw new OutboxError('OUTBOX_RECORD', 'a record is non-empty bytes', 'record');
  if (record.length > MAX_RECORD_BYTES)
    throw new OutboxError('OUTBOX_RECORD', `record of ${record.length} bytes exceeds ${MAX_RECORD_BYTES}`, 'record');
}

/** Ordered live records by id: the in-memory index every store keeps. */
export class LiveSet {
  private readonly map = new Map<string, OutboxEntry>();

  has(id: Uint8Array): boolean {
    return this.map.has(toHex(id));
  }

  add(e: OutboxEntry): boolean {
    const k = toHex(e.id);
    if (this.map.has(k)) return false;
    this.map.set(k, e);
    return true;
  }

  delete(id: Uint8Array): OutboxEntry | undefined {
    const k = toHex(id);
    const e = this.map.get(k);
    this.map.delete(k);
    return e;
  }

  get size(): number {
    return this.map.size;
  }

  /** Oldest first (Map keeps insertion order). */
  take(maxCount = 100, maxBytes = 256 * 1024): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    let bytes = 0;
    for (const e of this.map.values()) {
      if (out.length >= maxCount || (out.length > 0 && bytes + e.bytes.length > maxBytes)) break;
      out.push(e);
      bytes += e.bytes.length;
    }
    return out;
  }

  values(): IterableIterator<OutboxEntry> {
    return this.map.values();
  }
}

/** Records in memory (tests, simulators). */
export class MemoryOutbox implements Outbox {
  private readonly live = new LiveSet();

  async append(record: Uint8Array): Promise<Uint8Array> {
    checkRecord(record);
    const id = recordId(record);
    this.live.add({ id, bytes: record.slice() });
    return id;
  }

  async pending(limits: { maxCount?: number; maxBytes?: number } = {}): Promise<OutboxEntry[]> {
    return this.live.take(limits.maxCount, limits.maxBytes);
  }

  async remove(ids: readonly Uint8Array[]): Promise<void> {
    for (const id of ids) this.live.delete(id);
  }

  async size(): Promise<number> {
    return this.live.size;
  }

  async close(): Promise<void> {}
}
