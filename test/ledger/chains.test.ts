/**
 * Credential chains are verified once per ledger database: a chain's signatures are checked in the batch
 * with the records' (on the verifier's threads), its hash stored, and any ledger process on the database
 * then settles a payment from it with one signature check, the voucher's.
 */
import { describe, expect, it } from 'vitest';
import { ASSET, accountDevice, accountParty, accountRecord, type Seed1World, seed1World } from '../../bench/seed1-world.js';
import { toHex } from '../../src/bytes.js';
import { signAccept, signOpen, signVoucher } from '../../src/channel/messages.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { sha256 } from '../../src/crypto/hash.js';
import { type BatchVerifier, inlineVerifier } from '../../src/crypto/workers.js';
import { decodeChain, encodeChain } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { decodeChainFacts, encodeChainFacts } from '../../src/ledger/chain-facts.js';
import { openPglite } from '../../src/ledger/db.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { encodeSettlementParts } from '../../src/settlement/record.js';

/** Counts the signatures a ledger asks to have checked. */
function counting(): BatchVerifier & { count: number } {
  const v = {
    count: 0,
    verifyMany: (items: Parameters<BatchVerifier['verifyMany']>[0]) => {
      v.count += items.length;
      return inlineVerifier.verifyMany(items);
    },
    hashChains: inlineVerifier.hashChains,
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

  it('a stored chain is taken from its facts, not decoded, in a fresh process; revocation still applies; rows without facts get them', async () => {
    const seed = 'chains-test';
    const w = await seed1World(seed);
    const db = await openPglite();
    const trust = new TrustStore(w.roots);
    const open = async (verifier?: BatchVerifier) =>
      Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:t', trust: new TrustStore(w.roots), verifier });
    const devices = await Promise.all([1, 2, 3, 4].map((k) => accountDevice(w, seed, k)));
    const [d1, d2, d3, d4] = devices as [(typeof devices)[0], (typeof devices)[0], (typeof devices)[0], (typeof devices)[0]];
    const ledgerA = await open();
    expect(await ledgerA.enroll([w.merchant.chain, ...devices.map((d) => d.chain)])).toEqual(Array(5).fill(undefined));
    await ledgerA.fundMany([1, 2, 3, 4].map((k) => ({ party: accountParty(k), asset: ASSET, amount: BigInt(k), ref: `t${k}` })));
    await ledgerA.fundMany([{ party: 'acct:other', asset: ASSET, amount: 1n, ref: 'other' }]);
    // Enrolment stored what each chain proves.
    const stored = async (chain: Uint8Array) =>
      (await db.query<{ facts: Uint8Array | null }>('select facts from chains where hash = $1', [toHex(sha256(chain))]))[0]?.facts;
    const facts1 = decodeChainFacts(new Uint8Array((await stored(d1.chain)) as Uint8Array));
    expect(facts1).toMatchObject({ partyId: accountParty(1), partyCategory: 'wallet', deviceCategory: 'wallet', limits: { asset: ASSET } });
    expect(decodeChainFacts(encodeChainFacts(facts1))).toEqual(facts1);
    // Stored facts naming another party (written here by hand, as only the ledger would): a fresh process
    // debits that party, so it read the facts and did not decode the chain. One signature checked: the voucher.
    await db.query('update chains set facts = $1 where hash = $2', [
      encodeChainFacts({ ...facts1, partyId: 'acct:other' }),
      toHex(sha256(d1.chain)),
    ]);
    const b = counting();
    const ledgerB = await open(b);
    const [r1] = await ledgerB.submit([await accountRecord(w, d1, 1)]);
    expect(r1?.status).toBe('accepted');
    expect([await ledgerB.balance('acct:other', ASSET), await ledgerB.balance(accountParty(1), ASSET)]).toEqual([0n, 1n]);
    // Revoked by the issuer after enrolment: refused, though its facts are stored.
    const now = Math.floor(Date.now() / 1000);
    const list = await signRevocationList(w.issuer, {
      issuer: 'net',
      version: 1,
      issuedAt: now,
      entries: [{ kid: coseKeyThumbprint(d2.signer.publicKey), revokedAt: now - 60 }],
    });
    const ledgerC = await Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:t', trust, verifier: inlineVerifier });
    expect(await trust.applyRevocationList(list)).toBe('applied');
    const [r2] = await ledgerC.submit([await accountRecord(w, d2, 2)]);
    expect(r2).toMatchObject({ status: 'rejected', code: 'ID_REVOKED' });
    // A row stored before facts were (hash only) and unreadable facts: the chain is decoded and its facts written.
    await db.query('update chains set facts = null where hash = $1', [toHex(sha256(d3.chain))]);
    const [r3] = await (await open()).submit([await accountRecord(w, d3, 3)]);
    expect(r3?.status).toBe('accepted');
    expect(decodeChainFacts(new Uint8Array((await stored(d3.chain)) as Uint8Array))).toMatchObject({ partyId: accountParty(3) });
    await db.query('update chains set facts = $1 where hash = $2', [new Uint8Array([0x83, 1, 2, 3]), toHex(sha256(d4.chain))]);
    const [r4] = await (await open()).submit([await accountRecord(w, d4, 4)]);
    expect(r4?.status).toBe('accepted');
    expect(await ledgerB.balance('merchant', ASSET)).toBe(8n);
    await db.close();
  });
});

/** Account k's record paying the merchant `amount` (cap k), its accept optionally forged (last byte flipped). */
async function recordOf(
  w: Seed1World,
  d: Awaited<ReturnType<typeof accountDevice>>,
  k: number,
  o: { amount?: bigint; forgeAccept?: boolean } = {},
) {
  const { bytes: open, channelId } = await signOpen(d.signer, {
    chain: d.chain,
    payeeKid: w.merchant.kid,
    asset: ASSET,
    cap: BigInt(k),
    unitPrice: 1n,
    expiresAt: Math.floor(Date.UTC(2030, 0, 1) / 1000), // within the credentials (to the end of 2030)
    nonce: new Uint8Array(8).fill(k),
  });
  const accept = (await signAccept(w.merchant.signer, channelId, w.merchant.chain)).slice();
  if (o.forgeAccept) accept[accept.length - 1] = (accept.at(-1) as number) ^ 1;
  const voucher = await signVoucher(d.signer, { channelId, seq: 1, cumulative: o.amount ?? BigInt(k) });
  return encodeSettlementParts({ open, accept, voucher });
}

describe("a payee's accepts in one batch", () => {
  it('cost one signature check for the batch; a forged one neither sinks a good one nor carries a bad one', async () => {
    const seed = 'accepts-test';
    const w = await seed1World(seed);
    const db = await openPglite();
    const open = async (verifier: BatchVerifier) =>
      Ledger.open({ db, signer: w.ledgerKey, id: 'ledger:t', trust: new TrustStore(w.roots), verifier });
    const devices = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((k) => accountDevice(w, seed, k)));
    const enroller = await open(inlineVerifier);
    await enroller.enroll([w.merchant.chain, ...devices.map((d) => d.chain)]);
    await enroller.fundMany(devices.map((_, i) => ({ party: accountParty(i + 1), asset: ASSET, amount: 100n, ref: `t${i}` })));
    const device = (k: number) => devices[k - 1] as (typeof devices)[0];

    // A fresh process: three records to the merchant, one accept checked with the three vouchers.
    const a = counting();
    const ledgerA = await open(a);
    const three = await ledgerA.submit(await Promise.all([1, 2, 3].map((k) => recordOf(w, device(k), k))));
    expect(three.map((r) => r.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(a.count).toBe(4);

    // The first accept forged: it is refused, the two good ones behind it are checked on their own and stand.
    const b = counting();
    const ledgerB = await open(b);
    const forgedFirst = await ledgerB.submit([
      await recordOf(w, device(4), 4, { forgeAccept: true }),
      await recordOf(w, device(5), 5),
      await recordOf(w, device(6), 6),
    ]);
    expect(forgedFirst.map((r) => r.code ?? r.status)).toEqual(['COSE_SIGNATURE', 'accepted', 'accepted']);
    expect(b.count).toBe(6);

    // The first record fails before its signatures are checked (over its cap): a forged accept behind it,
    // which would have leaned on the first one's accept, is checked itself and refused.
    const ledgerC = await open(inlineVerifier);
    const failedFirst = await ledgerC.submit([
      await recordOf(w, device(7), 7, { amount: 8n }),
      await recordOf(w, device(8), 8, { forgeAccept: true }),
    ]);
    expect(failedFirst.map((r) => r.code)).toEqual(['CH_SETTLEMENT', 'COSE_SIGNATURE']);
    expect(await ledgerC.balance('merchant', ASSET)).toBe(1n + 2n + 3n + 5n + 6n);
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
