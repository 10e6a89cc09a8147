/**
 * One ledger API process of the seed trial: the real service stack (LedgerService over HTTP, signatures on
 * worker threads) on the shared PostgreSQL schema. `tsx bench/seed1-node.ts <seed> <postgres url> <schema>
 * <port> [verify threads]`; prints `{"listening": url}` once it serves. Killed with SIGKILL by the trial, restarted on the
 * same port.
 */
import process from 'node:process';
import { workerVerifier } from '../src/crypto/workers.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { serveHttp } from '../src/ledger/http.js';
import { Ledger } from '../src/ledger/ledger.js';
import { openLogger } from '../src/ledger/log.js';
import { openPostgres } from '../src/ledger/postgres.js';
import { LedgerService } from '../src/ledger/service.js';
import { seed1World } from './seed1-world.js';

const [seed, url, schema, port, threads] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const w = await seed1World(seed);
// Warnings (a database server lost, the primary found again) go to standard error, for the trial's log.
const db = await openPostgres(url, schema, { log: await openLogger({ level: 'warn', write: (l) => process.stderr.write(l) }) });
const trust = new TrustStore(w.roots);
const ledger = await Ledger.open({
  db,
  signer: w.ledgerKey,
  id: 'ledger:seed1',
  trust,
  verifier: workerVerifier(threads ? { threads: Number(threads) } : {}),
});
// Clients are the trial's own, on loopback, all submitting as its merchant: no per-address rate limit and
// no per-submitter work budget.
const service = await LedgerService.open({ ledger, trust, limits: { submitter: { perSecond: 1e9, burst: 1e9 }, maxPending: 1e6 } });
const http = await serveHttp(service, { port: Number(port), host: '127.0.0.1', rate: { perSecond: 1e9, burst: 1e9 } });
console.log(JSON.stringify({ listening: http.url }));
// The end of a run stops processes with SIGTERM (a profile, if one is being taken, is written on exit).
process.once('SIGTERM', () => void http.close().finally(() => process.exit(0)));
