/**
 * No participant can make the ledger work hard before it has proved who it is: records built to cost the
 * most (junk signatures over huge tick indices; genuine signatures over long tick runs) cost a few
 * milliseconds of the main thread each, their hashing runs on the verifier's threads and only once their
 * signatures verified, each submitter has a work budget, and an honest submission sent behind them is
 * answered at once. Main-thread time is the main thread's own CPU time from /proc (Linux).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HashChain } from '../../src/channel/hashchain.js';
import { signAccept, signOpen } from '../../src/channel/messages.js';
import { decode } from '../../src/codec/cbor.js';
import { workerVerifier } from '../../src/crypto/workers.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import type { Db } from '../../src/ledger/db.js';
import { serveHttp } from '../../src/ledger/http.js';
import { LedgerService } from '../../src/ledger/service.js';
import { signSubmission } from '../../src/sync/submission.js';
import { type Pair, pair } from '../channel/world.js';
import { havePostgres, pgliteDb, postgresDb } from '../ledger/dbs.js';
import { payOffline } from '../sync/world.js';
import { junkSignature, ledgerFor, record } from './world.js';

/** This thread's CPU time so far, ms (utime + stime of the main thread: its task id is the process id). */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 1/100 s (USER_HZ)
}

const WIDE = { perPayment: 2_000_000n, perChannel: 2_000_000n, perPeriod: 10n ** 12n, totalOutstanding: 10n ** 12n };

/** A channel with a hash chain of `length` ticks of 1: genuine signatures, or junk ones. */
async function tickRecord(
  p: Pair,
  o: { root: Uint8Array; length: number; index: number; word: Uint8Array; junk: boolean },
): Promise<Uint8Array> {
  const now = p.clock.now;
  const { bytes, channelId } = await signOpen(p.drone, {
    chain: p.droneChain,
    payeeKid: p.padKid,
    asset: 'EUR',
    cap: 2_000_000n,
    unitPrice: 0n,
    expiresAt: now + 3600,
    nonce: crypto.getRandomValues(new Uint8Array(16)),
    payword: { root: o.root, length: o.length, tickValue: 1n },
  });
  const accept = await signAccept(p.pad, channelId, p.padChain);
  return record({
    open: o.junk ? junkSignature(bytes) : bytes,
    accept: o.junk ? junkSignature(accept) : accept,
    tick: [o.index, o.word],
  });
}

async function post(url: string, body: Uint8Array): Promise<{ status: number; ms: number; body: Uint8Array }> {
  const t = performance.now();
  const res = await fetch(`${url}/v1/submit`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as BodyInit });
  return { status: res.status, body: new Uint8Array(await res.arrayBuffer()), ms: performance.now() - t };
}

function suite(openDb: () => Promise<Db>) {
  it.runIf(process.platform === 'linux')(
    'records built to cost the most take a few ms of the main thread each; an honest submission behind them is answered within a second; /health answers throughout',
    async () => {
      const db = await openDb();
      const verifier = workerVerifier({ threads: 2 });
      const p = await pair({ limits: WIDE });
      const ledger = await ledgerFor(db, p, { verifier });
      const trust = new TrustStore(p.roots);
      const service = await LedgerService.open({ ledger, trust, now: () => p.clock.now });
      const http = await serveHttp(service, { rate: { perSecond: 10_000, burst: 10_000 } });
      let probing = true;
      const probes: number[] = [];
      const prober = (async () => {
        while (probing) {
          const t = performance.now();
          const r = await fetch(`${http.url}/health`);
          expect(r.status).toBe(200);
          probes.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        // 1. Junk signatures over tick indices of a million: the most a record could make the old ledger hash.
        const junk = await Promise.all(
          Array.from({ length: 64 }, () =>
            tickRecord(p, {
              root: new Uint8Array(32).fill(7),
              length: 10_000_000,
              index: 1_000_000,
              word: new Uint8Array(32).fill(1),
              junk: true,
            }),
          ),
        );
        // 2. Genuine signatures over a long run of ticks (this submitter's own channels): hashed, but on the
        // verifier's threads, once the signatures verified.
        const chain = new HashChain(150_000);
        const genuine = await Promise.all(
          Array.from({ length: 2 }, () =>
            tickRecord(p, { root: chain.root, length: 150_000, index: 150_000, word: chain.word(150_000), junk: false }),
          ),
        );
        const hostile = [
          await signSubmission(p.drone, p.droneChain, junk, p.clock.now),
          await signSubmission(p.drone, p.droneChain, genuine, p.clock.now),
        ];
        await ledger.fund('party:pads', 'EUR', 1n); // the honest side's account exists
        const honestRecord = (await payOffline(p, 1, 10n)).payee;
        const honest = await signSubmission(p.pad, p.padChain, [honestRecord], p.clock.now);

        // Warm up (code paths compiled, the honest side known) before measuring.
        await post(http.url, await signSubmission(p.pad, p.padChain, [(await payOffline(p, 1, 1n)).payee], p.clock.now));
        const cpu0 = mainThreadCpuMs();
        const sent = hostile.map((h) => post(http.url, h));
        const honestAnswer = await post(http.url, honest);
        const [a, b] = await Promise.all(sent);
        const cpu = mainThreadCpuMs() - cpu0;

        expect(honestAnswer.status).toBe(200);
        expect(honestAnswer.ms).toBeLessThan(1000);
        expect(a?.status).toBe(200);
        expect(b?.status).toBe(200);
        const statuses = (r: { body: Uint8Array } | undefined) => (decode(r?.body as Uint8Array) as Uint8Array[]).length;
        expect(statuses(a)).toBe(64);
        expect(statuses(b)).toBe(2);
        expect(service.metrics.rejected).toBe(64); // every junk record refused (COSE_SIGNATURE), none hashed
        expect(service.metrics.accepted).toBe(4); // the two long runs (hashed on the workers) and the honest records
        // A few milliseconds a record at most, for the 66 hostile records and the honest one together.
        expect(cpu / 67).toBeLessThan(5);

        // 3. The same long runs again and again: the submitter's work budget runs out (LEDGER_RATE, retryable),
        // before anything is hashed; another submitter is not held up.
        const more = await Promise.all(
          Array.from({ length: 40 }, () =>
            tickRecord(p, { root: chain.root, length: 150_000, index: 150_000, word: chain.word(150_000), junk: false }),
          ),
        );
        const over = await post(http.url, await signSubmission(p.drone, p.droneChain, more, p.clock.now));
        expect(over.status).toBe(429);
        expect(JSON.parse(new TextDecoder().decode(over.body))).toMatchObject({ code: 'LEDGER_RATE', field: 'submitter' });
        const again = await post(http.url, await signSubmission(p.pad, p.padChain, [(await payOffline(p, 1, 5n)).payee], p.clock.now));
        expect(again.status).toBe(200);
        expect(service.metrics.overBudget).toBe(1);
      } finally {
        probing = false;
        await prober;
        await http.close();
        await verifier.close();
        await db.close();
      }
      expect(probes.length).toBeGreaterThan(3);
      expect(Math.max(...probes)).toBeLessThan(1000);
    },
    120_000,
  );
}

describe('bounded work per record, PGlite', () => suite(pgliteDb));
describe.skipIf(!havePostgres)('bounded work per record, PostgreSQL', () => suite(() => postgresDb()));
