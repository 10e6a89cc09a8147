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
import { signReceipt } from './receipt.js';
import { migrate } from './schema.js';

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
  status: 'accepted' | 'rejected' | 'disputed';
  posted: bigint;
  code?: string | undefined;
  /** True when this record was seen before (the stored receipt is returned). */
  repeated: boolean;
}

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

  /** Credits `party` from outside (a deposit): a balanced posting from the external account. */
  async fund(party: string, asset: string, amount: bigint): Promise<void> {
    if (amount <= 0n) throw new LedgerError('LEDGER_AMOUNT', 'a deposit is positive', 'amount');
    await this.o.db.transaction((tx) => this.post(tx, `fund:${party}:${this.now()}:${amount}`, undefined, EXTERNAL, party, asset, amount));
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
        const r =
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
        batch.set(id, res);
        out.push(res);
      }
      return out;
    });
  }

  private async apply(
    tx: Sql,
    recordId: string,
    bytes: Uint8Array,
    v: VerifiedSettlement,
  ): Promise<{ status: 'accepted' | 'disputed' | 'rejected'; posted: bigint; code?: string }> {
    const channelId = toHex(v.channelId);
    const payerParty = v.payer.party.claims.subject;
    const payeeParty = v.payee.party.claims.subject;
    await tx.query(
      `insert into channels (id, payer_party, payee_party, payer_kid, payee_kid, asset, cap) values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (id) do nothing`,
      [channelId, payerParty, payeeParty, toHex(v.payer.kid), toHex(v.payee.kid), v.terms.asset, v.terms.cap.toString()],
    );
    const [ch] = await tx.query<{ applied: string; disputed: boolean }>(
      'select applied::text as applied, disputed from channels where id = $1 for update',
      [channelId],
    );
    if (v.equivocation) {
      await tx.query('insert into disputes (channel_id, payer_kid, payer_party, evidence) values ($1, $2, $3, $4) on conflict do nothing', [
        channelId,
        toHex(v.payer.kid),
        payerParty,
        bytes,
      ]);
      await tx.query('update channels set disputed = true where id = $1', [channelId]);
      return { status: 'disputed', posted: 0n, code: 'LEDGER_EQUIVOCATION' };
    }
    if (ch?.disputed) return { status: 'disputed', posted: 0n, code: 'LEDGER_DISPUTED' };
    const increase = v.amount - BigInt(ch?.applied ?? '0');
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
    } else if (v.closed) {
      await tx.query('update channels set closed = true where id = $1', [channelId]);
    }
    return { status: 'accepted', posted: increase > 0n ? increase : 0n };
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
