/**
 * `npx tsx examples/drone-charging/main.ts` (after `npm run build`): a drone charges at a pad, paying per
 * watt-hour with hash-chain ticks over MQTT. The pad has no route to the ledger while it charges the
 * drone: its settlement record waits in its outbox and settles when the ledger is reachable again.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import {
  createSigner,
  encodeChain,
  FileOutbox,
  HttpLedgerClient,
  issueCredential,
  MemoryChannelStore,
  MeteredPayer,
  MeteredService,
  MqttTransport,
  openDevice,
  Payee,
  Payer,
  PayerSession,
  Sync,
  servePayee,
  settlements,
  TrustStore,
  toHex,
} from 'edgepay';
import { Ledger, LedgerService, openPglite, serveHttp } from 'edgepay/ledger';

const WH = 200; // energy delivered
const PRICE = 3n; // minor units per Wh

export async function main(log: (l: string) => void = console.log): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-drone-'));
  const now = Math.floor(Date.now() / 1000);
  const validity = { issuedAt: now, notBefore: now, expiresAt: now + 30 * 86_400 };
  const limits = {
    asset: 'EUR',
    perPayment: 100n,
    perChannel: 10_000n,
    perPeriod: 100_000n,
    periodSeconds: 86_400,
    totalOutstanding: 50_000n,
  };

  // Identities (in real life from `edgepay issuer init`, `party certify`, `device enroll`).
  const [issuer, fleet, owner, droneKey, padKey] = await Promise.all([1, 2, 3, 4, 5].map(() => createSigner()));
  const roots = [{ id: 'network:example', publicKey: issuer!.publicKey }];
  const party = (subject: string, key: typeof fleet, category: string, paymentRef: string) =>
    issueCredential(issuer!, {
      ...validity,
      role: 'party',
      issuer: 'network:example',
      subject,
      publicKey: key!.publicKey,
      limits,
      category,
      paymentRef,
    });
  const device = (
    partyId: string,
    partyKey: typeof fleet,
    subject: string,
    key: typeof fleet,
    category: string,
    counterparties: string[],
  ) =>
    issueCredential(partyKey!, {
      ...validity,
      role: 'device',
      issuer: partyId,
      subject,
      publicKey: key!.publicKey,
      limits: {},
      category,
      counterparties,
    });
  const droneChain = encodeChain([
    await party('party:drone-fleet', fleet, 'fleet-operator', 'tok_fleet'),
    await device('party:drone-fleet', fleet, 'device:drone-7', droneKey, 'drone', ['charging-pad']),
  ]);
  const padChain = encodeChain([
    await party('party:pad-owner', owner, 'pad-owner', 'tok_pads'),
    await device('party:pad-owner', owner, 'device:pad-3', padKey, 'charging-pad', ['drone']),
  ]);

  // An MQTT broker (embedded aedes here; any broker in the field) and the ledger, not yet reachable.
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const ledgerKey = await createSigner();
  const db = await openPglite();
  const ledgerTrust = new TrustStore(roots);
  const ledger = await Ledger.open({ db, signer: ledgerKey, id: 'ledger:example', trust: ledgerTrust });
  await ledger.fund('party:drone-fleet', 'EUR', 5_000n);
  const service = await LedgerService.open({ ledger, trust: ledgerTrust });
  const ledgerPort = await new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
  const ledgerUrl = `http://127.0.0.1:${ledgerPort}`;

  const trust = new TrustStore(roots);
  const padDevice = await openDevice({ signer: padKey!, chain: padChain, trust });
  const droneDevice = await openDevice({ signer: droneKey!, chain: droneChain, trust });
  const padAddress = toHex(padDevice.kid);
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    // The pad: serves over MQTT, delivers energy only as it is paid (5 Wh of credit); its close queues itself.
    const padOutbox = await FileOutbox.open(join(dir, 'pad-outbox'));
    cleanup.push(() => padOutbox.close());
    const padSync = new Sync({
      device: padDevice,
      outbox: padOutbox,
      client: new HttpLedgerClient(ledgerUrl, { timeoutMs: 2_000 }),
      ledgerKey: ledgerKey.publicKey,
    });
    const pad = new Payee({ device: padDevice, trust, store: new MemoryChannelStore(), outbox: settlements(padSync) });
    const padTransport = await MqttTransport.connect({ url, address: padAddress, protocolVersion: 4, endSessionOnClose: true });
    cleanup.push(() => padTransport.close());
    servePayee(pad, padTransport);

    // The drone: opens a channel with a hash chain (one tick = one Wh = 3 minor units) and pays ahead.
    const droneOutbox = await FileOutbox.open(join(dir, 'drone-outbox'));
    cleanup.push(() => droneOutbox.close());
    const drone = new Payer({ device: droneDevice, trust, store: new MemoryChannelStore(), outbox: settlements(droneOutbox) });
    const droneTransport = await MqttTransport.connect({
      url,
      address: toHex(droneDevice.kid),
      protocolVersion: 4,
      endSessionOnClose: true,
    });
    cleanup.push(() => droneTransport.close());
    const session = new PayerSession(drone, droneTransport);
    const channelId = await session.open(padAddress, {
      payeeKid: padDevice.kid,
      cap: 1_000n,
      unitPrice: PRICE,
      payword: { length: 300, tickValue: PRICE },
    });
    const meter = new MeteredService({ payee: pad, channelId, unitPrice: PRICE, creditUnits: 5 });
    const payer = new MeteredPayer({ session, address: padAddress, channelId, unitPrice: PRICE, aheadUnits: 2 });

    let delivered = 0;
    for (let wh = 0; wh < WH; ) {
      await payer.consumed(wh); // pay ahead for what comes next
      if (meter.deliver(1) === 1) wh = ++delivered;
      else await new Promise((r) => setTimeout(r, 2)); // the pad waits for payment
    }
    const sent = drone.channel(channelId);
    await session.waitAck(padAddress, channelId, sent?.seq ?? 0, sent?.ticks ?? 0);
    await payer.close(); // the pad's close, and so its record in the outbox, is in before the drone hears of it
    log(`charged ${delivered} Wh; the pad holds ${meter.total} minor units of signed payments; pad outbox: ${await padOutbox.size()}`);

    // No ledger yet: the pad's sync fails and keeps the record.
    const offline = await padSync.syncNow().then(
      () => 'synced',
      (e) => e.code,
    );
    log(`pad syncs while the ledger is unreachable: ${offline}; pad outbox still ${await padOutbox.size()}`);

    // Later, the ledger is reachable: the record settles.
    const http = await serveHttp(service, { port: ledgerPort });
    cleanup.push(() => http.close());
    const r = await padSync.syncNow();
    log(`pad syncs again: ${r.acknowledged} acknowledged; pad outbox ${await padOutbox.size()}`);
    const pads = await ledger.balance('party:pad-owner', 'EUR');
    log(`ledger: pad owner ${pads}, drone fleet ${await ledger.balance('party:drone-fleet', 'EUR')}`);
    // Every Wh delivered was paid (the drone pays one ahead), and the ledger posted what the pad holds.
    return offline === 'SYNC_OFFLINE' && pads === meter.total && meter.total >= BigInt(delivered) * PRICE ? 0 : 1;
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    await db.close();
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
