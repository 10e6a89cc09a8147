/**
 * `npm run bench -- seed1 [--accounts=N] [--clients=6] [--down=60] [--kill-at=0.25] [--threads=1] [--seed=seed1] [--enrol=no]`:
 * the e-money trial the project is measured against (BENCHMARKS.md) on edgepay's ledger. N accounts (account k holds k minor
 * units) each settle their whole balance to one merchant through signed settlement records, generated
 * ahead (not timed) and submitted by concurrent clients to three ledger API processes sharing one
 * PostgreSQL schema. When `--kill-at` of the records are in, two of the three are killed (SIGKILL) for
 * `--down` seconds; clients fail over to the survivor and back. Then the totals are checked exactly.
 *
 * Accounts are enrolled and funded before the clock starts, as the trial's accounts existed before it:
 * enrolment verifies each account's credential chain once (the ledger stores its hash), so settling
 * costs the ledger one signature check per record, the payer's voucher. With `--enrol=no` accounts are only
 * funded: each record's chain is met for the first time during the run, three signature checks a record
 * (the harder case, and an hour less of set-up at 10.8 million accounts).
 *
 * `--devices` runs the device-side variant instead (see `seed1-devices.ts`). `--full` takes 10,800,000 accounts.
 * `--replicated` runs it a second time on a replicated cluster (`ledger cluster`: Patroni, etcd, three
 * PostgreSQL nodes with synchronous replication) where the faults are the database's: the synchronous standby
 * and, 5 s later, the primary killed, both restarted after `--down`; reported beside the single-node run.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { toHex } from '../src/bytes.js';
import { sha256 } from '../src/crypto/hash.js';
import { workerVerifier } from '../src/crypto/workers.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { clusterDown, clusterStatus, clusterUp, killMember } from '../src/ledger/cluster/cluster.js';
import type { Db } from '../src/ledger/db.js';
import { Ledger } from '../src/ledger/ledger.js';
import { openPostgres } from '../src/ledger/postgres.js';
import { verifyReceipts } from '../src/settlement/receipt.js';
import { FailoverLedgerClient, HttpLedgerClient } from '../src/sync/client.js';
import { signSubmission } from '../src/sync/submission.js';
import { report, verifyRateAllCores } from './harness.js';
import { LedgerCluster } from './seed1-cluster.js';
import { ASSET, accountParty, MERCHANT, readAccounts, type Seed1World, seed1World } from './seed1-world.js';

export interface Seed1Options {
  accounts: number;
  seed: string;
  clients: number;
  batch: number;
  nodes: number;
  /** Signature-checking threads per ledger process. */
  threads: number;
  /** Fraction of the records in when two processes are killed (>= 1: never). */
  killAt: number;
  downSeconds: number;
  pgUrl: string;
  /** Enrol every account's chain before the clock starts (else the run verifies each on first sight). */
  enrol: boolean;
  /** Where generated accounts are kept between runs. */
  dir: string;
  /**
   * A replicated cluster (`ledger cluster`'s folder): the faults are then the database's, a standby and 5 s later
   * the primary killed (SIGKILL, whole nodes), both restarted after `downSeconds`; the API processes stay up.
   */
  cluster?: string;
  log: (line: string) => void;
}

export const seed1Defaults = (): Seed1Options => ({
  accounts: 1_080_000,
  seed: 'seed1',
  clients: 6,
  batch: 1000,
  nodes: 3,
  threads: 1,
  killAt: 0.25,
  downSeconds: 60,
  pgUrl: process.env.EDGEPAY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  enrol: true,
  dir: '.tmp/seed1',
  log: (l) => console.error(l),
});

/** Files of generated accounts, each a run of consecutive k; made on all cores once, then reused. */
export async function generate(o: Pick<Seed1Options, 'accounts' | 'seed' | 'dir' | 'log'>): Promise<string[]> {
  const dir = join(o.dir, `${o.seed}-${o.accounts}`);
  await mkdir(dir, { recursive: true });
  const chunk = 20_000;
  const chunks: { from: number; to: number; file: string }[] = [];
  for (let from = 1; from <= o.accounts; from += chunk)
    chunks.push({ from, to: Math.min(o.accounts + 1, from + chunk), file: join(dir, `${String(from).padStart(9, '0')}.bin`) });
  const have = new Set(await readdir(dir));
  const todo = chunks.filter((c) => !have.has(c.file.slice(dir.length + 1)));
  if (todo.length > 0) {
    const threads = Math.min(availableParallelism(), todo.length);
    const started = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: threads }, (_, t) => {
        const mine = todo.filter((_, i) => i % threads === t);
        const w = new Worker(new URL('./ts-worker.mjs', import.meta.url), {
          workerData: { entry: new URL('./seed1-gen.ts', import.meta.url).href, seed: o.seed, chunks: mine },
        });
        return new Promise<void>((resolve, reject) => {
          w.on('message', async (m: { done: number; file: string }) => {
            await rename(`${m.file}.part`, m.file); // whole chunks only: a run cut short resumes cleanly
            done += m.done;
            o.log(`generated ${done.toLocaleString('en-US')} accounts (${Math.round((performance.now() - started) / 1000)} s)`);
          });
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`generator exited with ${code}`))));
        });
      }),
    );
  }
  return chunks.map((c) => c.file);
}

/**
 * Enrols every account's chain (and the merchant's; only the merchant's when `enrol` is false) and funds
 * account k with k, in bulk. `chains` yields the chains of accounts 1, 2, 3... in order.
 */
export async function setUp(
  db: Db,
  w: Seed1World,
  chains: AsyncIterable<Uint8Array[]>,
  log: (l: string) => void,
  enrol = true,
): Promise<void> {
  const verifier = workerVerifier();
  const ledger = await Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:seed1', trust: new TrustStore(w.roots), verifier });
  const check = (errors: unknown[]) => {
    const bad = errors.find((e) => e !== undefined);
    if (bad) throw new Error(`enrolment failed: ${(bad as Error).message}`);
  };
  check(await ledger.enroll([w.merchant.chain]));
  let k = 1;
  const started = performance.now();
  // Two enrolment batches in flight (one's chains are decoded while the other's signatures are checked),
  // and a part's deposits written while the next part enrols: one at a time, the machine sat half idle.
  let funding: Promise<void> = Promise.resolve();
  for await (const part of chains) {
    const slices: Uint8Array[][] = [];
    for (let i = 0; i < part.length; i += 5000) slices.push(part.slice(i, i + 5000));
    let next = 0;
    await Promise.all(
      [0, 1].map(async () => {
        while (enrol && next < slices.length) check(await ledger.enroll(slices[next++] as Uint8Array[]));
      }),
    );
    await funding;
    const deposits = part.map(() => {
      const amount = BigInt(k);
      return { party: accountParty(k++), asset: ASSET, amount, ref: `seed1:${amount}` };
    });
    const upTo = k - 1;
    funding = (async () => {
      for (let i = 0; i < deposits.length; i += 10_000) await ledger.fundMany(deposits.slice(i, i + 10_000));
      log(
        `${enrol ? 'enrolled and funded' : 'funded'} ${upTo.toLocaleString('en-US')} accounts (${Math.round((performance.now() - started) / 1000)} s)`,
      );
    })();
    funding.catch(() => {}); // awaited above or below; this only keeps a failure from counting as unhandled
  }
  await funding;
  await verifier.close();
}

async function* chainsIn(files: string[]): AsyncGenerator<Uint8Array[]> {
  for (const f of files) yield readAccounts(await readFile(f)).chains;
}

/** The trial's exact checks, on the ledger's database after the run. */
export async function exactChecks(db: Db, n: number, receiptsOk: number): Promise<Record<string, boolean>> {
  const one = async (sql: string) => (await db.query<{ v: string }>(sql))[0]?.v ?? '';
  const expected = (BigInt(n) * BigInt(n + 1)) / 2n;
  return {
    [`merchant balance = N(N+1)/2 = ${expected}`]:
      (await one(`select balance::text as v from accounts where party = '${MERCHANT}' and asset = '${ASSET}'`)) === expected.toString(),
    'every account at zero':
      (await one(`select count(*)::text as v from accounts where party like 'acct:%' and balance = 0`)) === String(n),
    'postings sum to zero, and every balance is its postings':
      (await one('select sum(balance)::text as v from accounts')) === '0' &&
      (await one(`with p as (select party, asset, sum(d) as d from (select credit as party, asset, amount as d from postings
                    union all select debit, asset, -amount from postings) x group by party, asset)
                  select count(*)::text as v from accounts a full join p on a.party = p.party and a.asset = p.asset
                   where coalesce(a.balance, 0) <> coalesce(p.d, 0)`)) === '0',
    'no record applied twice':
      (await one(`select count(*)::text as v from postings where channel_id is not null`)) === String(n) &&
      (await one(`select count(distinct channel_id)::text as v from postings where channel_id is not null`)) === String(n) &&
      (await one(`select count(*)::text as v from channels where applied = cap`)) === String(n),
    'every submitted record has a receipt':
      receiptsOk === n && (await one(`select count(*)::text as v from receipts where status = 'accepted'`)) === String(n),
  };
}

/** Batches of records, read from the account files one at a time (memory stays flat at any N). */
async function* batches(files: string[], size: number): AsyncGenerator<Uint8Array[]> {
  for (const f of files) {
    const { records } = readAccounts(await readFile(f));
    for (let i = 0; i < records.length; i += size) yield records.slice(i, i + size);
  }
}

export interface Seed1Result {
  accounts: number;
  seconds: number;
  average: number;
  peak15s: number;
  before: number;
  whileDown: number;
  downRatio: number;
  recoverSeconds: number | undefined;
  peakRss: { ledger: number[]; clients: number };
  checks: Record<string, boolean>;
  failovers: number;
  /** With a cluster: from the primary's kill to the first receipt after it, seconds. */
  failoverSeconds?: number;
  /** With a cluster: the rate from that first receipt until the restart, over the rate before the first kill. */
  degradedRatio?: number;
  /** Records a client holds an accepted receipt for that the ledger does not have at the end. */
  lost: number;
}

/** Runs the trial on a fresh schema (dropped after); returns the figures and the exact checks. */
export async function runSeed1(o: Seed1Options): Promise<Seed1Result> {
  const files = await generate(o);
  const w = await seed1World(o.seed);
  const schema = `ep_seed1_${randomBytes(4).toString('hex')}`;
  const db = await openPostgres(o.pgUrl, schema);
  let cluster: LedgerCluster | undefined;
  try {
    await setUp(db, w, chainsIn(files), o.log, o.enrol);
    cluster = await LedgerCluster.start(o.nodes, o.seed, o.pgUrl, schema, o.threads);
    const c = cluster;
    const n = o.accounts;
    const completions: { at: number; records: number }[] = [];
    let inCount = 0;
    let failovers = 0;
    let receiptsOk = 0;
    let killAt: number | undefined;
    let restartAt: number | undefined;
    let recoveredAt: number | undefined;
    let outage: Promise<void> | undefined;
    const source = batches(files, o.batch);
    let next = Promise.resolve();
    // One batch at a time off the files, in order, whichever client asks.
    const take = () => {
      const p = next.then(() => source.next());
      next = p.then(() => undefined);
      return p;
    };
    const killed = Array.from({ length: o.nodes - 1 }, (_, i) => i + 1).slice(0, 2);
    let primaryKilledAt: number | undefined;
    const databaseOutage = async (dir: string) => {
      const s = await clusterStatus(dir);
      if (!s.leader || !s.syncStandby) throw new Error(`the cluster is not whole: ${JSON.stringify(s.nodes)}`);
      killAt = performance.now();
      await killMember(dir, s.syncStandby);
      o.log(`killed the synchronous standby ${s.syncStandby} (every process, SIGKILL) at ${inCount.toLocaleString('en-US')} records`);
      await new Promise((r) => setTimeout(r, 5000));
      primaryKilledAt = performance.now();
      await killMember(dir, s.leader);
      o.log(`killed the primary ${s.leader} at ${inCount.toLocaleString('en-US')} records: one node of three left`);
      await new Promise((r) => setTimeout(r, o.downSeconds * 1000));
      restartAt = performance.now();
      await clusterUp(dir, { timeoutMs: 900_000 }); // the two catch up on what they missed, under load
      recoveredAt = performance.now();
      o.log(`restarted them: the cluster whole again after ${((recoveredAt - restartAt) / 1000).toFixed(2)} s`);
    };
    const outageRun = async () => {
      if (o.cluster) return databaseOutage(o.cluster);
      killAt = performance.now();
      await Promise.all(killed.map((i) => c.kill(i)));
      o.log(`killed ledger processes ${killed.join(' and ')} (kill -9) at ${inCount.toLocaleString('en-US')} records`);
      await new Promise((r) => setTimeout(r, o.downSeconds * 1000));
      restartAt = performance.now();
      await Promise.all(killed.map((i) => c.up(i)));
      const probes = killed.map((i) => new HttpLedgerClient(c.urls[i] as string));
      while (!(await Promise.all(probes.map((p) => p.probe()))).every(Boolean)) await new Promise((r) => setTimeout(r, 50));
      recoveredAt = performance.now();
      o.log(`restarted them: serving again after ${((recoveredAt - restartAt) / 1000).toFixed(2)} s`);
    };
    const start = performance.now();
    const client = async (ci: number) => {
      // Each client prefers its own process and fails over to the others in turn.
      const order = c.urls.map((_, i) => c.urls[(ci + i) % c.urls.length] as string);
      const ledgerClient = new FailoverLedgerClient(
        order.map((u) => new HttpLedgerClient(u, { timeoutMs: 60_000 })),
        { downMs: 500 },
      );
      for (;;) {
        const { value: records, done } = await take();
        if (done) return;
        const submission = await signSubmission(w.merchant.signer, w.merchant.chain, records, Math.floor(Date.now() / 1000));
        let receipts: Uint8Array[] | undefined;
        while (!receipts) {
          try {
            receipts = await ledgerClient.submit(submission);
          } catch {
            failovers++;
            await new Promise((r) => setTimeout(r, 100)); // every process down for a moment: the same batch again
          }
        }
        if (receipts.length !== records.length) throw new Error('a receipt is missing');
        const verified = await verifyReceipts(receipts, w.ledgerKey.publicKey);
        for (let i = 0; i < records.length; i++) {
          const r = verified[i];
          if (r && !(r instanceof Error) && r.status === 'accepted' && toHex(r.recordId) === toHex(sha256(records[i] as Uint8Array)))
            receiptsOk++;
        }
        inCount += records.length;
        completions.push({ at: performance.now(), records: records.length });
        if (!outage && inCount >= o.killAt * n && o.nodes >= 3) {
          outage = outageRun();
          outage.catch(() => {}); // awaited below, after the clients: a failure fails the run there, cleaned up
        }
      }
    };
    const progress = setInterval(() => {
      void c.sample();
      o.log(
        `${inCount.toLocaleString('en-US')} / ${n.toLocaleString('en-US')} records, ${Math.round((inCount * 1000) / (performance.now() - start))}/s`,
      );
    }, 5000);
    await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
    const end = performance.now();
    clearInterval(progress);
    await outage;
    await c.sample();

    const rate = (from: number, to: number) =>
      (completions.filter((x) => x.at > from && x.at <= to).reduce((s, x) => s + x.records, 0) * 1000) / Math.max(1, to - from);
    let peak = 0;
    for (const x of completions) peak = Math.max(peak, rate(x.at - 15_000, x.at));
    if (end - start < 15_000) peak = rate(start, end);
    const downEnd = Math.min(restartAt ?? end, end);
    const before = killAt ? rate(start, killAt) : rate(start, end);
    const whileDown = killAt ? rate(killAt, downEnd) : 0;

    const checks = await exactChecks(db, n, receiptsOk);
    const [held] = await db.query<{ v: string }>(`select count(*)::text as v from receipts where status = 'accepted'`);
    const lost = Math.max(0, receiptsOk - Number(held?.v ?? 0));
    const firstAfter = primaryKilledAt === undefined ? undefined : completions.find((x) => x.at > (primaryKilledAt as number))?.at;
    const degradedTo = Math.min(restartAt ?? end, end);
    const result: Seed1Result = {
      accounts: n,
      seconds: (end - start) / 1000,
      average: (n * 1000) / (end - start),
      peak15s: peak,
      before,
      whileDown,
      downRatio: killAt ? whileDown / before : 0,
      recoverSeconds: recoveredAt && restartAt ? (recoveredAt - restartAt) / 1000 : undefined,
      peakRss: { ledger: [...c.peak], clients: process.resourceUsage().maxRSS * 1024 },
      checks,
      failovers,
      lost,
      ...(firstAfter !== undefined && primaryKilledAt !== undefined
        ? { failoverSeconds: (firstAfter - primaryKilledAt) / 1000, degradedRatio: rate(firstAfter, degradedTo) / before }
        : {}),
    };
    return result;
  } finally {
    await cluster?.stop();
    // EDGEPAY_SEED1_KEEP=1 keeps the schema, to look into a run whose checks failed.
    if (process.env.EDGEPAY_SEED1_KEEP === '1') o.log(`kept schema ${schema} (${o.pgUrl})`);
    else await db.query(`drop schema ${schema} cascade`).catch(() => {});
    await db.close();
  }
}

/** Reads `--name=value` from the command line. */
export function arg(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

export function printSeed1(name: string, r: Seed1Result, log: (l: string) => void, verifyLimit: number | null = null): boolean {
  report(`${name}.records.average`, r.average, 'records/s', verifyLimit);
  report(`${name}.records.peak15s`, r.peak15s, 'records/s');
  if (r.whileDown > 0) report(`${name}.records.two_down`, r.whileDown, 'records/s', r.before);
  if (r.recoverSeconds !== undefined) report(`${name}.recover`, r.recoverSeconds, 's');
  for (const [i, b] of r.peakRss.ledger.entries()) report(`${name}.peak_rss.ledger${i}`, b / 2 ** 20, 'MiB');
  report(`${name}.peak_rss.clients`, r.peakRss.clients / 2 ** 20, 'MiB');
  log(`\n${name}: ${r.accounts.toLocaleString('en-US')} accounts settled in ${r.seconds.toFixed(1)} s`);
  log(
    `  average ${Math.round(r.average).toLocaleString('en-US')} records/s, peak over 15 s ${Math.round(r.peak15s).toLocaleString('en-US')}/s`,
  );
  if (r.whileDown > 0)
    log(
      `  two of three ${r.failoverSeconds === undefined ? 'processes' : 'database nodes'} down: ${Math.round(r.whileDown).toLocaleString('en-US')}/s against ${Math.round(r.before).toLocaleString('en-US')}/s before (${(r.downRatio * 100).toFixed(0)}%), serving again ${r.recoverSeconds?.toFixed(2)} s after restart, ${r.failovers} submissions retried`,
    );
  log(
    `  peak memory: ledger processes ${r.peakRss.ledger.map((b) => `${Math.round(b / 2 ** 20)} MiB`).join(', ')}; clients ${Math.round(r.peakRss.clients / 2 ** 20)} MiB`,
  );
  for (const [what, ok] of Object.entries(r.checks)) log(`  ${ok ? 'OK    ' : 'FAILED'} ${what}`);
  return Object.values(r.checks).every(Boolean);
}

export async function benchSeed1(): Promise<void> {
  const d = seed1Defaults();
  const devices = process.argv.includes('--devices');
  const num = (k: string, v: number) => (arg(k) === undefined ? v : Number(arg(k)));
  const o: Seed1Options = {
    ...d,
    accounts: num('accounts', devices ? 20_000 : process.argv.includes('--full') ? 10_800_000 : d.accounts),
    clients: num('clients', d.clients),
    threads: num('threads', d.threads),
    batch: num('batch', d.batch),
    killAt: num('kill-at', d.killAt),
    downSeconds: num('down', d.downSeconds),
    seed: arg('seed') ?? d.seed,
    enrol: arg('enrol') !== 'no',
  };
  if (!Number.isInteger(o.accounts) || o.accounts < 1) throw new Error('--accounts takes a whole number above 0');
  if (devices) {
    const { runSeed1Devices } = await import('./seed1-devices.js');
    const r = await runSeed1Devices(o);
    report('seed1.devices.offline_payments', r.payments / r.offlineSeconds, 'payments/s');
    report('seed1.devices.sync', r.syncRate, 'records/s');
    o.log(
      `\nseed1 --devices: ${r.accounts.toLocaleString('en-US')} accounts paid ${r.payments.toLocaleString('en-US')} times offline in ${r.offlineSeconds.toFixed(1)} s with the ledger down;`,
    );
    o.log(`  ${r.records.toLocaleString('en-US')} records (both sides' copies) synced in ${r.syncSeconds.toFixed(1)} s once it was back`);
    for (const [what, ok] of Object.entries(r.checks)) o.log(`  ${ok ? 'OK    ' : 'FAILED'} ${what}`);
    if (!Object.values(r.checks).every(Boolean)) process.exitCode = 1;
    return;
  }
  // The all-core verify rate, measured in this run: the records/s average is reported as a ratio to it.
  const limit = async () => verifyRateAllCores(availableParallelism());
  const before = await limit();
  const r = await runSeed1(o);
  const single = printSeed1('seed1', r, o.log, before);
  if (!process.argv.includes('--replicated')) {
    if (!single) process.exitCode = 1;
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'edgepay-seed1-cluster-'));
  try {
    o.log(`\nthe same trial on a replicated cluster (Patroni, etcd, three PostgreSQL nodes) in ${dir}`);
    const c = await clusterUp(dir, { basePort: Number(arg('base-port') ?? 6600) });
    const rr = await runSeed1({ ...o, pgUrl: c.uri, cluster: dir });
    const replicated = printSeed1('seed1.replicated', rr, o.log, before);
    report('seed1.replicated.average', rr.average, 'records/s', r.average);
    report('seed1.replicated.peak', rr.peak15s, 'records/s', r.peak15s);
    if (rr.degradedRatio !== undefined) report('seed1.replicated.degraded_ratio', rr.degradedRatio, 'ratio');
    if (rr.failoverSeconds !== undefined) report('seed1.replicated.failover_s', rr.failoverSeconds, 's');
    report('seed1.replicated.lost', rr.lost, 'records');
    report('seed1.replicated.checks_failed', Object.values(rr.checks).filter((ok) => !ok).length, 'checks');
    o.log(
      `  replicated: ${Math.round(rr.average).toLocaleString('en-US')} records/s against ${Math.round(r.average).toLocaleString('en-US')}/s on one node (${((rr.average / r.average) * 100).toFixed(0)}%); ` +
        `failover ${rr.failoverSeconds?.toFixed(1)} s; two of three nodes down: ${((rr.degradedRatio ?? 0) * 100).toFixed(0)}% of the rate before; ${rr.lost} receipted records lost`,
    );
    if (!single || !replicated || rr.lost > 0) process.exitCode = 1;
  } finally {
    await clusterDown(dir).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}
