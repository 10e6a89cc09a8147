import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { openPglite, openPostgres } from '../../src/ledger/db.js';
import { service } from '../services.js';
import { ledgerSuite } from './ledger-suite.js';

const PG_URL = process.env.EDGEPAY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('ledger on PGlite (embedded)', () => ledgerSuite(() => openPglite()));

const havePostgres = await service('PostgreSQL', 5432);
describe.skipIf(!havePostgres)('ledger on PostgreSQL at 127.0.0.1:5432 (a schema per run, dropped after)', () =>
  ledgerSuite(async () => {
    const schema = `ep_test_${randomBytes(6).toString('hex')}`;
    const db = await openPostgres(PG_URL, schema);
    return {
      ...db,
      close: async () => {
        await db.query(`drop schema ${schema} cascade`);
        await db.close();
      },
    };
  }),
);
