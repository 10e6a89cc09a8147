/**
 * `npm run bench -- seed1 --devices [--accounts=20000]`: the seed trial from the devices' side. The whole
 * ledger is down (every API process killed) while each account's device opens a channel to the merchant's
 * point of sale and pays its whole balance offline, in two vouchers, the second final (a cooperative
 * close). Both sides queue their copy of the settlement record in a durable file outbox. Then the ledger
 * comes back and both outboxes sync (`Sync` over a `FailoverLedgerClient`), and the same exact checks run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Payee } from '../src/channel/payee.js';
import { Payer } from '../src/channel/payer.js';
import { MemoryChannelStore } from '../src/channel/store.js';
import { openDevice } from '../src/identity/device.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { openPostgres } from '../src/ledger/postgres.js';
import { FileOutbox } from '../src/outbox/outbox-file.js';
import { settlements } from '../src/settlement/queue.js';
import { FailoverLedgerClient, HttpLedgerClient } from '../src/sync/client.js';
import { Sync } from '../src/sync/sync.js';
import { exactChecks, type Seed1Options, setUp } from './seed1.js';
import { LedgerCluster } from './seed1-cluster.js';
import { accountDevice, seed1World } from './seed1-world.js';

export interface Seed1DevicesResult {
  accounts: number;
  /** Payments made offline (vouchers), and how long they took with the ledger down. */
  payments: number;
  offlineSeconds: number;
  /** Records queued (both sides' copies) and how long syncing them all took once the ledger was back. */
  records: number;
  syncSeconds: number;
  syncRate: number;
  checks: Record<string, boolean>;
}

export async function runSeed1Devices(o: Seed1Options): Promise<Seed1DevicesResult> {
  const n = o.accounts;
  const w = await seed1World(o.seed);
  const schema = `ep_seed1d_${randomBytes(4).toString('hex')}`;
  const db = await openPostgres(o.pgUrl, schema);
  const dir = await mkdtemp(join(tmpdir(), 'edgepay-seed1-'));
  let cluster: LedgerCluster | undefined;
  try {
    const devices: Awaited<ReturnType<typeof accountDevice>>[] = [];
    for (let k = 1; k <= n; k++) devices.push(await accountDevice(w, o.seed, k));
    await setUp(
      db,
      w,
      (async function* () {
        yield devices.map((d) => d.chain);
      })(),
      o.log,
    );
    cluster = await LedgerCluster.start(o.nodes, o.seed, o.pgUrl, schema, o.threads);
    const c = cluster;
    // The whole ledger goes down: every process, kill -9.
    for (let i = 0; i < o.nodes; i++) await c.kill(i);
    o.log(`ledger down (all ${o.nodes} processes killed); ${n.toLocaleString('en-US')} devices pay offline`);

    const posOutbox = await FileOutbox.open(join(dir, 'pos'));
    const deviceOutbox = await FileOutbox.open(join(dir, 'devices'));
    // Both copies go to an outbox: the point of sale's and each paying device's; either is enough, both may arrive.
    const merchant = await openDevice({ signer: w.merchant.signer, chain: w.merchant.chain, trust: new TrustStore(w.roots) });
    const pos = new Payee({
      device: merchant,
      trust: new TrustStore(w.roots),
      store: new MemoryChannelStore(),
      outbox: settlements(posOutbox),
    });
    let payments = 0;
    const offlineStart = performance.now();
    for (let k = 1; k <= n; k++) {
      const d = devices[k - 1] as (typeof devices)[number];
      const trust = new TrustStore(w.roots);
      const payer = new Payer({
        device: await openDevice({ signer: d.signer, chain: d.chain, trust }),
        trust,
        store: new MemoryChannelStore(),
        outbox: settlements(deviceOutbox),
      });
      const { channelId, frame } = await payer.open({ payeeKid: w.merchant.kid, cap: BigInt(k) });
      for (const a of await pos.handle(frame)) await payer.handle(a);
      const first = BigInt(Math.ceil(k / 2));
      const parts = first === BigInt(k) ? [first] : [first, BigInt(k) - first];
      for (let i = 0; i < parts.length; i++) {
        const v = await payer.pay(channelId, parts[i] as bigint, { final: i === parts.length - 1 });
        for (const a of await pos.handle(v)) await payer.handle(a);
        payments++;
      }
    }
    const offlineSeconds = (performance.now() - offlineStart) / 1000;
    const records = (await posOutbox.size()) + (await deviceOutbox.size());
    o.log(
      `${payments.toLocaleString('en-US')} payments offline in ${offlineSeconds.toFixed(1)} s; ${records.toLocaleString('en-US')} records queued`,
    );

    await Promise.all(Array.from({ length: o.nodes }, (_, i) => c.up(i)));
    const client = () =>
      new FailoverLedgerClient(
        c.urls.map((u) => new HttpLedgerClient(u, { timeoutMs: 60_000 })),
        { downMs: 500 },
      );
    let acknowledged = 0;
    const sync = async (outbox: FileOutbox, signer: typeof w.merchant.signer, chain: Uint8Array) => {
      const s = new Sync({
        outbox,
        client: client(),
        device: await openDevice({ signer, chain, trust: new TrustStore(w.roots) }),
        ledgerKey: w.ledgerKey.publicKey,
        maxCount: 1000,
        maxBytes: 3 * 2 ** 20,
      });
      s.on('acknowledged', () => acknowledged++);
      return s;
    };
    // Account 1's device relays the devices' copies (any enrolled device may relay another's records).
    const syncs = [
      await sync(posOutbox, w.merchant.signer, w.merchant.chain),
      await sync(deviceOutbox, devices[0]!.signer, devices[0]!.chain),
    ];
    const syncStart = performance.now();
    await Promise.all(
      syncs.map(async (s, i) => {
        const outbox = i === 0 ? posOutbox : deviceOutbox;
        while ((await outbox.size()) > 0) await s.syncNow();
      }),
    );
    const syncSeconds = (performance.now() - syncStart) / 1000;
    o.log(`synced ${acknowledged.toLocaleString('en-US')} records in ${syncSeconds.toFixed(1)} s`);
    await posOutbox.close();
    await deviceOutbox.close();
    const checks = await exactChecks(db, n, acknowledged === records ? n : -1);
    return { accounts: n, payments, offlineSeconds, records, syncSeconds, syncRate: records / syncSeconds, checks };
  } finally {
    await cluster?.stop();
    await db.query(`drop schema ${schema} cascade`).catch(() => {});
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}
