/**
 * @module outbox/outbox-file
 * Node: an append-only log, `<dir>/outbox.log`, of checksummed entries:
 *
 *   [0xE9][kind: u8][length: u32 BE][crc32: u32 BE][payload]
 *   kind 1 = a record (payload: its bytes); kind 2 = a removal (payload: 32-byte ids)
 *   crc32 over the entry's offset in the file (u64 BE), its kind, its length and its payload
 *
 * Group commit: appends and removals that arrive while a write is in flight go out together in the next
 * write, one fsync for all; each call resolves only after the fsync that covers it.
 *
 * Recovery reads the log from the start. An entry that fails its check is damage if a valid entry follows
 * it: the bytes up to that entry are set aside in `<dir>/quarantine/` (kept, not deleted), reported as
 * OUTBOX_DAMAGED, and every intact entry after them is recovered. Only a tail that no valid entry follows
 * is cut: a torn write (kill -9, power loss) that was never acknowledged; it too is kept in quarantine,
 * and reported (as OUTBOX_TORN when it is the start of an entry cut short, else as damage). The offset in
 * each checksum means a record's bytes can never pass for an entry of their own when the scan resumes
 * inside them. Compaction rewrites the live records to a new file and renames it over the log, atomically.
 * A log of the earlier format (no marker, no offset in the checksum) is read and rewritten in this one.
 * Imported by targets/node only.
 */
import { type FileHandle, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { concatBytes } from '../bytes.js';
import { OutboxError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { checkRecord, LiveSet, MAX_RECORD_BYTES, type Outbox, type OutboxEntry, recordId } from './outbox.js';

const MARK = 0xe9;
const RECORD = 1;
const REMOVAL = 2;
const HEADER = 10;
/** The largest removal entry (ids are written in entries of at most this many bytes). */
const MAX_REMOVAL_BYTES = 32 * 2048;

/** CRC-32 of the entry's offset, kind and length, then its payload. */
function checksum(offset: number, kind: number, payload: Uint8Array): number {
  const head = new Uint8Array(13);
  const view = new DataView(head.buffer);
  view.setBigUint64(0, BigInt(offset));
  head[8] = kind;
  view.setUint32(9, payload.length);
  return crc32(payload, crc32(head));
}

function entry(offset: number, kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  out[0] = MARK;
  out[1] = kind;
  view.setUint32(2, payload.length);
  view.setUint32(6, checksum(offset, kind, payload));
  out.set(payload, HEADER);
  return out;
}

/** A plausible entry head at `p`: its mark, a kind and a length in bounds (the payload may run past the end). */
function head(data: Uint8Array, view: DataView, p: number): { kind: number; len: number } | undefined {
  if (p + HEADER > data.length || data[p] !== MARK) return undefined;
  const kind = data[p + 1] as number;
  const len = view.getUint32(p + 2);
  if (kind === RECORD ? len < 1 || len > MAX_RECORD_BYTES : kind !== REMOVAL || len % 32 !== 0 || len > MAX_REMOVAL_BYTES) return undefined;
  return { kind, len };
}

/** The valid entry at `p`, or undefined. */
function entryAt(data: Uint8Array, view: DataView, p: number): { kind: number; payload: Uint8Array; end: number } | undefined {
  const h = head(data, view, p);
  if (!h || p + HEADER + h.len > data.length) return undefined;
  const payload = data.subarray(p + HEADER, p + HEADER + h.len);
  return view.getUint32(p + 6) === checksum(p, h.kind, payload) ? { kind: h.kind, payload, end: p + HEADER + h.len } : undefined;
}

/** A region of the log that failed its checks, set aside in the quarantine folder. */
export class OutboxDamage extends OutboxError {
  constructor(
    code: 'OUTBOX_DAMAGED' | 'OUTBOX_TORN',
    message: string,
    /** Where in the log, and how many bytes. */
    readonly offset: number,
    readonly length: number,
    /** The file it was kept in. */
    readonly kept: string,
  ) {
    super(code, message, `outbox.log@${offset}`);
  }
}

/** What reading a log found: its entries in order, and what did not pass. */
interface Scan {
  entries: { kind: number; payload: Uint8Array }[];
  bad: { offset: number; length: number; torn: boolean }[];
  /** Where intact entries end: appends go on from here. */
  end: number;
  legacy: boolean;
}

/** Reads a log of this format: intact entries, and the regions between and after them that are not. */
function scan(data: Uint8Array): Scan {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const out: Scan = { entries: [], bad: [], end: 0, legacy: false };
  let p = 0;
  while (p < data.length) {
    const e = entryAt(data, view, p);
    if (e) {
      out.entries.push(e);
      p = e.end;
      out.end = p;
      continue;
    }
    let q = p + 1;
    while (q < data.length && !(data[q] === MARK && entryAt(data, view, q))) q++;
    const h = head(data, view, p);
    // A tail is torn when it is an entry's start cut short (or too short to tell); anything else is damage.
    const torn = q >= data.length && (data.length - p < HEADER || (h !== undefined && p + HEADER + h.len > data.length));
    out.bad.push({ offset: p, length: q - p, torn });
    p = q;
  }
  return out;
}

/** Reads a log of the earlier format, `[kind][length][crc32 of kind and payload][payload]`, up to its first bad entry. */
function scanLegacy(data: Uint8Array): Scan | undefined {
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const out: Scan = { entries: [], bad: [], end: 0, legacy: true };
  let p = 0;
  while (p + 9 <= data.length) {
    const kind = data[p] as number;
    const len = view.getUint32(p + 1);
    if ((kind !== RECORD && kind !== REMOVAL) || p + 9 + len > data.length) break;
    const payload = data.subarray(p + 9, p + 9 + len);
    if (view.getUint32(p + 5) !== crc32(payload, crc32(new Uint8Array([kind])))) break;
    out.entries.push({ kind, payload });
    p += 9 + len;
  }
  if (out.entries.length === 0) return undefined;
  if (p < data.length) out.bad.push({ offset: p, length: data.length - p, torn: false });
  out.end = p;
  return out;
}

interface Pending {
  kind: number;
  payload: Uint8Array;
  /** Applies the entry to the live set once it is durable, before anything else (a compaction) reads it. */
  durable?: (() => void) | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface FileOutboxOptions {
  /** Compact when dead bytes exceed this and half the log (default 1 MiB). */
  compactAfterBytes?: number;
  /** Called for each damaged (or torn) region found when the log is opened, once it has been set aside. */
  onDamage?: (d: OutboxDamage) => void;
}

/**
 * The outbox as an append-only file log with group commit: an append resolves after the fsync that covers
 * it; damage is set aside (`quarantine/`) and reported, never truncated (Node).
 */
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
  /** What the last open found damaged or torn, each set aside in `<dir>/quarantine/`. */
  readonly damage: OutboxDamage[] = [];

  private constructor(
    readonly dir: string,
    private readonly options: FileOutboxOptions,
  ) {}

  /** Opens (creating) the outbox in `dir`, recovering every intact entry and setting aside what is not. */
  static async open(dir: string, options: FileOutboxOptions = {}): Promise<FileOutbox> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const o = new FileOutbox(dir, options);
    await o.recover();
    return o;
  }

  /**
   * Reads the outbox in `dir` without changing it (for tools: `edgepay outbox`): the records it holds now,
   * and what would be set aside on open.
   */
  static async inspect(dir: string): Promise<{ records: OutboxEntry[]; damaged: { offset: number; length: number; torn: boolean }[] }> {
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(join(dir, 'outbox.log')));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], damaged: [] };
      throw e;
    }
    const found = read(data);
    const live = new LiveSet();
    for (const e of found.entries) apply(live, e);
    return { records: [...live.values()], damaged: found.bad };
  }

  private get path(): string {
    return join(this.dir, 'outbox.log');
  }

  private async recover(): Promise<void> {
    this.fh = await open(this.path, 'a+', 0o600);
    const data = new Uint8Array(await this.fh.readFile());
    const found = read(data);
    for (const e of found.entries)
      if (e.kind === RECORD) {
        const bytes = e.payload.slice();
        if (this.live.add({ id: recordId(bytes), bytes })) this.liveBytes += HEADER + bytes.length;
      } else
        for (let i = 0; i + 32 <= e.payload.length; i += 32) {
          const gone = this.live.delete(e.payload.subarray(i, i + 32));
          if (gone) this.liveBytes -= HEADER + gone.bytes.length;
        }
    this.logBytes = found.end;
    const torn = found.bad.filter((b) => b.torn).reduce((n, b) => n + b.length, 0);
    this.recoveredTornBytes = torn;
    for (const b of found.bad) await this.setAside(data, b);
    // What was set aside leaves the log: rewritten whole when anything before its end was bad (or the log
    // is of the earlier format), else cut after its last intact entry.
    if (found.legacy || found.bad.some((b) => !b.torn)) await this.rewrite();
    else if (found.end < data.length) {
      await this.fh.truncate(found.end);
      await this.fh.sync();
    }
  }

  /** Keeps a bad region in the quarantine folder and reports it (a torn tail too: nothing is deleted unseen). */
  private async setAside(data: Uint8Array, b: { offset: number; length: number; torn: boolean }): Promise<void> {
    const folder = join(this.dir, 'quarantine');
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const kept = join(folder, `outbox-${new Date().toISOString().replace(/[:.]/g, '-')}-${b.offset}.bin`);
    await writeFile(kept, data.subarray(b.offset, b.offset + b.length), { mode: 0o600 });
    const d = b.torn
      ? new OutboxDamage(
          'OUTBOX_TORN',
          `a write cut short at the end of the log (${b.length} bytes, never acknowledged)`,
          b.offset,
          b.length,
          kept,
        )
      : new OutboxDamage('OUTBOX_DAMAGED', `${b.length} bytes of the log fail their checksum; set aside`, b.offset, b.length, kept);
    this.damage.push(d);
    this.options.onDamage?.(d);
  }

  private write(kind: number, payload: Uint8Array, durable?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new OutboxError('OUTBOX_CLOSED', 'the outbox is closed', 'outbox'));
    const done = new Promise<void>((resolve, reject) => this.queue.push({ kind, payload, durable, resolve, reject }));
    this.writing ??= this.flush();
    return done;
  }

  /**
   * The single writer: writes everything queued with one fsync, repeats while more arrives (group commit),
   * and compacts when due. Nothing else touches the file, so compaction never races an append, and each
   * entry's offset (in its checksum) is known when it is encoded.
   */
  private async flush(): Promise<void> {
    for (;;) {
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          let at = this.logBytes;
          const parts = batch.map((b) => {
            const e = entry(at, b.kind, b.payload);
            at += e.length;
            return e;
          });
          const bytes = concatBytes(...parts);
          await this.fh.write(bytes, 0, bytes.length, null);
          await this.fh.sync();
          this.logBytes += bytes.length;
          // The live set changes here, in the writer, before a compaction can snapshot it: a removal
          // applied later would let a compaction in between write the removed records back.
          for (const b of batch) b.durable?.();
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
    const size = HEADER + bytes.length;
    this.liveBytes += size;
    try {
      await this.write(RECORD, bytes);
    } catch (err) {
      this.live.delete(id);
      this.liveBytes -= size;
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
    const per = MAX_REMOVAL_BYTES / 32;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < gone.length; i += per) {
      const part = gone.slice(i, i + per);
      const durable = () => {
        for (const id of part) {
          const e = this.live.delete(id);
          if (e) this.liveBytes -= HEADER + e.bytes.length;
        }
      };
      writes.push(this.write(REMOVAL, concatBytes(...part), durable));
    }
    await Promise.all(writes);
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

  /** Rewrites the log with only live records, atomically (see `files.ts`). */
  private async rewrite(): Promise<void> {
    let at = 0;
    const parts = [...this.live.values()].map((e) => {
      const b = entry(at, RECORD, e.bytes);
      at += b.length;
      return b;
    });
    const bytes = concatBytes(...parts);
    await writeFileAtomic(this.path, bytes);
    await this.fh.close();
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

/** A log's entries and bad regions, in this format or the earlier one. */
function read(data: Uint8Array): Scan {
  // The earlier format has no marker: its first byte is a kind. Taken only if its first entry verifies,
  // so a damaged first byte of this format never sends a whole log down the wrong reader.
  const first = data[0];
  if (first === RECORD || first === REMOVAL) {
    const legacy = scanLegacy(data);
    if (legacy) return legacy;
  }
  return scan(data);
}

/** Applies an entry to a live set: adds a record, or removes ids. */
function apply(live: LiveSet, e: { kind: number; payload: Uint8Array }): void {
  if (e.kind === RECORD) live.add({ id: recordId(e.payload), bytes: e.payload });
  else for (let i = 0; i + 32 <= e.payload.length; i += 32) live.delete(e.payload.subarray(i, i + 32));
}
