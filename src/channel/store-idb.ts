/**
 * @module channel/store-idb
 * Browsers: channel records in IndexedDB (via idb-keyval), as the same deterministic CBOR the file store
 * writes. A `put` resolves when IndexedDB's transaction completes, which is when the browser has
 * committed it. A record that does not decode, or names another channel, is damaged: moved to a database
 * of its own (`<name>-damaged`), reported (`onDamage`, CH_STORE_DAMAGED) and refused; the others go on.
 * Imported by targets/browser only.
 */
import { createStore, del, entries, get, set, type UseStore } from 'idb-keyval';
import { toHex } from '../bytes.js';
import { ChannelError, type EdgepayError } from '../errors.js';
import { type ChannelRecord, type ChannelStore, type DamageHandler, decodeRecord, encodeRecord } from './store.js';

/** Channels in IndexedDB (browsers), with the same checksum and set-aside rules as the file store. */
export class IdbChannelStore implements ChannelStore {
  private readonly store: UseStore;
  private readonly damaged: UseStore;

  constructor(
    dbName = 'edgepay-channels',
    private readonly options: { onDamage?: DamageHandler } = {},
  ) {
    this.store = createStore(dbName, 'channels');
    this.damaged = createStore(`${dbName}-damaged`, 'channels');
  }

  private read(key: string, b: unknown): ChannelRecord {
    try {
      const r = decodeRecord(b as Uint8Array);
      if (toHex(r.id) === key) return r;
    } catch (e) {
      throw new ChannelError('CH_STORE_DAMAGED', `channel ${key} does not decode`, `store.${key}`, { cause: e });
    }
    throw new ChannelError('CH_STORE_DAMAGED', `channel ${key} holds another channel`, `store.${key}`);
  }

  async get(id: Uint8Array): Promise<ChannelRecord | undefined> {
    const key = toHex(id);
    const b = await get(key, this.store);
    if (b === undefined) {
      if ((await get(key, this.damaged)) !== undefined)
        throw new ChannelError('CH_STORE_DAMAGED', `channel ${key} was damaged and is set aside`, `store.${key}`);
      return undefined;
    }
    try {
      return this.read(key, b);
    } catch (e) {
      await this.moveAside(key, b, e as ChannelError);
      throw e;
    }
  }

  async put(record: ChannelRecord): Promise<void> {
    await set(toHex(record.id), encodeRecord(record), this.store);
  }

  async list(): Promise<ChannelRecord[]> {
    const out: ChannelRecord[] = [];
    for (const [key, b] of (await entries(this.store)) as [string, unknown][])
      try {
        out.push(this.read(key, b));
      } catch (e) {
        await this.moveAside(key, b, e as ChannelError);
      }
    return out;
  }

  async setAside(id: Uint8Array, reason: EdgepayError): Promise<void> {
    const key = toHex(id);
    const b = await get(key, this.store);
    if (b !== undefined)
      await this.moveAside(
        key,
        b,
        new ChannelError('CH_STORE_DAMAGED', `channel ${key}: ${reason.message}`, `store.${key}`, { cause: reason }),
      );
  }

  private async moveAside(key: string, b: unknown, e: ChannelError): Promise<void> {
    await set(key, b, this.damaged);
    await del(key, this.store);
    this.options.onDamage?.(e);
  }
}
