/**
 * @module crypto/verify-worker
 * The entry of one verifier thread (see workers.ts): Ed25519 verification and hash-chain checks on
 * batches that arrive as one transferred buffer. Node only; loaded by `new Worker`, never imported. It
 * imports only Node builtins, so it runs alike from the sources and from either build.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

/** A verify batch: keys (32 each), then signatures (64 each), then messages; their end offsets at `endsAt`, then a validity byte each. */
export interface VerifyRequest {
  id: number;
  kind: 'verify';
  buf: ArrayBuffer;
  n: number;
  msgAt: number;
  endsAt: number;
}
/** A hash batch: per item the known word (32), the word (32) and the steps (u32, big-endian). */
export interface HashRequest {
  id: number;
  kind: 'hash';
  buf: ArrayBuffer;
  n: number;
}
/** One byte per item, 1 for valid; or the reason the batch failed. */
export type Answer = { id: number; out: Uint8Array } | { id: number; error: string };

/** Public keys seen, imported once each (bounded: a ledger meets a new payer key in nearly every record). */
const keys = new Map<string, KeyObject | null>();
const MAX_KEYS = 100_000;

function key(buf: ArrayBuffer, at: number): KeyObject | null {
  const k = Buffer.from(buf, at, 32).toString('latin1');
  let o = keys.get(k);
  if (o === undefined) {
    // JWK, not DER: OpenSSL 3's DER decoder is far slower, and a fresh key per payer is the common case.
    try {
      o = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(buf, at, 32).toString('base64url') }, format: 'jwk' });
    } catch {
      o = null;
    }
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(k, o);
  }
  return o;
}

export function verifyBatch({ buf, n, msgAt, endsAt }: VerifyRequest): Uint8Array {
  const out = new Uint8Array(n);
  const ends = new Uint32Array(buf, endsAt, n);
  const valid = new Uint8Array(buf, endsAt + 4 * n, n);
  let start = msgAt;
  for (let i = 0; i < n; i++) {
    const end = ends[i] as number;
    const k = valid[i] === 1 ? key(buf, 32 * i) : null;
    try {
      out[i] = k !== null && verify(null, new Uint8Array(buf, start, end - start), k, new Uint8Array(buf, 32 * n + 64 * i, 64)) ? 1 : 0;
    } catch {
      out[i] = 0;
    }
    start = end;
  }
  return out;
}

export function hashBatch({ buf, n }: HashRequest): Uint8Array {
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

if (parentPort) {
  const port = parentPort;
  const nice = (workerData as { nice?: number } | undefined)?.nice ?? 0;
  // On Linux a thread's niceness is its own: this lowers this thread only (a thread may always lower it).
  if (nice > 0 && process.platform === 'linux')
    try {
      setPriority(nice);
    } catch {}
  port.on('message', (m: VerifyRequest | HashRequest) => {
    let answer: Answer;
    try {
      answer = { id: m.id, out: m.kind === 'hash' ? hashBatch(m) : verifyBatch(m) };
    } catch (e) {
      answer = { id: m.id, error: String(e) };
    }
    port.postMessage(answer, 'out' in answer ? [answer.out.buffer as ArrayBuffer] : []);
  });
}
