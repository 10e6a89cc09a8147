import { describe } from 'vitest';
import { havePostgres, pgliteDb, postgresDb } from '../ledger/dbs.js';
import { syncSuite } from './sync-suite.js';

describe('device to ledger on PGlite (embedded)', () => syncSuite(pgliteDb));

describe.skipIf(!havePostgres)('device to ledger on PostgreSQL at 127.0.0.1:5432 (a schema per run)', () => syncSuite(() => postgresDb()));
