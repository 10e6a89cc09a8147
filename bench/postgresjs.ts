/**
 * The ledger's store over postgres.js (`postgres`, a dev dependency), for `npm run bench -- ledger` only:
 * the driver that takes libpq multi-host URIs itself, measured against the ledger's own connector over `pg`
 * (src/ledger/postgres.ts) on the same records. Parameters go as text, as `pg` sends them, so the same
 * statements run unchanged.
 */
import postgres from 'postgres';
import { type Db, param, type Sql } from '../src/ledger/db.js';

export async function openPostgresJs(url: string, schema: string): Promise<Db> {
  const sql = postgres(url, {
    max: 8,
    onnotice: () => {},
    connection: { search_path: schema },
    // Values as text both ways, as `pg` gives them (numeric as strings, bytea as Buffers, int8 as strings).
    types: { bigint: { to: 20, from: [20], serialize: String, parse: (x: string) => x } },
  });
  await sql.unsafe(`create schema if not exists ${schema}`);
  const q =
    (s: postgres.Sql | postgres.TransactionSql) =>
    async <T>(text: string, params?: unknown[]): Promise<T[]> =>
      [...(await s.unsafe(text, params?.map(param) as postgres.ParameterOrJSON<never>[]))] as T[];
  return {
    kind: 'postgres',
    query: q(sql),
    transaction: <T>(fn: (tx: Sql) => Promise<T>) => sql.begin((tx) => fn({ query: q(tx) })) as Promise<T>,
    close: () => sql.end(),
  };
}
