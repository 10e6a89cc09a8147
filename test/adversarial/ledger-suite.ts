/**
 * A hostile but enrolled device against the ledger (PGlite and PostgreSQL run the same suite): records
 * its own key signs with whatever fields it likes. The ledger judges each channel's history itself, holds
 * every value its checks accept, and never fails a batch for one record.
 */
import { expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeFrame } from '../../src/channel/messages.js';
import { MAX_COUNTER } from '../../src/codec/fields.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import type { Db, Sql } from '../../src/ledger/db.js';
import { openLogger } from '../../src/ledger/log.js';
import { verifySettlement } from '../../src/settlement/verify.js';
import { pair } from '../channel/world.js';
import { acceptedChannel, forgeVoucher, ledgerFor, record } from './world.js';

const statuses = (rs: { status: string; code?: string | undefined; posted: bigint }[]) => rs.map((r) => [r.status, r.code, r.posted]);

export function adversarialLedgerSuite(openDb: () => Promise<Db & { close(): Promise<void> }>): void {
  it('two different vouchers for one seq, sent as two records or in one batch, are equivocation: evidence kept, channel disputed, device revoked', async () => {
    const db = await openDb();
    try {
      const p = await pair();
      const ledger = await ledgerFor(db, p);
      for (const together of [false, true]) {
        const ch = await acceptedChannel(p);
        const a = record({ ...ch.parts, voucher: await forgeVoucher(p, { channelId: ch.id, seq: 1, cumulative: 100n }) });
        const b = record({ ...ch.parts, voucher: await forgeVoucher(p, { channelId: ch.id, seq: 1, cumulative: 300n }) });
        const results = together ? await ledger.submit([a, b]) : [...(await ledger.submit([a])), ...(await ledger.submit([b]))];
        expect(statuses(results)).toEqual([
          ['accepted', undefined, 100n],
          ['disputed', 'LEDGER_EQUIVOCATION', 0n],
        ]);
        expect(results[1]?.revoke).toBe(toHex(p.payer.kid));
        // The evidence is a settlement record that proves itself: both vouchers, signed by the payer.
        const [row] = await db.query<{ evidence: Uint8Array; kind: string }>('select evidence, kind from disputes where channel_id = $1', [
          toHex(ch.id),
        ]);
        expect(row?.kind).toBe('equivocation');
        const proof = await verifySettlement(new Uint8Array(row?.evidence as Uint8Array), {
          trust: new TrustStore(p.roots),
          now: p.clock.now,
        });
        expect(proof.equivocation?.map((v) => v.cumulative)).toEqual([100n, 300n]);
        const later = record({ ...ch.parts, voucher: await forgeVoucher(p, { channelId: ch.id, seq: 2, cumulative: 400n }) });
        expect(statuses(await ledger.submit([later]))).toEqual([['disputed', 'LEDGER_DISPUTED', 0n]]);
      }
      expect(await ledger.balance('party:pads', 'EUR')).toBe(200n);
      expect(await ledger.total()).toBe(0n);
    } finally {
      await db.close();
    }
  });

  it('an older voucher claiming more than a newer one, or a newer one claiming less, is refused with LEDGER_SEQ', async () => {
    const db = await openDb();
    try {
      const p = await pair();
      const ledger = await ledgerFor(db, p);
      const ch = await acceptedChannel(p);
      const v = (seq: number, cumulative: bigint) =>
        forgeVoucher(p, { channelId: ch.id, seq, cumulative }).then((voucher) => record({ ...ch.parts, voucher }));
      expect(statuses(await ledger.submit([await v(5, 100n)]))).toEqual([['accepted', undefined, 100n]]);
      expect(statuses(await ledger.submit([await v(4, 200n), await v(6, 50n), await v(3, 90n)]))).toEqual([
        ['rejected', 'LEDGER_SEQ', 0n],
        ['rejected', 'LEDGER_SEQ', 0n],
        ['duplicate', undefined, 0n], // older and smaller: nothing new, and nothing wrong
      ]);
      expect(statuses(await ledger.submit([await v(7, 150n)]))).toEqual([['accepted', undefined, 50n]]);
      expect(await ledger.balance('party:pads', 'EUR')).toBe(150n);
    } finally {
      await db.close();
    }
  });

  it('ticks beyond the hash chain, or a checkpoint worth less than its ticks, are refused with CH_TICK', async () => {
    const db = await openDb();
    try {
      const p = await pair();
      const ledger = await ledgerFor(db, p);
      const ch = await acceptedChannel(p, { payword: { length: 10, tickValue: 2n } });
      const v = (seq: number, cumulative: bigint, ticks: number) =>
        forgeVoucher(p, { channelId: ch.id, seq, cumulative, ticks }).then((voucher) => record({ ...ch.parts, voucher }));
      expect(statuses(await ledger.submit([await v(1, 40n, 20), await v(2, 4n, 5), await v(3, 20n, 10)]))).toEqual([
        ['rejected', 'CH_TICK', 0n],
        ['rejected', 'CH_TICK', 0n],
        ['accepted', undefined, 20n],
      ]);
    } finally {
      await db.close();
    }
  });

  it('counters up to 2^32 - 1 settle (the database holds every value the checks accept); beyond, each side refuses', async () => {
    const db = await openDb();
    try {
      const p = await pair();
      const ledger = await ledgerFor(db, p);
      const honest = await acceptedChannel(p);
      await p.payee.handle(await p.payer.pay(honest.id, 10n));
      const honestRecord = record({ ...honest.parts, voucher: p.payer.channel(honest.id)?.voucher });
      const big = await acceptedChannel(p);
      const at = (seq: number, cumulative: bigint) => forgeVoucher(p, { channelId: big.id, seq, cumulative });
      // The payee takes seq 2^31 (it reads up to 2^32 - 1), and so does the ledger, in a batch with honest records.
      const v31 = await at(2 ** 31, 100n);
      expect(decodeFrame((await p.payee.handle(v31))[0] as Uint8Array).type).toBe('ack');
      const v32 = await at(MAX_COUNTER, 200n);
      const over = await at(MAX_COUNTER + 1, 300n);
      expect((decodeFrame((await p.payee.handle(over))[0] as Uint8Array) as { code?: string }).code).toBe('FIELD_RANGE');
      const results = await ledger.submit([
        honestRecord,
        record({ ...big.parts, voucher: v31 }),
        record({ ...big.parts, voucher: over }),
        record({ ...big.parts, voucher: v32 }),
      ]);
      expect(statuses(results)).toEqual([
        ['accepted', undefined, 10n],
        ['accepted', undefined, 100n],
        ['rejected', 'FIELD_RANGE', 0n],
        ['accepted', undefined, 100n],
      ]);
      const [row] = await db.query<{ seq: string }>('select seq::text as seq from channels where id = $1', [toHex(big.id)]);
      expect(row?.seq).toBe(String(MAX_COUNTER));
      // The payer never signs past the range: its channel is used up, and it says so.
      const live = p.payer.channel(honest.id);
      if (live) live.seq = MAX_COUNTER;
      await expect(p.payer.pay(honest.id, 1n)).rejects.toMatchObject({ code: 'CH_LIMIT' });
    } finally {
      await db.close();
    }
  });

  it('a record the database refuses gets its own rejection receipt (LEDGER_UNPROCESSABLE), the batch is applied, the cause is logged', async () => {
    const real = await openDb();
    const lines: string[] = [];
    let poison = '';
    // The database refuses any write that carries the poisoned channel (as a column overflow would).
    const guard = (q: Sql): Sql => ({
      query: (text, params) => {
        if (
          poison &&
          /insert into channels/.test(text) &&
          JSON.stringify(params ?? [], (_k, v) => (v instanceof Uint8Array ? '' : v)).includes(poison)
        )
          return Promise.reject(Object.assign(new Error('numeric field overflow'), { code: '22003' }));
        return q.query(text, params);
      },
    });
    const db: Db = { ...real, query: guard(real).query, transaction: (fn) => real.transaction((tx) => fn(guard(tx))) };
    try {
      const p = await pair();
      const ledger = await ledgerFor(db, p, { log: await openLogger({ write: (l) => void lines.push(l) }) });
      const recs: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        const ch = await acceptedChannel(p);
        if (i === 1) poison = toHex(ch.id);
        recs.push(record({ ...ch.parts, voucher: await forgeVoucher(p, { channelId: ch.id, seq: 1, cumulative: 10n }) }));
      }
      const results = await ledger.submit(recs);
      expect(statuses(results)).toEqual([
        ['accepted', undefined, 10n],
        ['rejected', 'LEDGER_UNPROCESSABLE', 0n],
        ['accepted', undefined, 10n],
      ]);
      // Asked again, it is the same receipt: refused for good, not retried for ever.
      expect((await ledger.submit([recs[1] as Uint8Array]))[0]).toMatchObject({ status: 'rejected', repeated: true });
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.recordId === toHex(results[1]?.recordId as Uint8Array));
      expect(logged).toMatchObject({ level: 50, err: { code: '22003', message: 'numeric field overflow' } });
      expect(await ledger.total()).toBe(0n);
    } finally {
      await real.close();
    }
  });
}
