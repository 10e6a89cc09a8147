/** The array parameters the ledger sends PostgreSQL: written directly, read back as sent. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayLiteral } from '../../src/ledger/db.js';
import { migrate } from '../../src/ledger/schema.js';
import { BATCH_MEMBERS, EXPIRED_HELD, KNOWN_CHAINS, READ_STATE, STORED_RECEIPTS } from '../../src/ledger/sql.js';
import { type ClosableDb, havePostgres, pgliteDb, postgresDb } from './dbs.js';

describe.skipIf(!havePostgres)('array parameters on PostgreSQL', () => {
  let db: ClosableDb;
  beforeAll(async () => {
    db = await postgresDb();
  });
  afterAll(() => db?.close());

  it('text, numeric, boolean and bytea arrays arrive exactly as the JavaScript values', async () => {
    const text = fc.option(fc.oneof(fc.string(), fc.constantFrom('', 'NULL', 'null', '{a,b}', 'a"b', 'a\\b', ' x ', '\\x00', 'é€😀')), {
      nil: null,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(text, { maxLength: 8 }),
        fc.array(fc.bigInt(-(10n ** 30n), 10n ** 30n), { maxLength: 5 }),
        fc.array(fc.boolean(), { maxLength: 5 }),
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }),
        // Only strings without quotes or backslashes: the one-join path the ledger's hex ids take.
        fc.array(
          fc.string().filter((x) => !/["\\]/.test(x)),
          { maxLength: 8 },
        ),
        async (t, n, b, bytes, plain) => {
          // Sent as the literal the ledger now writes (node-postgres passes a string through as is).
          const [r] = await db.query<{ t: (string | null)[]; n: string[]; b: boolean[]; x: Uint8Array[]; p: string[] }>(
            'select $1::text[] as t, $2::numeric[]::text[] as n, $3::bool[] as b, $4::bytea[] as x, $5::text[] as p',
            [arrayLiteral(t), arrayLiteral(n), arrayLiteral(b), arrayLiteral(bytes), arrayLiteral(plain)],
          );
          expect(r?.t).toEqual(t);
          expect(r?.n).toEqual(n.map(String));
          expect(r?.b).toEqual(b);
          expect(r?.x.map((x) => new Uint8Array(x))).toEqual(bytes);
          expect(r?.p).toEqual(plain);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves what it does not cover to the driver', () => {
    expect(arrayLiteral([[1, 2]])).toBeUndefined();
    expect(arrayLiteral([new Date(0)])).toBeUndefined();
  });
});

describe.skipIf(!havePostgres)('ledger lookups on PostgreSQL use their indexes', () => {
  it("a batch's receipt rows (a record sent again) come from the receipts_batch index, in order, not from a scan of every receipt; expired reservations from reservations_held (plans read)", async () => {
    const db = await postgresDb();
    try {
      await migrate(db);
      await db.query(`insert into receipts (record_id, status, amount, batch, idx)
        select md5(i::text), 'accepted', 1, i / 1000, i % 1000 from generate_series(0, 49999) i`);
      await db.query('analyze receipts');
      const plan = (await db.query<{ 'QUERY PLAN': string }>(`explain ${BATCH_MEMBERS}`, [['17', '3']]))
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      expect(plan).toContain('receipts_batch');
      expect(plan).not.toContain('Seq Scan');
      await db.query(`insert into reservations (id, party, payer_kid, asset, amount, expires_at, ticket, released)
        select md5(i::text), 'p', 'k', 'EUR', 1, i, '\\x00', i < 49000 from generate_series(0, 49999) i`);
      await db.query('analyze reservations');
      const held = await db.query<{ 'QUERY PLAN': string }>(`explain ${EXPIRED_HELD}`, [49500]);
      expect(held.map((r) => r['QUERY PLAN']).join('\n')).toContain('reservations_held');
      const rows = await db.query<{ record_id: string; batch: string }>(BATCH_MEMBERS, [['17', '3']]);
      expect(rows.map((r) => r.batch)).toEqual([...Array(1000).fill('3'), ...Array(1000).fill('17')]);
    } finally {
      await db.close();
    }
  });
});

// A batch's lookups by key, on tables of 50,000 rows that have never been analyzed (as with autovacuum off,
// and always on PGlite): with `key = any(1,000 keys)` both databases scanned every row of each table.
describe.each([
  { name: 'PGlite', open: async (): Promise<ClosableDb> => pgliteDb(), skip: false },
  { name: 'PostgreSQL', open: () => postgresDb(), skip: !havePostgres },
])('a batch looks up its keys through their indexes on $name', ({ open, skip }) => {
  it.skipIf(skip)(
    'receipts, channels, devices, accounts, reservations and chains: no sequential scan, whatever the statistics (plans read)',
    async () => {
      const db = await open();
      try {
        await migrate(db);
        const rows = 'from generate_series(1, 50000) i';
        await db.query(
          `insert into receipts (record_id, status, amount, batch, idx) select md5(i::text), 'accepted', 1, i / 1000, i % 1000 ${rows}`,
        );
        await db.query(`insert into channels (id, payer_party, payee_party, payer_kid, payee_kid, asset, cap)
        select md5(i::text), 'a', 'b', md5(i::text), 'k', 'EUR', 10 ${rows}`);
        await db.query(`insert into devices (kid, outstanding) select md5(i::text), 1 ${rows}`);
        await db.query(`insert into accounts (party, asset, balance) select md5(i::text), 'EUR', 0 ${rows}`);
        await db.query(`insert into reservations (id, party, payer_kid, asset, amount, expires_at, ticket)
        select md5(i::text), 'p', 'k', 'EUR', 1, i, '\\x00' ${rows}`);
        await db.query(`insert into chains (hash) select md5(i::text) ${rows}`);
        const keys = Array.from({ length: 1000 }, (_, i) =>
          createHash('md5')
            .update(String(i * 37 + 1))
            .digest('hex'),
        );
        const plan = async (sql: string, params: unknown[]) =>
          (await db.query<{ 'QUERY PLAN': string }>(`explain ${sql}`, params)).map((r) => r['QUERY PLAN']).join('\n');
        for (const p of [
          await plan(READ_STATE, [keys, keys, keys, keys, keys.map(() => 'EUR'), keys]),
          await plan(STORED_RECEIPTS, [keys]),
          await plan(KNOWN_CHAINS, [keys]),
        ]) {
          expect(p).toMatch(/Index (Only )?Scan/);
          expect(p).not.toContain('Seq Scan');
        }
        // And they find what is there: key 1 of every 37.
        const [state] = await db.query<{
          late: string[];
          channels: unknown[];
          devices: unknown[];
          accounts: unknown[];
          reservations: unknown[];
        }>(READ_STATE, [keys, keys, keys, keys, keys.map(() => 'EUR'), keys]);
        const present = keys.filter((_, i) => i * 37 + 1 <= 50000).length;
        for (const found of [state?.late, state?.channels, state?.devices, state?.accounts, state?.reservations])
          expect(found).toHaveLength(present);
        expect(await db.query(STORED_RECEIPTS, [keys])).toHaveLength(present);
        expect(await db.query(KNOWN_CHAINS, [keys])).toHaveLength(present);
      } finally {
        await db.close();
      }
    },
  );
});
