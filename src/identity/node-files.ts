/**
 * @module identity/node-files
 * Node only: a trust store's state in files, written atomically (see `files.ts`). Imported by targets/node only.
 */
import { open, readFile, rm, truncate } from 'node:fs/promises';
import { writeFileAtomic } from '../files.js';
import type { Persistence } from './trust-store.js';

const readIfAny = async (path: string): Promise<Uint8Array | undefined> => {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/**
 * Trust-store persistence in one file, written atomically, and beside it (`<path>.log`) the parties
 * learned since: each appended as a 4-byte length and the credential, fsynced. A save writes the whole
 * state, then empties the log (a crash between the two only repeats parties, which are learned once).
 */
export function filePersistence(path: string): Persistence {
  const log = `${path}.log`;
  return {
    load: () => readIfAny(path),
    async save(bytes) {
      await writeFileAtomic(path, bytes);
      await rm(log, { force: true });
    },
    async append(record) {
      const entry = new Uint8Array(4 + record.length);
      new DataView(entry.buffer).setUint32(0, record.length);
      entry.set(record, 4);
      const fh = await open(log, 'a', 0o600);
      try {
        await fh.write(entry);
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async loadAppended() {
      const b = (await readIfAny(log)) ?? new Uint8Array(0);
      const out: Uint8Array[] = [];
      let at = 0;
      while (at + 4 <= b.length) {
        const n = new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0);
        if (at + 4 + n > b.length) break;
        out.push(b.slice(at + 4, at + 4 + n));
        at += 4 + n;
      }
      // Only the last record can be cut short by a crash: dropped (its party is learned again when met),
      // and cut off so the next append starts on a record boundary.
      if (at < b.length) await truncate(log, at);
      return out;
    },
  };
}
