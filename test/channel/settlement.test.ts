import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeFrame, type OpenTerms, signAccept, signOpen, signVoucher } from '../../src/channel/messages.js';
import { MeteredPayer, MeteredService } from '../../src/channel/metered.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import { decode, encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import type { EdgepayError } from '../../src/errors.js';
import { decodeChain, encodeChain, issueCredential } from '../../src/identity/credential.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { ChainCache } from '../../src/ledger/chain-cache.js';
import { MemoryOutbox } from '../../src/outbox/outbox.js';
import { settlements } from '../../src/settlement/queue.js';
import { encodeSettlement, encodeSettlementParts } from '../../src/settlement/record.js';
import { checkSettlement, type SignatureCheck, verifySettlement } from '../../src/settlement/verify.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { codeOf } from '../codes.js';
import { DAY, deliver, pair } from './world.js';

describe('settlement records', () => {
  it("both sides' records verify with no other context, and agree on the amount (ticks proven by the payee's)", async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, payword: { length: 500, tickValue: 4n } });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 100n));
    for (let i = 0; i < 25; i++) await deliver(p, await p.payer.tick(channelId));
    const ledgerTrust = new TrustStore(p.roots);
    const now = p.clock.now + 40 * DAY; // long after: credentials' expiry does not void payments made in time
    const fromPayee = await verifySettlement(encodeSettlement(p.payee.channel(channelId)!), { trust: ledgerTrust, now });
    expect(fromPayee).toMatchObject({ seq: 1, ticks: 25, amount: 200n, closed: false });
    expect(toHex(fromPayee.channelId)).toBe(toHex(channelId));
    // The payer's copy holds its newest voucher (ticks after it are proven only by the payee's copy).
    expect((await verifySettlement(encodeSettlement(p.payer.channel(channelId)!), { trust: ledgerTrust, now })).amount).toBe(100n);
    await deliver(p, await p.payer.close(channelId)); // checkpoints the 25 ticks and closes
    const a = await verifySettlement(encodeSettlement(p.payer.channel(channelId)!), { trust: ledgerTrust, now });
    const b = await verifySettlement(encodeSettlement(p.payee.channel(channelId)!), { trust: ledgerTrust, now });
    expect([a.amount, a.closed, b.amount, b.closed]).toEqual([200n, true, 200n, true]);
  });

  it("a rogue payer and a colluding payee cannot widen the payer's credential: asset, cap, expiry and per-payment limits are checked again", async () => {
    const p = await pair(); // limits: EUR, 1,000 a payment, 100,000 a channel
    const trust = new TrustStore(p.roots);
    const now = p.clock.now;
    const record = async (terms: Partial<OpenTerms>, seq: number, cumulative: bigint, payee = { signer: p.pad, chain: p.padChain }) => {
      const { bytes: open, channelId } = await signOpen(p.drone, {
        chain: p.droneChain,
        payeeKid: coseKeyThumbprint(payee.signer.publicKey),
        asset: 'EUR',
        cap: 10_000n,
        unitPrice: 1n,
        expiresAt: now + DAY,
        nonce: new Uint8Array(8).fill(seq),
        ...terms,
      });
      const accept = await signAccept(payee.signer, channelId, payee.chain);
      return encodeSettlementParts({ open, accept, voucher: await signVoucher(p.drone, { channelId, seq, cumulative }) });
    };
    const check = async (r: Uint8Array) => {
      const e = await verifySettlement(r, { trust, now }).then(
        () => undefined,
        (x: EdgepayError) => x,
      );
      return e && `${e.code} ${e.field}`;
    };
    expect(await check(await record({}, 2, 2_000n))).toBeUndefined(); // two payments of 1,000: within
    expect(await check(await record({ asset: 'USD' }, 1, 10n))).toBe('CH_TERMS settlement.open.asset');
    expect(await check(await record({ cap: 100_001n }, 1, 10n))).toBe('CH_TERMS settlement.open.cap');
    expect(await check(await record({ expiresAt: now + 400 * DAY }, 1, 10n))).toBe('CH_TERMS settlement.open.expiresAt');
    expect(await check(await record({}, 2, 2_001n))).toBe('CH_LIMIT settlement'); // more than two payments could add up to
    // Another device of the pad owner, under the pad's party credential.
    const other = await nodeEd25519.signer(new Uint8Array(32).fill(42));
    const otherPayee = async (subject: string, category: string, counterparties?: string[]) => {
      const cred = await issueCredential(p.owner, {
        issuedAt: now - DAY,
        notBefore: now - DAY,
        expiresAt: now + 30 * DAY,
        role: 'device',
        issuer: 'party:pads',
        subject,
        publicKey: other.publicKey,
        limits: {},
        category,
        counterparties,
      });
      return { signer: other, chain: encodeChain([decodeChain(p.padChain)[0] as Uint8Array, cred]) };
    };
    // The drone may pay charging pads only: a kiosk of the same pad owner is not one.
    const kiosk = await otherPayee('device:kiosk', 'kiosk');
    expect(await check(await record({}, 1, 10n, kiosk))).toBe('ID_CATEGORY settlement.accept');
    // And the other way: a pad whose credential takes buses only may not be paid by a drone.
    const busPad = await otherPayee('device:bus-pad', 'charging-pad', ['bus']);
    expect(await check(await record({}, 1, 10n, busPad))).toBe('ID_CATEGORY settlement.open');
  });

  it("reads the record in place from its own copy: what it returns never aliases the caller's bytes", async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 70n));
    const record = Buffer.from(encodeSettlement(p.payee.channel(channelId)!)); // a transport's Buffer
    const { settlement, signatures } = await checkSettlement(record, { trust: new TrustStore(p.roots), now: p.clock.now });
    const chain = toHex(settlement.terms.chain);
    const held = [settlement.channelId, settlement.terms.chain, settlement.terms.payeeKid, settlement.terms.nonce];
    for (const s of signatures) held.push(s.signature, s.message);
    for (const b of held) expect(b.buffer).not.toBe(record.buffer);
    // All in one private copy (frames read in place, not copied field by field).
    expect(new Set([settlement.terms.chain, settlement.terms.payeeKid, settlement.terms.nonce].map((b) => b.buffer)).size).toBe(1);
    record.fill(0); // the caller reuses its buffer
    expect(toHex(settlement.terms.chain)).toBe(chain);
    // decodeFrame copies unless its caller says it owns the bytes.
    const open = Buffer.from(p.payee.channel(channelId)!.open);
    const copied = decodeFrame(open);
    const viewed = decodeFrame(open, true);
    if (copied.type !== 'open' || viewed.type !== 'open') throw new Error('not an open');
    expect(copied.terms.chain.buffer).not.toBe(open.buffer);
    expect(viewed.terms.chain.buffer).toBe(open.buffer);
    expect(toHex(viewed.terms.chain)).toBe(toHex(copied.terms.chain));
  });

  it('no bit flipped anywhere in a record changes what it proves; only the open signature is redundant next to a voucher', async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, payword: { length: 50, tickValue: 1n } });
    await deliver(p, frame);
    const bare = encodeSettlement(p.payee.channel(channelId)!); // no voucher yet: the open's signature counts
    await deliver(p, await p.payer.pay(channelId, 10n));
    await deliver(p, await p.payer.tick(channelId));
    const rec = encodeSettlement(p.payee.channel(channelId)!);
    const trust = new TrustStore(p.roots);
    const meaning = (v: Awaited<ReturnType<typeof verifySettlement>>) =>
      [toHex(v.channelId), v.seq, v.ticks, v.amount, v.closed, toHex(v.payer.kid), toHex(v.payee.kid), v.payee.partyId].join();
    const want = meaning(await verifySettlement(rec, { trust, now: p.clock.now }));
    // The open's signature: the voucher signs the channel id, which is the SHA-256 of the signed terms.
    const openSig = (() => {
      const o = (decode(rec) as Map<number, Uint8Array>).get(1) as Uint8Array;
      const at = Buffer.from(rec).indexOf(Buffer.from(o));
      return [at + o.length - 64, at + o.length];
    })();
    let passed = 0;
    for (let i = 0; i < rec.length; i++) {
      const t = rec.slice();
      t[i]! ^= 1 << (i % 8);
      const r = await verifySettlement(t, { trust, now: p.clock.now }).then(meaning, (e) => `rejected ${e.code}`);
      if (r.startsWith('rejected')) continue;
      expect(r, `byte ${i}`).toBe(want);
      expect(i >= openSig[0]! && i < openSig[1]!, `byte ${i} passed outside the open signature`).toBe(true);
      passed++;
    }
    expect(passed).toBeLessThanOrEqual(64);
    for (let i = 0; i < bare.length; i += 3) {
      const t = bare.slice();
      t[i]! ^= 1 << (i % 8);
      expect(await codeOf(verifySettlement(t, { trust, now: p.clock.now })), `byte ${i}`).not.toBe('ok');
    }
  });

  it('a payee cannot claim more: a forged tick or a raised amount fails', async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, payword: { length: 50, tickValue: 1n } });
    await deliver(p, frame);
    await deliver(p, await p.payer.tick(channelId));
    const m = decode(encodeSettlement(p.payee.channel(channelId)!)) as Map<number, never>;
    m.set(5, [40, new Uint8Array(32).fill(1)] as never);
    expect(await codeOf(verifySettlement(encode(m), { trust: new TrustStore(p.roots), now: p.clock.now }))).toBe('CH_SETTLEMENT');
    m.delete(5);
    m.set(3, (await signVoucher(p.pad, { channelId, seq: 9, cumulative: 9_000n })) as never);
    expect(await codeOf(verifySettlement(encode(m), { trust: new TrustStore(p.roots), now: p.clock.now }))).toBe('COSE_SIGNATURE');
  });

  it('equivocation evidence verifies as two payer-signed vouchers for one seq', async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 100n));
    await p.payee.handle(await signVoucher(p.drone, { channelId, seq: 1, cumulative: 7n }));
    const v = await verifySettlement(encodeSettlement(p.payee.channel(channelId)!), { trust: new TrustStore(p.roots), now: p.clock.now });
    expect(v.equivocation?.map((x) => x.cumulative)).toEqual([100n, 7n]);
  });

  it('closing a metered session puts a verifiable record in both outboxes, by themselves', async () => {
    const [padOutbox, droneOutbox] = [new MemoryOutbox(), new MemoryOutbox()];
    const p = await pair({ payeeOutbox: settlements(padOutbox), payerOutbox: settlements(droneOutbox) });
    const net = new MemoryNetwork();
    const payeeAddr = toHex(p.padKid);
    servePayee(p.payee, net.endpoint(payeeAddr));
    const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
    const id = await session.open(payeeAddr, { payeeKid: p.padKid, cap: 1_000n, unitPrice: 5n });
    new MeteredService({ payee: p.payee, channelId: id, unitPrice: 5n, creditUnits: 2 });
    const meter = new MeteredPayer({ session, address: payeeAddr, channelId: id, unitPrice: 5n, aheadUnits: 1 });
    await meter.consumed(9);
    await meter.close();
    await vi.waitFor(async () => expect((await padOutbox.size()) + (await droneOutbox.size())).toBe(2));
    const trust = new TrustStore(p.roots);
    for (const o of [padOutbox, droneOutbox]) {
      const [entry] = await o.pending();
      expect((await verifySettlement(entry!.bytes, { trust, now: p.clock.now })).amount).toBe(50n);
    }
  });
});

describe('chain cache', () => {
  it('verifies a chain once, but a revocation after caching still refuses it', async () => {
    const { signRevocationList } = await import('../../src/identity/revocation.js');
    const { coseKeyThumbprint } = await import('../../src/codec/cose-key.js');
    const { nodeEd25519 } = await import('../../src/crypto/node.js');
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 10n));
    const rec = encodeSettlement(p.payee.channel(channelId)!);
    const trust = new TrustStore(p.roots);
    const chains = new ChainCache().batch(new Map(), new Map());
    expect((await verifySettlement(rec, { trust, now: p.clock.now, chains })).amount).toBe(10n);
    const fleet = await nodeEd25519.signer(new Uint8Array(32).fill(2));
    const { decodeChain } = await import('../../src/identity/credential.js');
    // A ledger never learns parties from the chains it meets: a party's list comes with its credential.
    const revoke = async (version: number, revokedAt: number) =>
      trust.applyRevocationList(
        await signRevocationList(fleet, {
          issuer: 'party:fleet',
          version,
          issuedAt: p.clock.now,
          entries: [{ kid: coseKeyThumbprint(p.drone.publicKey), revokedAt }],
        }),
        { partyCredential: decodeChain(p.droneChain)[0] as Uint8Array },
      );
    // Revoked from a later time: a record judged now still stands (from the cache).
    await revoke(1, p.clock.now + 100);
    expect((await verifySettlement(rec, { trust, now: p.clock.now, chains })).amount).toBe(10n);
    expect(await codeOf(verifySettlement(rec, { trust, now: p.clock.now, revocationAt: p.clock.now + 100, chains }))).toBe('ID_REVOKED');
    await revoke(2, p.clock.now - 10);
    expect(await codeOf(verifySettlement(rec, { trust, now: p.clock.now, chains }))).toBe('ID_REVOKED');
  });

  it('a chain whose signatures a store vouched for is cached the second time it comes; one checked now, at once', async () => {
    const p = await pair();
    const trust = new TrustStore(p.roots);
    const opts = { trust, now: p.clock.now };
    const cache = new ChainCache();
    // What a ledger does: take the deferred checks, then say they verified, `stored` when its store knew the chain.
    const meet = async (chain: Uint8Array, stored: boolean) => {
      const checks: SignatureCheck[] = [];
      await cache.verify(chain, opts, checks);
      for (const c of checks) c.verified?.(stored);
      return checks.length;
    };
    expect(await meet(p.droneChain, true)).toBe(2); // once: decoded and checked, not kept
    expect(await meet(p.droneChain, true)).toBe(2); // twice: kept
    expect(await meet(p.droneChain, true)).toBe(0); // from the cache
    expect(await meet(p.padChain, false)).toBe(2); // verified now: kept at once
    expect(await meet(p.padChain, false)).toBe(0);
    // A chain's key is remembered with the chain, found again from a view into a larger buffer.
    const view = Buffer.concat([Buffer.alloc(5), p.padChain]).subarray(5);
    expect(cache.keyFor(view)).toBe(ChainCache.keyOf(p.padChain));
  });

  it('gives every chain its own key, remembered or not, and a lookalike (same length and last bytes) too', async () => {
    const p = await pair();
    const cache = new ChainCache(50);
    const opts = { trust: new TrustStore(p.roots), now: p.clock.now };
    await cache.verify(p.droneChain, opts); // cached, key remembered
    const chains: Uint8Array[] = [p.droneChain];
    for (let i = 0; i < 120; i++) {
      // Every third one a lookalike of the one before: same length, same tail, one byte different.
      const before = chains[chains.length - 1] as Uint8Array;
      const c = i % 3 === 2 ? new Uint8Array(before) : new Uint8Array(randomBytes(300 + (i % 7)));
      if (i % 3 === 2) c[i % 50] = (c[i % 50] as number) ^ 1;
      chains.push(c);
    }
    for (let round = 0; round < 3; round++)
      for (const c of chains) {
        const view = Buffer.concat([Buffer.alloc(5), c]).subarray(5); // a view into a larger buffer
        expect(cache.keyFor(view)).toBe(ChainCache.keyOf(c));
      }
  });
});
