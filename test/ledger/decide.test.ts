/**
 * The ledger's business decisions, without a database: `decideBatch` takes verified records and the state
 * read under the apply lock, and returns each record's outcome and the batch's changes. Every posting it
 * makes balances; limits, funds, history and disputes are decided here.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import type { ChainFacts } from '../../src/identity/chain.js';
import { type BatchItem, type BatchState, decideBatch, type Settled } from '../../src/ledger/apply.js';
import { accountKey } from '../../src/ledger/sql.js';
import { encodeSettlementParts } from '../../src/settlement/record.js';
import { acceptedChannel } from '../adversarial/world.js';
import { pair } from '../channel/world.js';

const facts = (party: string, kid: string, totalOutstanding = 1_000n): ChainFacts => ({
  partyId: party,
  partyCategory: 'operator',
  partyKey: new Uint8Array(32),
  partyKid: fromHex(`${kid}ff`),
  issuerKid: new Uint8Array(8),
  deviceCategory: 'vehicle',
  publicKey: new Uint8Array(32),
  kid: fromHex(kid),
  limits: { asset: 'EUR', perPayment: 100n, perChannel: 500n, perPeriod: 10_000n, periodSeconds: 86_400, totalOutstanding },
  counterparties: undefined,
  paymentRef: `IBAN:${party}`,
  validUntil: 2_000_000_000,
});

const payer = facts('party:payer', 'aa01');
const payee = facts('party:payee', 'bb01');

let serial = 0;

/** A verified record: a voucher `seq` for `amount` on `channel`, closed or not. */
function record(channel: string, seq: number, amount: bigint, opts: Partial<Settled> = {}, i = 0): BatchItem {
  const voucher = new Uint8Array([seq, Number(amount % 256n), ...new TextEncoder().encode(channel)]);
  const v: Settled = {
    payer,
    payee,
    terms: { asset: 'EUR', cap: 500n, reservation: undefined },
    amount,
    seq,
    voucher,
    voucherAmount: amount,
    voucherTicks: 0,
    ticks: 0,
    tickValue: 0n,
    closed: false,
    equivocation: false,
    channel,
    payerKid: 'aa01',
    ...opts,
  };
  return { recordId: `r${++serial}`, bytes: voucher, v, i };
}

function state(balance = 0n, credit = 1_000n, outstanding = 0n): BatchState {
  return {
    late: new Set(),
    channels: new Map(),
    lists: 0,
    outstanding: new Map(outstanding ? [['aa01', outstanding]] : []),
    accounts: new Map([[accountKey('party:payer', 'EUR'), { balance, credit }]]),
    reservations: new Map(),
    tickets: [],
  };
}

/** The sum of the balance deltas is zero, and each posting moves a positive amount between two parties. */
function balanced(changes: ReturnType<typeof decideBatch>['changes']) {
  const total = [...changes.deltas.values()].reduce((a, b) => a + b, 0n);
  expect(total).toBe(0n);
  for (const amount of changes.postings[5]) expect(BigInt(amount)).toBeGreaterThan(0n);
}

describe('decideBatch (no database)', () => {
  it('posts what each voucher adds, in arrival order; a repeat is a duplicate; the close frees the limit', () => {
    const items = [record('c1', 1, 40n), record('c1', 2, 70n), record('c1', 2, 70n), record('c1', 2, 70n, { closed: true })];
    const s = state();
    const { results, changes } = decideBatch(items, s);
    expect([...results.values()].map((r) => [r.status, r.posted])).toEqual([
      ['accepted', 40n],
      ['accepted', 30n],
      ['duplicate', 0n], // another copy of the same voucher
      ['accepted', 0n], // the close of the voucher already paid: accepted, nothing more posted
    ]);
    balanced(changes);
    expect(changes.deltas.get(accountKey('party:payer', 'EUR'))).toBe(-70n);
    expect(changes.deltas.get(accountKey('party:payee', 'EUR'))).toBe(70n);
    expect(changes.newChannels[0]).toEqual(['c1']);
    expect(changes.newChannels[4]).toEqual([true]); // written closed, once
    expect(changes.outstanding.get('aa01')).toBe(0n);
    expect([...changes.parties.keys()].sort()).toEqual(['party:payee', 'party:payer']);
  });

  it('an older voucher after a newer one is a duplicate and posts nothing; one claiming more is refused', () => {
    const { results, changes } = decideBatch([record('c1', 3, 90n), record('c1', 2, 60n), record('c1', 1, 95n)], state());
    expect([...results.values()].map((r) => [r.status, r.code])).toEqual([
      ['accepted', undefined],
      ['duplicate', undefined],
      ['rejected', 'LEDGER_SEQ'],
    ]);
    balanced(changes);
    expect(changes.postings[5]).toEqual(['90']);
  });

  it('two different vouchers for one seq: disputed, the device to revoke, evidence of both kept', async () => {
    // The evidence is a settlement record of its own (the channel's genuine open and accept, both vouchers).
    const { parts } = await acceptedChannel(await pair());
    const a = record('c1', 5, 50n);
    const b = record('c1', 5, 51n);
    b.bytes = encodeSettlementParts({ ...parts, voucher: b.v.voucher });
    const { results, changes } = decideBatch([a, b], state());
    const [first, second] = [...results.values()];
    expect(first?.status).toBe('accepted');
    expect(second).toMatchObject({ status: 'disputed', code: 'LEDGER_EQUIVOCATION', revoke: 'aa01' });
    expect(changes.disputes[0]).toEqual(['c1']);
    expect(changes.disputes[3]).toEqual(['equivocation']);
    expect(changes.disputes[5][0]).toEqual(
      encodeSettlementParts({ ...parts, evidence: [a.v.voucher, b.v.voucher] as [Uint8Array, Uint8Array] }),
    );
    expect(changes.newChannels[5]).toEqual([true]); // the channel is stored disputed
    // Later records on a disputed channel post nothing and revoke no one again.
    const again = decideBatch([record('c1', 6, 60n)], { ...state(), channels: new Map([['c1', { ...historyOf(changes), dirty: false }]]) });
    expect([...again.results.values()][0]).toEqual({ status: 'disputed', posted: 0n, code: 'LEDGER_DISPUTED' });
  });

  it("a claim past the device's total outstanding is an overspend: refused, disputed, unpaid amount recorded", () => {
    const { results, changes } = decideBatch([record('c1', 1, 300n), record('c2', 1, 80n)], state(0n, 10_000n, 650n));
    expect([...results.values()].map((r) => r.code)).toEqual([undefined, 'LEDGER_OUTSTANDING']);
    expect(changes.disputes[3]).toEqual(['overspend']);
    expect(changes.disputes[4]).toEqual(['80']);
    expect(changes.outstanding.get('aa01')).toBe(950n);
    balanced(changes);
  });

  it("a payment past the party's balance and credit line is refused; the rest of the batch still settles", () => {
    const { results, changes } = decideBatch([record('c1', 1, 60n), record('c2', 1, 50n), record('c3', 1, 40n)], state(0n, 100n));
    expect([...results.values()].map((r) => r.code ?? r.status)).toEqual(['accepted', 'LEDGER_FUNDS', 'accepted']);
    expect(changes.deltas.get(accountKey('party:payer', 'EUR'))).toBe(-100n);
    balanced(changes);
  });

  it('nothing counts after a close: a later voucher is refused', () => {
    const closed = decideBatch([record('c1', 2, 20n, { closed: true })], state());
    const h = historyOf(closed.changes);
    const { results } = decideBatch([record('c1', 3, 30n)], { ...state(), channels: new Map([['c1', { ...h, dirty: false }]]) });
    expect([...results.values()][0]?.code).toBe('LEDGER_CLOSED');
  });

  it('an empty batch changes nothing', () => {
    const { results, changes } = decideBatch([], state());
    expect(results.size).toBe(0);
    expect(changes.postings[0]).toEqual([]);
  });
});

/** The stored history of the batch's one new channel, as `readState` would read it back. */
function historyOf(c: ReturnType<typeof decideBatch>['changes']) {
  const n = c.newChannels;
  return {
    applied: BigInt(n[1][0] as string),
    seq: n[2][0] as number,
    ticks: n[3][0] as number,
    closed: n[4][0] as boolean,
    disputed: n[5][0] as boolean,
    voucher: n[6][0] ?? undefined,
    vcum: n[7][0] == null ? undefined : BigInt(n[7][0]),
    vticks: n[8][0] as number,
  };
}
