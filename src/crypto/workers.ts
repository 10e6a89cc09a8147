/**
 * @module crypto/workers
 * Ed25519 verification spread over worker threads, so a ledger checks signatures on every core. Node only
 * (`worker_threads`): imported by the ledger, never by device code. The worker is plain JavaScript given
 * as source, so it runs the same from TypeScript sources, the ESM build and the CJS build.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { equalBytes } from '@noble/curves/utils.js';
import { sha256 } from './hash.js';
import { nodeEd25519 } from './node.js';

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
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, createPublicKey, verify } = require('node:crypto');
// On Linux a thread's niceness is its own: this lowers this thread only (a thread may always lower it).
if (workerData.nice > 0 && process.platform === 'linux') try { require('node:os').setPriority(workerData.nice); } catch {}
const keys = new Map();
function key(buf, at) {
  const k = Buffer.from(buf, at, 32).toString('latin1');
  let o = keys.get(k);
  if (o === undefined) {
    // JWK, not DER: OpenSSL 3's DER decoder costs about 10x more (a fresh key per payer is the common case).
    try { o = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(buf, at, 32).toString('base64url') }, format: 'jwk' }); } catch { o = null; }
    if (keys.size >= 100000) keys.clear();
    keys.set(k, o);
  }
  return o;
}
// A hash batch: per item the known word (32), the word (32) and the steps (u32, big-endian).
function hashes(buf, n) {
  const out = new Uint8Array(n);
  const view = new DataView(buf);
  for (let i = 0; i < n; i++) {
    const at = 68 * i;
    let w = Buffer.from(buf, at + 32, 32);
    for (let s = view.getUint32(at + 64); s > 0; s--) w = createHash('sha256').update(w).digest();
    out[i] = w.equals(Buffer.from(buf, at, 32)) ? 1 : 0;
  }
  return out;
}
parentPort.on('message', ({ id, kind, buf, n, msgAt, endsAt }) => {
  if (kind === 'hash') {
    const out = hashes(buf, n);
    return parentPort.postMessage({ id, out }, [out.buffer]);
  }
  const out = new Uint8Array(n);
  const ends = new Uint32Array(buf, endsAt, n);
  const valid = new Uint8Array(buf, endsAt + 4 * n, n);
  let start = msgAt;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    const k = valid[i] === 1 ? key(buf, 32 * i) : null;
    try { out[i] = k !== null && verify(null, new Uint8Array(buf, start, end - start), k, new Uint8Array(buf, 32 * n + 64 * i, 64)) ? 1 : 0; } catch { out[i] = 0; }
    start = end;
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

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
    for (const i of items) out.push(await nodeEd25519.verify(i.signature, i.message, i.publicKey).catch(() => false));
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

/**
 * A pool of `threads` workers (default: one per core). A batch is split evenly across them; batches
 * under `minBatch` items are verified inline, where a thread round trip would cost more.
 *
 * On Linux the workers run `nice` steps (default 10) below the calling thread. A ledger applies batches
 * one at a time (a serial chain between its main thread and the database), while the workers verify the
 * batches behind it: at equal priority the workers slowed that chain down and batches queued behind it
 * with cores idle (7-12% of the machine, 2 cores); below it, the workers take what the chain leaves
 * (idle 4-5%, about 9% more records a second). 0 keeps them at the caller's priority.
 */
export function workerVerifier(o: { threads?: number; minBatch?: number; nice?: number } = {}): BatchVerifier {
  const n = Math.max(1, o.threads ?? availableParallelism());
  const minBatch = o.minBatch ?? 16;
  const nice = o.nice ?? 10;
  const workers: Worker[] = [];
  const pending = new Map<number, { resolve: (out: Uint8Array) => void; reject: (e: unknown) => void }>();
  let next = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(WORKER, { eval: true, workerData: { nice } });
    w.unref();
    w.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
      pending.get(id)?.resolve(out);
      pending.delete(id);
    });
    // A worker that dies fails every batch in flight (the caller retries; nothing is half-verified).
    w.on('error', (e) => {
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    });
    workers.push(w);
  }
  const post = (w: Worker, message: { buf: ArrayBuffer; [k: string]: unknown }) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      w.postMessage({ id, ...message }, [message.buf]);
    });
  const run = (w: Worker, items: readonly VerifyItem[]) => post(w, pack(items));
  let rr = 0;
  return {
    async verifyMany(items) {
      if (items.length < minBatch) return inlineVerifier.verifyMany(items);
      const size = Math.ceil(items.length / n);
      const parts: Promise<Uint8Array>[] = [];
      for (let i = 0; i < items.length; i += size) parts.push(run(workers[rr++ % n] as Worker, items.slice(i, i + size)));
      const out: boolean[] = [];
      for (const part of await Promise.all(parts)) for (const b of part) out.push(b === 1);
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
      const done = await Promise.all(
        far.map((i) => post(workers[rr++ % n] as Worker, { kind: 'hash', buf: packHashes([items[i] as HashItem]), n: 1 })),
      );
      far.forEach((i, k) => {
        out[i] = (done[k] as Uint8Array)[0] === 1;
      });
      return out;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
