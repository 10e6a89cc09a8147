/**
 * kill -9 the ledger during sync, many times. Afterwards: postings sum to zero, every channel has applied
 * exactly its newest voucher, each party's balance is what its devices' newest vouchers say, no record
 * posted twice, and every record queued has left the outbox on a receipt.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { openPglite } from '../../src/ledger/db.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { deliver, pair } from '../channel/world.js';
import { type ClosableDb, freshSchema, havePostgres, postgresDb } from '../ledger/dbs.js';
import { device, holdPort, ledgerSeed } from './world.js';

function startChild(port: number, spec: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/sync/ledger-child.ts', String(port), spec], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`ledger child exited (${code}) before it was ready`)));
  });
}

const kill = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    c.once('exit', () => r());
    c.kill('SIGKILL');
  });

export function ledgerCrashSuite(name: string, kills: number, makeDb: () => { spec: string; open: () => Promise<ClosableDb> }): void {
  // A budget, not a speed target: each kill starts a fresh process (tsx, and PGlite's WASM), which a loaded
  // machine makes slow; 240 s for 50 kills ran out once with two other busy processes beside CI.
  const budget = Math.max(240_000, kills * 10_000);
  it(`${name}: kill -9 the ledger ${kills} times during sync; nothing lost, nothing applied twice`, { timeout: budget }, async () => {
    const { spec, open } = makeDb();
    const p = await pair();
    // Fund the payer's party before any ledger process starts (PGlite is one process's at a time).
    const trust = new TrustStore(p.roots);
    const key = await nodeEd25519.signer(ledgerSeed);
    const ledgerOn = async (db: ClosableDb) => Ledger.open({ db, signer: key, id: 'ledger:test', trust, now: () => p.clock.now });
    const setup = await open();
    await (await ledgerOn(setup)).fund('party:fleet', 'EUR', 1_000_000n);
    await setup.close({ keep: true });
    // Eight channels, twenty payments each; after every payment both sides queue their copy.
    const { port, url, release } = await holdPort();
    const drone = await device(p.droneDevice, url, { maxCount: 7, backoff: { initialMs: 10, maxMs: 100 } });
    const pad = await device(p.padDevice, url, { maxCount: 5, backoff: { initialMs: 10, maxMs: 100 } });
    const newest = new Map<string, bigint>();
    const queued = new Set<string>(); // both sides' copies are the same bytes when no ticks follow the voucher
    for (let c = 0; c < 8; c++) {
      const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n });
      await deliver(p, frame);
      for (let i = 1; i <= 20; i++) {
        await deliver(p, await p.payer.pay(channelId, BigInt(10 + c)));
        for (const [d, r] of [
          [drone, p.payer.channel(channelId)!],
          [pad, p.payee.channel(channelId)!],
        ] as const)
          queued.add(toHex(await d.outbox.append(encodeSettlement(r))));
      }
      newest.set(Buffer.from(channelId).toString('hex'), BigInt(20 * (10 + c)));
    }
    let child: ChildProcess | undefined;
    let db: ClosableDb | undefined;
    try {
      drone.sync.start();
      pad.sync.start();
      let killedMidBatch = 0;
      for (let k = 0; k < kills; k++) {
        await release();
        child = await startChild(port, spec);
        const before = (await drone.outbox.size()) + (await pad.outbox.size());
        await new Promise((r) => setTimeout(r, 40 + ((k * 53) % 200)));
        await kill(child);
        if ((await drone.outbox.size()) + (await pad.outbox.size()) > 0) killedMidBatch++;
        if (before === 0) break;
      }
      child = await startChild(port, spec);
      // The outboxes drain (each sync nudged, as a device would be when the network comes back).
      await vi.waitFor(
        async () => {
          drone.sync.notify();
          pad.sync.notify();
          expect((await drone.outbox.size()) + (await pad.outbox.size()), 'records left in the outboxes').toBe(0);
        },
        { timeout: 60_000, interval: 50 },
      );
      expect(killedMidBatch).toBeGreaterThan(0);
      expect((await drone.receipts.size()) + (await pad.receipts.size())).toBeGreaterThanOrEqual(1);
      // The books, read straight from the database once the last ledger process is gone.
      await kill(child);
      db = await open();
      const ledger = await ledgerOn(db);
      expect(await ledger.total()).toBe(0n);
      const total = [...newest.values()].reduce((a, b) => a + b, 0n);
      expect(await ledger.balance('party:pads', 'EUR')).toBe(total);
      expect(await ledger.balance('party:fleet', 'EUR')).toBe(1_000_000n - total);
      const channels = await db.query<{ id: string; applied: string }>('select id, applied::text as applied from channels');
      expect(Object.fromEntries(channels.map((c) => [c.id, BigInt(c.applied)]))).toEqual(Object.fromEntries(newest));
      const twice = await db.query('select record_id from postings where channel_id is not null group by record_id having count(*) > 1');
      expect(twice).toEqual([]);
      const receipts = await db.query<{ n: string }>('select count(*)::text as n from receipts');
      expect(Number(receipts[0]?.n)).toBe(queued.size);
    } finally {
      await release();
      if (child) await kill(child);
      await drone.close();
      await pad.close();
      await db?.close();
    }
  });
}

/** Both databases: PostgreSQL (a schema per run) and PGlite on disk. */
export function ledgerCrashSuites(kills: number): void {
  describe.skipIf(!havePostgres)('ledger kill -9 on PostgreSQL', () =>
    ledgerCrashSuite('PostgreSQL', kills, () => {
      const schema = freshSchema();
      return {
        spec: `pg:${schema}`,
        open: () => postgresDb(schema),
      };
    }),
  );

  describe('ledger kill -9 on PGlite (embedded, on disk)', () =>
    ledgerCrashSuite('PGlite', kills, () => {
      const dir = mkdtempSync(join(tmpdir(), 'edgepay-pglite-'));
      return {
        spec: `pglite:${dir}`,
        open: async () => {
          const db = await openPglite(dir);
          const c: ClosableDb = {
            ...db,
            close: async (o) => {
              await db.close();
              if (!o?.keep) rmSync(dir, { recursive: true, force: true });
            },
          };
          return c;
        },
      };
    }));
}
