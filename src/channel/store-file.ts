/**
 * @module channel/store-file
 * Node: one file per channel, `<dir>/<channel id hex>.ch`, replaced atomically (temp file, fsync,
 * rename, fsync of the directory) on every `put`: after `kill -9` or a power cut a channel is either at
 * its previous state or at its new one. Imported by targets/node only.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toHex } from '../codec/bytes.js';
import { writeFileAtomic } from '../identity/node-files.js';
import { type ChannelRecord, type ChannelStore, decodeRecord, encodeRecord } from './store.js';

export class FileChannelStore implements ChannelStore {
  private ready: Promise<unknown> | undefined;

  constructor(readonly dir: string) {}

  private path(id: Uint8Array): string {
    return join(this.dir, `${toHex(id)}.ch`);
  }

  async get(id: Uint8Array): Promise<ChannelRecord | undefined> {
    try {
      return decodeRecord(new Uint8Array(await readFile(this.path(id))));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async put(record: ChannelRecord): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.ready;
    await writeFileAtomic(this.path(record.id), encodeRecord(record));
  }

  async list(): Promise<ChannelRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: ChannelRecord[] = [];
    for (const n of names) if (n.endsWith('.ch')) out.push(decodeRecord(new Uint8Array(await readFile(join(this.dir, n)))));
    return out;
  }
}
