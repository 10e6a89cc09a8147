/**
 * Payees outside the page: devices in this Node process, enrolled by the same parties, on the same broker
 * (MQTT over TCP where the page uses WebSockets), settling to the ledger over HTTP. Page payers pay them as
 * they pay the page's own payees: the page is one part of a bigger system, not a closed world.
 */
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
  Sync,
  servePayee,
  settlements,
  type TrustRoot,
  TrustStore,
  toHex,
} from 'edgepay';
import { type SimParty, seedFor } from '../../sim/fleet.js';
import type { OutsidePayee } from './page/config.js';

export interface OutsideDevice extends OutsidePayee {
  /** Payments it has taken, and its settlement records the ledger has acknowledged. */
  readonly counts: { payments: number; settled: number };
}

/** Enrols `n` payees, alternating charging pads and toll gates (keys from `seed`), ready to start. */
export async function enrolOutside(
  n: number,
  o: { seed: number; parties: SimParty[]; roots: TrustRoot[] },
): Promise<{
  devices: OutsideDevice[];
  start(to: {
    broker: string;
    prefix: string;
    protocolVersion: 4 | 5;
    ledger: string;
    ledgerKey: Uint8Array;
  }): Promise<() => Promise<void>>;
}> {
  const now = Math.floor(Date.now() / 1000);
  const made: { d: OutsideDevice; device: Awaited<ReturnType<typeof openDevice>>; party: SimParty }[] = [];
  for (let i = 0; i < n; i++) {
    const party = o.parties[i % o.parties.length] as SimParty;
    const name = `node-${party.spec.device.category === 'charging-pad' ? 'pad' : 'gate'}-${i + 1}`;
    const signer = await createSigner(seedFor(o.seed, name));
    const cred = await issueCredential(party.signer, {
      role: 'device',
      issuer: party.spec.id,
      subject: `device:${name}`,
      publicKey: signer.publicKey,
      issuedAt: now - 60,
      notBefore: now - 60,
      expiresAt: now + 29 * 86_400, // within its party's 30 days
      limits: {},
      category: party.spec.device.category,
      counterparties: party.spec.device.counterparties,
    });
    const device = await openDevice({ signer, chain: encodeChain([party.cred, cred]), trust: new TrustStore(o.roots) });
    const d = {
      name,
      category: party.spec.device.category,
      party: party.spec.id,
      address: toHex(device.kid),
      counts: { payments: 0, settled: 0 },
    };
    made.push({ d, device, party });
  }
  return {
    devices: made.map((m) => m.d),
    async start(to) {
      const closers: (() => Promise<unknown>)[] = [];
      for (const { d, device } of made) {
        const trust = new TrustStore(o.roots);
        const sync = new Sync({
          outbox: new MemoryOutbox(),
          receipts: new MemoryOutbox(),
          client: new HttpLedgerClient(to.ledger, { timeoutMs: 5_000 }),
          device,
          ledgerKey: to.ledgerKey,
          backoff: { initialMs: 200, maxMs: 2_000 },
          pollMs: 2_000,
        });
        sync.on('acknowledged', () => d.counts.settled++);
        const payee = new Payee({ device, trust, store: new MemoryChannelStore(), outbox: settlements(sync) });
        payee.on('paid', (e) => {
          // Every tenth payment both the page's payer and this payee checkpoint the channel.
          if (++d.counts.payments % 10 === 0) void payee.checkpoint(e.channelId).catch(() => {});
        });
        const transport = await MqttTransport.connect({
          url: to.broker,
          address: d.address,
          prefix: to.prefix,
          protocolVersion: to.protocolVersion,
          endSessionOnClose: true,
        });
        // Party lists come with the party's credential only over HTTP: here the issuer's are applied, and a
        // party's where this payee has met the party (its payers' chains).
        await transport.onRevocationLists((l) => trust.applyRevocationList(l).then(() => {}));
        servePayee(payee, transport, { onError: () => {} });
        sync.start();
        closers.push(
          () => sync.stop(),
          () => transport.close(),
        );
      }
      return async () => {
        for (const c of closers.reverse()) await c().catch(() => {});
      };
    },
  };
}
