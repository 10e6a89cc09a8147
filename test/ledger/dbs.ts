/** Ledger databases for tests: PGlite in memory, and PostgreSQL at 127.0.0.1:5432 in a schema per use. */
import { randomBytes } from 'node:crypto';
import { type Db, openPglite } from '../../src/ledger/db.js';
import { openPostgres } from '../../src/ledger/postgres.js';
import { service } from '../services.js';

export const PG_URL = process.env.EDGEPAY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const havePostgres = await service('PostgreSQL', 5432);

export const freshSchema = () => `ep_test_${randomBytes(6).toString('hex')}`;

/** A database whose `close` removes it, unless asked to keep it for another opening. */
export type ClosableDb = Omit<Db, 'close'> & { close(o?: { keep?: boolean }): Promise<void> };

/** A database in a new schema; `close` drops the schema. */
export async function postgresDb(schema = freshSchema()): Promise<ClosableDb> {
  const db = await openPostgres(PG_URL, schema);
  return {
    ...db,
    close: async (o) => {
      if (!o?.keep) await db.query(`drop schema ${schema} cascade`);
      await db.close();
    },
  };
}

export const pgliteDb = (): Promise<Db> => openPglite();
