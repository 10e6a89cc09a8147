/**
 * Payouts pay the right money, once: by default what each party earned (never a payer's own deposit),
 * one party or all, a dry run that applies nothing, unique and traceable ids in the pain.001 document
 * (valid against the official schema), and the same request applied twice paying once.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/ledger/db.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { type Pair, pair } from '../channel/world.js';
import { haveXmllint } from '../services.js';
import { payOffline, startLedger } from '../sync/world.js';
import { havePostgres, pgliteDb, postgresDb } from './dbs.js';

const XSD = 'test/fixtures/iso20022/pain.001.001.03.xsd';
const debtor = { name: 'Example Settlement Ltd', account: 'SETTLE-0001' };
const tags = (xml: string, tag: string) => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);

const databases: [string, () => Promise<Db>][] = [['PGlite', pgliteDb]];
if (havePostgres) databases.push(['PostgreSQL', () => postgresDb() as Promise<Db>]);

describe.each(databases)('payouts (%s)', (_name, open) => {
  let db: Db;
  let p: Pair;
  let ledger: Ledger;
  let close: () => Promise<void>;

  beforeEach(async () => {
    db = await open();
    p = await pair();
    const w = await startLedger(db, p, 0, async (l) => {
      await l.fund('party:fleet', 'EUR', 500n); // the payer's prepaid deposit
    });
    ledger = w.ledger;
    close = () => w.http.close();
    // The fleet's drone pays the pads' pad 3 (three channels of 1): the pads earned 3, the fleet earned nothing.
    for (let i = 0; i < 3; i++) {
      const r = await payOffline(p, 1, 1n, true);
      expect((await ledger.submit([r.payee]))[0]?.status).toBe('accepted');
    }
  });
  afterEach(async () => {
    await close();
    await db.close();
  });

  it('by default pays what each party earned: the payee its 3, never the payer its own deposit back', async () => {
    const r = await ledger.payout('pay-1', 'EUR', debtor, { executionDate: '2026-12-04' });
    expect(r?.payouts.map((x) => [x.party, x.amount])).toEqual([['party:pads', 3n]]);
    expect(await ledger.balance('party:fleet', 'EUR')).toBe(497n);
    expect(await ledger.balance('party:pads', 'EUR')).toBe(0n);
    expect(await ledger.total()).toBe(0n);
    // Earned and paid out once: the next payout has nothing for anyone.
    expect(await ledger.payout('pay-2', 'EUR', debtor)).toBeUndefined();
  });

  it('ids are unique and traceable: MsgId, PmtInfId and one EndToEndId per transaction, each the posting record', async () => {
    const r = await ledger.payout('pay-ids', 'EUR', debtor, { policy: 'balance', executionDate: '2026-12-04' });
    expect(r?.payouts.map((x) => [x.party, x.amount, x.endToEndId])).toEqual([
      ['party:fleet', 497n, 'pay-ids-1'],
      ['party:pads', 3n, 'pay-ids-2'],
    ]);
    const xml = r?.document as string;
    expect(tags(xml, 'MsgId')).toEqual(['pay-ids']);
    expect(tags(xml, 'PmtInfId')).toEqual(['pay-ids-P']);
    expect(tags(xml, 'EndToEndId')).toEqual(['pay-ids-1', 'pay-ids-2']);
    const posted = await db.query<{ record_id: string; debit: string; amount: string }>(
      `select record_id, debit, amount::text as amount from postings where record_id like 'payout:%' order by id`,
    );
    expect(posted).toEqual([
      { record_id: 'payout:pay-ids-1', debit: 'party:fleet', amount: '497' },
      { record_id: 'payout:pay-ids-2', debit: 'party:pads', amount: '3' },
    ]);
    if (haveXmllint()) {
      const dir = mkdtempSync(join(tmpdir(), 'edgepay-payout-'));
      try {
        writeFileSync(join(dir, 'payout.xml'), xml);
        execFileSync('xmllint', ['--noout', '--schema', XSD, join(dir, 'payout.xml')], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('a dry run shows the lines and the document and applies nothing; one party alone; small amounts wait', async () => {
    const dry = await ledger.payout('pay-dry', 'EUR', debtor, { policy: 'balance', dryRun: true });
    expect(dry?.applied).toBe(false);
    expect(dry?.payouts.map((x) => x.amount)).toEqual([497n, 3n]);
    expect(dry?.document).toContain('<InstdAmt Ccy="EUR">4.97</InstdAmt>');
    expect(await ledger.balance('party:fleet', 'EUR')).toBe(500n - 3n);
    expect(await db.query(`select 1 from payouts`)).toEqual([]);
    // Amounts under the threshold wait; one party alone.
    expect(await ledger.payout('pay-min', 'EUR', debtor, { minAmount: 5n })).toBeUndefined();
    const one = await ledger.payout('pay-one', 'EUR', debtor, { policy: 'balance', party: 'party:fleet' });
    expect(one?.payouts.map((x) => [x.party, x.amount])).toEqual([['party:fleet', 497n]]);
    expect(await ledger.balance('party:pads', 'EUR')).toBe(3n);
  });

  it('a dry run shows exactly what the payout would pay: expired holds released first, then rolled back', async () => {
    const expiresAt = p.clock.now + 60;
    await ledger.reserve({
      ref: 'hold-1',
      party: 'party:fleet',
      payerKid: new Uint8Array(32).fill(9),
      asset: 'EUR',
      amount: 100n,
      expiresAt,
    });
    expect(await ledger.balance('party:fleet', 'EUR')).toBe(397n);
    p.clock.now = expiresAt + 1; // the hold has expired: a payout releases it before it pays
    const dry = await ledger.payout('pay-held', 'EUR', debtor, { policy: 'balance', dryRun: true });
    expect(dry?.payouts.map((x) => [x.party, x.amount])).toEqual([
      ['party:fleet', 497n],
      ['party:pads', 3n],
    ]);
    expect(await ledger.balance('party:fleet', 'EUR')).toBe(397n); // rolled back: not even the release
    const real = await ledger.payout('pay-held', 'EUR', debtor, { policy: 'balance' });
    expect(real?.payouts).toEqual(dry?.payouts);
    expect(real?.document).toBe(dry?.document);
  });

  it("references are literal: one payout's lines are never read as another's", async () => {
    await ledger.payout('pay_1', 'EUR', debtor);
    // 'payX1' would match 'pay_1-%' as a LIKE pattern; the lines come back by exact prefix only.
    const other = await ledger.payout('payX1', 'EUR', debtor, { policy: 'balance' });
    expect((await ledger.payout('payX1', 'EUR', debtor))?.payouts).toEqual(other?.payouts);
    expect((await ledger.payout('pay_1', 'EUR', debtor))?.payouts.map((x) => x.endToEndId)).toEqual(['pay_1-1']);
    await expect(ledger.payout('pay%', 'EUR', debtor)).rejects.toMatchObject({ code: 'LEDGER_PAYOUT', field: 'ref' });
  });

  it('the same request applied twice pays once, and answers with the same document and lines', async () => {
    const first = await ledger.payout('pay-twice', 'EUR', debtor);
    const again = await ledger.payout('pay-twice', 'EUR', debtor);
    expect(first?.applied).toBe(true);
    expect(again).toEqual({ document: first?.document, payouts: first?.payouts, applied: false });
    const n = await db.query<{ n: string }>(`select count(*)::text as n from postings where record_id like 'payout:%'`);
    expect(n[0]?.n).toBe('1');
  });

  it('refuses what a bank would: a reference too long for unique ids, a bad policy, a zero threshold', async () => {
    await expect(ledger.payout('x'.repeat(29), 'EUR', debtor)).rejects.toMatchObject({ code: 'LEDGER_PAYOUT', field: 'ref' });
    await expect(ledger.payout('p', 'EUR', debtor, { policy: 'all' as 'balance' })).rejects.toMatchObject({ field: 'policy' });
    await expect(ledger.payout('p', 'EUR', debtor, { minAmount: 0n })).rejects.toMatchObject({ field: 'minAmount' });
  });
});
