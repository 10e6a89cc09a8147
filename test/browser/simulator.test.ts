/**
 * examples/browser-simulator in Debian's Chromium, each control clicked as a user would: devices paying
 * over MQTT on WebSockets (the embedded broker, and a Mosquitto of the test's own with a WebSocket
 * listener), add devices, take the page's ledger link down and up (outboxes grow, then drain), reload
 * mid-run (IndexedDB brings every device back), clone a payer (the payee and the ledger dispute it, the
 * revocation reaches both copies and their counterparties), stop and reconcile, export, revoke a party.
 * Screenshots of the main views go to test-output/simulator/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../examples/browser-simulator/serve.js';
import { haveTool } from '../services.js';
import { startMosquitto } from '../transport/brokers.js';
import { haveChromium, launchChromium } from './chromium.js';

type Dev = {
  name: string;
  credential: string;
  outbox: number;
  amount: string;
  online: string;
  disputes: number;
  role: string;
  channels: number;
};
type Sim = {
  ready: boolean;
  payments: number;
  records: number;
  outbox: number;
  fps: number;
  balances: Record<string, string>;
  devices: Dev[];
  errors: string[];
  reconciliation?: { ok: boolean; parties: { party: string; devices: string; ledger: string; ok: boolean }[]; disputes: number };
};
const OUT = 'test-output/simulator';
const haveMosquitto = haveTool('sh', ['-c', 'command -v mosquitto'], 'the simulator against Mosquitto', 'apt-get install -y mosquitto');

const sim = (page: Page) => page.evaluate(() => (window as unknown as { sim: Sim }).sim);
async function until(page: Page, what: string, test: (s: Sim) => boolean, timeoutMs = 45_000): Promise<Sim> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await sim(page);
    if (s?.ready && test(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ ...s, devices: s?.devices.length })}`);
    await page.waitForTimeout(250);
  }
}
const device = (s: Sim, name: string) => s.devices.find((d) => d.name === name) as Dev;
const shot = (page: Page, name: string) => page.screenshot({ path: `${OUT}/${name}.png`, fullPage: name === 'overview' });

describe.skipIf(!haveChromium)('browser device simulator in Chromium', () => {
  let s: Simulator;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    s = await startSimulator({ devices: 8 });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('pays over MQTT on WebSockets; adds devices; the outbox grows offline and drains online; a reload brings every device back', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(s.url);
    await until(page, 'payments and settled records', (x) => x.payments > 20 && x.records > 0);

    // Add two drones: enrolled in the page by their party, keys in IndexedDB, paying within seconds.
    await page.selectOption('#add-kind', 'drone');
    await page.fill('#add-count', '2');
    await page.click('#add');
    await until(page, 'ten devices', (x) => x.devices.length === 10);
    const added = (await sim(page)).devices.map((d) => d.name).filter((n) => /^drone-(9|10)$/.test(n));
    expect(added).toHaveLength(2);
    await until(page, 'the new drones paying', (x) => added.every((n) => BigInt(device(x, n).amount) > 0n));

    // The whole page loses the ledger: payments go on, outboxes grow.
    await page.uncheck('#page-ledger');
    const offline = await until(page, 'outboxes growing', (x) => x.outbox >= 10);
    expect(offline.devices.every((d) => d.online.endsWith('OFFLINE'))).toBe(true);
    await shot(page, 'offline');

    // A reload mid-run: every device back from IndexedDB, outboxes and amounts no smaller, the switch still off.
    await page.reload();
    const back = await until(page, 'the page back', (x) => x.devices.length === 10 && x.outbox >= offline.outbox);
    expect(await page.isChecked('#page-ledger')).toBe(false);
    for (const d of offline.devices) expect(BigInt(device(back, d.name).amount)).toBeGreaterThanOrEqual(BigInt(d.amount));

    // The ledger back: outboxes drain, balances rise.
    await page.check('#page-ledger');
    await until(page, 'outboxes drained', (x) => x.outbox <= 10 && Number(x.balances['party:pad-owner'] ?? 0) > 0);
    expect(await s.ledger.total()).toBe(0n);
    expect((await sim(page)).errors).toEqual([]);
    await page.close();
  }, 180_000);

  it('a cloned payer is disputed and revoked on both copies and its payee; stop, reconcile, export; a party revoked by hand', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(s.url);
    await until(page, 'paying', (x) => x.payments > 10);
    const before = await sim(page);
    const drone = before.devices.find((d) => d.role === 'payer' && d.name.startsWith('drone') && BigInt(d.amount) > 0n) as Dev;
    await page.click(`button[data-act="clone"][data-device="${drone.name}"]`);
    const clone = `${drone.name}-clone`;
    const revoked = await until(
      page,
      'the clone disputed and both copies revoked',
      // The list can reach the devices before the disputed receipt does: both are waited for.
      (x) =>
        device(x, clone)?.credential === 'revoked' &&
        device(x, drone.name).credential === 'revoked' &&
        x.devices.reduce((n, d) => n + d.disputes, 0) > 0,
      60_000,
    );
    expect(revoked.devices.reduce((n, d) => n + d.disputes, 0)).toBeGreaterThan(0);
    // Its counterparty was told: the payee's log shows the equivocation, and every device applied the list.
    const events = await page.evaluate(() =>
      (window as unknown as { fleet: { events: { kind: string; device?: string; text: string }[] } }).fleet.events.filter(
        (e) => e.kind === 'dispute' || e.kind === 'revocation',
      ),
    );
    expect(events.some((e) => e.kind === 'dispute' && e.text.includes('two different vouchers'))).toBe(true);
    expect(events.some((e) => e.kind === 'revocation' && e.text.includes('network:sim'))).toBe(true);
    await page.click(`button[data-act="detail"][data-device="${drone.name}"]`);
    await page.waitForSelector('#detail h3');
    expect(await page.textContent('#detail')).toContain('credential revoked');
    await shot(page, 'clone-revoked');
    // The table from its first column, the revoked copies at the top.
    await page.click('th[data-sort="credential"]');
    await page.evaluate(() => {
      (document.querySelector('.scroll') as HTMLElement).scrollLeft = 0;
      document.getElementById('devices-heading')?.scrollIntoView();
    });
    await page.waitForTimeout(1_200);
    await shot(page, 'devices');

    // Stop: checkpoints, outboxes drained, each party's balance against its devices' newest vouchers.
    await page.click('#stop');
    const done = await until(page, 'the reconciliation', (x) => x.reconciliation !== undefined, 90_000);
    const rec = done.reconciliation as NonNullable<Sim['reconciliation']>;
    expect(rec.parties.map((p) => p.party).sort()).toEqual([
      'party:drone-fleet',
      'party:pad-owner',
      'party:toll-operator',
      'party:vehicle-owner',
    ]);
    // The vehicles and toll gates were never disputed: their balances match their devices to the unit.
    for (const p of rec.parties.filter((x) => x.party === 'party:vehicle-owner' || x.party === 'party:toll-operator'))
      expect(p, JSON.stringify(rec)).toMatchObject({ ok: true });
    for (const p of rec.parties) expect(BigInt(p.ledger)).toBe(await s.ledger.balance(p.party, 'EUR'));
    expect(await page.textContent('#reconciliation')).toContain('Reconciliation');
    await shot(page, 'reconciliation');

    // Exports: the event log and balances as JSON and CSV.
    const save = async (button: string) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
      const file = `${OUT}/${download.suggestedFilename()}`;
      await download.saveAs(file);
      return readFileSync(file, 'utf8');
    };
    const json = JSON.parse(await save('#export-json')) as {
      events: unknown[];
      reconciliation: { parties: unknown[] };
      devices: unknown[];
    };
    expect(json.events.length).toBeGreaterThan(50);
    expect(json.reconciliation.parties).toHaveLength(4);
    const log = await save('#export-csv');
    expect(log.split('\n')[0]).toBe('"time","kind","device","text"');
    expect(log).toContain('"dispute"');
    const balances = await save('#export-balances');
    expect(balances.split('\n')).toHaveLength(5);
    // The operator revokes the vehicle owner: every vehicle's credential is revoked, after the run.
    await page.click('tr[data-party="party:vehicle-owner"] button[data-act="revoke-party"]');
    await until(page, 'every vehicle revoked', (x) =>
      x.devices.filter((d) => d.name.startsWith('vehicle')).every((d) => d.credential === 'revoked'),
    );

    await page.setViewportSize({ width: 1400, height: 2200 });
    await shot(page, 'overview');
    expect((await sim(page)).errors).toEqual([]);
    await page.close();
  }, 240_000);
  it("one device's faults: its broker link down and up, a restart from IndexedDB, a credential that expires, a removal", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(s.url);
    const paying = (x: Sim) => x.devices.filter((d) => d.name.startsWith('drone') && BigInt(d.amount) > 0n);
    const first = await until(page, 'two drones paying', (x) => paying(x).length >= 2);
    const [d, other] = paying(first).map((x) => x.name) as [string, string];
    const amount = async () => BigInt(device(await sim(page), d).amount);
    const events = (name: string) =>
      page.evaluate(
        (n) =>
          (window as unknown as { fleet: { events: { device?: string; text: string }[] } }).fleet.events
            .filter((e) => e.device === n)
            .map((e) => e.text),
        name,
      );

    // Its broker link down: it stops paying (the others go on); back up: it pays again.
    await page.click(`button[data-act="broker"][data-device="${d}"]`);
    await until(page, 'its broker link down', (x) => device(x, d).online.startsWith('OFFLINE'));
    const stalled = await amount();
    await page.waitForTimeout(2_000);
    expect(await amount()).toBe(stalled);
    await page.click(`button[data-act="broker"][data-device="${d}"]`);
    await until(page, 'it pays again', (x) => BigInt(device(x, d).amount) > stalled);

    // A restart: memory dropped, its channel back from IndexedDB and paid on (no new channel opened).
    const opened = (await events(d)).filter((t) => t.startsWith('opened channel')).length;
    const channels = device(await sim(page), d).channels;
    expect(channels).toBeGreaterThan(0);
    await page.click(`button[data-act="restart"][data-device="${d}"]`);
    await expect
      .poll(async () => (await events(d)).filter((t) => /^(restarting|started)/.test(t)).slice(1), { timeout: 20_000 })
      .toEqual([
        expect.stringMatching(/^restarting/),
        expect.stringMatching(new RegExp(`^started: ${channels} open channels from IndexedDB`)),
      ]);
    const resumed = await amount();
    await until(page, 'paying after the restart', (x) => BigInt(device(x, d).amount) > resumed);
    expect((await events(d)).filter((t) => t.startsWith('opened channel')).length).toBe(opened);

    // A credential that expires in 20 s: it pays until then, then shows expired and stops.
    await page.click(`button[data-act="expire"][data-device="${d}"]`);
    await until(page, 'its credential expired', (x) => device(x, d).credential === 'expired', 60_000);
    const expired = await amount();
    await page.waitForTimeout(2_000);
    expect(await amount()).toBe(expired);

    // Removed: its channels checkpointed and outbox sent, and gone from the table.
    await page.click(`button[data-act="remove"][data-device="${other}"]`);
    await until(page, 'removed', (x) => !x.devices.some((y) => y.name === other));
    expect((await sim(page)).errors).toEqual([]);
    await page.close();
  }, 180_000);
});

describe.skipIf(!haveChromium)('browser device simulator as one part of a bigger system', () => {
  it("page payers pay payees outside the page (Node devices on the same broker); both sides' records settle", async () => {
    const s = await startSimulator({ devices: 4, outside: 2 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(s.url);
      expect(s.outside.map((d) => d.name)).toEqual(['node-pad-1', 'node-gate-2']);
      await until(page, 'the page ready', () => true);
      // The page's drone and vehicle were paired with the outside payees (they come first among equals).
      const specs = await page.evaluate(() =>
        (window as unknown as { fleet: { specs: { name: string; peer?: string }[] } }).fleet.specs.map((x) => [x.name, x.peer ?? '']),
      );
      expect(specs.filter(([, peer]) => peer?.startsWith('node-')).length).toBe(2);
      await expect.poll(() => s.outside.every((d) => d.counts.payments >= 10 && d.counts.settled > 0), { timeout: 45_000 }).toBe(true);
      await until(page, "the pads' balance risen", (x) => Number(x.balances['party:pad-owner'] ?? 0) > 0);
      expect(await s.ledger.total()).toBe(0n);
      expect((await sim(page)).errors).toEqual([]);
    } finally {
      await browser.close();
      await s.close();
    }
  }, 120_000);
});

describe.skipIf(!haveChromium || !haveMosquitto)('browser device simulator against Mosquitto (MQTT over WebSockets)', () => {
  it('the same page pays and settles through a Mosquitto with a websockets listener', async () => {
    const broker = await startMosquitto({ websockets: true });
    const s = await startSimulator({ devices: 4, broker: broker.url, brokerWs: broker.wsUrl });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(s.url);
      expect(s.config.broker).toBe(broker.wsUrl);
      await until(page, 'payments settled through Mosquitto', (x) => x.payments > 10 && Number(x.balances['party:pad-owner'] ?? 0) > 0);
      expect(await s.ledger.total()).toBe(0n);
    } finally {
      await browser.close();
      await s.close();
      await broker.close();
    }
  }, 120_000);
});
