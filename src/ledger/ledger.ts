/**
 * @module ledger/ledger
 * The settlement ledger's core: verifies every settlement record again (chains, revocation as of the
 * newest lists held, signatures, ticks, caps), then applies a batch in one transaction as double-entry
 * postings between responsible parties. For a channel only the newest amount counts and only its
 * increase over what was applied is posted: the same or an older record again changes nothing, whichever
 * side sent it, however often. Each record gets one signed receipt; a record seen before gets the same
 * receipt again (idempotent).
 */

import { ChainCache, type VerifiedSettlement, verifySettlement } from '../channel/settlement.js';
import { fromHex, toHex } from '../codec/bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { EdgepayError, LedgerError } from '../errors.js';
import type { TrustStore } from '../identity/trust-store.js';
import type { Db, Sql } from './db.js';
import { type ReceiptStatus, signReceipt } from './receipt.js';
import { migrate } from './schema.js';
import { type Payout, payoutPain001, readStatement, type Statement } from './statement.js';

/** The account external money comes from and goes to (funding, payouts): it may go negative. */
export const EXTERNAL = 'external';

export interface LedgerOptions {
  db: Db;
  /** The ledger's key: receipts are signed with it. */
  signer: Signer;
  /** The ledger's id, named in its receipts. */
  id: string;
  trust: TrustStore;
  now?: () => number;
}

export interface SubmitResult {
  recordId: Uint8Array;
  receipt: Uint8Array;
  status: ReceiptStatus;
  posted: bigint;
  code?: string | undefined;
  /** True when this record was seen before (the stored receipt is returned). */
  repeated: boolean;
  /** For a new dispute: the payer device to revoke (its key thumbprint, hex). */
  revoke?: string | undefined;
}

type Applied = { status: ReceiptStatus; posted: bigint; code?: string; revoke?: string };

export class Ledger {
  private readonly now: () => number;
  /** Each credential chain is verified once (revocation is re-checked on every use). */
  private readonly chains = new ChainCache();

  private constructor(private readonly o: LedgerOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Opens the ledger on `db`, applying any pending migrations. */
  static async open(o: LedgerOptions): Promise<Ledger> {
    await migrate(o.db);
    return new Ledger(o);
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
   * Pays every party's positive balance in `asset` out to its payment reference: each payout is a posting
   * to the external account, and the batch is a pain.001 document for the debtor's bank. Idempotent by
   * `ref` (at most 35 characters): asked again, it returns the same document and moves nothing.
   * @returns the pain.001.001.03 XML, or undefined when there is nothing to pay.
   */
  async payout(ref: string, asset: string, debtor: { name: string; account: string }, executionDate?: string): Promise<string | undefined> {
    return this.o.db.transaction(async (tx) => {
      const [done] = await tx.query<{ document: string }>('select document from payouts where ref = $1', [ref]);
      if (done) return done.document;
      const rows = await tx.query<{ party: string; account: string; b: string }>(
        `select a.party, p.payment_ref as account, a.balance::text as b from accounts a join parties p on p.party = a.party
          where a.asset = $1 and a.balance > 0 and a.party <> $2 and p.payment_ref is not null order by a.party for update of a`,
        [asset, EXTERNAL],
      );
      if (rows.length === 0) return undefined;
      const payouts: Payout[] = rows.map((r) => ({ party: r.party, account: r.account, amount: BigInt(r.b) }));
      const now = new Date(this.now() * 1000);
      const document = payoutPain001({
        msgId: ref,
        createdAt: now,
        executionDate: executionDate ?? now.toISOString().slice(0, 10),
        asset,
        debtor,
        payouts,
      });
      for (const p of payouts) await this.post(tx, `payout:${ref}`, undefined, p.party, EXTERNAL, asset, p.amount);
      await tx.query('insert into payouts (ref, asset, document) values ($1, $2, $3)', [ref, asset, document]);
      return document;
    });
  }

  /** The newest revocation list this ledger published, if any. */
  async newestRevocationList(): Promise<{ version: number; list: Uint8Array } | undefined> {
    const [r] = await this.o.db.query<{ version: number; list: Uint8Array }>(
      'select version, list from revocation_lists order by version desc limit 1',
    );
    return r && { version: Number(r.version), list: new Uint8Array(r.list) };
  }

  /** Records a published revocation list and the device it added. */
  async saveRevocation(kid: string, revokedAt: number, reason: string, version: number, list: Uint8Array): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      await tx.query('insert into revocations (kid, revoked_at, reason) values ($1, $2, $3) on conflict do nothing', [
        kid,
        revokedAt,
        reason,
      ]);
      await tx.query('insert into revocation_lists (version, list) values ($1, $2)', [version, list]);
    });
  }

  /** Disputed devices not yet revoked (a crash between the dispute and the publication leaves these). */
  async unrevokedDisputes(): Promise<{ kid: string; kind: string }[]> {
    return this.o.db.query<{ kid: string; kind: string }>(
      'select distinct d.payer_kid as kid, d.kind from disputes d left join revocations r on r.kid = d.payer_kid where r.kid is null',
    );
  }

  /** Resolves when the database answers (health checks). */
  async ping(): Promise<void> {
    await this.o.db.query('select 1');
  }

  /** The sum of every balance (external included): zero, by double entry. */
  async total(): Promise<bigint> {
    const [r] = await this.o.db.query<{ s: string | null }>('select coalesce(sum(balance), 0)::text as s from accounts');
    return BigInt(r?.s ?? '0');
  }

  /**
   * Verifies and applies settlement records; one result per record, in order. Only a failure of the
   * call itself (the database) rejects; a bad record gets a `rejected` receipt with its code.
   */
  async submit(records: readonly Uint8Array[]): Promise<SubmitResult[]> {
    const ids = records.map((r) => toHex(sha256(r)));
    const seen = new Map<string, SubmitResult>();
    if (ids.length > 0) {
      const rows = await this.o.db.query<{ record_id: string; status: string; code: string | null; amount: string; receipt: Uint8Array }>(
        'select record_id, status, code, amount::text as amount, receipt from receipts where record_id = any($1)',
        [ids],
      );
      for (const r of rows)
        seen.set(r.record_id, {
          recordId: fromHex(r.record_id),
          receipt: new Uint8Array(r.receipt),
          status: r.status as SubmitResult['status'],
          posted: BigInt(r.amount),
          code: r.code ?? undefined,
          repeated: true,
        });
    }
    // Verify outside the transaction (signatures are the expensive part, and need no locks).
    const verified: (VerifiedSettlement | EdgepayError | undefined)[] = [];
    for (let i = 0; i < records.length; i++) {
      if (seen.has(ids[i] as string)) {
        verified.push(undefined);
        continue;
      }
      try {
        verified.push(await verifySettlement(records[i] as Uint8Array, { trust: this.o.trust, now: this.now(), chains: this.chains }));
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        verified.push(e);
      }
    }
    return this.o.db.transaction(async (tx) => {
      const out: SubmitResult[] = [];
      const batch = new Map<string, SubmitResult>();
      for (let i = 0; i < records.length; i++) {
        const id = ids[i] as string;
        const prior = seen.get(id) ?? batch.get(id);
        if (prior) {
          out.push({ ...prior, repeated: true });
          continue;
        }
        const v = verified[i];
        const r: Applied =
          v instanceof EdgepayError
            ? { status: 'rejected' as const, posted: 0n, code: v.code }
            : await this.apply(tx, id, records[i] as Uint8Array, v as VerifiedSettlement);
        const receipt = await signReceipt(this.o.signer, {
          ledger: this.o.id,
          recordId: fromHex(id),
          status: r.status,
          posted: r.posted,
          code: r.code,
          time: this.now(),
        });
        await tx.query('insert into receipts (record_id, status, code, amount, receipt) values ($1, $2, $3, $4, $5)', [
          id,
          r.status,
          r.code ?? null,
          r.posted.toString(),
          receipt,
        ]);
        const res: SubmitResult = { recordId: fromHex(id), receipt, ...r, repeated: false };
        delete res.revoke; // a repeat of this record must not ask for the revocation again
        batch.set(id, res);
        out.push(r.revoke ? { ...res, revoke: r.revoke } : res);
      }
      return out;
    });
  }

  private async apply(tx: Sql, recordId: string, bytes: Uint8Array, v: VerifiedSettlement): Promise<Applied> {
    const channelId = toHex(v.channelId);
    const payerParty = v.payer.party.claims.subject;
    const payeeParty = v.payee.party.claims.subject;
    const payerKid = toHex(v.payer.kid);
    const fresh = await tx.query(
      `insert into channels (id, payer_party, payee_party, payer_kid, payee_kid, asset, cap, outstanding_limit)
       values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (id) do nothing returning id`,
      [
        channelId,
        payerParty,
        payeeParty,
        payerKid,
        toHex(v.payee.kid),
        v.terms.asset,
        v.terms.cap.toString(),
        v.payer.limits.totalOutstanding.toString(),
      ],
    );
    // A new channel may bring new parties: remember how to pay them on conventional rails.
    if (fresh.length > 0)
      for (const c of [v.payer, v.payee])
        await tx.query(
          `insert into parties (party, payment_ref, category) values ($1, $2, $3)
         on conflict (party) do update set payment_ref = excluded.payment_ref, category = excluded.category, updated_at = now()`,
          [c.party.claims.subject, c.paymentRef ?? null, c.party.claims.category ?? null],
        );
    const [ch] = await tx.query<{ applied: string; disputed: boolean; closed: boolean }>(
      'select applied::text as applied, disputed, closed from channels where id = $1 for update',
      [channelId],
    );
    const dispute = async (kind: string, unpaid: bigint): Promise<string | undefined> => {
      const fresh = await tx.query(
        `insert into disputes (channel_id, payer_kid, payer_party, evidence, kind, unpaid) values ($1, $2, $3, $4, $5, $6)
         on conflict do nothing returning channel_id`,
        [channelId, payerKid, payerParty, bytes, kind, unpaid.toString()],
      );
      await tx.query('update channels set disputed = true where id = $1', [channelId]);
      return fresh.length > 0 ? payerKid : undefined;
    };
    if (v.equivocation) return { status: 'disputed', posted: 0n, code: 'LEDGER_EQUIVOCATION', revoke: await dispute('equivocation', 0n) };
    if (ch?.disputed) return { status: 'disputed', posted: 0n, code: 'LEDGER_DISPUTED' };
    const increase = v.amount - BigInt(ch?.applied ?? '0');
    if (increase > 0n) {
      // The device's total outstanding (its open channels' amounts), in arrival order: a claim that
      // would take it past its credential's limit is an overspend by the payer.
      const [o] = await tx.query<{ s: string }>(
        'select coalesce(sum(applied), 0)::text as s from channels where payer_kid = $1 and not closed and id <> $2',
        [payerKid, channelId],
      );
      // Signing past the limit is an overspend: the claim is refused, the device disputed (and revoked),
      // and what it leaves unpaid is recorded against its party.
      if (BigInt(o?.s ?? '0') + v.amount > v.payer.limits.totalOutstanding)
        return { status: 'rejected', posted: 0n, code: 'LEDGER_OUTSTANDING', revoke: await dispute('overspend', increase) };
    }
    if (increase > 0n) {
      const [acct] = await tx.query<{ b: string; c: string }>(
        'select balance::text as b, credit_line::text as c from accounts where party = $1 and asset = $2 for update',
        [payerParty, v.terms.asset],
      );
      if (BigInt(acct?.b ?? '0') - increase < -BigInt(acct?.c ?? '0')) return { status: 'rejected', posted: 0n, code: 'LEDGER_FUNDS' };
      await this.post(tx, recordId, channelId, payerParty, payeeParty, v.terms.asset, increase);
      await tx.query(
        'update channels set applied = $2, seq = greatest(seq, $3), ticks = greatest(ticks, $4), closed = closed or $5 where id = $1',
        [channelId, v.amount.toString(), v.seq, v.ticks, v.closed],
      );
      return { status: 'accepted', posted: increase };
    }
    if (v.closed && !ch?.closed) {
      await tx.query('update channels set closed = true where id = $1', [channelId]);
      return { status: 'accepted', posted: 0n };
    }
    return { status: 'duplicate', posted: 0n };
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
