/**
 * The device side of a Node board, as firmware would hold it: its key in an encrypted file store, its
 * channel state and its outbox on disk, a sync loop to the ledger. Only device entry points are imported
 * (no database driver is loaded on the board).
 */
import {
  encodeSettlement,
  FileChannelStore,
  FileKeyStore,
  FileOutbox,
  HttpLedgerClient,
  MemoryNetwork,
  Payee,
  Payer,
  PayerSession,
  Sync,
  servePayee,
  type TrustRoot,
  TrustStore,
  toHex,
  verifyChain,
} from 'edgepay';

export interface BoardConfig {
  /** Where the board keeps its state (keys, channels, outbox, receipts). */
  dir: string;
  passphrase: string;
  /** The network issuer(s) it trusts, and the ledger it settles with. */
  roots: TrustRoot[];
  ledgerUrl: string;
  ledgerKey: Uint8Array;
  /** This board's credential chain (from `edgepay device enroll`). */
  chain: Uint8Array;
  /** The meter it pays: its key store name, chain and kid (here, on the same board, for the example). */
  meter: { chain: Uint8Array };
}

/** Pays `units` to the meter, one voucher each, queues both sides' records, and syncs them. */
export async function runBoard(c: BoardConfig, units: number, log: (l: string) => void): Promise<{ paid: bigint; synced: number }> {
  const keys = new FileKeyStore(`${c.dir}/keys`, c.passphrase);
  const key = (await keys.get('device')) ?? (await keys.generate('device'));
  const meterKey = (await keys.get('meter')) ?? (await keys.generate('meter'));
  const trust = await TrustStore.open(c.roots);
  const self = await verifyChain(c.chain, { trust, expectedKey: key.publicKey });
  const meterSelf = await verifyChain(c.meter.chain, { trust, expectedKey: meterKey.publicKey });

  // Two devices on one in-memory network: no broker. Over MQTT only the transport changes.
  const net = new MemoryNetwork();
  const meter = new Payee({
    signer: meterKey,
    chain: c.meter.chain,
    kid: meterSelf.kid,
    category: meterSelf.device.claims.category,
    trust,
    store: new FileChannelStore(`${c.dir}/meter-channels`),
  });
  servePayee(meter, net.endpoint(toHex(meterSelf.kid)));
  const payer = new Payer({
    signer: key,
    chain: c.chain,
    self,
    category: self.device.claims.category,
    trust,
    store: new FileChannelStore(`${c.dir}/channels`),
  });
  const session = new PayerSession(payer, net.endpoint(toHex(self.kid)));

  const outbox = await FileOutbox.open(`${c.dir}/outbox`);
  const receipts = await FileOutbox.open(`${c.dir}/receipts`);
  const sync = new Sync({
    outbox,
    receipts,
    client: new HttpLedgerClient(c.ledgerUrl),
    signer: key,
    chain: c.chain,
    ledgerKey: c.ledgerKey,
  });
  sync.on('acknowledged', (e) => log(`receipt: ${e.receipt.status}, ${e.receipt.posted} posted`));
  sync.on('rejected', (e) => log(`receipt: rejected ${e.code}`));
  try {
    const meterAddress = toHex(meterSelf.kid);
    const channel = await session.open(meterAddress, { payeeKid: meterSelf.kid, cap: BigInt(units) * 5n });
    for (let i = 0; i < units; i++) await session.pay(meterAddress, channel, 5n); // 5 minor units per unit
    await session.waitAck(meterAddress, channel, units);
    await session.close(meterAddress, channel);
    // Both sides queue their copy (either is enough; the ledger applies the channel once).
    await sync.queue(encodeSettlement(payer.channel(channel)!));
    await sync.queue(encodeSettlement(meter.channel(channel)!));
    log(`paid ${units} units offline; ${await outbox.size()} settlement record(s) queued`);
    const r = await sync.syncNow();
    log(`synced: ${r.acknowledged} acknowledged, ${r.rejected} rejected; outbox now ${await outbox.size()}`);
    return { paid: payer.channel(channel)?.cumulative ?? 0n, synced: r.acknowledged };
  } finally {
    await outbox.close();
    await receipts.close();
  }
}
