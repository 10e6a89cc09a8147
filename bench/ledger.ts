/**
 * `npm run bench -- ledger`: settlement records fully verified and applied per second, on PGlite and on
 * PostgreSQL (127.0.0.1:5432, its own schema, dropped after), against the raw Ed25519 verify rate of all
 * cores (bare `crypto.verify` loops on one thread per core at once, measured in this run). Records (one channel
 * each, with a voucher, between 50 payer/payee pairs) are generated ahead and not timed; they are submitted
 * in batches of 1,000, three batches in flight (as concurrent submissions would be), with signatures checked
 * on worker threads (`workerVerifier`). Each database first takes 10,000 other records untimed
 * (`LEDGER_WARMUP`): a ledger service runs for days, and in a 20,000-record run the JIT compiling the
 * record path took a fifth of the process's CPU. The limit is measured before and after each run; a run's
 * ratio uses the mean of the two around it, and `ledger.limit.verify.allcores` (last) the mean of all.
 * `ledger.postgresjs.records` is the same run on postgres.js (bench/postgresjs.ts), the driver the ledger's
 * own multi-host connector over `pg` was measured against.
 */
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { concatBytes } from '../src/bytes.js';
import { SPKI_PREFIX } from '../src/crypto/ed25519.js';
import { createSigner } from '../src/crypto/index.js';
import { workerVerifier } from '../src/crypto/workers.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { type Db, openPglite } from '../src/ledger/db.js';
import { Ledger } from '../src/ledger/ledger.js';
import { openPostgres } from '../src/ledger/postgres.js';
import { encodeSettlement } from '../src/settlement/record.js';
import { opsPerSecond, report, verifyRateAllCores } from './harness.js';
import { benchPairs, benchRoots, NOW } from './world.js';

export async function benchLedger(): Promise<void> {
  const n = Number(process.env.LEDGER_RECORDS ?? 20_000);
  const batch = Number(process.env.LEDGER_BATCH ?? 1000);
  const inFlight = Number(process.env.LEDGER_IN_FLIGHT ?? 3);
  const warmup = Number(process.env.LEDGER_WARMUP ?? 10_000);
  const pairs = await benchPairs(50);
  const records: Uint8Array[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const p = pairs[i % pairs.length]!;
    const { channelId, frame } = await p.payer.open({ payeeKid: p.payeeKid, cap: 1_000_000n });
    for (const a of await p.payee.handle(frame)) await p.payer.handle(a);
    const v = await p.payer.pay(channelId, BigInt(1 + (i % 97)));
    await p.payee.handle(v);
    records.push(encodeSettlement(p.payee.channel(channelId)!));
  }
  const s = await createSigner();
  const pub = createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, s.publicKey)), format: 'der', type: 'spki' });
  const msg = new Uint8Array(100);
  const sig = await s.sign(msg);
  const cores = availableParallelism();
  // The limit is measured before and after each run and averaged: this shared machine's speed drifts.
  // One core's rate times the cores is reported too: it overstates what the cores do together by a few
  // percent.
  const one = async () => (await opsPerSecond(() => verify(null, msg, pub, sig))) * cores;
  const ones: number[] = [];
  const limit = async () => {
    ones.push(await one());
    return verifyRateAllCores(cores);
  };
  const limits = [await limit()];

  const trust = new TrustStore(await benchRoots());
  const verifier = workerVerifier();
  const run = async (name: string, db: Db) => {
    const ledger = await Ledger.open({ db, signer: await createSigner(), id: 'ledger:bench', trust, now: () => NOW, verifier });
    await ledger.setCreditLine('party:a', 'EUR', 10n ** 15n);
    const submitAll = async (list: Uint8Array[]) => {
      const batches: Uint8Array[][] = [];
      for (let i = 0; i < list.length; i += batch) batches.push(list.slice(i, i + batch));
      let next = 0;
      const lane = async () => {
        while (next < batches.length) {
          const b = batches[next++] as Uint8Array[];
          const results = await ledger.submit(b);
          if (results.some((r) => r.status !== 'accepted'))
            throw new Error(`a record was not accepted: ${results.find((r) => r.status !== 'accepted')?.code}`);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
    };
    await submitAll(records.slice(0, warmup));
    const start = performance.now();
    await submitAll(records.slice(warmup));
    const rate = (n * 1000) / (performance.now() - start);
    const before = limits.at(-1) as number;
    limits.push(await limit());
    report(`ledger.${name}.records`, rate, 'records/s', (before + (limits.at(-1) as number)) / 2);
    if ((await ledger.total()) !== 0n) throw new Error('postings do not sum to zero');
  };
  const lite = await openPglite();
  await run('pglite', lite);
  await lite.close();
  const schema = `ep_bench_${randomBytes(4).toString('hex')}`;
  try {
    const pg = await openPostgres(process.env.EDGEPAY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', schema);
    await run('postgres', pg);
    await pg.query(`drop schema ${schema} cascade`);
    await pg.close();
  } catch (e) {
    console.error(`postgres skipped: ${(e as Error).message}`);
  }
  // The same on postgres.js, the driver that takes multi-host URIs itself (the choice between them: BENCHMARKS.md).
  const schemaJs = `ep_bench_${randomBytes(4).toString('hex')}`;
  try {
    const { openPostgresJs } = await import('./postgresjs.js');
    const js = await openPostgresJs(process.env.EDGEPAY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', schemaJs);
    await run('postgresjs', js);
    await js.query(`drop schema ${schemaJs} cascade`);
    await js.close();
  } catch (e) {
    console.error(`postgres.js skipped: ${(e as Error).message}`);
  }
  report('ledger.limit.verify.allcores', limits.reduce((a, b) => a + b) / limits.length, 'verifies/s');
  report('ledger.limit.verify.onecore_times_cores', ones.reduce((a, b) => a + b) / ones.length, 'verifies/s');
  await verifier.close();
}
