/**
 * @module identity/node-files
 * Node-only file helpers: atomic writes (temp file, fsync, rename, fsync of the directory), so a crash or
 * power cut leaves either the old file or the new one, never half of one. Imported by targets/node only.
 */
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toHex } from '../codec/bytes.js';
import { randomBytes } from '../crypto/hash.js';
import type { Persistence } from './trust-store.js';

/** Writes `bytes` to `path` atomically with `mode`. With `exclusive`, fails (EEXIST) if `path` exists. */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o600, exclusive = false): Promise<void> {
  const tmp = join(dirname(path), `.${toHex(randomBytes(6))}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    if (exclusive) {
      // link() fails if the target exists: no window in which an existing key could be replaced.
      await link(tmp, path);
      await rm(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Trust-store persistence in one file, written atomically. */
export function filePersistence(path: string): Persistence {
  return {
    async load() {
      try {
        return new Uint8Array(await readFile(path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    save: (bytes) => writeFileAtomic(path, bytes),
  };
}
