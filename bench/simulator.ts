/**
 * `npm run bench -- simulator`: the browser simulator in Debian's Chromium with 20 and 200 devices, every
 * payer asked for 50 payments a second (more than the page can do: what it sustains is measured), and 200
 * at the page's default of 2 a second each (a fleet being watched rather than stressed).
 *
 *   simulator.<n>.rate<r>.payments_per_s   payments a second over 20 s, against the raw limit measured
 *                                  first in a page of the same origin: WebCrypto Ed25519 sign+verify pairs
 *                                  a second (a payment's floor: the payer signs a voucher, the payee
 *                                  verifies it), 64 in flight
 *   simulator.<n>.fps              frames a second of the page meanwhile, against the display's 60
 *   simulator.<n>.longest_frame_ms the longest gap between two frames in any second (the worst stall)
 */
import type { Page } from 'playwright-core';
import { startSimulator } from '../examples/browser-simulator/serve.js';
import { haveChromium, launchChromium } from '../test/browser/chromium.js';
import { report } from './harness.js';

const WINDOW_S = 20;

type Sim = { ready: boolean; payments: number; fps: number; longestFrameMs: number; devices: unknown[] };
const sim = (page: Page) => page.evaluate(() => (window as unknown as { sim: Sim }).sim);

/** WebCrypto Ed25519 sign+verify pairs a second in this page, 64 in flight, for 3 s. */
function rawPairsPerSecond(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const keys = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const msg = new Uint8Array(120);
    let n = 0;
    const end = performance.now() + 3_000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (performance.now() < end) {
          const sig = await crypto.subtle.sign('Ed25519', keys.privateKey, msg);
          await crypto.subtle.verify('Ed25519', keys.publicKey, sig, msg);
          n++;
        }
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  });
}

export async function benchSimulator(): Promise<void> {
  if (!haveChromium) {
    console.log('simulator: skipped, /usr/bin/chromium not found (apt-get install -y chromium)');
    return;
  }
  const browser = await launchChromium();
  try {
    for (const [devices, rate] of [
      [20, 50],
      [200, 2],
      [200, 50],
    ] as const) {
      const name = `simulator.${devices}.rate${rate}`;
      const s = await startSimulator({ devices });
      try {
        // The raw limit first, in a page of the same origin with nothing else running.
        const blank = await browser.newPage();
        await blank.goto(`${s.url}health`);
        const raw = await rawPairsPerSecond(blank);
        await blank.close();
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        await page.goto(s.url);
        await page.waitForFunction(
          (n) => {
            const x = (window as unknown as { sim?: Sim }).sim;
            return x?.ready && x.devices.length === n;
          },
          devices,
          { timeout: 120_000 },
        );
        await page.evaluate((r) => (window as unknown as { fleet: { setSettings(o: object): void } }).fleet.setSettings({ rate: r }), rate);
        await page.waitForTimeout(10_000); // channels open, the rate settles
        const start = await sim(page);
        const t0 = performance.now();
        let fps = 0;
        let longest = 0;
        for (let i = 0; i < WINDOW_S; i++) {
          await page.waitForTimeout(1_000);
          const x = await sim(page);
          fps += x.fps;
          longest = Math.max(longest, x.longestFrameMs);
        }
        const end = await sim(page);
        const sustained = (end.payments - start.payments) / ((performance.now() - t0) / 1000);
        report(`${name}.payments_per_s`, sustained, 'pay/s', raw);
        report(`${name}.fps`, fps / WINDOW_S, 'frames/s', 60);
        report(`${name}.longest_frame_ms`, longest, 'ms');
        await page.close();
      } finally {
        await s.close();
      }
    }
  } finally {
    await browser.close();
  }
}
