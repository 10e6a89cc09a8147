/**
 * @module ledger/treasury
 * Money that moves by an operator's or a party's call rather than by a settlement record: deposits, credit
 * lines, payouts to conventional rails (pain.001), reservations and their release. Each is a balanced
 * posting (or several) under the apply lock, idempotent by its reference.
 */
import { toHex } from '../bytes.js';
import { signReservation } from '../channel/reservation.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { LedgerError } from '../errors.js';
import type { Db, Sql } from './db.js';
import { accountKey, columns, EXPIRED_HELD, EXTERNAL, exclusive } from './sql.js';
import { type Payout, payoutPain001, readStatement, type Statement } from './statement.js';

/** A payout reference (the pain.001 message id) leaves room for `-<n>` in each transaction's EndToEndId (35 at most). */
export const MAX_PAYOUT_REF = 28;

/** Who a payout pays, and how much. */
export interface PayoutOptions {
  /** Requested execution date, YYYY-MM-DD (default: today). */
  executionDate?: string | undefined;
  /**
   * `earned` (the default): what each party received from other parties, net of what it paid them and of
   * earlier payouts, never more than its balance: a payer's own deposits stay with the ledger, funding its
   * devices. `balance`: each party's whole positive balance, deposits included (closing accounts).
   */
  policy?: 'earned' | 'balance' | undefined;
  /** Only this party. */
  party?: string | undefined;
  /** The smallest payout in minor units (default 1): smaller amounts wait for a later payout. */
  minAmount?: bigint | undefined;
  /** Computes the payouts and the document; posts and stores nothing. */
  dryRun?: boolean | undefined;
}

/** One payout: a party, its payment reference, the amount, and the transaction's id in the document. */
export interface PayoutLine extends Payout {
  endToEndId: string;
}

/** A payout's document and lines; `applied` is false for a dry run and for a reference paid before. */
export interface PayoutResult {
  document: string;
  payouts: PayoutLine[];
  applied: boolean;
}

/**
 * Each party with a positive balance and a payment reference, with what it has earned: received from other
 * parties (holds included: a reservation's release comes back as received, its hold went out as paid),
 * less what it paid them, less what was paid out to it. Deposits (from the external account) never count.
 */
const PAYABLE = `
  with moves as (
    select credit as party, amount as received, 0::numeric as paid from postings where asset = $1 and debit <> $2 and credit <> $2
    union all select debit, 0, amount from postings where asset = $1 and debit <> $2 and credit <> $2
    union all select debit, 0, amount from postings where asset = $1 and credit = $2),
  net as (select party, sum(received) - sum(paid) as earned from moves group by party)
  select a.party, p.payment_ref as account, a.balance::text as b, coalesce(n.earned, 0)::text as earned
    from accounts a join parties p on p.party = a.party left join net n on n.party = a.party
   where a.asset = $1 and a.balance > 0 and a.party <> $2 and p.payment_ref is not null`;

/** Thrown to roll a dry run's transaction back (its result is kept aside). */
const DRY_RUN = Symbol('dry run');

/** The lines of a payout applied before, from its postings. */
async function paidOut(tx: Sql, ref: string): Promise<PayoutLine[]> {
  const rows = await tx.query<{ record_id: string; party: string; account: string | null; amount: string }>(
    `select po.record_id, po.debit as party, p.payment_ref as account, po.amount::text as amount
       from postings po left join parties p on p.party = po.debit
      where starts_with(po.record_id, $1) order by po.id`,
    [`payout:${ref}-`],
  );
  return rows.map((r) => ({ party: r.party, account: r.account ?? '', amount: BigInt(r.amount), endToEndId: r.record_id.slice(7) }));
}

export class Treasury {
  constructor(private readonly o: { db: Db; signer: Signer; id: string; now: () => number }) {}

  private now(): number {
    return this.o.now();
  }

  /**
   * Credits `party` from outside (a deposit): a balanced posting from the external account. With `ref`
   * (a bank reference, an admin call's nonce) the same deposit made again is applied once.
   * @returns false when `ref` was applied before.
   */
  async fund(party: string, asset: string, amount: bigint, ref?: string): Promise<boolean> {
    if (amount <= 0n) throw new LedgerError('LEDGER_AMOUNT', 'a deposit is positive', 'amount');
    const id = ref === undefined ? `fund:${party}:${this.now()}:${amount}` : `fund:${ref}`;
    return this.o.db.transaction(async (tx) => {
      await exclusive(this.o.db, tx);
      if (ref !== undefined) {
        const fresh = await tx.query('insert into admin_calls (nonce, op) values ($1, $2) on conflict do nothing returning nonce', [
          id,
          'fund',
        ]);
        if (fresh.length === 0) return false;
      }
      await this.post(tx, id, undefined, EXTERNAL, party, asset, amount);
      return true;
    });
  }

  /**
   * Deposits in bulk (opening balances): like {@link fund} for each, in one transaction, each applied once
   * by its `ref`. @returns how many were new.
   */
  async fundMany(deposits: readonly { party: string; asset: string; amount: bigint; ref: string }[]): Promise<number> {
    for (const d of deposits) if (d.amount <= 0n) throw new LedgerError('LEDGER_AMOUNT', 'a deposit is positive', 'amount');
    return this.o.db.transaction(
      async (tx) => {
        await exclusive(this.o.db, tx);
        const fresh = new Set(
          (
            await tx.query<{ nonce: string }>(
              `insert into admin_calls (nonce, op) select n, 'fund' from unnest($1::text[]) as n on conflict do nothing returning nonce`,
              [deposits.map((d) => `fund:${d.ref}`)],
            )
          ).map((r) => r.nonce),
        );
        // A ref given twice in one call is one deposit too: the first one counts.
        const todo = deposits.filter((d) => fresh.delete(`fund:${d.ref}`));
        if (todo.length === 0) return 0;
        await tx.query(
          `insert into postings (record_id, debit, credit, asset, amount)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[])`,
          columns(
            todo.map((d) => [`fund:${d.ref}`, EXTERNAL, d.party, d.asset, d.amount.toString()]),
            5,
          ),
        );
        const deltas = new Map<string, bigint>();
        for (const d of todo)
          for (const [party, delta] of [
            [d.party, d.amount],
            [EXTERNAL, -d.amount],
          ] as const)
            deltas.set(accountKey(party, d.asset), (deltas.get(accountKey(party, d.asset)) ?? 0n) + delta);
        await tx.query(
          `insert into accounts (party, asset, balance) select * from unnest($1::text[], $2::text[], $3::numeric[])
         on conflict (party, asset) do update set balance = accounts.balance + excluded.balance`,
          columns(
            [...deltas].map(([k, d]) => [...k.split('\u0000'), d.toString()]),
            3,
          ),
        );
        return todo.length;
      },
      // Run twice, it does nothing more: each deposit once by its ref
      { idempotent: true },
    );
  }

  async setCreditLine(party: string, asset: string, amount: bigint): Promise<void> {
    await this.o.db.query(
      `insert into accounts (party, asset, credit_line) values ($1, $2, $3)
       on conflict (party, asset) do update set credit_line = excluded.credit_line`,
      [party, asset, amount.toString()],
    );
  }

  async balance(party: string, asset: string): Promise<bigint> {
    const [r] = await this.o.db.query<{ b: string }>('select balance::text as b from accounts where party = $1 and asset = $2', [
      party,
      asset,
    ]);
    return BigInt(r?.b ?? '0');
  }

  /** A party's postings in `asset` over [from, to) (seconds), with opening and closing balances. */
  statement(party: string, asset: string, from: number, to: number): Promise<Statement> {
    return readStatement(this.o.db, party, asset, from, to);
  }

  /**
   * Pays parties out to their payment references (see {@link PayoutOptions} for who gets what): each payout
   * is a posting to the external account whose record id is `payout:<EndToEndId>`, and the batch is a
   * pain.001 document for the debtor's bank. Idempotent by `ref` (the message id, at most 28 characters):
   * asked again, it returns the same document and moves nothing. A dry run posts and stores nothing.
   * @returns the document and its payouts, or undefined when there is nothing to pay.
   */
  async payout(
    ref: string,
    asset: string,
    debtor: { name: string; account: string },
    o: PayoutOptions = {},
  ): Promise<PayoutResult | undefined> {
    if (ref.length > MAX_PAYOUT_REF || !/^[A-Za-z0-9:._-]+$/.test(ref))
      throw new LedgerError('LEDGER_PAYOUT', `a payout reference is 1 to ${MAX_PAYOUT_REF} letters, digits or :._-`, 'ref');
    const policy = o.policy ?? 'earned';
    if (policy !== 'earned' && policy !== 'balance') throw new LedgerError('LEDGER_PAYOUT', 'the policy is earned or balance', 'policy');
    const minAmount = o.minAmount ?? 1n;
    if (minAmount < 1n) throw new LedgerError('LEDGER_PAYOUT', 'the smallest payout is at least 1', 'minAmount');
    // One transaction under the apply lock, expired holds released first; a dry run is the same work,
    // rolled back, so what it shows is exactly what the payout would pay now.
    const dry: { result?: PayoutResult | undefined } = {};
    try {
      return await this.o.db.transaction(async (tx) => {
        await exclusive(this.o.db, tx);
        await this.releaseIn(tx);
        const [done] = await tx.query<{ document: string }>('select document from payouts where ref = $1', [ref]);
        if (done) return { document: done.document, payouts: await paidOut(tx, ref), applied: false };
        const rows = await tx.query<{ party: string; account: string; b: string; earned: string }>(
          `${PAYABLE} ${o.party === undefined ? '' : 'and a.party = $3'} order by a.party for update of a`,
          o.party === undefined ? [asset, EXTERNAL] : [asset, EXTERNAL, o.party],
        );
        const payouts: PayoutLine[] = [];
        for (const r of rows) {
          const balance = BigInt(r.b);
          const earned = BigInt(r.earned);
          const amount = policy === 'balance' ? balance : earned < balance ? earned : balance;
          if (amount >= minAmount) payouts.push({ party: r.party, account: r.account, amount, endToEndId: `${ref}-${payouts.length + 1}` });
        }
        if (payouts.length === 0) return undefined;
        const now = new Date(this.now() * 1000);
        const document = payoutPain001({
          msgId: ref,
          createdAt: now,
          executionDate: o.executionDate ?? now.toISOString().slice(0, 10),
          asset,
          debtor,
          payouts,
        });
        for (const p of payouts) await this.post(tx, `payout:${p.endToEndId}`, undefined, p.party, EXTERNAL, asset, p.amount);
        await tx.query('insert into payouts (ref, asset, document) values ($1, $2, $3)', [ref, asset, document]);
        if (o.dryRun) {
          dry.result = { document, payouts, applied: false };
          throw DRY_RUN;
        }
        return { document, payouts, applied: true };
      });
    } catch (e) {
      if (e === DRY_RUN) return dry.result;
      throw e;
    }
  }

  /**
   * Locks `amount` of `party`'s funds for one payer device's channels and signs a reservation ticket a
   * payee verifies offline: the funds move to a hold account, channels carrying the ticket are paid from
   * it first, and what is left returns to the party at expiry ({@link releaseExpired}). Idempotent by `ref`.
   * @throws LedgerError LEDGER_FUNDS when the party's balance and credit line do not cover it.
   */
  async reserve(o: {
    ref: string;
    party: string;
    payerKid: Uint8Array;
    payeeKid?: Uint8Array | undefined;
    asset: string;
    amount: bigint;
    expiresAt: number;
  }): Promise<Uint8Array> {
    if (o.amount <= 0n) throw new LedgerError('LEDGER_AMOUNT', 'a reservation is positive', 'amount');
    if (o.expiresAt <= this.now()) throw new LedgerError('LEDGER_AMOUNT', 'a reservation expires in the future', 'expiresAt');
    const id = sha256(new TextEncoder().encode(`reserve:${o.ref}`)).slice(0, 16);
    const hex = toHex(id);
    return this.o.db.transaction(async (tx) => {
      await exclusive(this.o.db, tx);
      const [done] = await tx.query<{ ticket: Uint8Array }>('select ticket from reservations where id = $1', [hex]);
      if (done) return new Uint8Array(done.ticket);
      const [a] = await tx.query<{ b: string; c: string }>(
        'select balance::text as b, credit_line::text as c from accounts where party = $1 and asset = $2',
        [o.party, o.asset],
      );
      if (BigInt(a?.b ?? '0') - o.amount < -BigInt(a?.c ?? '0'))
        throw new LedgerError('LEDGER_FUNDS', `${o.party} cannot cover a reservation of ${o.amount}`, 'amount');
      const ticket = await signReservation(this.o.signer, {
        ledger: this.o.id,
        id,
        payerKid: o.payerKid,
        payeeKid: o.payeeKid,
        asset: o.asset,
        amount: o.amount,
        expiresAt: o.expiresAt,
      });
      await this.post(tx, `reserve:${hex}`, undefined, o.party, `reserve:${hex}`, o.asset, o.amount);
      await tx.query(
        'insert into reservations (id, party, payer_kid, asset, amount, expires_at, ticket) values ($1, $2, $3, $4, $5, $6, $7)',
        [hex, o.party, toHex(o.payerKid), o.asset, o.amount.toString(), o.expiresAt, ticket],
      );
      return ticket;
    });
  }

  /** Returns what is left of expired reservations to their parties. @returns how many were released. */
  async releaseExpired(): Promise<number> {
    return this.o.db.transaction(async (tx) => {
      await exclusive(this.o.db, tx);
      return this.releaseIn(tx);
    });
  }

  /** {@link releaseExpired} inside `tx` (which holds the apply lock). */
  private async releaseIn(tx: Sql): Promise<number> {
    const rows = await tx.query<{ id: string; party: string; asset: string; b: string }>(EXPIRED_HELD, [this.now()]);
    for (const r of rows) {
      const left = BigInt(r.b);
      if (left > 0n) await this.post(tx, `release:${r.id}`, undefined, `reserve:${r.id}`, r.party, r.asset, left);
      await tx.query('update reservations set released = true where id = $1', [r.id]);
    }
    return rows.length;
  }

  /** One balanced posting: `amount` from `debit` to `credit`. */
  private async post(
    tx: Sql,
    recordId: string,
    channelId: string | undefined,
    debit: string,
    credit: string,
    asset: string,
    amount: bigint,
  ): Promise<void> {
    await tx.query('insert into postings (record_id, channel_id, debit, credit, asset, amount) values ($1, $2, $3, $4, $5, $6)', [
      recordId,
      channelId ?? null,
      debit,
      credit,
      asset,
      amount.toString(),
    ]);
    for (const [party, delta] of [
      [debit, -amount],
      [credit, amount],
    ] as const) {
      await tx.query(
        `insert into accounts (party, asset, balance) values ($1, $2, $3)
         on conflict (party, asset) do update set balance = accounts.balance + excluded.balance`,
        [party, asset, delta.toString()],
      );
    }
  }
}
