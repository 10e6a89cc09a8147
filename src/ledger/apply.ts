/**
 * @module ledger/apply
 * Applying a checked batch: what it depends on, read under the apply lock in one statement
 * ({@link readState}); each record decided in arrival order against that state ({@link decideBatch}: pure,
 * tested without a database); the batch's changes written as one statement ({@link writeChanges}).
 */
import { equalBytes, fromHex, toHex } from '../bytes.js';
import type { OpenTerms } from '../channel/messages.js';
import { reservationId } from '../channel/reservation.js';
import type { ChainFacts } from '../identity/chain.js';
import type { ReceiptStatus } from '../settlement/receipt.js';
import { encodeSettlementParts, readSettlement } from '../settlement/record.js';
import type { VerifiedSettlement } from '../settlement/verify.js';
import type { Sql } from './db.js';
import { adopt, type ChannelHistory, judge } from './history.js';
import { accountKey, addPosting, columns, type PostingColumns, READ_STATE, uniqueBy, type Writes } from './sql.js';

/** A record's outcome; `revoke`, for a new dispute: the payer device to revoke (its key thumbprint, hex). */
export type Applied = { status: ReceiptStatus; posted: bigint; code?: string | undefined; revoke?: string | undefined };

export const withoutRevoke = ({ revoke: _, ...r }: Applied) => r;

/**
 * What applying a record needs of its verified settlement, taken as soon as it is checked: the decoded frames
 * (views into the batch) then die young, instead of being copied by every scavenge while the batch waits for
 * its signatures and the apply lock. The credential chains are the cache's, shared.
 */
export interface Settled {
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

export const settled = (v: VerifiedSettlement): Settled => ({
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
export interface BatchItem {
  recordId: string;
  bytes: Uint8Array;
  v: Settled;
  i: number;
}

/** What a batch's outcome depends on, read under the apply lock in one statement (`READ_STATE`). */
export interface BatchState {
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

/** A batch's changes in column form, for `unnest($1::t[], ...)` (see {@link writeChanges}). */
export interface BatchChanges {
  /** Parties new to the ledger (how to pay them on conventional rails, and their keys), by id. */
  parties: Map<string, ChainFacts>;
  /** record, channel, debit, credit, asset, amount. */
  postings: PostingColumns;
  /** Balance changes, by `accountKey`. */
  deltas: Map<string, bigint>;
  /** id, applied, seq, ticks, closed, disputed, voucher, vcum, vticks, then payer party, payee party, payer kid, payee kid, asset, cap, limit. */
  newChannels: [
    string[],
    string[],
    number[],
    number[],
    boolean[],
    boolean[],
    (Uint8Array | null)[],
    (string | null)[],
    number[],
    string[],
    string[],
    string[],
    string[],
    string[],
    string[],
    string[],
  ];
  /** id, applied, seq, ticks, closed, disputed, voucher, vcum, vticks. */
  updatedChannels: [string[], string[], number[], number[], boolean[], boolean[], (Uint8Array | null)[], (string | null)[], number[]];
  /** Each payer device's outstanding total, by kid (the devices the batch touched). */
  outstanding: Map<string, bigint>;
  /** channel, payer kid, payer party, kind, unpaid, evidence. */
  disputes: [string[], string[], string[], string[], string[], Uint8Array[]];
}

/**
 * Reads, in one statement, what a batch's outcome depends on: which of `recordIds` another ledger process
 * stored receipts for meanwhile, and the channels, devices, accounts and reservations its records touch.
 * The apply lock is held from here to the commit and every batch queues behind it: one round trip, not five.
 */
export async function readState(tx: Sql, recordIds: string[], items: readonly BatchItem[]): Promise<BatchState> {
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
 * Decides verified records in arrival order against `state` (read under the apply lock): each record's
 * outcome, and the batch's changes (postings, balances, channels, devices, disputes) in column form. Pure:
 * `writeChanges` turns the changes into statements. `state` is updated as it goes (later records in the
 * batch see earlier ones).
 */
export function decideBatch(items: readonly BatchItem[], state: BatchState): { results: Map<string, Applied>; changes: BatchChanges } {
  const out = new Map<string, Applied>();
  const changes: BatchChanges = {
    parties: new Map(),
    postings: [[], [], [], [], [], []],
    deltas: new Map(),
    newChannels: [[], [], [], [], [], [], [], [], [], [], [], [], [], [], [], []],
    updatedChannels: [[], [], [], [], [], [], [], [], []],
    outstanding: state.outstanding,
    disputes: [[], [], [], [], [], []],
  };
  if (items.length === 0) return { results: out, changes };
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
  changes.parties = parties;
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
  const postings = changes.postings;
  const deltas = changes.deltas;
  const addDelta = (key: string, d: bigint) => deltas.set(key, (deltas.get(key) ?? 0n) + d);
  const disputes = changes.disputes;
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
    disputes[5].push(evidence);
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
  // New channels are inserted whole; known ones only update their state. Which is which was read under the
  // apply lock, which every writer of channels holds: a plain insert, without an upsert's conflict check a row.
  const c = changes.newChannels;
  const u = changes.updatedChannels;
  chans.forEach((st, id) => {
    if (!st.dirty) return;
    const x = fresh.get(id);
    const to = x ? c : u;
    to[0].push(id);
    to[1].push(st.applied.toString());
    to[2].push(st.seq);
    to[3].push(st.ticks);
    to[4].push(st.closed);
    to[5].push(st.disputed);
    to[6].push(st.voucher ?? null);
    to[7].push(st.vcum === undefined ? null : st.vcum.toString());
    to[8].push(st.vticks);
    if (!x) return;
    c[9].push(x.v.payer.partyId);
    c[10].push(x.v.payee.partyId);
    c[11].push(x.v.payerKid);
    c[12].push(toHex(x.v.payee.kid));
    c[13].push(x.v.terms.asset);
    c[14].push(x.v.terms.cap.toString());
    c[15].push(x.v.payer.limits.totalOutstanding.toString());
  });
  return { results: out, changes };
}

/** Adds a batch's changes to `w`: one data-modifying clause per table touched. */
export function writeChanges(ch: BatchChanges, w: Writes): void {
  if (ch.parties.size > 0) {
    const cols: [string[], (string | null)[], (string | null)[], string[], Uint8Array[]] = [[], [], [], [], []];
    for (const [subject, c] of ch.parties) {
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
  if (ch.postings[0].length > 0)
    w.add(
      `insert into postings (record_id, channel_id, debit, credit, asset, amount)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[])`,
      ch.postings,
    );
  const moved = [...ch.deltas].filter(([, d]) => d !== 0n);
  if (moved.length > 0)
    w.add(
      `insert into accounts (party, asset, balance) select * from unnest($1::text[], $2::text[], $3::numeric[])
       on conflict (party, asset) do update set balance = accounts.balance + excluded.balance`,
      columns(
        moved.map(([k, d]) => [...k.split('\u0000'), d.toString()]),
        3,
      ),
    );
  if (ch.newChannels[0].length > 0) {
    const [
      id,
      applied,
      seq,
      ticks,
      closed,
      disputed,
      voucher,
      vcum,
      vticks,
      payerParty,
      payeeParty,
      payerKid,
      payeeKid,
      asset,
      cap,
      limit,
    ] = ch.newChannels;
    w.add(
      `insert into channels (id, payer_party, payee_party, payer_kid, payee_kid, asset, cap, outstanding_limit,
                             applied, seq, ticks, closed, disputed, voucher, vcum, vticks)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[],
                            $9::numeric[], $10::bigint[], $11::bigint[], $12::bool[], $13::bool[], $14::bytea[], $15::numeric[], $16::bigint[])`,
      [id, payerParty, payeeParty, payerKid, payeeKid, asset, cap, limit, applied, seq, ticks, closed, disputed, voucher, vcum, vticks],
    );
  }
  if (ch.updatedChannels[0].length > 0)
    w.add(
      `update channels set applied = s.applied, seq = s.seq, ticks = s.ticks, closed = s.closed, disputed = s.disputed,
         voucher = s.voucher, vcum = s.vcum, vticks = s.vticks
       from unnest($1::text[], $2::numeric[], $3::bigint[], $4::bigint[], $5::bool[], $6::bool[], $7::bytea[], $8::numeric[], $9::bigint[])
         as s(id, applied, seq, ticks, closed, disputed, voucher, vcum, vticks)
       where channels.id = s.id`,
      ch.updatedChannels,
    );
  if (ch.outstanding.size > 0)
    w.add(
      `insert into devices (kid, outstanding) select * from unnest($1::text[], $2::numeric[])
       on conflict (kid) do update set outstanding = excluded.outstanding`,
      columns(
        [...ch.outstanding].map(([k, v]) => [k, v.toString()]),
        2,
      ),
    );
  if (ch.disputes[0].length > 0)
    w.add(
      `insert into disputes (channel_id, payer_kid, payer_party, kind, unpaid, evidence)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::bytea[]) on conflict do nothing`,
      ch.disputes,
    );
}

/** Equivocation evidence found across records: the record's own open and accept, with the two vouchers. */
function evidenceRecord(record: Uint8Array, vouchers: [Uint8Array, Uint8Array]): Uint8Array {
  const { open, accept } = readSettlement(record);
  return encodeSettlementParts({ open: open.bytes, accept: accept.bytes, evidence: vouchers });
}
