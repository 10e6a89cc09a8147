/**
 * @module ledger/sql
 * The ledger's SQL: the statements that read what a batch's outcome depends on, each key by its own index
 * probe, and the builder that sends a batch's writes as one statement. One schema for PGlite and
 * PostgreSQL (`schema.ts`).
 */
import type { Db, Sql } from './db.js';

/** The account external money comes from and goes to (funding, payouts): it may go negative. */
export const EXTERNAL = 'external';

/** Rows as column arrays, for `unnest($1::t[], $2::t[], ...)`. */
export function columns(rows: readonly (readonly unknown[])[], n: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: n }, () => []);
  for (const r of rows) for (let c = 0; c < n; c++) (cols[c] as unknown[]).push(r[c]);
  return cols;
}

/** A batch's postings as columns: record, channel, debit, credit, asset, amount. */
export type PostingColumns = [string[], string[], string[], string[], string[], string[]];

/** Adds one posting (`amount` from `debit` to `credit`) to a batch's posting columns. */
export function addPosting(
  cols: PostingColumns,
  recordId: string,
  channel: string,
  debit: string,
  credit: string,
  asset: string,
  amount: bigint,
): void {
  cols[0].push(recordId);
  cols[1].push(channel);
  cols[2].push(debit);
  cols[3].push(credit);
  cols[4].push(asset);
  cols[5].push(amount.toString());
}

export function uniqueBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const m = new Map<string, T>();
  for (const x of xs) if (!m.has(key(x))) m.set(key(x), x);
  return [...m.values()];
}

/** Reservations still held and expired by `$1`, with what is left on their hold accounts (by the `reservations_held` index). */
export const EXPIRED_HELD = `select r.id, r.party, r.asset, coalesce(a.balance, 0)::text as b from reservations r
  left join accounts a on a.party = 'reserve:' || r.id and a.asset = r.asset
  where not r.released and r.expires_at <= $1`;

/** The rows of receipt batches, each batch's in order (by the `receipts_batch` index; a test reads the plan). */
export const BATCH_MEMBERS = `select record_id, status, code, amount::text as amount, batch::text as batch
  from receipts where receipts.batch = any($1::bigint[]) order by receipts.batch, receipts.idx`;

/**
 * The rows of `table` whose `key` is in the text-array parameter `param`, as `t`, each looked up through
 * the key's index. Not `key = any(param)`: for a thousand keys the planner prices a sequential scan that
 * hashes every row below roughly 150,000 rows, or at any size when the table has no statistics (autovacuum
 * off; PGlite never analyzes), and a ledger's tables grow through that range, under the apply lock. A lateral subquery with a limit is not flattened into a join, so each key
 * is one index probe whatever the statistics say.
 */
export const byKeys = (table: string, key: string, param: string, cols: string, and = '') =>
  `unnest(${param}::text[]) as k(v) cross join lateral (select ${cols} from ${table} where ${key} = k.v ${and} limit 1) as t`;

/** What a batch's outcome depends on (see {@link BatchState}); exported for the plan test. */
export const READ_STATE = `select
  (select coalesce(json_agg(t.record_id), '[]') from ${byKeys('receipts', 'record_id', '$1', 'record_id')}) as late,
  (select coalesce(json_agg(json_build_array(t.id, t.applied::text, t.disputed, t.closed, t.seq, t.ticks,
     encode(t.voucher, 'hex'), t.vcum::text, t.vticks)), '[]')
     from ${byKeys('channels', 'id', '$2', 'id, applied, disputed, closed, seq, ticks, voucher, vcum, vticks')}) as channels,
  (select coalesce(json_agg(json_build_array(t.kid, t.outstanding::text)), '[]') from ${byKeys('devices', 'kid', '$3', 'kid, outstanding')}) as devices,
  (select coalesce(json_agg(json_build_array(t.party, t.asset, t.balance::text, t.credit_line::text)), '[]')
     from unnest($4::text[], $5::text[]) as k(p, a)
     cross join lateral (select party, asset, balance, credit_line from accounts where party = k.p and asset = k.a limit 1) as t) as accounts,
  (select coalesce(json_agg(json_build_array(t.id, encode(t.ticket, 'hex'), t.payer_kid)), '[]')
     from ${byKeys('reservations', 'id', '$6', 'id, ticket, payer_kid', 'and not released')}) as reservations,
  (select coalesce(max(id), 0) from authority_lists) as lists`;

/** Receipts already given for any of the record ids (hex) in `$1`. */
export const STORED_RECEIPTS = `select t.* from ${byKeys('receipts', 'record_id', '$1', 'record_id, status, code, amount::text as amount, receipt, batch::text as batch')}`;

/** Which of the chain hashes in `$1` this ledger has verified. */
export const KNOWN_CHAINS = `select t.hash from ${byKeys('chains', 'hash', '$1', 'hash')}`;

/** The stored facts of the chains whose hashes are in `$1` (null for rows stored before facts were). */
export const STORED_CHAINS = `select t.hash, t.facts from ${byKeys('chains', 'hash', '$1', 'hash, facts')}`;

/**
 * A database error over what was written (SQLSTATE class 22, data exception, or 23, integrity constraint):
 * a record's values, not the database's health. Anything else (connections, timeouts) fails the call.
 */
export const isDataError = (e: unknown) =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && /^2[23]/.test((e as { code: string }).code);

/** A database error from storing a receipt for a record that has one (unique key of `receipts`). */
export const isReceiptConflict = (e: unknown) =>
  typeof e === 'object' &&
  e !== null &&
  (e as { code?: unknown }).code === '23505' &&
  (e as { constraint?: unknown }).constraint === 'receipts_pkey';

export const accountKey = (party: string, asset: string) => `${party}\u0000${asset}`;

/**
 * A batch's writes, sent as one statement (each a data-modifying `with` clause): under the apply lock every
 * round trip is one that every batch behind waits for. Each is written with its own `$1...`, renumbered here.
 */
export class Writes {
  private readonly parts: string[] = [];
  readonly params: unknown[] = [];

  /** Adds `sql`, its parameters numbered from `$1`; `name` lets a later one read its `returning` rows. */
  add(sql: string, params: readonly unknown[], name = `w${this.parts.length}`): void {
    const base = this.params.length;
    this.parts.push(`${name} as (${sql.replace(/\$(\d+)/g, (_, n: string) => `$${base + Number(n)}`)})`);
    this.params.push(...params);
  }

  async run(tx: Sql): Promise<void> {
    if (this.parts.length > 0) await tx.query(`with ${this.parts.join(',\n')} select 1`, this.params);
  }
}

/** Writers take turns: the batch apply, deposits, credit lines and payouts see each other whole. */
export async function exclusive(db: Db, tx: Sql): Promise<void> {
  if (db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock(7243021)');
}
