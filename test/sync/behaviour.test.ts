/** How the sync loop behaves: backoff with jitter, probing, connectivity events, forged receipts, lost answers. */
import { describe, expect, it, vi } from 'vitest';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { openPglite } from '../../src/ledger/db.js';
import { serveHttp } from '../../src/ledger/http.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { LedgerService } from '../../src/ledger/service.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';
import { HttpLedgerClient, type LedgerClient } from '../../src/sync/client.js';
import type { Connectivity } from '../../src/sync/sync.js';
import { device, holdPort, pair, payOffline, startLedger } from './world.js';

/** Waits (vi.waitFor: polled, with a deadline) until `cond` holds. */
const until = (cond: () => boolean | Promise<boolean>, ms = 10_000) =>
  vi.waitFor(async () => expect(await cond()).toBe(true), { timeout: ms, interval: 10 });

describe('sync behaviour', () => {
  it('backs off exponentially with full jitter, and probes instead of resending while the ledger is away', async () => {
    const p = await pair();
    const held = await holdPort(); // never released: the ledger stays away
    const url = held.url;
    const d = await device(p.droneDevice, url, { backoff: { initialMs: 10, maxMs: 80 }, random: () => 0.5 });
    const delays: number[] = [];
    let sent = 0;
    d.sync.on('failed', (e) => delays.push(e.retryInMs));
    d.sync.on('sent', () => sent++);
    try {
      await d.sync.queue((await payOffline(p, 1, 5n)).payer);
      d.sync.start();
      await until(() => delays.length >= 6);
      expect(delays.slice(0, 6)).toEqual([5, 10, 20, 40, 40, 40]);
      expect(sent).toBe(1); // one real attempt; after it, only health probes until the ledger answers
    } finally {
      await held.release();
      await d.close();
    }
  });

  it('waits for the online event where the platform has one, then syncs at once', async () => {
    const p = await pair();
    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 100n).then(() => {}));
    let online = false;
    const listeners = new Set<(up: boolean) => void>();
    const connectivity: Connectivity = {
      online: () => online,
      subscribe: (cb) => {
        listeners.add(cb);
        return () => listeners.delete(cb);
      },
    };
    const d = await device(p.droneDevice, w.http.url, { connectivity, pollMs: 60_000 });
    let sent = 0;
    d.sync.on('sent', () => sent++);
    try {
      await d.sync.queue((await payOffline(p, 1, 5n)).payer);
      const waiting = new Promise<void>((r) => d.sync.on('offline', () => r()));
      d.sync.start();
      await waiting; // the loop saw the signal and now waits for it: nothing was sent
      expect(sent).toBe(0);
      online = true;
      for (const l of listeners) l(true);
      await until(async () => (await d.outbox.size()) === 0, 5_000);
      expect(sent).toBe(1);
    } finally {
      await d.close();
      await w.http.close();
      await db.close();
    }
  });

  it('keeps records when receipts do not verify under the ledger key (an impostor ledger)', async () => {
    const p = await pair();
    const db = await openPglite();
    const trust = new TrustStore(p.roots);
    const impostor = await nodeEd25519.signer(new Uint8Array(32).fill(99));
    const ledger = await Ledger.open({ db, signer: impostor, id: 'ledger:impostor', trust, now: () => p.clock.now });
    await ledger.fund('party:fleet', 'EUR', 100n);
    const http = await serveHttp(await LedgerService.open({ ledger, trust, now: () => p.clock.now }));
    const d = await device(p.droneDevice, http.url);
    try {
      await d.sync.queue((await payOffline(p, 1, 5n)).payer);
      await expect(d.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_RECEIPT' });
      expect(await d.outbox.size()).toBe(1);
      expect(await d.receipts.size()).toBe(0);
    } finally {
      await d.close();
      await http.close();
      await db.close();
    }
  });

  it('an answer lost mid-batch (or a device restart before it) only means the batch goes again; money moves once', async () => {
    const p = await pair();
    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    const real = new HttpLedgerClient(w.http.url);
    const losing: LedgerClient = {
      submit: async (s) => {
        await real.submit(s); // the ledger applies it ...
        throw new Error('connection reset'); // ... and the answer never arrives
      },
      probe: () => real.probe(),
    };
    const d = await device(p.droneDevice, w.http.url, { client: losing });
    try {
      for (let i = 0; i < 3; i++) await d.sync.queue((await payOffline(p, 2, 10n)).payer);
      await expect(d.sync.syncNow()).rejects.toThrow('connection reset');
      expect(await d.outbox.size()).toBe(3);
      // The device restarts: the outbox is reopened from disk, and a working client sends the batch again.
      await d.outbox.close();
      const reopened = await FileOutbox.open(`${d.dir}/outbox`);
      const again = await device(p.droneDevice, w.http.url, { outbox: reopened });
      try {
        expect(await again.sync.syncNow()).toMatchObject({ acknowledged: 3 });
        expect(await reopened.size()).toBe(0);
      } finally {
        await again.close();
        await reopened.close();
      }
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(60n);
      expect(await w.ledger.total()).toBe(0n);
    } finally {
      await d.sync.stop();
      await d.receipts.close();
      await w.http.close();
      await db.close();
    }
  });
});
