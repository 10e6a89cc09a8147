/**
 * @module outbox/outbox-file
 * Node: an append-only log, `<dir>/outbox.log`, of checksummed entries:
 *
 *   [kind: u8][length: u32 BE][crc32 of kind+payload: u32 BE][payload]
 *   kind 1 = a record (payload: its bytes); kind 2 = a removal (payload: 32-byte ids)
 *
 * Group commit: appends and removals that arrive while a write is in flight go out together in the next
 * write, one fsync for all; each call resolves only after the fsync that covers it. Recovery reads the log
 * from the start and stops at the first entry that is short or fails its checksum: a torn tail (a write
 * cut by kill -9 or power loss) is truncated away; everything before it was fsynced and is kept.
 * Compaction rewrites the live records to a new file and renames it over the log, atomically.
 * Imported by targets/node only.
 */
import { type FileHandle, mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { concatBytes } from '../codec/bytes.js';
import { OutboxError } from '../errors.js';
import { checkRecord, LiveSet, type Outbox, type OutboxEntry, recordId } from './outbox.js';

const RECORD = 1;
const REMOVAL = 2;
const HEADER = 9;

function entry(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  out[0] = kind;
  view.setUint32(1, payload.length);
  out.set(payload, HEADER);
  view.setUint32(5, checksum(kind, payload));
  return out;
}

/** CRC-32 of the kind byte, then the payload. */
function checksum(kind: number, payload: Uint8Array): number {
  return crc32(payload, crc32(new Uint8Array([kind])));
}

interface Pending {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface FileOutboxOptions {
  /** Compact when dead bytes exceed this and half the log (default 1 MiB). */
  compactAfterBytes?: number;
}

export class FileOutbox implements Outbox {
  private readonly live = new LiveSet();
  private fh!: FileHandle;
  private logBytes = 0;
  private liveBytes = 0;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  private compactRequested = false;
  /** Bytes dropped from a torn tail at the last open (for diagnostics and tests). */
  recoveredTornBytes = 0;

  private constructor(
    readonly dir: string,
    private readonly options: FileOutboxOptions,
  ) {}

  /** Opens (creating) the outbox in `dir`, recovering from any torn tail. */
  static async open(dir: string, options: FileOutboxOptions = {}): Promise<FileOutbox> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const o = new FileOutbox(dir, options);
    await o.recover();
    return o;
  }

  private get path(): string {
    return join(this.dir, 'outbox.log');
  }

  private async recover(): Promise<void> {
    this.fh = await open(this.path, 'a+', 0o600);
    const data = new Uint8Array(await this.fh.readFile());
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    let p = 0;
    while (p + HEADER <= data.length) {
      const kind = data[p] as number;
      const len = view.getUint32(p + 1);
      if ((kind !== RECORD && kind !== REMOVAL) || p + HEADER + len > data.length) break;
      const payload = data.subarray(p + HEADER, p + HEADER + len);
      if (view.getUint32(p + 5) !== checksum(kind, payload)) break;
      if (kind === RECORD) {
        const bytes = payload.slice();
        if (this.live.add({ id: recordId(bytes), bytes })) this.liveBytes += HEADER + len;
      } else {
        for (let i = 0; i + 32 <= payload.length; i += 32) {
          const gone = this.live.delete(payload.subarray(i, i + 32));
          if (gone) this.liveBytes -= HEADER + gone.bytes.length;
        }
      }
      p += HEADER + len;
    }
    if (p < data.length) {
      // A torn tail: never acknowledged (its fsync did not complete), so dropping it loses nothing.
      this.recoveredTornBytes = data.length - p;
      await this.fh.truncate(p);
      await this.fh.sync();
    }
    this.logBytes = p;
  }

  private write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new OutboxError('OUTBOX_CLOSED', 'the outbox is closed', 'outbox'));
    const done = new Promise<void>((resolve, reject) => this.queue.push({ bytes, resolve, reject }));
    this.writing ??= this.flush();
    return done;
  }

  /**
   * The single writer: writes everything queued with one fsync, repeats while more arrives (group commit),
   * and compacts when due. Nothing else touches the file, so compaction never races an append.
   */
  private async flush(): Promise<void> {
    for (;;) {
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const bytes = concatBytes(...batch.map((b) => b.bytes));
          await this.fh.write(bytes, 0, bytes.length, null);
          await this.fh.sync();
          this.logBytes += bytes.length;
          for (const b of batch) b.resolve();
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
        continue;
      }
      const dead = this.logBytes - this.liveBytes;
      if (this.compactRequested || (dead > (this.options.compactAfterBytes ?? 1024 * 1024) && dead > this.logBytes / 2)) {
        this.compactRequested = false;
        await this.rewrite();
        continue;
      }
      break;
    }
    this.writing = undefined;
  }

  async append(record: Uint8Array): Promise<Uint8Array> {
    checkRecord(record);
    const bytes = record.slice();
    const id = recordId(bytes);
    if (this.live.has(id)) {
      if (this.writing) await this.writing; // it may be in the batch being written: wait until durable
      return id;
    }
    this.live.add({ id, bytes });
    const e = entry(RECORD, bytes);
    this.liveBytes += e.length;
    try {
      await this.write(e);
    } catch (err) {
      this.live.delete(id);
      this.liveBytes -= e.length;
      throw err;
    }
    return id;
  }

  async pending(limits: { maxCount?: number; maxBytes?: number } = {}): Promise<OutboxEntry[]> {
    if (this.writing) await this.writing; // serve only what is durable
    return this.live.take(limits.maxCount, limits.maxBytes);
  }

  async remove(ids: readonly Uint8Array[]): Promise<void> {
    const gone = ids.filter((id) => this.live.has(id));
    if (gone.length === 0) return;
    await this.write(entry(REMOVAL, concatBytes(...gone)));
    for (const id of gone) {
      const e = this.live.delete(id);
      if (e) this.liveBytes -= HEADER + e.bytes.length;
    }
  }

  async size(): Promise<number> {
    return this.live.size;
  }

  /** The log's size on disk and what of it is live (for compaction decisions and tests). */
  stats(): { logBytes: number; liveBytes: number; records: number } {
    return { logBytes: this.logBytes, liveBytes: this.liveBytes, records: this.live.size };
  }

  /** Compacts now (it also happens by itself once dead bytes pass the threshold). */
  async compact(): Promise<void> {
    this.compactRequested = true;
    this.writing ??= this.flush();
    await this.writing;
  }

  /** Rewrites the log with only live records, atomically (temp file, fsync, rename, fsync of the dir). */
  private async rewrite(): Promise<void> {
    const tmp = join(this.dir, 'outbox.log.compact');
    const out = await open(tmp, 'w', 0o600);
    const bytes = concatBytes(...[...this.live.values()].map((e) => entry(RECORD, e.bytes)));
    try {
      await out.write(bytes, 0, bytes.length, 0);
      await out.sync();
    } finally {
      await out.close();
    }
    await this.fh.close();
    await rename(tmp, this.path);
    const d = await open(this.dir, 'r');
    await d.sync();
    await d.close();
    this.fh = await open(this.path, 'a+', 0o600);
    this.logBytes = bytes.length;
    this.liveBytes = bytes.length;
  }

  async close(): Promise<void> {
    if (this.writing) await this.writing;
    this.closed = true;
    await this.fh.close();
  }
}
