/** A ledger service process for kill -9 tests: `ledger-child.ts <port> pg:<schema> | pglite:<dir>`. */
import { workerVerifier } from '../../src/crypto/workers.js';
import { openPglite } from '../../src/ledger/db.js';
import { openPostgres } from '../../src/ledger/postgres.js';
import { pair } from '../channel/world.js';
import { PG_URL } from '../ledger/dbs.js';
import { startLedger } from './world.js';

const [port, spec] = process.argv.slice(2) as [string, string];
const [kind, where] = spec.split(/:(.*)/s) as [string, string];
const db = kind === 'pg' ? await openPostgres(PG_URL, where) : await openPglite(where);
const p = await pair();
// Signatures on worker threads, as `edgepay ledger serve` checks them.
await startLedger(db, p, Number(port), undefined, workerVerifier({ threads: 2 }));
process.stdout.write('READY\n');
