/**
 * @module sim/simulate
 * The main job (`npm start`): the whole system in one process. An MQTT broker (embedded aedes,
 * or `--broker`), the ledger (embedded PGlite, or `--db postgres://...`) serving HTTP, an issuer, four
 * responsible parties and their devices: drones paying charging pads, vehicles paying toll gates, over
 * MQTT. Devices checkpoint settlement records into file outboxes that sync to the ledger; halfway the
 * ledger goes away for `--outage` seconds and comes back. At the end: a reconciliation of what the
 * devices signed against what the ledger posted. Exit 0 only when it holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../src/bytes.js';
import { Payee } from '../src/channel/payee.js';
import { Payer } from '../src/channel/payer.js';
import { PayerSession, servePayee } from '../src/channel/session.js';
import { MemoryChannelStore } from '../src/channel/store.js';
import { type Command, int } from '../src/cli/identity.js';
import { CliError } from '../src/cli/io.js';
import { sha256 } from '../src/crypto/hash.js';
import { getEd25519 } from '../src/crypto/index.js';
import { workerVerifier } from '../src/crypto/workers.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { statementCamt053 } from '../src/ledger/camt.js';
import { type HttpLedger, serveHttp } from '../src/ledger/http.js';
import { Ledger } from '../src/ledger/ledger.js';
import { LedgerService } from '../src/ledger/service.js';
import { MemoryOutbox } from '../src/outbox/outbox.js';
import { FileOutbox } from '../src/outbox/outbox-file.js';
import { settlements } from '../src/settlement/queue.js';
import { HttpLedgerClient } from '../src/sync/client.js';
import { Sync } from '../src/sync/sync.js';
import { MqttTransport } from '../src/transport/mqtt.js';
import { buildFleet, type DevicePair, PARTIES, type SimDevice } from './fleet.js';
import { openRunDb, startBroker } from './services.js';

export interface SimulateOptions {
  /** Devices in all (a quarter of each kind: drones, pads, vehicles, toll gates). */
  devices: number;
  /** Seconds of paying. */
  duration: number;
  /** Seconds the ledger is unreachable, in the middle of the run. */
  outage: number;
  db?: string | undefined;
  broker?: string | undefined;
  seed: number;
  json: boolean;
}

export interface PartyLine {
  party: string;
  expected: string;
  ledger: string;
  ok: boolean;
}

export interface Report {
  devices: number;
  channels: number;
  payments: number;
  paymentsPerSecond: number;
  records: number;
  recordsPerSecond: number;
  maxOutboxDepth: number;
  parties: PartyLine[];
  checks: { name: string; ok: boolean; detail: string }[];
  ok: boolean;
}

const FUNDING = 10n ** 12n;
const ASSET = 'EUR';

/** mulberry32: a small seeded PRNG, so `--seed` reproduces amounts and pacing. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function simulate(o: SimulateOptions, progress: (l: string) => void): Promise<Report> {
  const now = () => Math.floor(Date.now() / 1000);
  const perKind = Math.max(1, Math.floor(o.devices / 4));
  const limits = {
    asset: ASSET,
    perPayment: 1_000n,
    perChannel: 10_000_000n,
    perPeriod: 10n ** 12n,
    periodSeconds: 86_400,
    totalOutstanding: 10n ** 11n,
  };
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-sim-'));
  const cleanup: (() => Promise<unknown>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const verifier = workerVerifier();
  cleanup.push(() => verifier.close());
  try {
    progress(`building the network: ${perKind * 4} devices under 4 parties (seed ${o.seed})`);
    const fleet = await buildFleet({ seed: o.seed, perKind, now, limits });

    // The ledger: embedded PGlite, or PostgreSQL in a schema of its own for this run.
    const db = await openRunDb(o.db, String(o.seed));
    cleanup.push(() => db.close());
    const ledgerKey = await (await getEd25519()).signer(sha256(new TextEncoder().encode(`edgepay-sim:${o.seed}:ledger`)));
    const trust = new TrustStore(fleet.roots);
    const ledger = await Ledger.open({ db, signer: ledgerKey, id: 'ledger:sim', trust, verifier });
    for (const p of [PARTIES.fleet, PARTIES.vehicles]) await ledger.fund(p.id, ASSET, FUNDING, `sim-${o.seed}-${p.id}`);
    const service = await LedgerService.open({ ledger, trust, revocation: { signer: fleet.issuer, issuer: fleet.issuerId } });
    let http: HttpLedger | undefined = await serveHttp(service, { rate: { perSecond: 100_000, burst: 100_000 } });
    const port = http.port;
    const ledgerUrl = http.url;
    cleanup.push(async () => http?.close());

    // The broker: embedded aedes (MQTT 3.1.1), or the one given (MQTT 5).
    const broker = o.broker ? { url: o.broker, close: async () => {} } : await startBroker();
    cleanup.push(() => broker.close());
    const protocolVersion = o.broker ? 5 : 4;
    const prefix = `edgepay-sim-${o.seed}-${Date.now().toString(36)}`;

    // Every device: an MQTT connection, a file outbox, a sync loop to the ledger.
    progress(`connecting ${fleet.devices.length} devices to ${broker.url}`);
    const syncs: Sync[] = [];
    const outboxes: FileOutbox[] = [];
    let synced = 0;
    const attach = async (d: SimDevice) => {
      const transport = await MqttTransport.connect({
        url: broker.url,
        address: d.address,
        prefix,
        protocolVersion,
        endSessionOnClose: true,
        reconnectPeriod: 200,
      });
      cleanup.push(() => transport.close());
      const outbox = await FileOutbox.open(join(dir, d.name));
      cleanup.push(() => outbox.close());
      const sync = new Sync({
        outbox,
        receipts: new MemoryOutbox(),
        client: new HttpLedgerClient(ledgerUrl, { timeoutMs: 5_000 }),
        device: d.device,
        ledgerKey: ledgerKey.publicKey,
        backoff: { initialMs: 200, maxMs: 2_000 },
        pollMs: 1_000,
        maxCount: 100,
      });
      sync.on('acknowledged', () => synced++);
      sync.on('rejected', () => synced++);
      syncs.push(sync);
      outboxes.push(outbox);
      return { transport, sync };
    };
    // Channel state in memory; each side's closes and checkpoints go to its own outbox, through its sync.
    const lanes: { pair: DevicePair; payer: Payer; payee: Payee; session: PayerSession }[] = [];
    for (const pair of fleet.pairs) {
      const to = await attach(pair.to);
      const payee = new Payee({
        device: pair.to.device,
        trust: new TrustStore(fleet.roots),
        store: new MemoryChannelStore(),
        outbox: settlements(to.sync),
        now,
      });
      servePayee(payee, to.transport);
      const from = await attach(pair.from);
      const payer = new Payer({
        device: pair.from.device,
        trust: new TrustStore(fleet.roots),
        store: new MemoryChannelStore(),
        outbox: settlements(from.sync),
        now,
      });
      lanes.push({ pair, payer, payee, session: new PayerSession(payer, from.transport) });
    }
    for (const s of syncs) s.start();
    cleanup.push(() => Promise.all(syncs.map((s) => s.stop())));

    // Pay for `duration` seconds; the ledger is away for `outage` seconds in the middle.
    const start = performance.now();
    const end = start + o.duration * 1000;
    const outageAt = start + ((o.duration - o.outage) / 2) * 1000;
    let ledgerUp = true;
    let payments = 0;
    let maxDepth = 0;
    const outage = (async () => {
      if (o.outage <= 0) return;
      await sleep(Math.max(0, outageAt - performance.now()));
      ledgerUp = false;
      await http?.close();
      http = undefined;
      await sleep(o.outage * 1000);
      http = await serveHttp(service, { port, rate: { perSecond: 100_000, burst: 100_000 } });
      ledgerUp = true;
      for (const s of syncs) s.notify();
    })();
    const depth = async () => (await Promise.all(outboxes.map((b) => b.size()))).reduce((a, b) => a + b, 0);
    let stopped = false;
    const bar = (async () => {
      while (!stopped) {
        const t = Math.min(1, (performance.now() - start) / (end - start));
        const d = await depth();
        maxDepth = Math.max(maxDepth, d);
        const filled = Math.round(t * 30);
        progress(
          `[${'#'.repeat(filled)}${'-'.repeat(30 - filled)}] ${((performance.now() - start) / 1000).toFixed(0)}s  payments ${payments}  outbox ${d}  synced ${synced}  ledger ${ledgerUp ? 'online' : 'OFFLINE'}`,
        );
        await sleep(500);
      }
    })();
    const channels: { lane: (typeof lanes)[number]; id: Uint8Array }[] = [];
    await Promise.all(
      lanes.map(async (lane, i) => {
        const { pair, session } = lane;
        // Each lane its own stream: the same seed gives every device the same amounts and pauses, whatever
        // the interleaving (how many payments fit in --duration still depends on the machine).
        const rand = prng(o.seed * 100_003 + i);
        const id = await session.open(pair.to.address, { payeeKid: pair.to.device.kid, cap: limits.perChannel, ttlSeconds: 3600 }, 30_000);
        channels.push({ lane, id });
        let n = 0;
        while (performance.now() < end) {
          await session.pay(pair.to.address, id, BigInt(1 + Math.floor(rand() * 50)));
          payments++;
          if (++n % 10 === 0) {
            // A checkpoint: both sides queue their copy of the channel's state.
            await lane.payer.checkpoint(id);
            if (lane.payee.channel(id)) await lane.payee.checkpoint(id);
          }
          await sleep(20 + Math.floor(rand() * 60));
        }
      }),
    );
    const paySeconds = (performance.now() - start) / 1000;
    await outage;
    // Close every channel cooperatively (closes queue themselves; a close that timed out leaves its newest
    // state checkpointed instead); then wait for the outboxes to drain.
    progress('closing channels and draining outboxes');
    await Promise.allSettled(channels.map(({ lane, id }) => lane.session.close(lane.pair.to.address, id, 15_000)));
    for (const { lane, id } of channels) {
      if (lane.payer.channel(id)?.state !== 'closed') await lane.payer.checkpoint(id);
      if (lane.payee.channel(id) && lane.payee.channel(id)?.state !== 'closed') await lane.payee.checkpoint(id);
    }
    const drainStart = performance.now();
    for (const s of syncs) s.notify();
    while ((await depth()) > 0 && performance.now() - drainStart < 120_000) await sleep(200);
    stopped = true;
    await bar;
    const records = synced;
    const syncSeconds = (performance.now() - start) / 1000;

    // Reconciliation: what the devices signed against what the ledger posted.
    const checks: Report['checks'] = [];
    const left = await depth();
    checks.push({ name: 'every outbox drained', ok: left === 0, detail: `${left} records left` });
    const applied = new Map(
      (await db.query<{ id: string; applied: string }>('select id, applied::text as applied from channels')).map((r) => [
        r.id,
        BigInt(r.applied),
      ]),
    );
    let mismatched = 0;
    const expected = new Map<string, bigint>([
      [PARTIES.fleet.id, FUNDING],
      [PARTIES.vehicles.id, FUNDING],
      [PARTIES.pads.id, 0n],
      [PARTIES.tolls.id, 0n],
    ]);
    for (const { lane, id } of channels) {
      const signed = lane.payer.channel(id)?.cumulative ?? 0n;
      if (applied.get(toHex(id)) !== signed) mismatched++;
      expected.set(lane.pair.from.party.id, (expected.get(lane.pair.from.party.id) ?? 0n) - signed);
      expected.set(lane.pair.to.party.id, (expected.get(lane.pair.to.party.id) ?? 0n) + signed);
    }
    checks.push({
      name: "each channel's newest voucher equals what the ledger applied",
      ok: mismatched === 0,
      detail: `${mismatched} of ${channels.length} differ`,
    });
    const parties: PartyLine[] = [];
    for (const [party, want] of expected) {
      const got = await ledger.balance(party, ASSET);
      parties.push({ party, expected: want.toString(), ledger: got.toString(), ok: got === want });
    }
    checks.push({
      name: 'every party balance matches its devices',
      ok: parties.every((p) => p.ok),
      detail: `${parties.filter((p) => !p.ok).length} differ`,
    });
    const total = await ledger.total();
    checks.push({ name: 'postings sum to zero', ok: total === 0n, detail: `sum ${total}` });
    const twice = await db.query('select record_id from postings where channel_id is not null group by record_id having count(*) > 1');
    checks.push({ name: 'no record posted twice', ok: twice.length === 0, detail: `${twice.length} records` });
    const sums = await db.query<{ id: string }>(
      `select c.id from channels c left join (select channel_id, sum(amount) as s from postings group by channel_id) p on p.channel_id = c.id
        where coalesce(p.s, 0) <> c.applied`,
    );
    checks.push({
      name: "each channel's postings add up to what it applied",
      ok: sums.length === 0,
      detail: `${sums.length} channels differ`,
    });
    // Each party's ISO 20022 statement of the whole run: opening plus entries is closing, closing is the ledger's.
    const statementsOff: string[] = [];
    const until = Math.floor(Date.now() / 1000) + 60;
    for (const party of expected.keys()) {
      const st = await ledger.statement(party, ASSET, 0, until);
      const doc = statementCamt053(st, { msgId: 'sim-statement', createdAt: new Date() });
      const entries = st.lines.reduce((sum, l) => sum + l.amount, 0n);
      const entriesInDoc = (doc.match(/<Ntry>/g) ?? []).length;
      if (st.opening + entries !== st.closing || st.closing !== (await ledger.balance(party, ASSET)) || entriesInDoc !== st.lines.length)
        statementsOff.push(party);
    }
    checks.push({
      name: "each party's camt.053 statement: opening plus entries is closing, closing is its balance",
      ok: statementsOff.length === 0,
      detail: statementsOff.join(', '),
    });
    const report: Report = {
      devices: fleet.devices.length,
      channels: channels.length,
      payments,
      paymentsPerSecond: Math.round(payments / paySeconds),
      records,
      recordsPerSecond: Math.round(records / syncSeconds),
      maxOutboxDepth: maxDepth,
      parties,
      checks,
      ok: checks.every((c) => c.ok),
    };
    return report;
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  }
}

export function printReport(r: Report, out: (l: string) => void): void {
  out('');
  out(`devices ${r.devices}, channels ${r.channels}`);
  out(
    `payments ${r.payments} (${r.paymentsPerSecond}/s), settlement records synced ${r.records} (${r.recordsPerSecond}/s), deepest outboxes ${r.maxOutboxDepth}`,
  );
  out('');
  out('party                 devices say (minor units)   ledger posted            ');
  for (const p of r.parties) out(`${p.party.padEnd(22)}${p.expected.padStart(26)}  ${p.ledger.padStart(24)}  ${p.ok ? 'ok' : 'MISMATCH'}`);
  out('');
  for (const c of r.checks) out(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.ok ? '' : ` (${c.detail})`}`);
}

/** Without a terminal, the progress bar's line is printed at most this often. */
const PROGRESS_EVERY_MS = 5_000;

export const simulateCommands: Record<string, Command> = {
  simulate: {
    usage:
      'npm start -- [--devices 300] [--duration 30] [--outage 10] [--db postgres://...] [--broker mqtt://...] [--seed 1] [--json]\n' +
      '  The whole system in one process: broker, ledger, issuer, four parties and their devices paying over MQTT;\n' +
      '  the ledger goes away for --outage seconds halfway. Ends with a reconciliation; exit 0 only when it holds.',
    options: {
      devices: { type: 'string' },
      duration: { type: 'string' },
      outage: { type: 'string' },
      db: { type: 'string' },
      broker: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    async run(v, _p, out) {
      const o: SimulateOptions = {
        devices: int(v, 'devices', 300),
        duration: int(v, 'duration', 30),
        outage: int(v, 'outage', 10),
        db: typeof v.db === 'string' ? v.db : undefined,
        broker: typeof v.broker === 'string' ? v.broker : undefined,
        seed: int(v, 'seed', 1),
        json: v.json === true,
      };
      if (o.devices < 4) throw new CliError('CLI_USAGE', '--devices is at least 4 (one of each kind)', 'devices');
      if (o.outage >= o.duration) throw new CliError('CLI_USAGE', '--outage must be shorter than --duration', 'outage');
      if (o.db && !/^postgres(ql)?:\/\//.test(o.db)) throw new CliError('CLI_USAGE', '--db takes a postgres:// URL', 'db');
      // Progress goes to stderr: a bar that redraws on a terminal; elsewhere (a log, CI) a line when the phase
      // or the ledger's state changes, and at most one every few seconds between.
      const tty = process.stderr.isTTY;
      let last = { at: 0, state: '' };
      const progress = (l: string) => {
        if (tty) return void process.stderr.write(`\r\x1b[2K${l}`);
        const state = l.startsWith('[') ? (l.match(/ledger \S+$/)?.[0] ?? '') : l;
        const now = performance.now();
        if (state === last.state && now - last.at < PROGRESS_EVERY_MS) return;
        last = { at: now, state };
        process.stderr.write(`${l}\n`);
      };
      const r = await simulate(o, progress);
      if (tty) process.stderr.write('\n');
      if (o.json) out(JSON.stringify(r, null, 2));
      else printReport(r, out);
      const failed = r.checks.filter((c) => !c.ok);
      // With --json, stdout is the JSON alone (for jq); the verdict line goes with the progress, to stderr.
      (o.json ? (l: string) => process.stderr.write(`${l}\n`) : out)(
        r.ok
          ? `reconciliation: OK (${r.payments} payments, ${r.records} records, every balance and channel matches)`
          : `reconciliation: FAILED (${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')})`,
      );
      return r.ok ? 0 : 1;
    },
  },
};
