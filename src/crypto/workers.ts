/**
 * @module crypto/workers
 * Ed25519 verification spread over worker threads, so a ledger checks signatures on every core. Node only
 * (`worker_threads`): imported by the ledger, never by device code. Each thread runs `verify-worker.ts`;
 * the build places it beside its caller (rollup.config.mjs), and from the sources it runs through tsx.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { equalBytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { ES256_PUBLIC_KEY_LENGTH } from './es256.js';
import { nodeEs256 } from './es256-node.js';
import { sha256 } from './hash.js';
import { nodeEd25519 } from './node.js';
import type { Answer, HashRequest, VerifyRequest } from './verify-worker.js';

export interface VerifyItem {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** A hash-chain step to check: `word` hashed `steps` times (SHA-256) must give `known`. */
export interface HashItem {
  known: Uint8Array;
  word: Uint8Array;
  steps: number;
}

/** Verifies many signatures, and hash chains; one boolean per item, in order. */
export interface BatchVerifier {
  verifyMany(items: readonly VerifyItem[]): Promise<boolean[]>;
  /** Checks hash chains (PayWord ticks): long runs of hashing belong here, not on the caller's thread. */
  hashChains(items: readonly HashItem[]): Promise<boolean[]>;
  close(): Promise<void>;
}

/** Hash steps done between yields when hashing on the caller's thread (a small share of a millisecond each). */
const HASH_SLICE = 2_000;

/** Whether `item.word` hashed `item.steps` times gives `item.known`, a slice at a time, letting I/O in between. */
async function hashOne(item: HashItem): Promise<boolean> {
  if (!Number.isSafeInteger(item.steps) || item.steps < 1 || item.word.length !== 32) return false;
  let w = item.word;
  for (let done = 0; done < item.steps; ) {
    if (done > 0) await new Promise<void>((r) => setImmediate(r));
    const end = Math.min(item.steps, done + HASH_SLICE);
    for (; done < end; done++) w = sha256(w);
  }
  return equalBytes(w, item.known);
}

// A batch travels as one transferred buffer (keys, then signatures, then messages, then the messages'
// end offsets), not as thousands of small arrays to clone one by one on both sides.
/** One batch in one buffer, as the worker reads it; an item with a wrong-sized key or signature is marked invalid. */
function pack(items: readonly VerifyItem[]): { buf: ArrayBuffer; n: number; msgAt: number; endsAt: number } {
  const n = items.length;
  let msgBytes = 0;
  for (const i of items) msgBytes += i.message.length;
  const msgAt = 96 * n;
  const endsAt = Math.ceil((msgAt + msgBytes) / 4) * 4;
  const buf = new ArrayBuffer(endsAt + 5 * n);
  const bytes = new Uint8Array(buf);
  const ends = new Uint32Array(buf, endsAt, n);
  const valid = new Uint8Array(buf, endsAt + 4 * n, n);
  let at = msgAt;
  items.forEach((it, i) => {
    if (it.publicKey.length === 32 && it.signature.length === 64) {
      bytes.set(it.publicKey, 32 * i);
      bytes.set(it.signature, 32 * n + 64 * i);
      valid[i] = 1;
    }
    bytes.set(it.message, at);
    at += it.message.length;
    ends[i] = at;
  });
  return { buf, n, msgAt, endsAt };
}

/** Verifies on the calling thread (small batches, or where threads cost more than they give). */
export const inlineVerifier: BatchVerifier = {
  async verifyMany(items) {
    const out: boolean[] = [];
    for (const i of items)
      out.push(
        await (i.publicKey.length === ES256_PUBLIC_KEY_LENGTH ? nodeEs256 : nodeEd25519)
          .verify(i.signature, i.message, i.publicKey)
          .catch(() => false),
      );
    return out;
  },
  async hashChains(items) {
    const out: boolean[] = [];
    for (const i of items) out.push(await hashOne(i));
    return out;
  },
  async close() {},
};

/** One hash batch in one buffer, as the worker reads it (items already checked to be well formed). */
function packHashes(items: readonly HashItem[]): ArrayBuffer {
  const buf = new ArrayBuffer(68 * items.length);
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  items.forEach((it, i) => {
    bytes.set(it.known, 68 * i);
    bytes.set(it.word, 68 * i + 32);
    view.setUint32(68 * i + 64, it.steps);
  });
  return buf;
}

/** Chains at most this long are hashed on the caller's thread: a round trip to a worker costs about as much. */
const INLINE_HASH_STEPS = 64;

/** The worker's module. The build rewrites this URL to the built worker beside the caller (rollup.config.mjs). */
const WORKER_URL = new URL('./verify-worker.ts', import.meta.url);

/** Starts one verifier thread: the built worker, or from the sources its TypeScript through tsx's loader. */
function startWorker(nice: number): Worker {
  const url = WORKER_URL.href;
  // The parent's flags, less one a worker given a file refuses (a parent run as `node --input-type=module -e`).
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  if (!url.endsWith('.ts')) return new Worker(WORKER_URL, { workerData: { nice }, execArgv });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData: { nice }, execArgv });
}

/** A thread dead this many times in a row without answering anything stays down (it cannot start). */
const MAX_RESTARTS = 3;

/** One thread of the pool: its worker, the batches it holds, and how often it died without answering. */
interface Slot {
  worker: Worker | undefined;
  pending: Map<number, { resolve: (out: Uint8Array) => void; reject: (e: unknown) => void }>;
  deaths: number;
}

/**
 * A pool of `threads` workers (default: one per core). A batch is split evenly across them; batches
 * under `minBatch` items are verified inline, where a thread round trip would cost more. Each thread keeps
 * its own batches: a thread that dies fails only those (the caller retries; nothing is half-verified) and
 * is replaced; one that keeps dying before it answers stays down, and with every thread down, batches fail
 * with CRYPTO_WORKERS instead of waiting.
 *
 * On Linux the workers run `nice` steps (default 10) below the calling thread. A ledger applies batches
 * one at a time (a serial chain between its main thread and the database), while the workers verify the
 * batches behind it: below the chain's priority the workers take what it leaves instead of slowing it
 * down. 0 keeps them at the caller's priority.
 */
export function workerVerifier(
  o: {
    threads?: number;
    minBatch?: number;
    nice?: number /** Called with each thread started (monitoring, tests). */;
    onWorker?: (w: Worker) => void;
  } = {},
): BatchVerifier {
  const n = Math.max(1, o.threads ?? availableParallelism());
  const minBatch = o.minBatch ?? 16;
  const nice = o.nice ?? 10;
  let closed = false;
  let next = 0; // batch ids
  let turn = 0; // whose turn it is
  const slots: Slot[] = Array.from({ length: n }, () => ({ worker: undefined, pending: new Map(), deaths: 0 }));
  const start = (slot: Slot) => {
    const w = startWorker(nice);
    slot.worker = w;
    w.unref();
    o.onWorker?.(w);
    w.on('message', (a: Answer) => {
      const p = slot.pending.get(a.id);
      slot.pending.delete(a.id);
      slot.deaths = 0;
      if ('out' in a) p?.resolve(a.out);
      else p?.reject(new CryptoError('CRYPTO_WORKERS', `a verifier thread failed a batch: ${a.error}`, 'verifier'));
    });
    const died = (why: unknown) => {
      if (slot.worker !== w) return; // already handled (an error is followed by an exit)
      slot.worker = undefined;
      const e = new CryptoError('CRYPTO_WORKERS', `a verifier thread stopped: ${String(why)}`, 'verifier');
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
      if (!closed && ++slot.deaths < MAX_RESTARTS) start(slot);
    };
    w.on('error', died);
    w.on('exit', (code) => died(`exit code ${code}`));
  };
  for (const slot of slots) start(slot);
  /** The next live thread, in turn. */
  const pick = (): Slot => {
    for (let k = 0; k < n; k++) {
      const slot = slots[turn++ % n] as Slot;
      if (slot.worker) return slot;
    }
    throw new CryptoError('CRYPTO_WORKERS', 'no verifier thread is running', 'verifier');
  };
  const post = (message: Omit<VerifyRequest, 'id'> | Omit<HashRequest, 'id'>) =>
    new Promise<Uint8Array>((resolve, reject) => {
      if (closed) return reject(new CryptoError('CRYPTO_WORKERS', 'the verifier pool is closed', 'verifier'));
      const slot = pick();
      const id = next++;
      slot.pending.set(id, { resolve, reject });
      (slot.worker as Worker).postMessage({ id, ...message }, [message.buf]);
    });
  /** Ed25519 items on the threads, in parts of about equal size. */
  const onThreads = async (items: readonly VerifyItem[]): Promise<boolean[]> => {
    if (items.length < minBatch) return inlineVerifier.verifyMany(items);
    const size = Math.ceil(items.length / n);
    const parts: Promise<Uint8Array>[] = [];
    for (let i = 0; i < items.length; i += size) parts.push(post({ kind: 'verify', ...pack(items.slice(i, i + size)) }));
    const out: boolean[] = [];
    for (const part of await Promise.all(parts)) for (const b of part) out.push(b === 1);
    return out;
  };
  const es256 = (i: VerifyItem) => i.publicKey.length === ES256_PUBLIC_KEY_LENGTH;
  return {
    async verifyMany(items) {
      // The threads take Ed25519 (fixed-size keys in their batch layout); ES256 items are checked here.
      if (!items.some(es256)) return onThreads(items);
      const edOk = await onThreads(items.filter((i) => !es256(i)));
      let at = 0;
      const out: boolean[] = [];
      for (const i of items)
        out.push(es256(i) ? await nodeEs256.verify(i.signature, i.message, i.publicKey).catch(() => false) : (edOk[at++] as boolean));
      return out;
    },
    async hashChains(items) {
      const out = new Array<boolean>(items.length).fill(false);
      const far: number[] = [];
      for (const [i, it] of items.entries()) {
        const ok =
          Number.isSafeInteger(it.steps) && it.steps >= 1 && it.steps <= 0xffff_ffff && it.word.length === 32 && it.known.length === 32;
        if (!ok) continue;
        if (it.steps <= INLINE_HASH_STEPS) out[i] = await hashOne(it);
        else far.push(i);
      }
      // Long runs go to the workers, one item per message: they spread over the threads.
      const done = await Promise.all(far.map((i) => post({ kind: 'hash', buf: packHashes([items[i] as HashItem]), n: 1 })));
      far.forEach((i, k) => {
        out[i] = (done[k] as Uint8Array)[0] === 1;
      });
      return out;
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker?.terminate()));
    },
  };
}
