/**
 * The device side of a Node board, as firmware would hold it: its key in an encrypted file store (or in a
 * secure element or HSM through PKCS#11), its channel state and its outbox on disk, a sync loop to the
 * ledger. Only device entry points are imported (no database driver is loaded on the board).
 */
import {
  FileChannelStore,
  FileKeyStore,
  FileOutbox,
  HttpLedgerClient,
  type KeyStore,
  MemoryNetwork,
  openDevice,
  Payee,
  Payer,
  PayerSession,
  Sync,
  servePayee,
  settlements,
  type TrustRoot,
  TrustStore,
  toHex,
} from 'edgepay';

export interface BoardConfig {
  /** Where the board keeps its state (keys, channels, outbox, receipts). */
  dir: string;
  passphrase: string;
  /** The network issuer(s) it trusts, and the ledger it settles with. */
  roots: TrustRoot[];
  ledgerUrl: string;
  ledgerKey: Uint8Array;
  /** Where the board's keys live (default: an encrypted file store under `dir`). */
  keys?: KeyStore;
  /** This board's credential chain (from `edgepay device enroll`). */
  chain: Uint8Array;
  /** The meter it pays: its key store name, chain and kid (here, on the same board, for the example). */
  meter: { chain: Uint8Array };
}

/** Pays `units` to the meter, one voucher each; both sides' closes queue themselves, and sync. */
export async function runBoard(c: BoardConfig, units: number, log: (l: string) => void): Promise<{ paid: bigint; synced: number }> {
  const keys = c.keys ?? new FileKeyStore(`${c.dir}/keys`, c.passphrase);
  const trust = await TrustStore.open(c.roots);
  // Each device opened once: its key, its chain, and what the chain proves, checked to belong together.
  const device = await openDevice({ signer: (await keys.get('device')) ?? (await keys.generate('device')), chain: c.chain, trust });
  const meterDevice = await openDevice({
    signer: (await keys.get('meter')) ?? (await keys.generate('meter')),
    chain: c.meter.chain,
    trust,
  });

  const outbox = await FileOutbox.open(`${c.dir}/outbox`);
  const receipts = await FileOutbox.open(`${c.dir}/receipts`);
  const dead = await FileOutbox.open(`${c.dir}/dead`);
  const sync = new Sync({ device, outbox, receipts, deadLetters: dead, client: new HttpLedgerClient(c.ledgerUrl), ledgerKey: c.ledgerKey });
  sync.on('acknowledged', (e) => log(`receipt: ${e.receipt.status}, ${e.receipt.posted} posted`));
  sync.on('rejected', (e) => log(`receipt: rejected ${e.code}`));

  // Two devices on one in-memory network: no broker. Over MQTT only the transport changes. Each side's
  // close puts its copy of the settlement record in the outbox (either is enough; the ledger applies the
  // channel once).
  const net = new MemoryNetwork();
  const meter = new Payee({
    device: meterDevice,
    trust,
    store: new FileChannelStore(`${c.dir}/meter-channels`),
    outbox: settlements(sync),
  });
  servePayee(meter, net.endpoint(toHex(meterDevice.kid)));
  const payer = new Payer({ device, trust, store: new FileChannelStore(`${c.dir}/channels`), outbox: settlements(sync) });
  const session = new PayerSession(payer, net.endpoint(toHex(device.kid)));
  try {
    const meterAddress = toHex(meterDevice.kid);
    const channel = await session.open(meterAddress, { payeeKid: meterDevice.kid, cap: BigInt(units) * 5n });
    for (let i = 0; i < units; i++) await session.pay(meterAddress, channel, 5n); // 5 minor units per unit
    await session.waitAck(meterAddress, channel, units);
    await session.close(meterAddress, channel);
    log(`paid ${units} units offline; ${await outbox.size()} settlement record(s) queued`);
    const r = await sync.syncNow();
    log(`synced: ${r.acknowledged} acknowledged, ${r.rejected} rejected; outbox now ${await outbox.size()}`);
    return { paid: payer.channel(channel)?.cumulative ?? 0n, synced: r.acknowledged };
  } finally {
    await outbox.close();
    await receipts.close();
    await dead.close();
  }
}
