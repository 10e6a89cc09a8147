/**
 * `npx tsx examples/toll-gate/main.ts` (after `npm run build`): a vehicle pays a chain of toll gates per
 * metre over MQTT (hash-chain ticks: one tick per metre). Gate B has no route to the ledger for three
 * hours and settles late. Then a clone of the vehicle (its key and channel state copied) pays gate C a
 * different voucher for the same seq: the gate keeps both as evidence, the ledger disputes the channel
 * and revokes the vehicle in a new issuer revocation list, published retained over MQTT, and the next
 * gate refuses the vehicle offline.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import {
  createSigner,
  encodeChain,
  HttpLedgerClient,
  issueCredential,
  MemoryChannelStore,
  MemoryOutbox,
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
import { copyRecord } from 'edgepay/channel';
import { Ledger, LedgerService, openPglite, serveHttp, serveMqtt } from 'edgepay/ledger';

const METRES = 500; // per segment
const PER_METRE = 2n; // minor units

export async function main(log: (l: string) => void = console.log): Promise<number> {
  const clock = { now: Math.floor(Date.now() / 1000) };
  const now = () => clock.now;
  const validity = { issuedAt: clock.now, notBefore: clock.now, expiresAt: clock.now + 30 * 86_400 };
  const limits = {
    asset: 'EUR',
    perPayment: 5_000n,
    perChannel: 10_000n,
    perPeriod: 100_000n,
    periodSeconds: 86_400,
    totalOutstanding: 50_000n,
  };
  const [issuer, owner, operator, carKey, ...gateKeys] = await Promise.all([0, 1, 2, 3, 4, 5, 6].map(() => createSigner()));
  const issuerId = 'network:roads';
  const roots = [{ id: issuerId, publicKey: issuer!.publicKey }];
  const ownerCred = await issueCredential(issuer!, {
    ...validity,
    role: 'party',
    issuer: issuerId,
    subject: 'party:vehicle-owner',
    publicKey: owner!.publicKey,
    limits,
    category: 'vehicle-owner',
    paymentRef: 'tok_owner',
  });
  const operatorCred = await issueCredential(issuer!, {
    ...validity,
    role: 'party',
    issuer: issuerId,
    subject: 'party:toll-operator',
    publicKey: operator!.publicKey,
    limits,
    category: 'toll-operator',
    paymentRef: 'tok_tolls',
  });
  const carChain = encodeChain([
    ownerCred,
    await issueCredential(owner!, {
      ...validity,
      role: 'device',
      issuer: 'party:vehicle-owner',
      subject: 'device:car-1',
      publicKey: carKey!.publicKey,
      limits: {},
      category: 'vehicle',
      counterparties: ['toll-gate'],
    }),
  ]);

  // The broker and the ledger (which holds the issuer's key to revoke disputed devices).
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const db = await openPglite();
  const ledgerKey = await createSigner();
  const ledgerTrust = new TrustStore(roots);
  const ledger = await Ledger.open({ db, signer: ledgerKey, id: 'ledger:roads', trust: ledgerTrust, now });
  await ledger.fund('party:vehicle-owner', 'EUR', 10_000n);
  let publish: (l: Uint8Array) => Promise<void> = async () => {};
  const service = await LedgerService.open({
    ledger,
    trust: ledgerTrust,
    now,
    revocation: { signer: issuer!, issuer: issuerId, publish: (l) => publish(l) },
  });
  const http = await serveHttp(service);
  const ingest = await serveMqtt(service, { url, protocolVersion: 4 });
  publish = (l) => ingest.publishRevocationList(l);
  const closers: (() => Promise<unknown>)[] = [() => ingest.close(), () => http.close()];

  try {
    // Three gates: payees on MQTT that settle through their own outbox and sync.
    const gates = await Promise.all(
      ['A', 'B', 'C'].map(async (name, i) => {
        const key = gateKeys[i]!;
        const chain = encodeChain([
          operatorCred,
          await issueCredential(operator!, {
            ...validity,
            role: 'device',
            issuer: 'party:toll-operator',
            subject: `device:gate-${name}`,
            publicKey: key.publicKey,
            limits: {},
            category: 'toll-gate',
            counterparties: ['vehicle'],
          }),
        ]);
        const trust = new TrustStore(roots);
        const device = await openDevice({ signer: key, chain, trust, now: clock.now });
        // Closes (and equivocation evidence) queue themselves in the gate's outbox, through its sync.
        const outbox = new MemoryOutbox();
        const sync = new Sync({ device, outbox, client: new HttpLedgerClient(http.url), ledgerKey: ledgerKey.publicKey, now });
        const payee = new Payee({ device, trust, store: new MemoryChannelStore(), outbox: settlements(sync), now });
        const transport = await MqttTransport.connect({ url, address: toHex(device.kid), protocolVersion: 4, endSessionOnClose: true });
        closers.push(() => transport.close());
        servePayee(payee, transport);
        // Revocation lists arrive retained over MQTT, whenever the gate is connected.
        await transport.onRevocationLists((l) => trust.applyRevocationList(l).then(() => {}));
        return { name, payee, kid: device.kid, address: toHex(device.kid), outbox, sync };
      }),
    );
    const [A, B, C] = gates as [(typeof gates)[0], (typeof gates)[0], (typeof gates)[0]];

    // The vehicle: one channel per gate segment, one tick per metre, closed at the segment's end.
    const carTrust = new TrustStore(roots);
    const carStore = new MemoryChannelStore();
    const carDevice = await openDevice({ signer: carKey!, chain: carChain, trust: carTrust, now: clock.now });
    const car = new Payer({ device: carDevice, trust: carTrust, store: carStore, now });
    const carTransport = await MqttTransport.connect({ url, address: toHex(carDevice.kid), protocolVersion: 4, endSessionOnClose: true });
    closers.push(() => carTransport.close());
    const session = new PayerSession(car, carTransport);
    for (const g of [A, B]) {
      const id = await session.open(g.address, {
        payeeKid: g.kid,
        cap: 2_000n,
        unitPrice: PER_METRE,
        payword: { length: 1000, tickValue: PER_METRE },
      });
      for (let m = 0; m < METRES; m++) await session.tick(g.address, id);
      await session.close(g.address, id);
      log(`gate ${g.name}: ${METRES} m, ${g.payee.channel(id)?.cumulative} minor units, closed`);
      clock.now += 60;
    }
    await A.sync.syncNow();
    log(`gate A settles at once: outbox ${await A.outbox.size()}`);
    clock.now += 3 * 3600; // gate B has no route to the ledger for three hours
    await B.sync.syncNow();
    log(`gate B settles three hours later: outbox ${await B.outbox.size()}`);

    // A clone: the vehicle's key and its channel state with gate C, copied after the open.
    const id = await session.open(C.address, { payeeKid: C.kid, cap: 2_000n });
    const cloneStore = new MemoryChannelStore();
    await cloneStore.put(copyRecord((await carStore.get(id))!));
    const clone = new Payer({ device: carDevice, trust: carTrust, store: cloneStore, now });
    await clone.resume();
    const cloneSession = new PayerSession(
      clone,
      await MqttTransport.connect({ url, address: 'c10e', protocolVersion: 4, endSessionOnClose: true }),
    );
    closers.push(() => cloneSession.transport.close());
    let caught = false;
    C.payee.on('equivocation', () => {
      caught = true;
    });
    await session.pay(C.address, id, 900n);
    await session.waitAck(C.address, id, 1);
    await cloneSession.pay(C.address, id, 1n); // seq 1 again, another amount
    for (let i = 0; i < 100 && !caught; i++) await new Promise((r) => setTimeout(r, 20));
    log(`gate C: two different vouchers for seq 1 — equivocation ${caught ? 'caught' : 'MISSED'}; channel ${C.payee.channel(id)?.state}`);
    const [receipt] = await Promise.all([
      new Promise<string>((r) => C.sync.once('acknowledged', (e) => r(`${e.receipt.status} ${e.receipt.code}`))),
      C.sync.syncNow(),
    ]);
    log(`ledger: ${receipt}; revocation lists published: ${service.metrics.revocations}`);

    // Gate A got the list over MQTT (retained) and now refuses the vehicle, offline.
    clock.now += 60;
    let refused = '';
    for (let i = 0; i < 50 && !refused; i++) {
      await new Promise((r) => setTimeout(r, 40));
      refused = await session.open(A.address, { payeeKid: A.kid, cap: 100n }, 2_000).then(
        () => '',
        (e) => e.code,
      );
    }
    log(`gate A refuses the vehicle: ${refused}`);
    const tolls = await ledger.balance('party:toll-operator', 'EUR');
    log(`ledger: toll operator ${tolls}, vehicle owner ${await ledger.balance('party:vehicle-owner', 'EUR')}`);
    return caught && refused === 'ID_REVOKED' && receipt === 'disputed LEDGER_EQUIVOCATION' && tolls === 2n * BigInt(METRES) * PER_METRE
      ? 0
      : 1;
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    await db.close();
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise((r) => server.close(r));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();
