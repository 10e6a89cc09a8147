import { describe } from 'vitest';
import { havePostgres, pgliteDb, postgresDb } from '../ledger/dbs.js';
import { adversarialLedgerSuite } from './ledger-suite.js';

describe('a hostile device against the ledger on PGlite', () => adversarialLedgerSuite(pgliteDb));

describe.skipIf(!havePostgres)('a hostile device against the ledger on PostgreSQL (a schema per run, dropped after)', () =>
  adversarialLedgerSuite(() => postgresDb()),
);
