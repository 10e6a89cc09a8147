/**
 * @module ledger/ledger
 * The settlement ledger's core: verifies every settlement record again (chains, revocation as of the
 * newest lists held, signatures, ticks, caps), then applies a batch in one transaction as double-entry
 * postings between responsible parties. For a channel only the newest amount counts and only its
 * increase over what was applied is posted: the same or an older record again changes nothing, whichever
 * side sent it, however often. Each record gets one signed receipt; a record seen before gets the same
 * receipt again (idempotent).
 */

import { equalBytes, fromHex, toHex } from '../bytes.js';
import { MAX_SETTLEMENT_BYTES } from '../channel/fastframe.js';
import type { TickProof } from '../channel/hashchain.js';
import type { OpenTerms } from '../channel/messages.js';
import { reservationId, signReservation } from '../channel/reservation.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { type BatchVerifier, inlineVerifier } from '../crypto/workers.js';
import { ChannelError, CoseError, EdgepayError, LedgerError } from '../errors.js';
import { type ChainFacts, verifyParty } from '../identity/chain.js';
import type { TrustStore } from '../identity/trust-store.js';
import { type ReceiptStatus, rebuildReceipts, signReceiptBatch } from '../settlement/receipt.js';
import { encodeSettlementParts, readSettlement, type SettlementFrames } from '../settlement/record.js';
import { checkSettlement, type SignatureCheck, type VerifiedSettlement } from '../settlement/verify.js';
import { ChainCache, revokedChain } from './chain-cache.js';
import { decodeChainFacts, encodeChainFacts } from './chain-facts.js';
import type { Db, Sql } from './db.js';
import { adopt, type ChannelHistory, judge } from './history.js';
import { type Logger, silentLogger } from './log.js';
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

/** The work a submission asks of the ledger, known before its signatures are checked (see {@link SubmitOptions}). */
export interface SubmitCost {
  /** New records (not seen before). */
  records: number;
  /** Signature checks. */
  signatures: number;
  /** SHA-256 steps its ticks need. */
  hashSteps: number;
}

export interface SubmitOptions {
  /**
   * Called with what the new records will cost before the work is done: once they have been read and
   * checked (cheaply), with their records and signatures; again once their signatures verified, with the
   * hashing their ticks need (only records whose signatures verified are hashed, and charged for it). Throw
   * (a LedgerError LEDGER_RATE, say) to refuse the submission.
   */
  budget?: (cost: SubmitCost) => void;
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

type Applied = { status: ReceiptStatus; posted: bigint; code?: string | undefined; revoke?: string | undefined };

const withoutRevoke = ({ revoke: _, ...r }: Applied) => r;

/** Resolves after pending I/O callbacks have run (a macrotask: awaiting a resolved promise would not let them in). */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Rows as column arrays, for `unnest($1::t[], $2::t[], ...)`. */
function columns(rows: readonly (readonly unknown[])[], n: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: n }, () => []);
  for (const r of rows) for (let c = 0; c < n; c++) (cols[c] as unknown[]).push(r[c]);
  return cols;
}

/** A batch's postings as columns: record, channel, debit, credit, asset, amount. */
type PostingColumns = [string[], string[], string[], string[], string[], string[]];

/** Adds one posting (`amount` from `debit` to `credit`) to a batch's posting columns. */
function addPosting(
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

function uniqueBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
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

/** What a batch's outcome depends on, read under the apply lock in one statement (`READ_STATE`). */
interface BatchState {
  /** Record ids another ledger process stored receipts for since the batch was checked. */
  late: Set<string>;
  channels: Map<string, ChannelHistory & { dirty: boolean }>;
  /** The newest revocation list in the store (`authority_lists.id`). */
  lists: number;
  /** Each payer device's outstanding total, by kid. */
  outstanding: Map<string, bigint>;
  /** Balances and credit lines, by `accountKey`. */
  accounts: Map<string, { balance: bigint; credit: bigint }>;
  /** Reservations still held, by id. */
  reservations: Map<string, { ticket: Uint8Array; payerKid: string }>;
  /** Per item, the id of the reservation its terms carry ('' for none). */
  tickets: string[];
}

/**
 * The rows of `table` whose `key` is in the text-array parameter `param`, as `t`, each looked up through
 * the key's index. Not `key = any(param)`: for a thousand keys the planner prices a sequential scan that
 * hashes every row below roughly 150,000 rows, or at any size when the table has no statistics (autovacuum
 * off; PGlite never analyzes), and a ledger's tables grow through that range, under the apply lock. A lateral subquery with a limit is not flattened into a join, so each key
 * is one index probe whatever the statistics say.
 */
const byKeys = (table: string, key: string, param: string, cols: string, and = '') =>
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
 * The records copied into one buffer, as views: what is checked is what is applied, whatever the caller does
 * with its buffers meanwhile. One allocation a batch, not one a record kept alive until the batch is applied.
 * Records too large to be settlement records are left as they are (refused unread).
 */
function ownCopy(records: readonly Uint8Array[]): Uint8Array[] {
  let size = 0;
  for (const r of records) if (r.length <= MAX_SETTLEMENT_BYTES) size += r.length;
  const buf = new Uint8Array(size);
  let at = 0;
  return records.map((r) => {
    if (r.length > MAX_SETTLEMENT_BYTES) return r;
    buf.set(r, at);
    at += r.length;
    return buf.subarray(at - r.length, at);
  });
}

/**
 * A database error over what was written (SQLSTATE class 22, data exception, or 23, integrity constraint):
 * a record's values, not the database's health. Anything else (connections, timeouts) fails the call.
 */
const isDataError = (e: unknown) =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && /^2[23]/.test((e as { code: string }).code);

/** Equivocation evidence found across records: the record's own open and accept, with the two vouchers. */
function evidenceRecord(record: Uint8Array, vouchers: [Uint8Array, Uint8Array]): Uint8Array {
  const { open, accept } = readSettlement(record);
  return encodeSettlementParts({ open: open.bytes, accept: accept.bytes, evidence: vouchers });
}

/** A database error from storing a receipt for a record that has one (unique key of `receipts`). */
const isReceiptConflict = (e: unknown) =>
  typeof e === 'object' &&
  e !== null &&
  (e as { code?: unknown }).code === '23505' &&
  (e as { constraint?: unknown }).constraint === 'receipts_pkey';

const accountKey = (party: string, asset: string) => `${party}\u0000${asset}`;

/**
 * A batch's writes, sent as one statement (each a data-modifying `with` clause): under the apply lock every
 * round trip is one that every batch behind waits for. Each is written with its own `$1...`, renumbered here.
 */
class Writes {
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

/**
 * What applying a record needs of its verified settlement, taken as soon as it is checked: the decoded frames
 * (views into the batch) then die young, instead of being copied by every scavenge while the batch waits for
 * its signatures and the apply lock. The credential chains are the cache's, shared.
 */
interface Settled {
  payer: VerifiedSettlement['payer'];
  payee: VerifiedSettlement['payee'];
  terms: Pick<OpenTerms, 'asset' | 'cap' | 'reservation'>;
  amount: bigint;
  seq: number;
  voucher: Uint8Array | undefined;
  voucherAmount: bigint;
  voucherTicks: number;
  ticks: number;
  tickValue: bigint;
  closed: boolean;
  equivocation: boolean;
  /** The channel id and the payer's key thumbprint, hex (the batch's statements key on them). */
  channel: string;
  payerKid: string;
}

const settled = (v: VerifiedSettlement): Settled => ({
  payer: v.payer,
  payee: v.payee,
  terms: { asset: v.terms.asset, cap: v.terms.cap, reservation: v.terms.reservation },
  amount: v.amount,
  seq: v.seq,
  voucher: v.voucher,
  voucherAmount: v.voucherAmount,
  voucherTicks: v.voucherTicks,
  ticks: v.ticks,
  tickValue: v.terms.payword?.tickValue ?? 0n,
  closed: v.closed,
  equivocation: v.equivocation !== undefined,
  channel: toHex(v.channelId),
  payerKid: toHex(v.payer.kid),
});

/** A verified record in a batch, and its place in it. */
interface BatchItem {
  recordId: string;
  bytes: Uint8Array;
  v: Settled;
  i: number;
}

/** A submission's records as `submit` has read and checked them. */
interface Batch {
  records: Uint8Array[];
  hashes: Uint8Array[];
  ids: string[];
  /** Per record: what it settles, why it is refused, or nothing (a repeat). */
  checked: (Settled | EdgepayError | undefined)[];
  /** Receipts given before, by record id. */
  seen: Map<string, SubmitResult>;
}

export class Ledger {
  private readonly now: () => number;
  /** Each credential chain is verified once per process (revocation and, for submitters, expiry re-checked on every use). */
  readonly chains = new ChainCache();

  private readonly verifier: BatchVerifier;

  private readonly log: Logger;

  private constructor(private readonly o: LedgerOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.verifier = o.verifier ?? inlineVerifier;
    this.log = o.log ?? silentLogger;
  }

  /** Opens the ledger on `db`, applying any pending migrations. */
  static async open(o: LedgerOptions): Promise<Ledger> {
    await migrate(o.db);
    const ledger = new Ledger(o);
    await ledger.loadLists();
    return ledger;
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
      await this.exclusive(tx);
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
    await this.releaseExpired();
    return this.o.db.transaction(async (tx) => {
      await this.exclusive(tx);
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
      await this.exclusive(tx);
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
      await this.exclusive(tx);
      const rows = await tx.query<{ id: string; party: string; asset: string; b: string }>(EXPIRED_HELD, [this.now()]);
      for (const r of rows) {
        const left = BigInt(r.b);
        if (left > 0n) await this.post(tx, `release:${r.id}`, undefined, `reserve:${r.id}`, r.party, r.asset, left);
        await tx.query('update reservations set released = true where id = $1', [r.id]);
      }
      return rows.length;
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

  /** Every device this ledger has revoked (after a dispute), with why. */
  async revokedDevices(): Promise<{ kid: string; reason: string; revokedAt: number }[]> {
    const rows = await this.o.db.query<{ kid: string; reason: string; at: string }>(
      'select kid, reason, revoked_at::text as at from revocations order by revoked_at',
    );
    return rows.map((r) => ({ kid: r.kid, reason: r.reason, revokedAt: Number(r.at) }));
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
    // Read every new record's frames first, so the chains they carry are looked up in one query.
    const firstAt = new Map<string, number>();
    const frames: (SettlementFrames | EdgepayError | undefined)[] = records.map((r, i) => {
      const id = ids[i] as string;
      if (seen.has(id) || firstAt.has(id)) return undefined;
      firstAt.set(id, i);
      try {
        return readSettlement(r, true);
      } catch (e) {
        return this.refusal(e, id);
      }
    });
    // Each chain's key worked out once: for the stored-chains lookup and again when the record is checked.
    const keys = new Map<Uint8Array, string>();
    for (const f of frames)
      if (f !== undefined && !(f instanceof EdgepayError))
        for (const chain of [f.open.terms.chain, f.accept.chain]) keys.set(chain, this.chains.keyFor(chain));
    const chains = this.chains.batch(await this.storedChains(keys.values()), keys);
    // Check structure, chains, limits and amounts here; every signature then in one batch on the verifier's
    // threads, and ticks after that (nothing here hashes or verifies: see `checkSettlement`).
    const checked: (Settled | EdgepayError | undefined)[] = [];
    const pendingSigs: { i: number; c: SignatureCheck }[] = [];
    const ticks: (TickProof | undefined)[] = [];
    for (let i = 0; i < records.length; i++) {
      const f = frames[i];
      if (f === undefined || f instanceof EdgepayError) {
        checked.push(f);
        continue;
      }
      // Checking a batch takes tens of milliseconds of this thread; another batch's transaction holds the
      // apply lock meanwhile and waits on this thread for each of its query results. Letting I/O in every
      // 64 records keeps that transaction, which every batch queues behind, from waiting on this loop.
      if ((i & 63) === 63) await yieldToIo();
      try {
        const { settlement, signatures, tick } = await checkSettlement(f, {
          trust: this.o.trust,
          now: this.now(),
          settlementWindowSeconds: this.o.settlementWindowSeconds ?? SETTLEMENT_WINDOW,
          chains,
        });
        checked.push(settled(settlement));
        ticks[i] = tick;
        for (const c of signatures) pendingSigs.push({ i, c });
      } catch (e) {
        checked.push(this.refusal(e, ids[i] as string));
      }
    }
    options.budget?.({ records: firstAt.size, signatures: pendingSigs.length, hashSteps: 0 });
    const ok = await this.verifyChecks(pendingSigs.map((p) => p.c));
    pendingSigs.forEach(({ i, c }, k) => {
      if (!ok[k] && !(checked[i] instanceof EdgepayError))
        checked[i] = new CoseError('COSE_SIGNATURE', 'signature does not verify', c.field);
    });
    // Ticks are hashed only for records whose signatures all verified: those bind the chain's root.
    const tickAt = [...ticks.keys()].filter((i) => ticks[i] && !(checked[i] instanceof EdgepayError));
    if (tickAt.length > 0) {
      options.budget?.({ records: 0, signatures: 0, hashSteps: tickAt.reduce((n, i) => n + (ticks[i]?.steps ?? 0), 0) });
      const good = await this.verifier.hashChains(tickAt.map((i) => ticks[i] as TickProof));
      tickAt.forEach((i, k) => {
        if (!good[k])
          checked[i] = new ChannelError('CH_SETTLEMENT', 'the tick does not verify against the committed root', 'settlement.tick');
      });
    }
    const byId = await this.applyAll([...firstAt.values()], { records, hashes, ids, checked, seen });
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
   * A record's refusal: its own error, or for anything else (a fault of ours that this record brought out)
   * LEDGER_UNPROCESSABLE, logged with its cause: the record is refused for good, and the others go on.
   */
  private refusal(e: unknown, recordId: string): EdgepayError {
    if (e instanceof EdgepayError) return e;
    this.log.error({ recordId, err: e }, 'a record could not be processed; it is refused');
    return new LedgerError('LEDGER_UNPROCESSABLE', 'the ledger could not process this record', 'record', { cause: e });
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
        b.checked[i] = this.refusal(e, b.ids[i] as string);
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
    return this.o.db.transaction(async (tx) => {
      await this.exclusive(tx);
      let fresh = firsts;
      const candidates: BatchItem[] = [];
      for (const i of fresh) {
        const v = checked[i];
        if (v && !(v instanceof EdgepayError)) candidates.push({ recordId: ids[i] as string, bytes: records[i] as Uint8Array, v, i });
      }
      const state = await this.readState(tx, lookLate ? fresh.map((i) => ids[i] as string) : [], candidates);
      if (state.late.size > 0) {
        for (const [id, r] of await this.storedReceipts(tx, [...state.late])) seen.set(id, r);
        fresh = fresh.filter((i) => !state.late.has(ids[i] as string));
      }
      // A revocation list another process stored since this one last looked applies to this batch too.
      let items = state.late.size > 0 ? candidates.filter((x) => !state.late.has(x.recordId)) : candidates;
      if (state.lists > this.listsSeen) {
        await this.loadLists(tx);
        items = items.filter((x) => {
          const revoked = this.revokedNow(x.v);
          if (revoked) checked[x.i] = revoked;
          return !revoked;
        });
      }
      const w = new Writes();
      const applied = this.applyBatch(items, state, w);
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
    });
  }

  /** The newest `authority_lists.id` this process has applied to its trust store. */
  private listsSeen = 0;

  /**
   * Applies to the trust store every revocation list stored since this process last looked (received or
   * made by another ledger process on the database, or before a restart). A party's list comes with the
   * party's credential, which vouched for its key when the list was taken.
   */
  async loadLists(sql: Sql = this.o.db): Promise<void> {
    const rows = await sql.query<{ id: string; list: Uint8Array; party: Uint8Array | null }>(
      'select id::text as id, list, party from authority_lists where id > $1 order by id',
      [this.listsSeen],
    );
    for (const r of rows) {
      try {
        if (r.party) await verifyParty(new Uint8Array(r.party), { trust: this.o.trust, skipTimeCheck: true, skipRevocation: true });
        await this.o.trust.applyRevocationList(new Uint8Array(r.list), { persist: false });
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        this.log.warn({ list: r.id, err: e }, 'a stored revocation list no longer applies');
      }
      this.listsSeen = Math.max(this.listsSeen, Number(r.id));
    }
  }

  /**
   * Stores a revocation list (which the caller's trust store has verified and applied) for every ledger
   * process and restart; `party` is the party credential that vouches for a party's key. Taken under the
   * apply lock: a batch applied after this sees the list. Idempotent by authority and version.
   */
  async storeList(list: Uint8Array, authority: string, version: number, party?: Uint8Array): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      await this.exclusive(tx);
      await tx.query('insert into authority_lists (authority, version, list, party) values ($1, $2, $3, $4) on conflict do nothing', [
        authority,
        version,
        list,
        party ?? null,
      ]);
    });
  }

  /** A checked record's refusal if a list applied since revokes either side now (undefined when not). */
  private revokedNow(v: Settled): EdgepayError | undefined {
    return revokedChain(v.payer, this.o.trust, this.now()) ?? revokedChain(v.payee, this.o.trust, this.now());
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
   * Checks signatures in one batch on the verifier's threads. A credential chain's signatures are skipped
   * when this ledger verified that chain before (its hash is stored in `chains`: shared by every ledger
   * process on the database, and surviving restarts); chains verified now are stored with their facts.
   * @returns per check, whether it verified.
   */
  private async verifyChecks(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    const chainHashes = [...new Set(checks.flatMap((c) => (c.chain ? [c.chain] : [])))];
    const known = new Set(
      chainHashes.length > 0 ? (await this.o.db.query<{ hash: string }>(KNOWN_CHAINS, [chainHashes])).map((r) => r.hash) : [],
    );
    // Records in one batch share the checks of a chain they both carry: check each object once.
    const unique = [...new Set(checks.filter((c) => !c.vouchedBy && !(c.chain && known.has(c.chain))))];
    const ok = await this.verifier.verifyMany(unique);
    const result = new Map<SignatureCheck, boolean>(unique.map((c, k) => [c, ok[k] as boolean]));
    // A check vouched for by one that failed (or was never sent: its record failed first) is checked on its
    // own: a forged accept must neither sink a good one nor carry a bad one.
    const vouched = [...new Set(checks.filter((c) => c.vouchedBy))];
    const own = vouched.filter((c) => result.get(c.vouchedBy as SignatureCheck) !== true);
    const ownOk = own.length > 0 ? await this.verifier.verifyMany(own) : [];
    for (const [k, c] of own.entries()) result.set(c, ownOk[k] as boolean);
    for (const c of vouched) if (!result.has(c)) result.set(c, true);
    const verifiedChains = new Set<string>();
    const failedChains = new Set<string>();
    for (const c of new Set(checks)) {
      const good = result.get(c) ?? true;
      if (good) c.verified?.(c.chain !== undefined && known.has(c.chain));
      else c.failed?.();
      if (c.chain) (good ? verifiedChains : failedChains).add(c.chain);
    }
    // Chains verified now are stored with their facts; those stored before without facts get them.
    const facts = new Map<string, Uint8Array>();
    for (const c of checks)
      if (c.chain && c.chainFacts && verifiedChains.has(c.chain) && !failedChains.has(c.chain) && !facts.has(c.chain))
        facts.set(c.chain, encodeChainFacts(c.chainFacts));
    if (facts.size > 0)
      await this.o.db.query(
        `insert into chains (hash, facts) select * from unnest($1::text[], $2::bytea[])
         on conflict (hash) do update set facts = excluded.facts where chains.facts is null`,
        [[...facts.keys()], [...facts.values()]],
      );
    return checks.map((c) => result.get(c) ?? true);
  }

  /**
   * What the store holds for the chains a batch's records carry, by chain key: those this process has not
   * cached and any ledger process verified (or enrolled) before. One query a batch; unreadable rows are
   * left out (their chains are verified again).
   */
  private async storedChains(chainKeys: Iterable<string>): Promise<Map<string, ChainFacts>> {
    const keys = new Set<string>();
    for (const key of chainKeys) if (!this.chains.has(key)) keys.add(key);
    const out = new Map<string, ChainFacts>();
    if (keys.size === 0) return out;
    for (const r of await this.o.db.query<{ hash: string; facts: Uint8Array | null }>(STORED_CHAINS, [[...keys]])) {
      if (r.facts === null) continue;
      try {
        out.set(r.hash, decodeChainFacts(new Uint8Array(r.facts)));
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
      }
    }
    return out;
  }

  /**
   * Verifies credential chains ahead of their first payment (enrolment: a fleet registering its devices),
   * so settling later costs only the payment's own signature. Signatures are checked in one batch.
   * @returns per chain, undefined when enrolled, else the error it failed with.
   */
  async enroll(chains: readonly Uint8Array[]): Promise<(EdgepayError | undefined)[]> {
    const out: (EdgepayError | undefined)[] = [];
    const checks: { i: number; c: SignatureCheck }[] = [];
    for (let i = 0; i < chains.length; i++) {
      const deferred: SignatureCheck[] = [];
      try {
        await this.chains.verify(chains[i] as Uint8Array, { trust: this.o.trust, now: this.now() }, deferred);
        out.push(undefined);
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        out.push(e);
      }
      for (const c of deferred) checks.push({ i, c });
    }
    const ok = await this.verifyChecks(checks.map((x) => x.c));
    checks.forEach(({ i, c }, k) => {
      if (!ok[k] && !out[i]) out[i] = new CoseError('COSE_SIGNATURE', 'signature does not verify', c.field);
    });
    return out;
  }

  /**
   * Deposits in bulk (opening balances): like {@link fund} for each, in one transaction, each applied once
   * by its `ref`. @returns how many were new.
   */
  async fundMany(deposits: readonly { party: string; asset: string; amount: bigint; ref: string }[]): Promise<number> {
    for (const d of deposits) if (d.amount <= 0n) throw new LedgerError('LEDGER_AMOUNT', 'a deposit is positive', 'amount');
    return this.o.db.transaction(async (tx) => {
      await this.exclusive(tx);
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
    });
  }

  /** Writers take turns: the batch apply, deposits, credit lines and payouts see each other whole. */
  private async exclusive(tx: Sql): Promise<void> {
    if (this.o.db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock(7243021)');
  }

  /**
   * Reads, in one statement, what a batch's outcome depends on: which of `recordIds` another ledger process
   * stored receipts for meanwhile, and the channels, devices, accounts and reservations its records touch.
   * The apply lock is held from here to the commit and every batch queues behind it: one round trip, not five.
   */
  private async readState(tx: Sql, recordIds: string[], items: readonly BatchItem[]): Promise<BatchState> {
    // A channel opened with a reservation ticket may be paid from its hold account: read that account too.
    const tickets = items.map((x) => {
      if (!x.v.terms.reservation) return '';
      try {
        return toHex(reservationId(x.v.terms.reservation));
      } catch {
        return ''; // a ticket that is not one (the payee should have refused it): no hold to pay from
      }
    });
    const accountKeys = uniqueBy(
      [
        ...items.map((x) => [x.v.payer.partyId, x.v.terms.asset] as const),
        ...items.flatMap((x, i) => (tickets[i] ? [[`reserve:${tickets[i]}`, x.v.terms.asset] as const] : [])),
      ],
      ([p, a]) => accountKey(p, a),
    );
    type Row = {
      late: string[];
      channels: [string, string, boolean, boolean, number, number, string | null, string | null, number | null][];
      devices: [string, string][];
      accounts: [string, string, string, string][];
      reservations: [string, string, string][];
      lists: number | string;
    };
    const [r] = await tx.query<Row>(READ_STATE, [
      recordIds,
      [...new Set(items.map((x) => x.v.channel))],
      [...new Set(items.map((x) => x.v.payerKid))],
      ...columns(accountKeys, 2),
      [...new Set(tickets.filter((t) => t !== ''))],
    ]);
    const row = r as Row;
    return {
      late: new Set(row.late),
      channels: new Map(
        row.channels.map(([id, applied, disputed, closed, seq, ticks, voucher, vcum, vticks]) => [
          id,
          {
            applied: BigInt(applied),
            disputed,
            closed,
            seq: Number(seq),
            ticks: Number(ticks),
            voucher: voucher === null ? undefined : fromHex(voucher),
            vcum: vcum === null ? undefined : BigInt(vcum),
            vticks: Number(vticks ?? 0),
            dirty: false,
          },
        ]),
      ),
      lists: Number(row.lists),
      outstanding: new Map(row.devices.map(([kid, o]) => [kid, BigInt(o)])),
      accounts: new Map(row.accounts.map(([party, asset, b, c]) => [accountKey(party, asset), { balance: BigInt(b), credit: BigInt(c) }])),
      reservations: new Map(row.reservations.map(([id, ticket, payerKid]) => [id, { ticket: fromHex(ticket), payerKid }])),
      tickets,
    };
  }

  /**
   * Decides verified records in arrival order against `state` (read under the apply lock) and adds the
   * batch's writes to `w`: postings, balances, channels, devices and disputes in bulk.
   */
  private applyBatch(items: readonly BatchItem[], state: BatchState, w: Writes): Map<string, Applied> {
    const out = new Map<string, Applied>();
    if (items.length === 0) return out;
    // Per record this runs under the apply lock and makes garbage every batch in flight is copied with at the
    // next scavenge: columns are filled directly, not from row arrays, and no closure or tuple is made per record.
    // The channels already known; new ones start empty and are written once, with the outcome, below.
    const chans = state.channels;
    const fresh = new Map<string, BatchItem>();
    for (const x of items) {
      const id = x.v.channel;
      if (chans.has(id)) continue;
      fresh.set(id, x);
      chans.set(id, {
        applied: 0n,
        disputed: false,
        closed: false,
        seq: 0,
        ticks: 0,
        voucher: undefined,
        vcum: 0n,
        vticks: 0,
        dirty: true,
      });
    }
    // New channels may bring new parties: remember how to pay them on conventional rails, and their keys.
    const parties = new Map<string, ChainFacts>();
    for (const { v } of fresh.values()) {
      parties.set(v.payer.partyId, v.payer);
      parties.set(v.payee.partyId, v.payee);
    }
    if (parties.size > 0) {
      const cols: [string[], (string | null)[], (string | null)[], string[], Uint8Array[]] = [[], [], [], [], []];
      for (const [subject, c] of parties) {
        cols[0].push(subject);
        cols[1].push(c.paymentRef ?? null);
        cols[2].push(c.partyCategory);
        cols[3].push(toHex(c.partyKid));
        cols[4].push(c.partyKey);
      }
      w.add(
        `insert into parties (party, payment_ref, category, kid, public_key)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])
         on conflict (party) do update set payment_ref = excluded.payment_ref, category = excluded.category,
           kid = excluded.kid, public_key = excluded.public_key, updated_at = now()
         where (parties.payment_ref, parties.category, parties.kid) is distinct from (excluded.payment_ref, excluded.category, excluded.kid)`,
        cols,
      );
    }
    const outstanding = state.outstanding;
    // A channel opened with this ledger's reservation ticket is paid from the hold account first: the
    // stored ticket, byte for byte, and for this payer (no signature check needed).
    const holds = new Map<string, string>(); // channel id -> hold account
    if (state.reservations.size > 0)
      items.forEach(({ v }, i) => {
        const r = state.reservations.get(state.tickets[i] as string);
        if (r && equalBytes(r.ticket, v.terms.reservation as Uint8Array) && r.payerKid === v.payerKid)
          holds.set(v.channel, `reserve:${state.tickets[i]}`);
      });
    const accounts = state.accounts;
    const none = () => ({ balance: 0n, credit: 0n });
    // postings: record, channel, debit, credit, asset, amount
    const postings: PostingColumns = [[], [], [], [], [], []];
    const deltas = new Map<string, bigint>();
    const addDelta = (key: string, d: bigint) => deltas.set(key, (deltas.get(key) ?? 0n) + d);
    const disputes: [string[], string[], string[], string[], string[]] = [[], [], [], [], []];
    const disputeBytes: Uint8Array[] = [];
    /**
     * Marks the channel disputed; the first time, records the dispute (with `evidence`, by default the record
     * itself) and returns the device to revoke.
     */
    const dispute = (
      x: BatchItem,
      ch: { disputed: boolean; dirty: boolean },
      kind: string,
      unpaid: bigint,
      evidence = x.bytes,
    ): string | undefined => {
      const first = !ch.disputed;
      ch.disputed = true;
      ch.dirty = true;
      if (!first) return undefined;
      disputes[0].push(x.v.channel);
      disputes[1].push(x.v.payerKid);
      disputes[2].push(x.v.payer.partyId);
      disputes[3].push(kind);
      disputes[4].push(unpaid.toString());
      disputeBytes.push(evidence);
      return x.v.payerKid;
    };
    for (const x of items) {
      const { recordId, v } = x;
      const { channel: id, payerKid } = v;
      const ch = chans.get(id) as NonNullable<ReturnType<typeof chans.get>>;
      const asset = v.terms.asset;
      let r: Applied;
      // The channel's history judges the record (ledger/history): equivocation across records, older or
      // smaller vouchers, anything after a close. What the channel owes comes from its newest state.
      const verdict = v.equivocation || ch.disputed ? undefined : judge(ch, v, v.terms.cap);
      if (v.equivocation) r = { status: 'disputed', posted: 0n, code: 'LEDGER_EQUIVOCATION', revoke: dispute(x, ch, 'equivocation', 0n) };
      else if (ch.disputed) r = { status: 'disputed', posted: 0n, code: 'LEDGER_DISPUTED' };
      else if (verdict?.kind === 'equivocation') {
        const revoke = dispute(x, ch, 'equivocation', 0n, evidenceRecord(x.bytes, verdict.evidence));
        r = { status: 'disputed', posted: 0n, code: 'LEDGER_EQUIVOCATION', revoke };
      } else if (verdict?.kind === 'refused') r = { status: 'rejected', posted: 0n, code: verdict.code };
      else {
        const state = verdict as Extract<NonNullable<typeof verdict>, { kind: 'state' }>;
        const owed = state.owed;
        const increase = owed - ch.applied;
        if (increase > 0n) {
          // The device's total outstanding (its open channels' amounts), in arrival order: a claim past its
          // credential's limit is an overspend: refused, the device disputed (and revoked), the unpaid claim
          // recorded against its party.
          const others = (outstanding.get(payerKid) ?? 0n) - (ch.closed ? 0n : ch.applied);
          const payerParty = v.payer.partyId;
          const payerKey = accountKey(payerParty, asset);
          const acct = accounts.get(payerKey) ?? none();
          const holdName = holds.get(id);
          const holdKey = holdName ? accountKey(holdName, asset) : '';
          const hold = holdName ? (accounts.get(holdKey) ?? none()) : undefined;
          // biome-ignore lint/complexity/useMathMinMax: bigints; Math.min takes numbers only
          const fromHold = hold ? (hold.balance < increase ? hold.balance : increase) : 0n;
          const fromParty = increase - fromHold;
          if (others + owed > v.payer.limits.totalOutstanding)
            r = { status: 'rejected', posted: 0n, code: 'LEDGER_OUTSTANDING', revoke: dispute(x, ch, 'overspend', increase) };
          else if (fromParty > 0n && acct.balance - fromParty < -acct.credit) r = { status: 'rejected', posted: 0n, code: 'LEDGER_FUNDS' };
          else {
            const payeeParty = v.payee.partyId;
            const payeeKey = accountKey(payeeParty, asset);
            accounts.set(payerKey, acct);
            const payee = accounts.get(payeeKey);
            if (hold && fromHold > 0n) {
              hold.balance -= fromHold;
              if (payee) payee.balance += fromHold; // a party that pays and is paid in one batch
              addPosting(postings, recordId, id, holdName as string, payeeParty, asset, fromHold);
              addDelta(holdKey, -fromHold);
              addDelta(payeeKey, fromHold);
            }
            if (fromParty > 0n) {
              acct.balance -= fromParty;
              if (payee) payee.balance += fromParty;
              addPosting(postings, recordId, id, payerParty, payeeParty, asset, fromParty);
              addDelta(payerKey, -fromParty);
              addDelta(payeeKey, fromParty);
            }
            ch.applied = owed;
            adopt(ch, state);
            ch.dirty = true;
            outstanding.set(payerKid, ch.closed ? others : others + owed);
            if (v.closed && !ch.closed) {
              ch.closed = true;
              outstanding.set(payerKid, others);
            }
            r = { status: 'accepted', posted: increase };
          }
        } else {
          adopt(ch, state); // a newer voucher owing no more, or a repeat: the channel's history still moves on
          ch.dirty = true;
          if (v.closed && !ch.closed) {
            ch.closed = true;
            outstanding.set(payerKid, (outstanding.get(payerKid) ?? 0n) - ch.applied);
            r = { status: 'accepted', posted: 0n };
          } else r = { status: 'duplicate', posted: 0n };
        }
      }
      out.set(recordId, r);
    }
    if (postings[0].length > 0)
      w.add(
        `insert into postings (record_id, channel_id, debit, credit, asset, amount)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[])`,
        postings,
      );
    const moved = [...deltas].filter(([, d]) => d !== 0n);
    if (moved.length > 0)
      w.add(
        `insert into accounts (party, asset, balance) select * from unnest($1::text[], $2::text[], $3::numeric[])
         on conflict (party, asset) do update set balance = accounts.balance + excluded.balance`,
        columns(
          moved.map(([k, d]) => [...k.split('\u0000'), d.toString()]),
          3,
        ),
      );
    // New channels are inserted whole; known ones only update their state. Which is which was read under the
    // apply lock, which every writer of channels holds: a plain insert, without an upsert's conflict check a row.
    const c = {
      id: [] as string[],
      payerParty: [] as string[],
      payeeParty: [] as string[],
      payerKid: [] as string[],
      payeeKid: [] as string[],
      asset: [] as string[],
      cap: [] as string[],
      limit: [] as string[],
      applied: [] as string[],
      seq: [] as number[],
      ticks: [] as number[],
      closed: [] as boolean[],
      disputed: [] as boolean[],
      voucher: [] as (Uint8Array | null)[],
      vcum: [] as (string | null)[],
      vticks: [] as number[],
    };
    const u = {
      id: [] as string[],
      applied: [] as string[],
      seq: [] as number[],
      ticks: [] as number[],
      closed: [] as boolean[],
      disputed: [] as boolean[],
      voucher: [] as (Uint8Array | null)[],
      vcum: [] as (string | null)[],
      vticks: [] as number[],
    };
    chans.forEach((st, id) => {
      if (!st.dirty) return;
      const x = fresh.get(id);
      const to = x ? c : u;
      to.id.push(id);
      to.applied.push(st.applied.toString());
      to.seq.push(st.seq);
      to.ticks.push(st.ticks);
      to.closed.push(st.closed);
      to.disputed.push(st.disputed);
      to.voucher.push(st.voucher ?? null);
      to.vcum.push(st.vcum === undefined ? null : st.vcum.toString());
      to.vticks.push(st.vticks);
      if (!x) return;
      c.payerParty.push(x.v.payer.partyId);
      c.payeeParty.push(x.v.payee.partyId);
      c.payerKid.push(x.v.payerKid);
      c.payeeKid.push(toHex(x.v.payee.kid));
      c.asset.push(x.v.terms.asset);
      c.cap.push(x.v.terms.cap.toString());
      c.limit.push(x.v.payer.limits.totalOutstanding.toString());
    });
    if (c.id.length > 0)
      w.add(
        `insert into channels (id, payer_party, payee_party, payer_kid, payee_kid, asset, cap, outstanding_limit,
                               applied, seq, ticks, closed, disputed, voucher, vcum, vticks)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[],
                              $9::numeric[], $10::bigint[], $11::bigint[], $12::bool[], $13::bool[], $14::bytea[], $15::numeric[], $16::bigint[])`,
        Object.values(c),
      );
    if (u.id.length > 0)
      w.add(
        `update channels set applied = s.applied, seq = s.seq, ticks = s.ticks, closed = s.closed, disputed = s.disputed,
           voucher = s.voucher, vcum = s.vcum, vticks = s.vticks
         from unnest($1::text[], $2::numeric[], $3::bigint[], $4::bigint[], $5::bool[], $6::bool[], $7::bytea[], $8::numeric[], $9::bigint[])
           as s(id, applied, seq, ticks, closed, disputed, voucher, vcum, vticks)
         where channels.id = s.id`,
        Object.values(u),
      );
    if (outstanding.size > 0)
      w.add(
        `insert into devices (kid, outstanding) select * from unnest($1::text[], $2::numeric[])
         on conflict (kid) do update set outstanding = excluded.outstanding`,
        columns(
          [...outstanding].map(([k, v]) => [k, v.toString()]),
          2,
        ),
      );
    if (disputeBytes.length > 0)
      w.add(
        `insert into disputes (channel_id, payer_kid, payer_party, kind, unpaid, evidence)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::bytea[]) on conflict do nothing`,
        [...disputes, disputeBytes],
      );
    return out;
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
