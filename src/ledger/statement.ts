/**
 * @module ledger/statement
 * What the ledger hands conventional rails: a party's statement for a period (CSV), and payouts of
 * parties' balances as an ISO 20022 pain.001.001.03 credit transfer initiation a bank accepts.
 * Amounts stay integer minor units until the one place a decimal is written.
 */
import { LedgerError } from '../errors.js';
import type { Sql } from './db.js';

export interface StatementLine {
  postingId: string;
  bookedAt: string;
  recordId: string;
  channelId: string | undefined;
  counterparty: string;
  /** Positive: received; negative: paid. Minor units. */
  amount: bigint;
  balance: bigint;
}

export interface Statement {
  party: string;
  asset: string;
  /** Period, seconds since the epoch: [from, to). */
  from: number;
  to: number;
  opening: bigint;
  closing: bigint;
  lines: StatementLine[];
}

/** A party's postings in one asset over [from, to), with the running balance. */
export async function readStatement(db: Sql, party: string, asset: string, from: number, to: number): Promise<Statement> {
  if (!(from < to)) throw new LedgerError('LEDGER_PERIOD', 'the period must end after it starts', 'to');
  const [o] = await db.query<{ s: string }>(
    `select (coalesce(sum(case when credit = $1 then amount else 0 end), 0)
           - coalesce(sum(case when debit = $1 then amount else 0 end), 0))::text as s
       from postings where (debit = $1 or credit = $1) and asset = $2 and created_at < to_timestamp($3)`,
    [party, asset, from],
  );
  const rows = await db.query<{
    id: string;
    at: string;
    record_id: string;
    channel_id: string | null;
    debit: string;
    credit: string;
    amount: string;
  }>(
    `select id::text as id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as at, record_id, channel_id,
            debit, credit, amount::text as amount
       from postings where (debit = $1 or credit = $1) and asset = $2
        and created_at >= to_timestamp($3) and created_at < to_timestamp($4)
      order by id`,
    [party, asset, from, to],
  );
  const opening = BigInt(o?.s ?? '0');
  let balance = opening;
  const lines = rows.map((r) => {
    const amount = r.credit === party ? BigInt(r.amount) : -BigInt(r.amount);
    balance += amount;
    return {
      postingId: r.id,
      bookedAt: r.at,
      recordId: r.record_id,
      channelId: r.channel_id ?? undefined,
      counterparty: r.credit === party ? r.debit : r.credit,
      amount,
      balance,
    };
  });
  return { party, asset, from, to, opening, closing: balance, lines };
}

const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/** RFC 4180 CSV: an opening row, one row per posting, a closing row. Amounts in minor units. */
export function statementCsv(s: Statement): string {
  const head = ['booked_at', 'kind', 'party', 'asset', 'counterparty', 'record_id', 'channel_id', 'amount_minor', 'balance_minor'];
  const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  const rows = [
    [iso(s.from), 'opening', s.party, s.asset, '', '', '', '0', s.opening.toString()],
    ...s.lines.map((l) => [
      l.bookedAt,
      l.amount >= 0n ? 'credit' : 'debit',
      s.party,
      s.asset,
      l.counterparty,
      l.recordId,
      l.channelId ?? '',
      l.amount.toString(),
      l.balance.toString(),
    ]),
    [iso(s.to), 'closing', s.party, s.asset, '', '', '', '0', s.closing.toString()],
  ];
  return `${[head, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n')}\r\n`;
}

/** Decimal places of an ISO 4217 currency (JPY 0, EUR 2, BHD 3), from the platform's ICU data. */
export function currencyExponent(asset: string): number {
  if (!/^[A-Z]{3}$/.test(asset) || !Intl.supportedValuesOf('currency').includes(asset))
    throw new LedgerError('LEDGER_ASSET', `${asset} is not an ISO 4217 currency: it cannot go to a bank`, 'asset');
  return new Intl.NumberFormat('en', { style: 'currency', currency: asset }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Minor units as a decimal string with `exponent` places (exact: no floating point). */
export function formatMinor(amount: bigint, exponent: number): string {
  const neg = amount < 0n;
  const digits = (neg ? -amount : amount).toString().padStart(exponent + 1, '0');
  const int = digits.slice(0, digits.length - exponent);
  return `${neg ? '-' : ''}${int}${exponent > 0 ? `.${digits.slice(-exponent)}` : ''}`;
}

export interface Payout {
  party: string;
  /** The party's account on conventional rails (its credential's payment reference). */
  account: string;
  amount: bigint;
  /** The transaction's end-to-end id (default `<msgId>-<n>`): unique in the batch, traceable to its posting. */
  endToEndId?: string;
}

export interface PayoutBatch {
  /** Unique per batch (at most 28 characters, leaving room for `-<n>` in each EndToEndId): banks reject a repeated message id. */
  msgId: string;
  createdAt: Date;
  /** Requested execution date, YYYY-MM-DD. */
  executionDate: string;
  asset: string;
  debtor: { name: string; account: string };
  payouts: Payout[];
}

const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
const max = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

/** A pain.001.001.03 credit transfer initiation paying each party its amount from the debtor's account. */
export function payoutPain001(b: PayoutBatch): string {
  if (b.payouts.length === 0) throw new LedgerError('LEDGER_PAYOUT', 'nothing to pay out', 'payouts');
  if (b.msgId.length > 28 || !/^[A-Za-z0-9:._-]+$/.test(b.msgId)) throw new LedgerError('LEDGER_PAYOUT', 'invalid message id', 'msgId');
  const ids = b.payouts.map((p, i) => p.endToEndId ?? `${b.msgId}-${i + 1}`);
  if (new Set(ids).size !== ids.length || ids.some((id) => id.length > 35 || !/^[A-Za-z0-9:._-]+$/.test(id)))
    throw new LedgerError('LEDGER_PAYOUT', 'end-to-end ids are unique, at most 35 characters', 'payouts.endToEndId');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(b.executionDate) || Number.isNaN(Date.parse(b.executionDate)))
    throw new LedgerError('LEDGER_PAYOUT', 'the execution date is YYYY-MM-DD', 'executionDate');
  const exp = currencyExponent(b.asset);
  const sum = b.payouts.reduce((s, p) => s + p.amount, 0n);
  for (const p of b.payouts) {
    if (p.amount <= 0n) throw new LedgerError('LEDGER_PAYOUT', `payout to ${p.party} is not positive`, 'payouts.amount');
    if (p.account.length === 0 || p.account.length > 34)
      throw new LedgerError('LEDGER_PAYOUT', `${p.party} has no usable payment reference`, 'payouts.account');
  }
  const created = b.createdAt.toISOString().slice(0, 19);
  const txs = b.payouts
    .map(
      (p, i) => `      <CdtTrfTxInf>
        <PmtId><EndToEndId>${xml(ids[i] as string)}</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="${b.asset}">${formatMinor(p.amount, exp)}</InstdAmt></Amt>
        <Cdtr><Nm>${xml(max(p.party, 140))}</Nm></Cdtr>
        <CdtrAcct><Id><Othr><Id>${xml(p.account)}</Id></Othr></Id></CdtrAcct>
        <RmtInf><Ustrd>${xml(max(`edgepay settlement ${b.msgId}`, 140))}</Ustrd></RmtInf>
      </CdtTrfTxInf>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>${xml(b.msgId)}</MsgId>
      <CreDtTm>${created}</CreDtTm>
      <NbOfTxs>${b.payouts.length}</NbOfTxs>
      <CtrlSum>${formatMinor(sum, exp)}</CtrlSum>
      <InitgPty><Nm>${xml(max(b.debtor.name, 140))}</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>${xml(`${b.msgId}-P`)}</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <NbOfTxs>${b.payouts.length}</NbOfTxs>
      <CtrlSum>${formatMinor(sum, exp)}</CtrlSum>
      <ReqdExctnDt>${b.executionDate}</ReqdExctnDt>
      <Dbtr><Nm>${xml(max(b.debtor.name, 140))}</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>${xml(max(b.debtor.account, 34))}</Id></Othr></Id></DbtrAcct>
      <DbtrAgt><FinInstnId/></DbtrAgt>
${txs}
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
`;
}
