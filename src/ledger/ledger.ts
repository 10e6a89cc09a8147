/**
 * @module ledger/ledger
 * The settlement ledger's front: verifies every settlement record again (`check.ts`: chains, revocation as
 * of the newest lists held, signatures, ticks, caps), then applies a batch in one transaction as
 * double-entry postings between responsible parties (`apply.ts`). For a channel only its newest state
 * counts and only its increase over what was applied is posted: the same or an older record again changes
 * nothing, whichever side sent it, however often. Each record gets one signed receipt; a record seen before
 * gets the same receipt again (idempotent). Money moved by calls rather than records is `treasury.ts`;
 * revocation lists are `lists.ts`.
 */
import { fromHex, toHex } from '../bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { type BatchVerifier, inlineVerifier } from '../crypto/workers.js';
import { EdgepayError } from '../errors.js';
import { verifyParty } from '../identity/chain.js';
import type { TrustStore } from '../identity/trust-store.js';
import { type ReceiptStatus, rebuildReceipts, signReceiptBatch } from '../settlement/receipt.js';
import { type Applied, type BatchItem, decideBatch, readState, type Settled, withoutRevoke, writeChanges } from './apply.js';
import { ChainCache, revokedChain } from './chain-cache.js';
import { type CheckContext, type Checked, checkRecords, enrollChains, ownCopy, refusal, type SubmitOptions } from './check.js';
import type { Db, DbState, Sql } from './db.js';
import { Lists } from './lists.js';
import { type Logger, silentLogger } from './log.js';
import { migrate } from './schema.js';
import { BATCH_MEMBERS, exclusive, isDataError, isReceiptConflict, STORED_RECEIPTS, Writes } from './sql.js';
import type { Statement } from './statement.js';
import { type PayoutOptions, type PayoutResult, Treasury } from './treasury.js';

export type { SubmitCost, SubmitOptions } from './check.js';
export { EXTERNAL } from './sql.js';

export interface LedgerOptions {
  db: Db;
  /** The ledger's key: receipts are signed with it. */
  signer: Signer;
  /** The ledger's id, named in its receipts. */
  id: string;
  trust: TrustStore;
  now?: () => number;
  /** Where signatures are checked (default: this thread). A service passes `workerVerifier()`. */
  verifier?: BatchVerifier;
  /**
   * How long after its channel expired a record may still settle, in seconds (default {@link SETTLEMENT_WINDOW}):
   * devices sync late, but a channel back-dated into an expired credential's validity settles only this long.
   */
  settlementWindowSeconds?: number;
  /** Where the ledger says what went wrong (default: nowhere). */
  log?: Logger;
}

/** The default settlement window: three days, for devices that are offline over a long weekend. */
export const SETTLEMENT_WINDOW = 3 * 86_400;

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

/** A submission's records as `submit` has read and checked them. */
interface Batch {
  records: Uint8Array[];
  hashes: Uint8Array[];
  ids: string[];
  checked: Checked[];
  /** Receipts given before, by record id. */
  seen: Map<string, SubmitResult>;
}

export class Ledger {
  /** Each credential chain is verified once per process (revocation and, for submitters, expiry re-checked on every use). */
  readonly chains = new ChainCache();
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly ctx: CheckContext;
  private readonly treasury: Treasury;
  private readonly lists: Lists;

  private constructor(private readonly o: LedgerOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.log = o.log ?? silentLogger;
    this.ctx = {
      db: o.db,
      trust: o.trust,
      chains: this.chains,
      verifier: o.verifier ?? inlineVerifier,
      now: this.now,
      settlementWindowSeconds: o.settlementWindowSeconds ?? SETTLEMENT_WINDOW,
      log: this.log,
    };
    this.treasury = new Treasury({ db: o.db, signer: o.signer, id: o.id, now: this.now });
    this.lists = new Lists({ db: o.db, trust: o.trust, log: this.log });
  }

  /** Opens the ledger on `db`, applying any pending migrations and loading the revocation lists it holds. */
  static async open(o: LedgerOptions): Promise<Ledger> {
    await migrate(o.db);
    const ledger = new Ledger(o);
    await ledger.lists.load();
    return ledger;
  }

  /**
   * Credits `party` from outside (a deposit): a balanced posting from the external account. With `ref`
   * (a bank reference, an admin call's nonce) the same deposit made again is applied once.
   * @returns false when `ref` was applied before.
   */
  fund(party: string, asset: string, amount: bigint, ref?: string): Promise<boolean> {
    return this.treasury.fund(party, asset, amount, ref);
  }

  /** Deposits in bulk (opening balances): like {@link fund} for each, in one transaction. @returns how many were new. */
  fundMany(deposits: readonly { party: string; asset: string; amount: bigint; ref: string }[]): Promise<number> {
    return this.treasury.fundMany(deposits);
  }

  setCreditLine(party: string, asset: string, amount: bigint): Promise<void> {
    return this.treasury.setCreditLine(party, asset, amount);
  }

  balance(party: string, asset: string): Promise<bigint> {
    return this.treasury.balance(party, asset);
  }

  /** A party's postings in `asset` over [from, to) (seconds), with opening and closing balances. */
  statement(party: string, asset: string, from: number, to: number): Promise<Statement> {
    return this.treasury.statement(party, asset, from, to);
  }

  /** Pays parties out as a pain.001 document, by default what each earned (see `Treasury.payout`). */
  payout(ref: string, asset: string, debtor: { name: string; account: string }, o: PayoutOptions = {}): Promise<PayoutResult | undefined> {
    return this.treasury.payout(ref, asset, debtor, o);
  }

  /** Locks a party's funds for one payer device's channels and signs a reservation ticket (see `Treasury.reserve`). */
  reserve(o: Parameters<Treasury['reserve']>[0]): Promise<Uint8Array> {
    return this.treasury.reserve(o);
  }

  /** Returns what is left of expired reservations to their parties. @returns how many were released. */
  releaseExpired(): Promise<number> {
    return this.treasury.releaseExpired();
  }

  /** The newest revocation list this ledger made, if any. */
  newestRevocationList(): Promise<{ version: number; list: Uint8Array } | undefined> {
    return this.lists.newest();
  }

  /** Records a revocation list this ledger made and the device it added. */
  saveRevocation(kid: string, revokedAt: number, reason: string, version: number, list: Uint8Array): Promise<void> {
    return this.lists.saveOwn(kid, revokedAt, reason, version, list);
  }

  /** Every device this ledger has revoked (after a dispute), with why. */
  revokedDevices(): Promise<{ kid: string; reason: string; revokedAt: number }[]> {
    return this.lists.revokedDevices();
  }

  /** Disputed devices not yet revoked (a crash between the dispute and the publication leaves these). */
  unrevokedDisputes(): Promise<{ kid: string; kind: string }[]> {
    return this.lists.unrevokedDisputes();
  }

  /** Applies to the trust store every revocation list stored since this process last looked. */
  loadLists(): Promise<void> {
    return this.lists.load();
  }

  /** Stores a revocation list (verified and applied by the caller's trust store) for every process and restart. */
  storeList(list: Uint8Array, authority: string, version: number, party?: Uint8Array): Promise<void> {
    return this.lists.store(list, authority, version, party);
  }

  /** Resolves when the database answers (health checks). */
  async ping(): Promise<void> {
    await this.o.db.query('select 1');
  }

  /** The database connection's failover counts (zero for one server or PGlite). */
  dbState(): DbState {
    return this.o.db.state?.() ?? { failovers: 0, unreplicated: 0 };
  }

  /**
   * Whether this process can take submissions now (readiness): the database answers and takes commits.
   * On a replicated cluster, also which server is in use and how often it changed.
   */
  async ready(): Promise<{ writable: boolean } & DbState> {
    const state = this.dbState();
    const writable = this.o.db.writable
      ? await this.o.db.writable()
      : await this.ping().then(
          () => true,
          () => false,
        );
    return { writable, ...state };
  }

  /** The sum of every balance (external included): zero, by double entry. */
  async total(): Promise<bigint> {
    const [r] = await this.o.db.query<{ s: string | null }>('select coalesce(sum(balance), 0)::text as s from accounts');
    return BigInt(r?.s ?? '0');
  }

  /**
   * Verifies and applies settlement records; one result per record, in order. Only a failure of the
   * call itself (the database) rejects; a record that fails for any reason gets its own `rejected` receipt
   * with its code, and never fails the others.
   *
   * Cost per record: reading it and one signature check in the common case (see `checkSettlement`), spread
   * over the verifier's threads; a tick's hashing after that, on the same threads, only once the
   * signatures binding its chain have verified; and a share of a fixed number of set-based statements per
   * batch. Batches are applied one at a time (a transaction-scoped lock), so limits hold in arrival order.
   */
  async submit(given: readonly Uint8Array[], options: SubmitOptions = {}): Promise<SubmitResult[]> {
    const records = ownCopy(given);
    const hashes = records.map(sha256);
    const ids = hashes.map(toHex);
    const seen = ids.length > 0 ? await this.storedReceipts(this.o.db, ids) : new Map<string, SubmitResult>();
    const t0 = performance.now();
    const { checked, firstAt } = await checkRecords(this.ctx, records, ids, seen, options);
    const t1 = performance.now();
    const byId = await this.applyAll([...firstAt.values()], { records, hashes, ids, checked, seen });
    for (const watch of this.stageWatchers) watch({ checkSeconds: (t1 - t0) / 1000, applySeconds: (performance.now() - t1) / 1000 });
    // A stored receipt was only read: on a cluster it goes out once what stored it is held by a standby too.
    if (seen.size > 0) await this.o.db.durable?.();
    return ids.map((id, i) => {
      const prior = seen.get(id);
      if (prior) return prior;
      const r = byId.get(id) as SubmitResult;
      if (i === firstAt.get(id)) return r;
      const { revoke: _, ...again } = r;
      return { ...again, repeated: true };
    });
  }

  /**
   * Applies the checked records at `firsts` (indices into the batch) as one transaction. Should the
   * database refuse the batch over what a record holds (a data or constraint error: something the checks
   * should have caught), each record is applied on its own, and one that still fails gets its own
   * LEDGER_UNPROCESSABLE receipt: a batch is never failed for one record.
   */
  private async applyAll(firsts: number[], b: Batch): Promise<Map<string, SubmitResult>> {
    try {
      return await this.applyOnce(firsts, b, false);
    } catch (e) {
      if (isReceiptConflict(e)) return this.applyOnce(firsts, b, true);
      if (!isDataError(e)) throw e;
      this.log.warn({ records: firsts.length, err: e }, 'the database refused a batch; applying its records one by one');
    }
    const out = new Map<string, SubmitResult>();
    for (const i of firsts) {
      let one: Map<string, SubmitResult>;
      try {
        one = await this.applyOnce([i], b, true);
      } catch (e) {
        if (!isDataError(e)) throw e;
        b.checked[i] = refusal(this.log, e, b.ids[i] as string);
        one = await this.applyOnce([i], b, true);
      }
      for (const [id, r] of one) out.set(id, r);
    }
    return out;
  }

  /**
   * One transaction: the records at `firsts` decided against the state read under the apply lock, their
   * postings and state written, their receipts signed as one batch and stored. Another submission (a client
   * that retried before its answer, or failed over to another ledger process on the same database) may
   * have applied some of these meanwhile: theirs stand, and are returned as repeats (`b.seen`). That is
   * rare, so it is looked up only with `lookLate` (storing this batch's receipts fails on their key, which
   * rolls everything back, and the batch is applied again looking for them under the lock).
   */
  private applyOnce(firsts: number[], b: Batch, lookLate: boolean): Promise<Map<string, SubmitResult>> {
    const { records, hashes, ids, checked, seen } = b;
    return this.o.db.transaction(
      async (tx) => {
        await exclusive(this.o.db, tx);
        let fresh = firsts;
        const candidates: BatchItem[] = [];
        for (const i of fresh) {
          const v = checked[i];
          if (v && !(v instanceof EdgepayError)) candidates.push({ recordId: ids[i] as string, bytes: records[i] as Uint8Array, v, i });
        }
        const state = await readState(tx, lookLate ? fresh.map((i) => ids[i] as string) : [], candidates);
        if (state.late.size > 0) {
          for (const [id, r] of await this.storedReceipts(tx, [...state.late])) seen.set(id, r);
          fresh = fresh.filter((i) => !state.late.has(ids[i] as string));
        }
        // A revocation list another process stored since this one last looked applies to this batch too.
        let items = state.late.size > 0 ? candidates.filter((x) => !state.late.has(x.recordId)) : candidates;
        if (state.lists > this.lists.seen) {
          await this.lists.load(tx);
          items = items.filter((x) => {
            const revoked = this.revokedNow(x.v);
            if (revoked) checked[x.i] = revoked;
            return !revoked;
          });
        }
        const { results: applied, changes } = decideBatch(items, state);
        const w = new Writes();
        writeChanges(changes, w);
        const results = fresh.map((i): Applied => {
          const v = checked[i];
          return v instanceof EdgepayError ? { status: 'rejected', posted: 0n, code: v.code } : (applied.get(ids[i] as string) as Applied);
        });
        const { root, receipts } = await signReceiptBatch(
          this.o.signer,
          this.o.id,
          this.now(),
          fresh.map((i, k) => ({ recordId: hashes[i] as Uint8Array, ...withoutRevoke(results[k] as Applied) })),
        );
        if (fresh.length > 0) {
          // The root once; each row its result and place: the receipt is rebuilt from them if asked again.
          w.add('insert into receipt_batches (root) values ($1) returning id', [root], 'batch');
          w.add(
            `insert into receipts (record_id, status, code, amount, batch, idx)
           select r, s, c, a, (select id from batch), i - 1 from unnest($1::text[], $2::text[], $3::text[], $4::numeric[]) with ordinality as u(r, s, c, a, i)`,
            [
              fresh.map((i) => ids[i]),
              results.map((r) => r.status),
              results.map((r) => r.code ?? null),
              results.map((r) => r.posted.toString()),
            ],
          );
        }
        await w.run(tx);
        const byId = new Map<string, SubmitResult>();
        fresh.forEach((i, k) => {
          byId.set(ids[i] as string, {
            recordId: hashes[i] as Uint8Array,
            receipt: receipts[k] as Uint8Array,
            ...(results[k] as Applied),
            repeated: false,
          });
        });
        return byId;
      },
      // Applied twice, a batch's receipts conflict: the second run finds the first's and returns them.
      { idempotent: true },
    );
  }

  /** A checked record's refusal if a list applied since revokes either side now (undefined when not). */
  private revokedNow(v: Settled): EdgepayError | undefined {
    return revokedChain(v.payer, this.o.trust, this.now()) ?? revokedChain(v.payee, this.o.trust, this.now());
  }

  /**
   * Registers a party from its credential (verified against the trusted issuers now): who it is, how to pay
   * it on conventional rails, and its key for the calls it signs. A party is otherwise learned from its
   * devices' first record; deposits and credit lines are taken only for a party the ledger knows.
   * @returns the party's id. @throws IdentityError when the credential does not verify.
   */
  async registerParty(credential: Uint8Array): Promise<string> {
    const c = await verifyParty(credential, { trust: this.o.trust, now: this.now() });
    const k = c.claims;
    await this.o.db.query(
      `insert into parties (party, payment_ref, category, kid, public_key) values ($1, $2, $3, $4, $5)
       on conflict (party) do update set payment_ref = excluded.payment_ref, category = excluded.category,
         kid = excluded.kid, public_key = excluded.public_key, updated_at = now()`,
      [k.subject, k.paymentRef ?? null, k.category ?? null, toHex(c.subjectKid), k.publicKey],
    );
    return k.subject;
  }

  /** Whether the ledger knows `party` (registered, or met through its devices' records). */
  async knowsParty(party: string): Promise<boolean> {
    return (await this.o.db.query('select 1 from parties where party = $1', [party])).length > 0;
  }

  private readonly stageWatchers: ((t: { checkSeconds: number; applySeconds: number }) => void)[] = [];

  /** Calls `watch` with how long each batch spent being checked and being applied (for metrics). */
  onStages(watch: (t: { checkSeconds: number; applySeconds: number }) => void): void {
    this.stageWatchers.push(watch);
  }

  /** The party whose credential key has thumbprint `kid`, as seen in a settled channel. */
  async partyByKid(kid: Uint8Array): Promise<{ id: string; publicKey: Uint8Array } | undefined> {
    const [r] = await this.o.db.query<{ party: string; public_key: Uint8Array }>(
      'select party, public_key from parties where kid = $1 and public_key is not null limit 1',
      [toHex(kid)],
    );
    return r && { id: r.party, publicKey: new Uint8Array(r.public_key) };
  }

  /** The receipts already given for any of `ids` (record ids, hex). */
  private async storedReceipts(sql: Sql, ids: string[]): Promise<Map<string, SubmitResult>> {
    type Row = { record_id: string; status: string; code: string | null; amount: string; receipt: Uint8Array | null; batch: string | null };
    const rows = await sql.query<Row>(STORED_RECEIPTS, [ids]);
    const result = (r: Row) => ({
      recordId: fromHex(r.record_id),
      status: r.status as SubmitResult['status'],
      posted: BigInt(r.amount),
      code: r.code ?? undefined,
    });
    // Receipts stored per batch: rebuild each batch's receipts from its root and every row of it, in order.
    const rebuilt = new Map<string, Uint8Array>();
    const batches = [...new Set(rows.flatMap((r) => (r.receipt === null && r.batch !== null ? [r.batch] : [])))];
    if (batches.length > 0) {
      const roots = new Map(
        (
          await sql.query<{ id: string; root: Uint8Array }>(
            'select id::text as id, root from receipt_batches where id = any($1::bigint[])',
            [batches],
          )
        ).map((b) => [b.id, new Uint8Array(b.root)]),
      );
      const members = await sql.query<Row>(BATCH_MEMBERS, [batches]);
      for (let start = 0; start < members.length; ) {
        let end = start;
        while (end < members.length && members[end]?.batch === members[start]?.batch) end++;
        const batch = members.slice(start, end);
        const receipts = rebuildReceipts(roots.get((batch[0] as Row).batch as string) as Uint8Array, batch.map(result));
        for (let k = 0; k < batch.length; k++) rebuilt.set((batch[k] as Row).record_id, receipts[k] as Uint8Array);
        start = end;
      }
    }
    return new Map(
      rows.map((r) => [
        r.record_id,
        { ...result(r), receipt: r.receipt ? new Uint8Array(r.receipt) : (rebuilt.get(r.record_id) as Uint8Array), repeated: true },
      ]),
    );
  }

  /**
   * Verifies credential chains ahead of their first payment (enrolment: a fleet registering its devices),
   * so settling later costs only the payment's own signature. Signatures are checked in one batch.
   * @returns per chain, undefined when enrolled, else the error it failed with.
   */
  enroll(chains: readonly Uint8Array[]): Promise<(EdgepayError | undefined)[]> {
    return enrollChains(this.ctx, chains);
  }
}
