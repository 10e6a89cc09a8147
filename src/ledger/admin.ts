/**
 * @module ledger/admin
 * The administrative operations, run once the service has authenticated the call (a trust root, or a
 * party for its own accounts) and charged its signer: what each op checks, reads and changes.
 */
import { fromHex, toHex } from '../bytes.js';
import type { CborValue } from '../codec/cbor.js';
import { asAmount, asBytes, asText, asTime } from '../codec/fields.js';
import { LedgerError } from '../errors.js';
import { notificationCamt054, statementCamt053 } from './camt.js';
import type { Ledger } from './ledger.js';
import { statementCsv } from './statement.js';

export type AdminResult = { data: CborValue } | { document: string; mediaType: string };

/** An authenticated call: its op and arguments, its nonce, and who signed it. */
export interface AdminCall {
  op: string;
  args: ReadonlyMap<string | number, CborValue>;
  nonce: Uint8Array;
  /** Signed by a trust root (the issuer). */
  issuer: boolean;
  /** Otherwise the party that signed it. */
  party?: string | undefined;
}

/** What the ops act on. */
export interface AdminScope {
  ledger: Ledger;
  now(): number;
  debtor?: { name: string; account: string } | undefined;
  /** Adds a key (thumbprint, hex) to the issuer's list the ledger keeps; absent without a revocation key. */
  revoke?: ((key: string, reason: string) => Promise<{ changed: boolean; version: number }>) | undefined;
}

/**
 * Runs one op. `register` {credential}, `fund` and `credit` {party, asset, amount} (a registered party),
 * `balance` {party, asset}, `statement` {party, asset, from, to, format?}, `reserve` {party, payer, payee?,
 * asset, amount, expiresAt}, `payout` {asset, date?, party?, policy?, min?, dryRun?}, `revoke` {key, reason?}.
 * @throws LedgerError LEDGER_UNAUTHORIZED (an issuer's op signed by a party, or another party's account),
 *   LEDGER_UNKNOWN_PARTY, LEDGER_CONFIG, LEDGER_OP; field errors for bad arguments.
 */
export async function runAdmin(c: AdminCall, o: AdminScope): Promise<AdminResult> {
  const a = c.args;
  const text = (k: string) => asText(a.get(k), `admin.args.${k}`);
  const who = (k: string) => {
    const p = text(k);
    if (!c.issuer && p !== c.party)
      throw new LedgerError('LEDGER_UNAUTHORIZED', 'a party may read only its own accounts', `admin.args.${k}`);
    return p;
  };
  const hex = (k: string) => {
    const h = text(k);
    if (!/^[0-9a-f]{64}$/.test(h)) throw new LedgerError('LEDGER_OP', `${k} is a key thumbprint in hex`, `admin.args.${k}`);
    return fromHex(h);
  };
  const issuerOnly = () => {
    if (!c.issuer) throw new LedgerError('LEDGER_UNAUTHORIZED', `${c.op} needs the issuer's key`, 'protected.kid');
  };
  const ledger = o.ledger;
  // Money goes only to a party the ledger knows: a typo must not open an account nobody can reach.
  const known = async (p: string) => {
    if (!(await ledger.knowsParty(p)))
      throw new LedgerError(
        'LEDGER_UNKNOWN_PARTY',
        `no party ${p} here: register it first (edgepay ledger register --party-cred <file>), or let its devices settle`,
        'admin.args.party',
      );
  };
  switch (c.op) {
    case 'register': {
      // The issuer tells the ledger of a party before its devices settle (to fund it, to pay it out).
      issuerOnly();
      const party = await ledger.registerParty(asBytes(a.get('credential'), 'admin.args.credential'));
      return { data: new Map([['party', party]]) };
    }
    case 'fund': {
      issuerOnly();
      await known(text('party'));
      const applied = await ledger.fund(
        text('party'),
        text('asset'),
        asAmount(a.get('amount'), 'admin.args.amount'),
        `admin:${toHex(c.nonce)}`,
      );
      return { data: new Map([['applied', applied]]) };
    }
    case 'credit':
      issuerOnly();
      await known(text('party'));
      await ledger.setCreditLine(text('party'), text('asset'), asAmount(a.get('amount'), 'admin.args.amount'));
      return { data: new Map([['ok', true]]) };
    case 'balance':
      return { data: new Map([['balance', await ledger.balance(who('party'), text('asset'))]]) };
    case 'statement': {
      const s = await ledger.statement(
        who('party'),
        text('asset'),
        asTime(a.get('from'), 'admin.args.from'),
        asTime(a.get('to'), 'admin.args.to'),
      );
      const format = a.has('format') ? text('format') : 'csv';
      const header = { msgId: `st-${toHex(c.nonce).slice(0, 24)}`, createdAt: new Date(o.now() * 1000) };
      if (format === 'csv') return { document: statementCsv(s), mediaType: 'text/csv; charset=utf-8' };
      if (format === 'camt053') return { document: statementCamt053(s, header), mediaType: 'application/xml; charset=utf-8' };
      if (format === 'camt054') return { document: notificationCamt054(s, header), mediaType: 'application/xml; charset=utf-8' };
      throw new LedgerError('LEDGER_OP', 'a statement is csv, camt053 or camt054', 'admin.args.format');
    }
    case 'revoke': {
      // The operator revokes a key by hand (a stolen device, a party gone rogue): a new version of the
      // issuer's list this ledger keeps, so disputes and hand revocations never race for a version.
      issuerOnly();
      if (!o.revoke) throw new LedgerError('LEDGER_CONFIG', 'this ledger has no revocation key configured', 'revocation');
      const r = await o.revoke(toHex(hex('key')), a.has('reason') ? text('reason') : 'manual');
      return {
        data: new Map<string, CborValue>([
          ['version', r.version],
          ['changed', r.changed],
        ]),
      };
    }
    case 'reserve': {
      // A party locks its own funds (or the issuer does for it); the ticket goes to the payer device.
      const ticket = await ledger.reserve({
        ref: toHex(c.nonce),
        party: who('party'),
        payerKid: hex('payer'),
        payeeKid: a.has('payee') ? hex('payee') : undefined,
        asset: text('asset'),
        amount: asAmount(a.get('amount'), 'admin.args.amount'),
        expiresAt: asTime(a.get('expiresAt'), 'admin.args.expiresAt'),
      });
      return { data: new Map<string, CborValue>([['ticket', ticket]]) };
    }
    case 'payout': {
      issuerOnly();
      if (!o.debtor) throw new LedgerError('LEDGER_CONFIG', 'this ledger has no payout account configured', 'debtor');
      const policy = a.has('policy') ? text('policy') : undefined;
      if (policy !== undefined && policy !== 'earned' && policy !== 'balance')
        throw new LedgerError('LEDGER_OP', 'the payout policy is earned or balance', 'admin.args.policy');
      const r = await ledger.payout(`ep-${toHex(c.nonce).slice(0, 24)}`, text('asset'), o.debtor, {
        executionDate: a.has('date') ? text('date') : undefined,
        policy,
        party: a.has('party') ? text('party') : undefined,
        minAmount: a.has('min') ? asAmount(a.get('min'), 'admin.args.min') : undefined,
        dryRun: a.get('dryRun') === true,
      });
      if (r === undefined) return { data: new Map([['payouts', 0]]) };
      if (a.get('dryRun') !== true) return { document: r.document, mediaType: 'application/xml; charset=utf-8' };
      // A dry run: the document, and the postings it would make, applied to nothing.
      const lines: CborValue[] = r.payouts.map(
        (p) =>
          new Map<string, CborValue>([
            ['party', p.party],
            ['account', p.account],
            ['amount', p.amount],
            ['endToEndId', p.endToEndId],
          ]),
      );
      return {
        data: new Map<string, CborValue>([
          ['dryRun', true],
          ['payouts', lines],
          ['document', r.document],
        ]),
      };
    }
    default:
      throw new LedgerError('LEDGER_OP', `unknown operation ${c.op}`, 'admin.op');
  }
}
