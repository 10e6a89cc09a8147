import { readdirSync, readFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { nodeEs256 } from '../../src/crypto/es256-node.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { inlineVerifier, workerVerifier } from '../../src/crypto/workers.js';

// A thread's niceness, field 19 of its /proc stat line (the 17th after the command name).
const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
/** Each thread of this process (other test files' threads too) by id, with its niceness. */
const threads = () =>
  new Map(
    readdirSync('/proc/self/task').map((t) => {
      try {
        return [t, niceOf(readFileSync(`/proc/self/task/${t}/stat`, 'utf8'))] as const;
      } catch {
        return [t, Number.NaN] as const; // a thread that ended meanwhile
      }
    }),
  );

describe('workerVerifier', () => {
  it.runIf(process.platform === 'linux')('runs its threads below the caller on Linux, and only them', async () => {
    const mine = () => niceOf(readFileSync('/proc/thread-self/stat', 'utf8'));
    const me = mine();
    const s = await nodeEd25519.signer(new Uint8Array(32).fill(3));
    const message = new Uint8Array([1, 2, 3]);
    const items = Array.from({ length: 32 }, () => ({ publicKey: s.publicKey, message, signature: new Uint8Array(64) as Uint8Array }));
    items[0]!.signature = await s.sign(message);
    for (const [nice, expected] of [
      [10, 2],
      [0, 0],
    ] as const) {
      const before = threads();
      const pool = workerVerifier({ threads: 2, nice });
      try {
        const got = await pool.verifyMany(items); // both threads have started and answered
        expect(got.filter(Boolean).length).toBe(1);
        // The threads that appeared with the pool (V8 may start helpers of its own: those stay at our level).
        const fresh = [...threads()].filter(([t]) => !before.has(t)).map(([, n]) => n);
        expect(fresh.filter((n) => n === me + 10).length).toBe(expected);
        expect(mine()).toBe(me);
      } finally {
        await pool.close();
      }
    }
  });

  it('a thread that dies fails only its own batches; it is replaced and the pool goes on', async () => {
    const s = await nodeEd25519.signer(new Uint8Array(32).fill(4));
    const message = new Uint8Array([9, 9]);
    const signature = await s.sign(message);
    const items = Array.from({ length: 64 }, () => ({ publicKey: s.publicKey, message, signature }));
    const started: Worker[] = [];
    const pool = workerVerifier({ threads: 2, nice: 0, onWorker: (w) => started.push(w) });
    try {
      expect((await pool.verifyMany(items)).every(Boolean)).toBe(true);
      // Many batches in flight; one thread is stopped under them.
      const batches = Array.from({ length: 40 }, () => pool.verifyMany(items));
      await started[0]?.terminate();
      const outcomes = await Promise.allSettled(batches);
      const failed = outcomes.filter((o) => o.status === 'rejected');
      for (const f of failed) expect((f as PromiseRejectedResult).reason).toMatchObject({ code: 'CRYPTO_WORKERS' });
      // Batches split over both threads: only those holding part of the dead thread's work fail.
      expect(outcomes.some((o) => o.status === 'fulfilled') || failed.length === outcomes.length).toBe(true);
      // A replacement started, and later batches (on both threads) all verify: nothing hangs.
      await vi.waitFor(() => expect(started.length).toBe(3));
      for (let i = 0; i < 5; i++) expect((await pool.verifyMany(items)).every(Boolean)).toBe(true);
      const hashed = await pool.hashChains([{ known: new Uint8Array(32), word: new Uint8Array(32), steps: 100 }]);
      expect(hashed).toEqual([false]);
    } finally {
      await pool.close();
    }
  });

  it('a pool whose threads cannot run fails batches with CRYPTO_WORKERS instead of hanging', async () => {
    const started: Worker[] = [];
    const pool = workerVerifier({ threads: 1, nice: 0, onWorker: (w) => started.push(w) });
    const items = Array.from({ length: 32 }, () => ({
      publicKey: new Uint8Array(32),
      message: new Uint8Array(1),
      signature: new Uint8Array(64),
    }));
    try {
      // Each thread stopped as soon as it starts: after a few restarts the slot stays down.
      for (let i = 0; i < 3; i++) {
        await vi.waitFor(() => expect(started.length).toBe(i + 1));
        await started[i]?.terminate();
      }
      await expect(pool.verifyMany(items)).rejects.toMatchObject({ code: 'CRYPTO_WORKERS' });
    } finally {
      await pool.close();
    }
  });

  it('a batch mixing Ed25519 and ES256 items gets each verdict in its place (ES256 checked beside the threads)', async () => {
    const ed = await nodeEd25519.signer(new Uint8Array(32).fill(5));
    const es = await nodeEs256.signer(new Uint8Array(32).fill(6));
    const message = new Uint8Array([7, 7, 7]);
    const items = await Promise.all(
      Array.from({ length: 48 }, async (_, i) => {
        const s = i % 3 === 0 ? es : ed;
        const signature = await s.sign(message);
        if (i % 5 === 0) signature[3] = (signature[3] as number) ^ 1; // every fifth is forged
        return { publicKey: s.publicKey, message, signature };
      }),
    );
    const pool = workerVerifier({ threads: 2, nice: 0 });
    try {
      const expected = items.map((_, i) => i % 5 !== 0);
      expect(await pool.verifyMany(items)).toEqual(expected);
      expect(await inlineVerifier.verifyMany(items)).toEqual(expected);
    } finally {
      await pool.close();
    }
  });
});
