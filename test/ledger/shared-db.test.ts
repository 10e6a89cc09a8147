/**
 * Two ledger processes on one PostgreSQL database (as `bench seed1` runs three): a client that fails over
 * sends the same batch to both. The apply lock orders them; storing the second's receipts conflicts with
 * the first's, so the second applies the batch again, finds them, and returns them as repeats.
 */
import { describe, expect, it } from 'vitest';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { type BatchVerifier, inlineVerifier } from '../../src/crypto/workers.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { paidRecords, pair } from '../channel/world.js';
import { freshSchema, havePostgres, postgresDb } from './dbs.js';

describe.skipIf(!havePostgres)('two ledger processes on PostgreSQL at 127.0.0.1:5432', () => {
  it('a batch one applied while the other was verifying it comes back from the other as repeats: money moves once', async () => {
    const schema = freshSchema();
    const dbA = await postgresDb(schema);
    const dbB = await postgresDb(schema);
    try {
      const p = await pair();
      const key = await nodeEd25519.signer(new Uint8Array(32).fill(77));
      const open = (db: typeof dbA, verifier?: BatchVerifier) =>
        Ledger.open({
          db,
          signer: key,
          id: 'ledger:test',
          trust: new TrustStore(p.roots),
          now: () => p.clock.now,
          ...(verifier ? { verifier } : {}),
        });
      // B checks the batch (nothing stored yet), then waits in its signature checks until A has applied it.
      let entered!: () => void;
      const inVerify = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const aDone = new Promise<void>((r) => (release = r));
      const held: BatchVerifier = {
        async verifyMany(items) {
          entered();
          await aDone;
          return inlineVerifier.verifyMany(items);
        },
        hashChains: inlineVerifier.hashChains,
        close: async () => {},
      };
      const a = await open(dbA);
      const b = await open(dbB, held);
      await a.fund('party:fleet', 'EUR', 10_000n);
      const records = await paidRecords(p, [100n, 101n, 102n, 103n]);
      const fromB = b.submit(records);
      await inVerify;
      const fromA = await a.submit(records);
      release();
      const again = await fromB;
      expect(fromA.map((r) => [r.status, r.posted, r.repeated])).toEqual([100n, 101n, 102n, 103n].map((n) => ['accepted', n, false]));
      expect(again.map((r) => [r.status, r.posted, r.repeated])).toEqual([100n, 101n, 102n, 103n].map((n) => ['accepted', n, true]));
      expect(again.map((r) => r.receipt)).toEqual(fromA.map((r) => r.receipt));
      expect(await a.balance('party:fleet', 'EUR')).toBe(10_000n - 406n);
      expect(await b.balance('party:pads', 'EUR')).toBe(406n);
      expect(await b.total()).toBe(0n);
      const [n] = await dbA.query<{ n: string }>('select count(*)::text as n from postings where channel_id is not null');
      expect(n?.n).toBe('4');
    } finally {
      await dbB.close({ keep: true });
      await dbA.close();
    }
  });
});
