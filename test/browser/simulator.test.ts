/**
 * examples/browser-simulator in Debian's Chromium: pay while offline, reload the page (the IndexedDB
 * outbox survives), go online, and see the ledger's balances change. Leaves a screenshot in .tmp/.
 */
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../examples/browser-simulator/serve.js';
import { haveChromium, launchChromium } from './chromium.js';

type Sim = { payments: number; outbox: number; synced: number; online: boolean; balances: Record<string, string>; ready: boolean };
type W = { sim: Sim };

describe.skipIf(!haveChromium)('browser device simulator in Chromium', () => {
  it('pays offline, keeps its outbox across a reload, settles when online; balances change', async () => {
    const s = await startSimulator({ pairs: 4 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
      await page.goto(s.url);
      await page.waitForFunction(() => (window as unknown as { sim?: { ready: boolean } }).sim?.ready === true, undefined, {
        timeout: 30_000,
      });
      await page.click('#online'); // the ledger goes away
      await page.waitForFunction(() => (window as unknown as W).sim.outbox >= 10, undefined, { timeout: 30_000 });
      const before = await page.evaluate(() => ({ ...(window as unknown as W).sim }));
      expect(before.online).toBe(false);
      const settledBefore = await s.ledger.balance('party:pad-owner', 'EUR'); // what synced before the switch

      await page.reload(); // the outbox is in IndexedDB; the switch stays off
      await page.waitForFunction(() => (window as unknown as { sim?: { ready: boolean } }).sim?.ready === true, undefined, {
        timeout: 30_000,
      });
      const reloaded = await page.evaluate(() => ({ ...(window as unknown as W).sim }));
      expect(reloaded.online).toBe(false);
      expect(reloaded.outbox).toBeGreaterThanOrEqual(before.outbox);

      await page.click('#online'); // back online: the outbox drains (a few fresh records may be in flight) and balances rise
      await page.waitForFunction(
        (b) => (window as unknown as W).sim.outbox <= 5 && Number((window as unknown as W).sim.balances['party:pad-owner'] ?? 0) > b,
        Number(settledBefore),
        { timeout: 30_000 },
      );
      const pads = await s.ledger.balance('party:pad-owner', 'EUR');
      expect(pads).toBeGreaterThan(settledBefore); // what was paid offline, before and after the reload, settled
      expect(await s.ledger.balance('party:drone-fleet', 'EUR')).toBe(1_000_000n - pads); // what one gained, the other paid
      expect(await s.ledger.total()).toBe(0n);
      mkdirSync('.tmp', { recursive: true });
      await page.screenshot({ path: '.tmp/browser-simulator.png' });
    } finally {
      await browser.close();
      await s.close();
    }
  }, 120_000);
});
