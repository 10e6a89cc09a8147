import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { workerVerifier } from '../../src/crypto/workers.js';

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
});
