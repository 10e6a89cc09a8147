import { describe } from 'vitest';
import { havePostgres, pgliteDb, postgresDb } from './dbs.js';
import { ledgerSuite } from './ledger-suite.js';

describe('ledger on PGlite (embedded)', () => ledgerSuite(pgliteDb));

describe.skipIf(!havePostgres)('ledger on PostgreSQL at 127.0.0.1:5432 (a schema per run, dropped after)', () =>
  ledgerSuite(() => postgresDb()),
);
