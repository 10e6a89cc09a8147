/**
 * @module files
 * Node only: the one way edgepay replaces a file. Write a temporary file beside it, fsync it, rename it
 * over the old one, fsync the directory: after a crash or power cut the file is either the old one or the
 * new one, never half of one. Used by the key store, the channel store, the trust store and the outbox's
 * compaction.
 */
import { link, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toHex } from './bytes.js';

/** fsyncs a directory, so a rename (or a new file) in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Writes `bytes` to `path` atomically with `mode`. With `exclusive`, fails (EEXIST) if `path` exists. */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o600, exclusive = false): Promise<void> {
  const tmp = join(dirname(path), `.${toHex(crypto.getRandomValues(new Uint8Array(6)))}.tmp`);
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
  await syncDir(dirname(path));
}
