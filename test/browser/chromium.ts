/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), and a loopback static server.
 * Where Chromium is absent the browser tests skip with a message, except in CI (EDGEPAY_REQUIRE_BROWSER=1),
 * where they fail.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { skipped } from '../services.js';

declare global {
  interface Window {
    /** The browser bundle, as `openEdgepayPage` loads it. */
    edgepay: typeof import('./page.js');
  }
}

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const requireBrowser = process.env.EDGEPAY_REQUIRE_BROWSER === '1';
export const browserSkipReason = haveChromium ? '' : `skipped: ${CHROMIUM} not found (apt-get install -y chromium)`;
if (!haveChromium && !requireBrowser) skipped('the browser tests', `${CHROMIUM} not found (apt-get install -y chromium)`);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** Serves `files` (path -> [content type, body]) on 127.0.0.1 at an ephemeral port. */
export async function serve(files: Record<string, [string, string]>): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const f = files[req.url ?? ''];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': f[0] }).end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** A Chromium page with the browser bundle of edgepay loaded as `window.edgepay`. */
export interface EdgepayPage {
  page: import('playwright-core').Page;
  /** Reloads the page (IndexedDB and other browser storage survive) and waits for the bundle again. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

export async function openEdgepayPage(): Promise<EdgepayPage> {
  const { browserBundle } = await import('../../bench/browser-bundle.js');
  const { code, externals } = await browserBundle('test/browser/page.ts', false);
  if (externals.length) throw new Error(`browser bundle imports ${externals.join(', ')}`);
  const server = await serve({
    '/': [
      'text/html',
      `<!doctype html><script type="module">import * as e from './edgepay.js'; window.edgepay = e; document.title = 'ready';</script>`,
    ],
    '/edgepay.js': ['text/javascript', code],
  });
  const browser = await launchChromium();
  const page = await browser.newPage();
  const load = async () => {
    await page.waitForFunction(() => document.title === 'ready');
  };
  await page.goto(server.url);
  await load();
  return {
    page,
    reload: async () => {
      await page.reload();
      await load();
    },
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** Registers beforeAll/afterAll that open and close an edgepay page; returns a getter for it. */
export function useEdgepayPage(): () => EdgepayPage {
  let ep: EdgepayPage | undefined;
  beforeAll(async () => {
    ep = await openEdgepayPage();
  }, 60_000);
  afterAll(async () => {
    await ep?.close();
  });
  return () => ep as EdgepayPage;
}
