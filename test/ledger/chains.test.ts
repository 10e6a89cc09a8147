/**
 * Credential chains are verified once per ledger database: a chain's signatures are checked in the batch
 * with the records' (on the verifier's threads), its hash stored, and any ledger process on the database
 * then settles a payment from it with one signature check, the voucher's.
 */
import { describe, expect, it } from 'vitest';
import { ASSET, accountDevice, accountParty, accountRecord, seed1World } from '../../bench/seed1-world.js';
import { toHex } from '../../src/codec/bytes.js';
import { sha256 } from '../../src/crypto/hash.js';
import { type BatchVerifier, inlineVerifier } from '../../src/crypto/workers.js';
import { decodeChain, encodeChain } from '../../src/identity/credential.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { openPglite } from '../../src/ledger/db.js';
import { Ledger } from '../../src/ledger/ledger.js';

/** Counts the signatures a ledger asks to have checked. */
function counting(): BatchVerifier & { count: number } {
  const v = {
    count: 0,
    verifyMany: (items: Parameters<BatchVerifier['verifyMany']>[0]) => {
      v.count += items.length;
      return inlineVerifier.verifyMany(items);
    },
    close: async () => {},
  };
  return v;
}

describe('chains verified once per ledger database', () => {
  it('enrolled chains cost nothing more to settle, in a fresh ledger process on the same database', async () => {
    const w = await seed1World('chains-test');
    const db = await openPglite();
    const open = async (verifier: BatchVerifier) =>
      Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:t', trust: new TrustStore(w.roots), verifier });
    const a = counting();
    const ledgerA = await open(a);
    const devices = [await accountDevice(w, 'chains-test', 1), await accountDevice(w, 'chains-test', 2)];
    expect(await ledgerA.enroll([w.merchant.chain, ...devices.map((d) => d.chain)])).toEqual([undefined, undefined, undefined]);
    expect(a.count).toBe(6); // two signatures a chain
    await ledgerA.fundMany([1, 2].map((k) => ({ party: accountParty(k), asset: ASSET, amount: BigInt(k), ref: `t${k}` })));

    // Another process (nothing cached in memory): the first record also proves the merchant's accept once.
    const b = counting();
    const ledgerB = await open(b);
    const [r1] = await ledgerB.submit([await accountRecord(w, devices[0] as (typeof devices)[0], 1)]);
    expect(r1?.status).toBe('accepted');
    expect(b.count).toBe(2);
    const [r2] = await ledgerB.submit([await accountRecord(w, devices[1] as (typeof devices)[0], 2)]);
    expect(r2?.status).toBe('accepted');
    expect(b.count).toBe(3); // the voucher alone
    expect(await ledgerB.balance('merchant', ASSET)).toBe(3n);
    await db.close();
  });

  it('a chain with a forged signature is refused with its code, in a record or at enrolment, and never stored', async () => {
    const w = await seed1World('chains-test');
    const db = await openPglite();
    const ledger = await Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:t', trust: new TrustStore(w.roots) });
    const d = await accountDevice(w, 'chains-test', 7);
    const [party, device] = decodeChain(d.chain) as [Uint8Array, Uint8Array];
    const forgedParty = party.slice();
    forgedParty[forgedParty.length - 1] = (forgedParty.at(-1) as number) ^ 1; // the last byte of the issuer's signature
    const forged = { signer: d.signer, chain: encodeChain([forgedParty, device]) };
    await ledger.fundMany([{ party: accountParty(7), asset: ASSET, amount: 7n, ref: 't7' }]);
    const [r] = await ledger.submit([await accountRecord(w, forged, 7)]);
    expect(r).toMatchObject({ status: 'rejected', code: 'COSE_SIGNATURE' });
    // Twice in one batch (the second shares the first's pending checks): both refused.
    const again = await ledger.submit([await accountRecord(w, forged, 7), await accountRecord(w, forged, 7)]);
    expect(again.map((x) => x.code)).toEqual(['COSE_SIGNATURE', 'COSE_SIGNATURE']);
    const [e] = await ledger.enroll([forged.chain]);
    expect(e?.code).toBe('COSE_SIGNATURE');
    // Only the merchant's chain (valid, in the same records) was stored.
    expect(await db.query('select hash from chains')).toEqual([{ hash: toHex(sha256(w.merchant.chain)) }]);
    expect(await ledger.balance(accountParty(7), ASSET)).toBe(7n);
    await db.close();
  });
});

describe('bulk deposits', () => {
  it('apply once per ref: retried, or the same ref twice in one call; postings balance', async () => {
    const w = await seed1World('chains-test');
    const db = await openPglite();
    const ledger = await Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:t', trust: new TrustStore(w.roots) });
    const d = (party: string, amount: bigint, ref: string) => ({ party, asset: ASSET, amount, ref });
    expect(await ledger.fundMany([d('a', 5n, 'r1'), d('a', 5n, 'r1'), d('b', 7n, 'r2')])).toBe(2);
    expect(await ledger.fundMany([d('a', 5n, 'r1'), d('b', 7n, 'r2'), d('b', 1n, 'r3')])).toBe(1);
    expect([await ledger.balance('a', ASSET), await ledger.balance('b', ASSET)]).toEqual([5n, 8n]);
    expect(await ledger.total()).toBe(0n);
    await expect(ledger.fundMany([d('a', 0n, 'r4')])).rejects.toMatchObject({ code: 'LEDGER_AMOUNT', field: 'amount' });
    await db.close();
  });
});
