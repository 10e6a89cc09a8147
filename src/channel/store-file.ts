/**
 * @module channel/store-file
 * Node: one file per channel, `<dir>/<channel id hex>.ch`, replaced atomically (temp file, fsync, rename,
 * fsync of the directory) on every `put`: after `kill -9` or a power cut a channel is either at its
 * previous state or at its new one. Each file is `"EPCH" 0x01 [crc32 of the record: u32 BE] [record]`: a
 * file that fails its checksum, does not decode or names another channel is damaged: it is moved to
 * `<dir>/damaged/`, reported (`onDamage`, code CH_STORE_DAMAGED), and refused, and the other channels go
 * on. Files of the earlier format (the record alone) are read as they are and rewritten on the next put.
 * Imported by targets/node only.
 */
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { toHex } from '../bytes.js';
import { ChannelError, EdgepayError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { type ChannelRecord, type ChannelStore, type DamageHandler, decodeRecord, encodeRecord } from './store.js';

const MAGIC = [0x45, 0x50, 0x43, 0x48, 0x01]; // "EPCH", version 1
const HEADER = MAGIC.length + 4;

/** A record in its file: the marker, its checksum, its bytes. */
function seal(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + record.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, crc32(record));
  out.set(record, HEADER);
  return out;
}

/** The record a file holds, checked. @throws ChannelError CH_STORE_DAMAGED naming the file. */
function open(bytes: Uint8Array, name: string): ChannelRecord {
  const damaged = (why: string, cause?: unknown): never => {
    throw new ChannelError('CH_STORE_DAMAGED', `${name}: ${why}`, `store.${name}`, { cause });
  };
  let record: ChannelRecord;
  if (MAGIC.every((b, i) => bytes[i] === b)) {
    if (bytes.length < HEADER) damaged('cut short');
    const body = bytes.subarray(HEADER);
    if (new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length) !== crc32(body)) damaged('fails its checksum');
    try {
      record = decodeRecord(body);
    } catch (e) {
      return damaged('does not decode', e);
    }
  } else {
    try {
      record = decodeRecord(bytes); // the earlier format: no checksum to check
    } catch (e) {
      return damaged('does not decode', e);
    }
  }
  if (`${toHex(record.id)}.ch` !== name) damaged('holds another channel');
  return record;
}

export interface FileChannelStoreOptions {
  /** Called for each damaged channel file, once it has been moved to `<dir>/damaged/`. */
  onDamage?: DamageHandler;
}

/**
 * Channels in files, one per channel, written atomically with a checksum; a damaged file is set aside
 * (`damaged/`) and reported, the others load (Node).
 */
export class FileChannelStore implements ChannelStore {
  private ready: Promise<unknown> | undefined;

  constructor(
    readonly dir: string,
    private readonly options: FileChannelStoreOptions = {},
  ) {}

  private name(id: Uint8Array): string {
    return `${toHex(id)}.ch`;
  }

  /**
   * The channel's record, or undefined when there is none.
   * @throws ChannelError CH_STORE_DAMAGED when its file is damaged (it is set aside), or was before.
   */
  async get(id: Uint8Array): Promise<ChannelRecord | undefined> {
    const name = this.name(id);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(join(this.dir, name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (await exists(join(this.dir, 'damaged', name)))
        throw new ChannelError('CH_STORE_DAMAGED', `${name} was damaged and is set aside`, `store.${name}`);
      return undefined;
    }
    try {
      return open(bytes, name);
    } catch (e) {
      await this.moveAside(name, e as ChannelError);
      throw e;
    }
  }

  async put(record: ChannelRecord): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.ready;
    await writeFileAtomic(join(this.dir, this.name(record.id)), seal(encodeRecord(record)));
  }

  /** Every intact channel; each damaged one is set aside and reported, never in the way of the others. */
  async list(): Promise<ChannelRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: ChannelRecord[] = [];
    for (const n of names) {
      if (!n.endsWith('.ch')) continue;
      try {
        out.push(open(new Uint8Array(await readFile(join(this.dir, n))), n));
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        await this.moveAside(n, e as ChannelError);
      }
    }
    return out;
  }

  /** Sets a channel aside that its owner found inconsistent (a stored voucher that does not verify, say). */
  async setAside(id: Uint8Array, reason: EdgepayError): Promise<void> {
    const name = this.name(id);
    await this.moveAside(name, new ChannelError('CH_STORE_DAMAGED', `${name}: ${reason.message}`, `store.${name}`, { cause: reason }));
  }

  private async moveAside(name: string, e: ChannelError): Promise<void> {
    await mkdir(join(this.dir, 'damaged'), { recursive: true, mode: 0o700 });
    try {
      await rename(join(this.dir, name), join(this.dir, 'damaged', name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.options.onDamage?.(e);
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
