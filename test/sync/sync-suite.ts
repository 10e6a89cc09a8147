/** Device to ledger, end to end over HTTP, on any ledger database (PGlite and PostgreSQL run it). */
import { expect, it, vi } from 'vitest';
import type { Db } from '../../src/ledger/db.js';
import { HttpLedgerClient } from '../../src/sync/client.js';
import { signSubmission } from '../../src/sync/submission.js';
import { device, holdPort, pair, payOffline, startLedger } from './world.js';

export function syncSuite(openDb: () => Promise<Db>): void {
  it('offline, then online: records wait in the outbox, sync when the ledger appears, and leave only on receipts', async () => {
    const db = await openDb();
    const p = await pair();
    const { port, url, release } = await holdPort();
    const drone = await device(p.droneDevice, url);
    const pad = await device(p.padDevice, url);
    const events: string[] = [];
    let ledger: Awaited<ReturnType<typeof startLedger>> | undefined;
    try {
      for (const d of [drone, pad]) {
        d.sync.on('queued', () => events.push('queued'));
        d.sync.on('offline', () => events.push('offline'));
        d.sync.on('online', () => events.push('online'));
        d.sync.on('acknowledged', (e) => events.push(`ack:${e.receipt.posted}`));
        d.sync.on('failed', (e) => events.push(`failed:${e.error.code}`));
        d.sync.start();
      }
      // Three channels paid offline: both sides queue their copy.
      const channels = [];
      for (let c = 0; c < 3; c++) channels.push(await payOffline(p, 5, 20n, c < 2));
      for (const ch of channels) {
        await drone.sync.queue(ch.payer);
        await pad.sync.queue(ch.payee);
      }
      await until(() => events.includes('failed:SYNC_OFFLINE') && events.includes('offline'));
      expect(await drone.outbox.size()).toBe(3);
      expect(await pad.outbox.size()).toBe(3);

      await release();
      ledger = await startLedger(db, p, port, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {})); // connectivity returns
      for (const d of [drone, pad]) d.sync.notify();
      await until(async () => (await drone.outbox.size()) === 0 && (await pad.outbox.size()) === 0);
      expect(events).toContain('online');
      // Money moved once, whichever side's copy came first: 3 channels x 100.
      expect(await ledger.ledger.balance('party:fleet', 'EUR')).toBe(700n);
      expect(await ledger.ledger.balance('party:pads', 'EUR')).toBe(300n);
      expect(await ledger.ledger.total()).toBe(0n);
      expect(events.filter((e) => e.startsWith('ack:')).length).toBe(6);
      // Each device kept its receipts (its audit trail).
      expect(await drone.receipts.size()).toBe(3);
      expect(await pad.receipts.size()).toBe(3);
    } finally {
      await release();
      await drone.close();
      await pad.close();
      await ledger?.http.close();
      await db.close();
    }
  }, 60_000);

  it('the same batch three times and by both sides: money moves once; receipts repeat', async () => {
    const db = await openDb();
    const p = await pair();
    const w = await startLedger(db, p);
    try {
      await w.ledger.fund('party:fleet', 'EUR', 10_000n);
      const a = await payOffline(p, 10, 30n);
      const b = await payOffline(p, 4, 25n, true);
      const client = new HttpLedgerClient(w.http.url);
      const fromDrone = await signSubmission(p.drone, p.droneChain, [a.payer, b.payer], p.clock.now);
      const fromPad = await signSubmission(p.pad, p.padChain, [b.payee, a.payee], p.clock.now);
      const first = await client.submit(fromDrone);
      for (let i = 0; i < 3; i++) expect(await client.submit(fromDrone)).toEqual(first);
      for (let i = 0; i < 3; i++) await client.submit(fromPad);
      expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(10_000n - 400n);
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(400n);
      expect(await w.ledger.total()).toBe(0n);
      expect(w.service.metrics).toMatchObject({ submissions: 7, accepted: 2 });
    } finally {
      await w.http.close();
      await db.close();
    }
  });
}

/** Waits (vi.waitFor: polled, with a deadline) until `cond` holds. */
async function until(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  await vi.waitFor(async () => expect(await cond()).toBe(true), { timeout: ms, interval: 20 });
}
