/**
 * @module outbox/outbox-idb
 * Browsers: the outbox in IndexedDB (via idb-keyval). Each record is stored under its id with a
 * sequence number, so `pending` serves oldest first; a write resolves when IndexedDB's transaction has
 * committed, and survives a page reload or a closed tab. Imported by targets/browser only.
 */
import { createStore, delMany, entries, get, set, type UseStore } from 'idb-keyval';
import { toHex } from '../bytes.js';
import { checkRecord, type Outbox, type OutboxEntry, recordId } from './outbox.js';

interface Stored {
  seq: number;
  bytes: Uint8Array;
}

/** The outbox in IndexedDB (browsers): survives reloads; an append resolves when its transaction commits. */
export class IdbOutbox implements Outbox {
  private readonly store: UseStore;
  private seq = -1;

  constructor(dbName = 'edgepay-outbox') {
    this.store = createStore(dbName, 'records');
  }

  private async all(): Promise<OutboxEntry[]> {
    const rows = (await entries(this.store)) as [string, Stored][];
    rows.sort((a, b) => a[1].seq - b[1].seq);
    if (this.seq < 0) this.seq = rows.length ? (rows[rows.length - 1] as [string, Stored])[1].seq : 0;
    return rows.map(([, v]) => ({ id: recordId(v.bytes), bytes: v.bytes }));
  }

  async append(record: Uint8Array): Promise<Uint8Array> {
    checkRecord(record);
    const id = recordId(record);
    const key = toHex(id);
    if ((await get(key, this.store)) !== undefined) return id;
    if (this.seq < 0) await this.all();
    await set(key, { seq: ++this.seq, bytes: record.slice() } satisfies Stored, this.store);
    return id;
  }

  async pending(limits: { maxCount?: number; maxBytes?: number } = {}): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    let bytes = 0;
    for (const e of await this.all()) {
      if (out.length >= (limits.maxCount ?? 100) || (out.length > 0 && bytes + e.bytes.length > (limits.maxBytes ?? 256 * 1024))) break;
      out.push(e);
      bytes += e.bytes.length;
    }
    return out;
  }

  async remove(ids: readonly Uint8Array[]): Promise<void> {
    await delMany(ids.map(toHex), this.store);
  }

  async size(): Promise<number> {
    return (await this.all()).length;
  }

  async close(): Promise<void> {}
}
