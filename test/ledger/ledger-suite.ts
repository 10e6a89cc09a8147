/** The ledger's behaviour on any SQL store (PGlite and PostgreSQL run the same suite). */
import { expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { signAccept, signOpen, signVoucher } from '../../src/channel/messages.js';
import { sha256 } from '../../src/crypto/hash.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import type { Db } from '../../src/ledger/db.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { verifyReceipt } from '../../src/settlement/receipt.js';
import { encodeSettlement, encodeSettlementParts } from '../../src/settlement/record.js';
import { deliver, paidRecords, pair } from '../channel/world.js';

async function setup(db: Db) {
  const p = await pair();
  const key = await nodeEd25519.signer(new Uint8Array(32).fill(77));
  const ledger = await Ledger.open({ db, signer: key, id: 'ledger:test', trust: new TrustStore(p.roots), now: () => p.clock.now });
  return { p, key, ledger };
}

export function ledgerSuite(openDb: () => Promise<Db>): void {
  it('applies a channel once, whoever sends it and however often; postings sum to zero; receipts verify', async () => {
    const db = await openDb();
    try {
      const { p, key, ledger } = await setup(db);
      await ledger.fund('party:fleet', 'EUR', 10_000n);
      const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 5_000n, payword: { length: 100, tickValue: 5n } });
      await deliver(p, frame);
      await deliver(p, await p.payer.pay(channelId, 300n));
      for (let i = 0; i < 10; i++) await deliver(p, await p.payer.tick(channelId));
      const fromPayer = encodeSettlement(p.payer.channel(channelId)!); // 300
      const fromPayee = encodeSettlement(p.payee.channel(channelId)!); // 300 + 10 ticks x 5 = 350
      const [a] = await ledger.submit([fromPayer]);
      expect(a).toMatchObject({ status: 'accepted', posted: 300n, repeated: false });
      const [b] = await ledger.submit([fromPayee]);
      expect(b).toMatchObject({ status: 'accepted', posted: 50n });
      for (let i = 0; i < 3; i++) {
        const again = await ledger.submit([fromPayee, fromPayer, fromPayee]);
        expect(again.map((r) => [r.status, r.posted, r.repeated])).toEqual([
          ['accepted', 50n, true],
          ['accepted', 300n, true],
          ['accepted', 50n, true],
        ]);
        // The same receipts, byte for byte (rebuilt from the batch's stored root and results).
        expect(again.map((r) => r.receipt)).toEqual([b!.receipt, a!.receipt, b!.receipt]);
      }
      expect(await ledger.balance('party:fleet', 'EUR')).toBe(10_000n - 350n);
      expect(await ledger.balance('party:pads', 'EUR')).toBe(350n);
      expect(await ledger.total()).toBe(0n);
      const receipt = await verifyReceipt(b!.receipt, key.publicKey);
      expect(receipt).toMatchObject({ ledger: 'ledger:test', status: 'accepted', posted: 50n });
      // An older state after a newer one changes nothing.
      await deliver(p, await p.payer.close(channelId));
      const closed = await ledger.submit([encodeSettlement(p.payee.channel(channelId)!)]);
      expect(closed[0]).toMatchObject({ status: 'accepted', posted: 0n });
      expect(await ledger.balance('party:pads', 'EUR')).toBe(350n);
    } finally {
      await db.close();
    }
  });

  it('gives a whole batch the same receipts again, in any order and mixed with new records; rows stored before keep theirs', async () => {
    const db = await openDb();
    try {
      const { p, key, ledger } = await setup(db);
      await ledger.fund('party:fleet', 'EUR', 10_000n);
      const records = await paidRecords(p, [10n, 11n, 12n, 13n, 14n, 15n]);
      const forged = records[2]!.slice();
      forged[forged.length - 3]! ^= 1; // the voucher's signature
      const first = await ledger.submit([records[0]!, forged, records[1]!, records[2]!]);
      expect(first.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted', 'accepted']);
      const second = await ledger.submit([records[3]!, records[4]!]);
      const again = await ledger.submit([records[4]!, records[5]!, records[2]!, forged, records[0]!, records[3]!, records[1]!]);
      expect(again.map((r) => r.repeated)).toEqual([true, false, true, true, true, true, true]);
      expect(again[1]).toMatchObject({ status: 'accepted', posted: 15n });
      expect([again[0], again[2], again[3], again[4], again[5], again[6]].map((r) => r!.receipt)).toEqual(
        [second[1], first[3], first[1], first[0], second[0], first[2]].map((r) => r!.receipt),
      );
      for (const r of again) expect((await verifyReceipt(r.receipt, key.publicKey)).status).toBe(r.status);
      // A row from before receipts were stored per batch carries its receipt bytes: they are given back.
      await db.query('update receipts set receipt = $1, batch = null, idx = null where record_id = $2', [
        new Uint8Array([1, 2, 3]),
        toHex(sha256(records[5]!)),
      ]);
      expect((await ledger.submit([records[5]!]))[0]?.receipt).toEqual(new Uint8Array([1, 2, 3]));
    } finally {
      await db.close();
    }
  });

  it('applies records sent in batches that are in flight at once (a client retrying before its answer) once', async () => {
    const db = await openDb();
    try {
      const { p, key, ledger } = await setup(db);
      await ledger.fund('party:fleet', 'EUR', 10_000n);
      const records = await paidRecords(p, [100n, 101n, 102n, 103n]);
      // What is checked is what is applied: the caller's buffers changing meanwhile change nothing.
      const mine = records.map((r) => r.slice());
      const pending = ledger.submit([mine[0]!]);
      mine[0]!.fill(0);
      const first = await pending;
      expect(first[0]).toMatchObject({ status: 'accepted', posted: 100n, recordId: sha256(records[0]!) });
      // Neither has a receipt when both are checked: the second finds the first's under the apply lock.
      const [a, b, c] = await Promise.all([
        ledger.submit(records.slice(0, 3)),
        ledger.submit([records[2]!, records[1]!, records[3]!]),
        ledger.submit(records.slice(0, 3)),
      ]);
      const byId = new Map([...first, ...a!, ...b!, ...c!].filter((r) => !r.repeated).map((r) => [toHex(r.recordId), r]));
      expect(byId.size).toBe(4);
      for (const r of [...a!, ...b!, ...c!]) {
        expect(r).toMatchObject({ status: 'accepted', receipt: byId.get(toHex(r.recordId))!.receipt });
        expect((await verifyReceipt(r.receipt, key.publicKey)).status).toBe('accepted');
      }
      expect(await ledger.balance('party:pads', 'EUR')).toBe(100n + 101n + 102n + 103n);
      expect(await ledger.total()).toBe(0n);
      const [{ n }] = (await db.query<{ n: string }>('select count(*)::text as n from postings where channel_id is not null')) as [
        { n: string },
      ];
      expect(n).toBe('4');
    } finally {
      await db.close();
    }
  });

  it('rejects forged records with a code, refuses overdrafts, disputes equivocation', async () => {
    const db = await openDb();
    try {
      const { p, ledger } = await setup(db);
      const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 5_000n });
      await deliver(p, frame);
      await deliver(p, await p.payer.pay(channelId, 200n));
      const good = encodeSettlement(p.payee.channel(channelId)!);
      const forged = good.slice();
      forged[forged.length - 2]! ^= 1;
      // A rogue payer device and a colluding payee: a channel above the credential's per-channel limit.
      const wide = await signOpen(p.drone, {
        chain: p.droneChain,
        payeeKid: p.padKid,
        asset: 'EUR',
        cap: 100_001n,
        unitPrice: 1n,
        expiresAt: p.clock.now + 3600,
        nonce: new Uint8Array(8).fill(9),
      });
      const rogue = encodeSettlementParts({
        open: wide.bytes,
        accept: await signAccept(p.pad, wide.channelId, p.padChain),
        voucher: await signVoucher(p.drone, { channelId: wide.channelId, seq: 1, cumulative: 500n }),
      });
      await ledger.setCreditLine('party:fleet', 'EUR', 100_000n);
      const [f, tooWide] = await ledger.submit([forged, rogue]);
      await ledger.setCreditLine('party:fleet', 'EUR', 0n);
      expect(f?.status).toBe('rejected');
      expect(f?.code).toMatch(/^(COSE_SIGNATURE|CBOR_|CH_|FIELD_)/);
      expect(tooWide).toMatchObject({ status: 'rejected', code: 'CH_TERMS' });
      const [noFunds] = await ledger.submit([good]);
      expect(noFunds).toMatchObject({ status: 'rejected', code: 'LEDGER_FUNDS' });
      await ledger.setCreditLine('party:fleet', 'EUR', 1_000n);
      // The rejected record keeps its receipt; the next state of the channel goes through on credit.
      await deliver(p, await p.payer.pay(channelId, 100n));
      expect((await ledger.submit([encodeSettlement(p.payee.channel(channelId)!)]))[0]).toMatchObject({ status: 'accepted', posted: 300n });
      await p.payee.handle(await signVoucher(p.drone, { channelId, seq: 2, cumulative: 1n }));
      const [d] = await ledger.submit([encodeSettlement(p.payee.channel(channelId)!)]);
      expect(d).toMatchObject({ status: 'disputed', code: 'LEDGER_EQUIVOCATION' });
      expect(await ledger.total()).toBe(0n);
    } finally {
      await db.close();
    }
  });
}
