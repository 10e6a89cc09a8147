/**
 * @module ledger/camt
 * A party's statement in the formats banks and card schemes read: ISO 20022 camt.053.001.02 (bank to
 * customer statement: opening and closing booked balances, one entry per posting) and camt.054.001.02 (debit
 * and credit notification: the entries alone, for intraday notice of settlements). Each entry is one posting:
 * its id as the account servicer's reference, the settlement record, the channel and the counterparty in its
 * additional information. Amounts stay integer minor units until written here, as decimals.
 */
import { LedgerError } from '../errors.js';
import { currencyExponent, formatMinor, type Statement } from './statement.js';

/** What identifies one statement document: its message id (unique, at most 35 characters) and when it was made. */
export interface CamtHeader {
  msgId: string;
  createdAt: Date;
}

const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const at = (seconds: number) => iso(new Date(seconds * 1000));
/** The schemas allow 18 digits in all. */
const MAX_DIGITS = 18;

function amount(value: bigint, asset: string): { text: string; sign: 'CRDT' | 'DBIT' } {
  const abs = value < 0n ? -value : value;
  if (abs.toString().length > MAX_DIGITS)
    throw new LedgerError('LEDGER_STATEMENT', `${value} has more digits than ISO 20022 allows`, 'amount');
  return { text: formatMinor(abs, currencyExponent(asset)), sign: value < 0n ? 'DBIT' : 'CRDT' };
}

function check(h: CamtHeader): void {
  if (h.msgId.length === 0 || h.msgId.length > 35 || !/^[A-Za-z0-9:._-]+$/.test(h.msgId))
    throw new LedgerError('LEDGER_STATEMENT', 'a message id is 1 to 35 letters, digits or :._-', 'msgId');
}

/** The account: the party's id (at most 34 characters in the schema) and the asset. */
function account(s: Statement): string {
  if (s.party.length > 34) throw new LedgerError('LEDGER_STATEMENT', `${s.party} is longer than an account id may be`, 'party');
  return `<Acct><Id><Othr><Id>${xml(s.party)}</Id><Issr>edgepay</Issr></Othr></Id><Ccy>${xml(s.asset)}</Ccy></Acct>`;
}

function entries(s: Statement, indent: string): string {
  return s.lines
    .map((l) => {
      const a = amount(l.amount, s.asset);
      const info = `record ${l.recordId}${l.channelId ? ` channel ${l.channelId}` : ''} counterparty ${l.counterparty}`;
      return `${indent}<Ntry>
${indent}  <NtryRef>${xml(l.postingId)}</NtryRef>
${indent}  <Amt Ccy="${xml(s.asset)}">${a.text}</Amt>
${indent}  <CdtDbtInd>${a.sign}</CdtDbtInd>
${indent}  <Sts>BOOK</Sts>
${indent}  <BookgDt><DtTm>${xml(l.bookedAt)}</DtTm></BookgDt>
${indent}  <AcctSvcrRef>${xml(l.postingId)}</AcctSvcrRef>
${indent}  <BkTxCd><Prtry><Cd>${l.channelId ? 'EDGEPAY-SETTLEMENT' : 'EDGEPAY-TRANSFER'}</Cd><Issr>edgepay</Issr></Prtry></BkTxCd>
${indent}  <NtryDtls><TxDtls><Refs><AcctSvcrRef>${xml(l.postingId)}</AcctSvcrRef></Refs><AddtlTxInf>${xml(info.slice(0, 500))}</AddtlTxInf></TxDtls></NtryDtls>
${indent}</Ntry>`;
    })
    .join('\n');
}

function balance(code: 'OPBD' | 'CLBD', value: bigint, s: Statement, when: number): string {
  const a = amount(value, s.asset);
  return `      <Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="${xml(s.asset)}">${a.text}</Amt><CdtDbtInd>${a.sign}</CdtDbtInd><Dt><DtTm>${at(when)}</DtTm></Dt></Bal>`;
}

/** A camt.053.001.02 statement: opening and closing booked balances and one entry per posting of the period. */
export function statementCamt053(s: Statement, h: CamtHeader): string {
  check(h);
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>${xml(h.msgId)}</MsgId><CreDtTm>${iso(h.createdAt)}</CreDtTm></GrpHdr>
    <Stmt>
      <Id>${xml(h.msgId)}</Id>
      <CreDtTm>${iso(h.createdAt)}</CreDtTm>
      <FrToDt><FrDtTm>${at(s.from)}</FrDtTm><ToDtTm>${at(s.to)}</ToDtTm></FrToDt>
      ${account(s)}
${balance('OPBD', s.opening, s, s.from)}
${balance('CLBD', s.closing, s, s.to)}
${entries(s, '      ')}
    </Stmt>
  </BkToCstmrStmt>
</Document>
`;
}

/** A camt.054.001.02 notification: the period's entries alone (intraday notice of what was settled). */
export function notificationCamt054(s: Statement, h: CamtHeader): string {
  check(h);
  return `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>${xml(h.msgId)}</MsgId><CreDtTm>${iso(h.createdAt)}</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>${xml(h.msgId)}</Id>
      <CreDtTm>${iso(h.createdAt)}</CreDtTm>
      <FrToDt><FrDtTm>${at(s.from)}</FrDtTm><ToDtTm>${at(s.to)}</ToDtTm></FrToDt>
      ${account(s)}
${entries(s, '      ')}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
`;
}
