/**
 * Statements as banks read them: camt.053 (balances and entries) and camt.054 (entries), valid against the
 * official schemas, and exact: for every party, the opening balance plus its entries is the closing
 * balance, and the closing balance is the ledger's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationCamt054, statementCamt053 } from '../../src/ledger/camt.js';
import { type Db, openPglite } from '../../src/ledger/db.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import type { Statement } from '../../src/ledger/statement.js';
import { pair } from '../channel/world.js';
import { haveXmllint } from '../services.js';
import { payOffline, startLedger } from '../sync/world.js';

const SCHEMAS = { camt053: 'test/fixtures/iso20022/camt.053.001.02.xsd', camt054: 'test/fixtures/iso20022/camt.054.001.02.xsd' };
const header = { msgId: 'st-test-1', createdAt: new Date('2026-12-03T12:00:00Z') };

/** Sums a camt document's entries (credits less debits), in minor units of a 2-decimal currency. */
function entriesTotal(xml: string): bigint {
  let total = 0n;
  for (const m of xml.matchAll(/<Ntry>[\s\S]*?<Amt Ccy="[A-Z]+">([\d.]+)<\/Amt>\s*<CdtDbtInd>(CRDT|DBIT)<\/CdtDbtInd>/g)) {
    const minor = BigInt((m[1] as string).replace('.', ''));
    total += m[2] === 'CRDT' ? minor : -minor;
  }
  return total;
}
const balanceOf = (xml: string, code: string) => {
  const m = new RegExp(`<Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="[A-Z]+">([\\d.]+)</Amt><CdtDbtInd>(CRDT|DBIT)</CdtDbtInd>`).exec(xml);
  if (!m) throw new Error(`no ${code} balance`);
  const v = BigInt((m[1] as string).replace('.', ''));
  return m[2] === 'DBIT' ? -v : v;
};

describe('camt.053 and camt.054 statements', () => {
  let db: Db;
  let ledger: Ledger;
  let close: () => Promise<void>;
  const t0 = Math.floor(Date.now() / 1000) - 60;
  let statements: Statement[] = [];

  beforeAll(async () => {
    db = await openPglite();
    const p = await pair();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    ledger = w.ledger;
    close = () => w.http.close();
    // Several channels settle, then a payout: credits, debits, a deposit and a transfer out.
    for (let i = 1; i <= 4; i++) expect((await ledger.submit([(await payOffline(p, i, 7n, true)).payee]))[0]?.status).toBe('accepted');
    await ledger.payout('pay-camt', 'EUR', { name: 'Settlement', account: 'SETTLE-1' });
    const t1 = Math.floor(Date.now() / 1000) + 60;
    statements = await Promise.all(['party:fleet', 'party:pads'].map((party) => ledger.statement(party, 'EUR', t0, t1)));
  });
  afterAll(async () => {
    await close();
    await db.close();
  });

  it("for every party: opening plus entries is closing, and closing is the ledger's balance", async () => {
    for (const s of statements) {
      const camt = statementCamt053(s, header);
      expect(balanceOf(camt, 'OPBD') + entriesTotal(camt), s.party).toBe(balanceOf(camt, 'CLBD'));
      expect(balanceOf(camt, 'CLBD'), s.party).toBe(await ledger.balance(s.party, 'EUR'));
      expect(entriesTotal(notificationCamt054(s, header)), s.party).toBe(s.closing - s.opening);
      expect(s.lines.length).toBeGreaterThan(0);
    }
    // The pads were paid 7 x (1+2+3+4) = 70 and paid it all out; the fleet funded 1000 and paid 70.
    expect(statements.map((s) => s.closing)).toEqual([930n, 0n]);
  });

  it('each entry carries its posting, record, channel and counterparty', () => {
    const camt = statementCamt053(statements[1] as Statement, header);
    const line = statements[1]?.lines[0];
    expect(camt).toContain(`<AcctSvcrRef>${line?.postingId}</AcctSvcrRef>`);
    expect(camt).toContain(`record ${line?.recordId} channel ${line?.channelId} counterparty party:fleet`);
    expect(camt).toContain('<Cd>EDGEPAY-SETTLEMENT</Cd>');
  });

  it('both documents are valid against the official ISO 20022 schemas (xmllint)', () => {
    if (!haveXmllint()) return;
    const dir = mkdtempSync(join(tmpdir(), 'edgepay-camt-'));
    try {
      for (const s of statements)
        for (const [kind, doc] of [
          ['camt053', statementCamt053(s, header)],
          ['camt054', notificationCamt054(s, header)],
        ] as const) {
          const f = join(dir, `${kind}-${s.party.replace(':', '-')}.xml`);
          writeFileSync(f, doc);
          execFileSync('xmllint', ['--noout', '--schema', SCHEMAS[kind], f], { stdio: 'pipe' });
          // The check can fail: an entry without its status is refused.
          writeFileSync(f, doc.replace('<Sts>BOOK</Sts>', ''));
          expect(() => execFileSync('xmllint', ['--noout', '--schema', SCHEMAS[kind], f], { stdio: 'pipe' })).toThrow();
        }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what the schema cannot carry, by code', () => {
    const s = statements[0] as Statement;
    expect(() => statementCamt053({ ...s, party: 'p'.repeat(35) }, header)).toThrow(expect.objectContaining({ code: 'LEDGER_STATEMENT' }));
    expect(() => statementCamt053({ ...s, closing: 10n ** 19n }, header)).toThrow(expect.objectContaining({ code: 'LEDGER_STATEMENT' }));
    expect(() => notificationCamt054(s, { ...header, msgId: 'x'.repeat(36) })).toThrow(expect.objectContaining({ field: 'msgId' }));
  });
});
