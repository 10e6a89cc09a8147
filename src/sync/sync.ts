/**
 * @module sync/sync
 * Moves settlement records from a device's outbox to a ledger when connectivity allows. Batches are
 * bounded by count and bytes and signed by the device. A record leaves the outbox only after a valid
 * ledger-signed receipt for it, and that receipt is kept first (the device's audit trail). Everything is
 * idempotent: a record's id is its hash and the ledger answers a repeat with the receipt it gave before,
 * so a crash or a lost answer mid-batch only means the batch is sent again.
 *
 * A record refused for good never holds up the ones behind it: one the ledger rejects (its receipt says
 * so) goes, with that receipt, to the dead-letter log; a batch the ledger refuses as a whole is split
 * until the record at fault is found alone, and that one goes there too (a refusal of the submitter
 * itself, its credential say, is not any record's fault: the batch waits).
 */
import { equalBytes, toHex } from '../bytes.js';
import { EdgepayError } from '../errors.js';
import { Emitter } from '../events.js';
import type { Device } from '../identity/device.js';
import type { Outbox, OutboxEntry } from '../outbox/outbox.js';
import { type Receipt, verifyReceipts } from '../settlement/receipt.js';
import { type LedgerClient, SyncFailure } from './client.js';
import { encodeDeadLetter } from './dead-letter.js';
import { signSubmission } from './submission.js';

/** Online/offline signals (browsers have them; elsewhere the ledger probe decides). */
export interface Connectivity {
  online(): boolean;
  /** Calls `cb` on every change; returns an unsubscribe function. */
  subscribe(cb: (online: boolean) => void): () => void;
}

/** The browser's `online`/`offline` events, or undefined where there are none (Node). */
export function browserConnectivity(): Connectivity | undefined {
  const g = globalThis as unknown as {
    navigator?: { onLine?: boolean };
    addEventListener?: (t: string, f: () => void) => void;
    removeEventListener?: (t: string, f: () => void) => void;
  };
  if (typeof g.addEventListener !== 'function' || typeof g.navigator?.onLine !== 'boolean') return undefined;
  return {
    online: () => g.navigator?.onLine !== false,
    subscribe(cb) {
      const on = () => cb(true);
      const off = () => cb(false);
      g.addEventListener?.('online', on);
      g.addEventListener?.('offline', off);
      return () => {
        g.removeEventListener?.('online', on);
        g.removeEventListener?.('offline', off);
      };
    },
  };
}

/** Sync's device, outbox, ledger client and key, and optional receipt and dead-letter logs. */
export interface SyncOptions {
  outbox: Outbox;
  client: LedgerClient;
  /** The device that signs each submission (the ledger takes no anonymous ones): `openDevice(...)`. */
  device: Device;
  /** The ledger's public key: receipts must verify under it. */
  ledgerKey: Uint8Array;
  /** Where receipts are kept (any Outbox: a FileOutbox on Node, an IdbOutbox in browsers). */
  receipts?: Pick<Outbox, 'append'>;
  /**
   * Where records refused for good are kept, with why (see sync/dead-letter). Without one, a rejected
   * record's receipt is its only trace, and a record whose submission the ledger refuses stays in the
   * outbox, passed over until the process restarts.
   */
  deadLetters?: Pick<Outbox, 'append'>;
  /** Batch bounds (default 200 records, 256 KiB). */
  maxCount?: number;
  maxBytes?: number;
  /** Retry delays: exponential from `initialMs` to `maxMs`, with full jitter (default 500 ms, 60 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** How often a running sync looks for records when nothing wakes it (default 30 s). */
  pollMs?: number;
  connectivity?: Connectivity;
  random?: () => number;
  now?: () => number;
}

/**
 * What Sync reports per record (acknowledged, rejected, dead) and per attempt (failures while the ledger is
 * away).
 */
export interface SyncEvents {
  queued: (e: { recordId: Uint8Array }) => void;
  sent: (e: { records: number; bytes: number }) => void;
  acknowledged: (e: { recordId: Uint8Array; receipt: Receipt }) => void;
  rejected: (e: { recordId: Uint8Array; code: string; receipt: Receipt }) => void;
  /** A record refused for good left the outbox for the dead-letter log (`kept`), or is passed over (no log). */
  dead: (e: { recordId: Uint8Array; code: string; kept: boolean }) => void;
  failed: (e: { error: EdgepayError; retryable: boolean; retryInMs: number }) => void;
  online: () => void;
  offline: () => void;
  idle: () => void;
}

/** What one sync pass did: how many records were acknowledged and how many rejected. */
export interface SyncResult {
  batches: number;
  acknowledged: number;
  rejected: number;
}

/**
 * Moves a device's outbox to the ledger: signed batches, backoff with jitter, and a record removed only on a
 * receipt that verifies under the ledger's key.
 */
export class Sync extends Emitter<SyncEvents> {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;
  private offline = false;
  private unsubscribe: (() => void) | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private draining: Promise<SyncResult> | undefined;
  /** Records refused for good with no dead-letter log to take them: passed over (hex ids). */
  private readonly passedOver = new Set<string>();

  constructor(private readonly o: SyncOptions) {
    super();
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.random = o.random ?? Math.random;
  }

  /**
   * Puts a record in the outbox (durable when this resolves) and wakes the sync. A Sync is a queue for
   * `settlements(sync)`: a payer's or payee's closes then wake it at once.
   */
  append(record: Uint8Array): Promise<Uint8Array> {
    return this.queue(record);
  }

  /** Puts a record in the outbox (durable when this resolves) and wakes the sync: a relay's path for others' records. */
  async queue(record: Uint8Array): Promise<Uint8Array> {
    const recordId = await this.o.outbox.append(record);
    this.emit('queued', { recordId });
    this.wake?.();
    return recordId;
  }

  /**
   * Sends everything pending now, batch after batch, until the outbox is empty.
   * @throws SyncFailure (`retryable` says whether a later try may succeed); records stay queued.
   */
  syncNow(): Promise<SyncResult> {
    // One drain at a time: a second caller waits for the same one.
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drain(): Promise<SyncResult> {
    const result: SyncResult = { batches: 0, acknowledged: 0, rejected: 0 };
    for (;;) {
      const max = this.o.maxCount ?? 200;
      let batch = await this.o.outbox.pending({ maxCount: max + this.passedOver.size, maxBytes: this.o.maxBytes ?? 256 * 1024 });
      if (this.passedOver.size > 0) batch = batch.filter((e) => !this.passedOver.has(toHex(e.id))).slice(0, max);
      if (batch.length === 0) return result;
      await this.send(batch, result);
    }
  }

  /** Sends one batch; a batch refused as a whole is split until the record at fault is alone. */
  private async send(batch: OutboxEntry[], result: SyncResult): Promise<void> {
    const submission = await signSubmission(
      this.o.device.signer,
      this.o.device.chain,
      batch.map((e) => e.bytes),
      this.now(),
    );
    this.emit('sent', { records: batch.length, bytes: submission.length });
    let answers: Uint8Array[];
    try {
      answers = await this.o.client.submit(submission);
    } catch (e) {
      const code = refusalCode(e);
      if (code === undefined) throw e;
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.send(batch.slice(0, half), result);
        await this.send(batch.slice(half), result);
        return;
      }
      const only = batch[0] as OutboxEntry;
      await this.bury(only, code, undefined, (e as Error).message);
      return;
    }
    if (answers.length !== batch.length)
      throw new SyncFailure('SYNC_ANSWER', `${answers.length} receipts for ${batch.length} records`, 'receipts', true);
    const receipts: Receipt[] = [];
    const verified = await verifyReceipts(answers, this.o.ledgerKey);
    for (let i = 0; i < batch.length; i++) {
      const r = verified[i] as Receipt | EdgepayError;
      if (r instanceof EdgepayError)
        throw new SyncFailure('SYNC_RECEIPT', 'a receipt does not verify under the ledger key', `receipts[${i}]`, true, { cause: r });
      if (!equalBytes(r.recordId, (batch[i] as { id: Uint8Array }).id))
        throw new SyncFailure('SYNC_RECEIPT', 'a receipt names another record', `receipts[${i}]`, true);
      receipts.push(r);
    }
    // Keep the receipts (and what was refused, with its receipt) before letting the records go: a crash in
    // between only sends them again.
    if (this.o.receipts) for (const a of answers) await this.o.receipts.append(a);
    if (this.o.deadLetters)
      for (const [i, r] of receipts.entries())
        if (r.status === 'rejected')
          await this.o.deadLetters.append(
            encodeDeadLetter({
              record: (batch[i] as OutboxEntry).bytes,
              code: r.code ?? 'LEDGER_REJECTED',
              time: this.now(),
              receipt: answers[i],
            }),
          );
    await this.o.outbox.remove(batch.map((e) => e.id));
    result.batches++;
    for (const r of receipts) {
      if (r.status === 'rejected') {
        result.rejected++;
        this.emit('rejected', { recordId: r.recordId, code: r.code ?? 'LEDGER_REJECTED', receipt: r });
        if (this.o.deadLetters) this.emit('dead', { recordId: r.recordId, code: r.code ?? 'LEDGER_REJECTED', kept: true });
      } else {
        result.acknowledged++;
        this.emit('acknowledged', { recordId: r.recordId, receipt: r });
      }
    }
  }

  /** A record refused for good, alone: to the dead-letter log and out of the outbox, or else passed over. */
  private async bury(e: OutboxEntry, code: string, receipt: Uint8Array | undefined, message: string): Promise<void> {
    if (this.o.deadLetters) {
      await this.o.deadLetters.append(encodeDeadLetter({ record: e.bytes, code, time: this.now(), receipt, message }));
      await this.o.outbox.remove([e.id]);
    } else this.passedOver.add(toHex(e.id));
    this.emit('dead', { recordId: e.id, code, kept: this.o.deadLetters !== undefined });
  }

  /** Runs in the background: syncs when records wait and the ledger is reachable, backing off on failure. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.o.connectivity?.subscribe((up) => {
      this.setOffline(!up);
      if (up) {
        this.failures = 0;
        this.wake?.();
      }
    });
    this.loop = this.run();
  }

  /** Stops the background loop (an in-flight batch completes or fails first). */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
    await this.draining?.catch(() => {});
  }

  /** Wakes a running sync now (new records, or a hint that the network is back). */
  notify(): void {
    this.wake?.();
  }

  private setOffline(off: boolean): void {
    if (off === this.offline) return;
    this.offline = off;
    this.emit(off ? 'offline' : 'online');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.o.connectivity && !this.o.connectivity.online()) {
        this.setOffline(true);
        await this.sleep(this.o.pollMs ?? 30_000);
        continue;
      }
      // After a network failure, a cheap probe decides before a batch is signed and sent again.
      if (this.offline && !(await this.o.client.probe())) {
        await this.backoff(new SyncFailure('SYNC_OFFLINE', 'the ledger does not answer', 'network', true));
        continue;
      }
      try {
        const done = await this.syncNow();
        this.failures = 0;
        this.setOffline(false);
        const left = await this.o.outbox.size();
        if (left === 0) this.emit('idle');
        // Nothing sent while records wait (all passed over): wait to be woken, never spin on them.
        if (this.running && (left === 0 || done.batches === 0)) await this.sleep(this.o.pollMs ?? 30_000);
      } catch (e) {
        // Whatever went wrong (a store, a custom client), the loop stays up and tries again later.
        const err =
          e instanceof EdgepayError ? e : new SyncFailure('SYNC_FAILED', (e as Error)?.message ?? String(e), undefined, true, { cause: e });
        if (err.code === 'SYNC_OFFLINE') this.setOffline(true);
        await this.backoff(err);
      }
    }
  }

  private async backoff(error: EdgepayError): Promise<void> {
    const b = this.o.backoff ?? {};
    const retryable = error instanceof SyncFailure ? error.retryable : false;
    const cap = Math.min(b.maxMs ?? 60_000, (b.initialMs ?? 500) * 2 ** Math.min(this.failures, 20));
    // A refusal will not fix itself soon: wait the longest. Otherwise full jitter spreads a fleet's retries.
    const delay = retryable ? Math.round(cap * this.random()) : (b.maxMs ?? 60_000);
    this.failures++;
    this.emit('failed', { error, retryable, retryInMs: delay });
    if (this.running) await this.sleep(delay);
  }

  /** How many records wait. */
  pending(): Promise<number> {
    return this.o.outbox.size();
  }
}

/**
 * The ledger's code when it refused a submission for good over what it holds, not over who sent it or
 * the ledger's state (those pass, or fail the whole batch): undefined for any other failure.
 */
function refusalCode(e: unknown): string | undefined {
  if (!(e instanceof SyncFailure) || e.retryable || e.code !== 'SYNC_REFUSED') return undefined;
  const code = e.cause instanceof EdgepayError ? e.cause.code : e.code;
  return SUBMITTER_REFUSALS.has(code) ? undefined : code;
}

/** Refusals of the submitter or the request, never of a record in it. */
const SUBMITTER_REFUSALS = new Set([
  'LEDGER_UNAUTHORIZED',
  'LEDGER_STALE',
  'LEDGER_MEDIA_TYPE',
  'LEDGER_NOT_FOUND',
  'LEDGER_METHOD',
  'LEDGER_CONFIG',
  'SYNC_REFUSED',
]);
