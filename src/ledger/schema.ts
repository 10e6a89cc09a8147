/**
 * @module ledger/schema
 * One schema and one set of migrations for PGlite and PostgreSQL. Parties' balances per asset; one row per
 * channel with what has been applied; double-entry postings; one receipt per settlement record.
 */
import type { Db, Sql } from './db.js';

const MIGRATIONS: string[] = [
  `create table if not exists accounts (
     party text not null, asset text not null,
     balance numeric(39,0) not null default 0,
     credit_line numeric(39,0) not null default 0,
     primary key (party, asset))`,
  `create table if not exists channels (
     id text primary key, payer_party text not null, payee_party text not null,
     payer_kid text not null, payee_kid text not null, asset text not null,
     cap numeric(39,0) not null, applied numeric(39,0) not null default 0,
     seq integer not null default 0, ticks integer not null default 0,
     closed boolean not null default false, disputed boolean not null default false)`,
  `create table if not exists postings (
     id bigserial primary key, record_id text not null, channel_id text,
     debit text not null, credit text not null, asset text not null,
     amount numeric(39,0) not null check (amount > 0),
     created_at timestamptz not null default now())`,
  `create table if not exists receipts (
     record_id text primary key, status text not null, code text,
     amount numeric(39,0) not null default 0, receipt bytea not null,
     created_at timestamptz not null default now())`,
  `create table if not exists disputes (
     channel_id text primary key, payer_kid text not null, payer_party text not null,
     evidence bytea not null, created_at timestamptz not null default now())`,
  // Who a party is on conventional rails (from its credential), for statements and payouts.
  `create table if not exists parties (
     party text primary key, payment_ref text, category text,
     updated_at timestamptz not null default now())`,
  // Administrative calls by nonce: a retried deposit is applied once.
  `create table if not exists admin_calls (
     nonce text primary key, op text not null, created_at timestamptz not null default now())`,
  `create index if not exists postings_debit on postings (debit, asset, created_at)`,
  `create index if not exists postings_credit on postings (credit, asset, created_at)`,
  `create index if not exists channels_payer on channels (payer_kid) where not closed`,
  // The device limits the ledger enforces (from the payer's credential chain).
  `alter table channels add column if not exists outstanding_limit numeric(39,0)`,
  // Payout batches by reference: the same batch asked for again returns the same document.
  `create table if not exists payouts (
     ref text primary key, asset text not null, document text not null,
     created_at timestamptz not null default now())`,
  // A dispute's kind (equivocation, overspend) and the claim left unpaid: the liability of the payer's party.
  `alter table disputes add column if not exists kind text not null default 'equivocation'`,
  `alter table disputes add column if not exists unpaid numeric(39,0) not null default 0`,
  // The revocation lists the ledger has published (signed with the issuer's key), newest last.
  `create table if not exists revocations (
     kid text primary key, revoked_at bigint not null, reason text not null)`,
  `create table if not exists revocation_lists (
     version integer primary key, list bytea not null, created_at timestamptz not null default now())`,
  // Each payer device's total outstanding (its open channels' applied amounts), kept as it changes: the
  // limit check reads one row per device, however many channels it has had.
  `create table if not exists devices (kid text primary key, outstanding numeric(39,0) not null default 0)`,
  `insert into devices (kid, outstanding) select payer_kid, sum(applied) from channels where not closed group by payer_kid
     on conflict (kid) do nothing`,
  `drop index if exists channels_payer`,
  // Reservations: funds moved from the party's account to a hold account (`reserve:<id>`), and the signed
  // ticket; channels that carry it are paid from the hold first; what is left returns at expiry.
  `create table if not exists reservations (
     id text primary key, party text not null, payer_kid text not null, asset text not null,
     amount numeric(39,0) not null, expires_at bigint not null, ticket bytea not null,
     released boolean not null default false, created_at timestamptz not null default now())`,
  // Credential chains this ledger has verified (by hash): a chain's signatures are checked once, whichever
  // ledger process sees it first, and settling a payment then costs only the payment's own signature.
  `create table if not exists chains (hash text primary key, verified_at timestamptz not null default now())`,
  // A party's key (from its verified credential), so it can sign calls for its own accounts: looked up
  // here rather than held in memory, whatever the number of parties.
  `alter table parties add column if not exists kid text`,
  `alter table parties add column if not exists public_key bytea`,
  `create index if not exists parties_kid on parties (kid)`,
  // Receipts stored per batch: the signed root once, each record's result and place in the batch; its
  // receipt (leaf, audit path, root) is rebuilt from them when asked again. Rows written before keep theirs.
  `create table if not exists receipt_batches (id bigserial primary key, root bytea not null)`,
  `alter table receipts add column if not exists batch bigint, add column if not exists idx integer,
     alter column receipt drop not null`,
  // A batch's rows in order, to rebuild its receipts when a record is sent again: without this, every
  // repeat read the whole receipts table.
  `create index if not exists receipts_batch on receipts (batch, idx)`,
  // Reservations still held, by expiry: releasing the expired ones reads those, not every reservation ever made.
  `create index if not exists reservations_held on reservations (expires_at) where not released`,
  // What each verified chain proves (ledger/chain-facts): a chain met again is looked up with its batch, not
  // decoded. Rows written before have none: their chains are decoded once more, then filled in.
  `alter table chains add column if not exists facts bytea`,
  // Counters hold what the wire allows (0 to 2^32 - 1), not only what `integer` holds.
  `alter table channels alter column seq type bigint, alter column ticks type bigint`,
  `alter table revocation_lists alter column version type bigint`,
  // A channel's newest voucher (its bytes, cumulative amount and tick checkpoint): the ledger judges each
  // record against it, so two vouchers for one seq are equivocation whichever records bring them. Rows
  // written before have none; they are judged from their next voucher on.
  `alter table channels add column if not exists voucher bytea, add column if not exists vcum numeric(39,0),
     add column if not exists vticks bigint`,
  // Every revocation list the ledger holds, received or made, in arrival order: each ledger process loads
  // what it has not seen before it applies a batch, so a list applies at once on every process. A party's
  // list is stored with the party's credential, which vouches for its key.
  `create table if not exists authority_lists (
     id bigserial primary key, authority text not null, version bigint not null, list bytea not null,
     party bytea, created_at timestamptz not null default now(), unique (authority, version))`,
  // Keys compared byte for byte (collation "C"), whatever collation the database was created with: hex ids,
  // party names and asset codes need no locale's rules, and each batch looks them up by the thousand.
  // (Rewrites each table once.)
  `alter table receipts alter column record_id type text collate "C"`,
  `alter table channels alter column id type text collate "C"`,
  `alter table chains alter column hash type text collate "C"`,
  `alter table devices alter column kid type text collate "C"`,
  `alter table accounts alter column party type text collate "C", alter column asset type text collate "C"`,
];

/** Applies the migrations this database has not seen yet. */
export async function migrate(db: Db): Promise<void> {
  // Several ledger processes may start on one database at once: they migrate one at a time.
  const lock = (tx: Sql) => (db.kind === 'postgres' ? tx.query('select pg_advisory_xact_lock(7243022)') : Promise.resolve([]));
  await db.transaction(async (tx) => {
    await lock(tx);
    await tx.query('create table if not exists ep_migrations (version integer primary key)');
  });
  const done = new Set((await db.query<{ version: number }>('select version from ep_migrations')).map((r) => Number(r.version)));
  for (let v = 0; v < MIGRATIONS.length; v++) {
    if (done.has(v)) continue;
    await db.transaction(
      async (tx) => {
        await lock(tx);
        if ((await tx.query('select 1 from ep_migrations where version = $1', [v])).length > 0) return;
        await tx.query(MIGRATIONS[v] as string);
        await tx.query('insert into ep_migrations (version) values ($1)', [v]);
      },
      // Run twice, it does nothing more: it looks for its own version first
      { idempotent: true },
    );
  }
}
