/**
 * @module channel/store-idb
 * Browsers: channel records in IndexedDB (via idb-keyval), as the same deterministic CBOR the file store
 * writes. A `put` resolves when IndexedDB's transaction completes, which is when the browser has
 * committed it. Imported by targets/browser only.
 */
import { createStore, get, set, type UseStore, values } from 'idb-keyval';
import { toHex } from '../codec/bytes.js';
import { type ChannelRecord, type ChannelStore, decodeRecord, encodeRecord } from './store.js';

export class IdbChannelStore implements ChannelStore {
  private readonly store: UseStore;

  constructor(dbName = 'edgepay-channels') {
    this.store = createStore(dbName, 'channels');
  }

  async get(id: Uint8Array): Promise<ChannelRecord | undefined> {
    const b = (await get(toHex(id), this.store)) as Uint8Array | undefined;
    return b && decodeRecord(b);
  }

  async put(record: ChannelRecord): Promise<void> {
    await set(toHex(record.id), encodeRecord(record), this.store);
  }

  async list(): Promise<ChannelRecord[]> {
    return ((await values(this.store)) as Uint8Array[]).map(decodeRecord);
  }
}
