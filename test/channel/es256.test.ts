/**
 * A device with an ES256 (P-256) key, as on a secure element that does only P-256, vouched for by an
 * Ed25519 party: it opens a channel, pays, closes, and the ledger settles it; its chain verifies with
 * mixed algorithms; a message whose header names another algorithm than its key's is refused.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../../src/codec/cose-sign1.js';
import { createEs256Signer, createSigner } from '../../src/crypto/index.js';
import { verifyChain } from '../../src/identity/chain.js';
import { encodeChain, issueCredential } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { decodeChainFacts } from '../../src/ledger/chain-facts.js';
import { openPglite } from '../../src/ledger/db.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { signSubmission } from '../../src/sync/submission.js';
import { codeOf } from '../codes.js';
import { startLedger } from '../sync/world.js';
import { deliver, pair } from './world.js';

describe('ES256 devices beside Ed25519 ones', () => {
  it('an ES256 drone pays an Ed25519 pad through a whole channel, and the ledger settles it', async () => {
    const drone = await createEs256Signer();
    expect(drone.publicKey.length).toBe(65);
    const p = await pair({ droneSigner: drone });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 100n });
    expect(decodeSign1(frame.subarray(frame.indexOf(0xd2))).alg).toBe(-7);
    await deliver(p, frame);
    for (let i = 0; i < 10; i++) await deliver(p, await p.payer.pay(channelId, 10n));
    await deliver(p, await p.payer.close(channelId));
    expect(p.payee.channel(channelId)).toMatchObject({ cumulative: 100n, state: 'closed' });
    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    try {
      // The drone submits its own record (signed ES256), and the pad its copy: money moves once.
      const mine = await signSubmission(p.drone, p.droneChain, [encodeSettlement(p.payer.channel(channelId)!)], p.clock.now);
      const theirs = await signSubmission(p.pad, p.padChain, [encodeSettlement(p.payee.channel(channelId)!)], p.clock.now);
      await w.service.submit(mine);
      await w.service.submit(theirs);
      expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(900n);
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(100n);
      // Another ledger process on the same database knows the drone's chain from its stored facts (the
      // 65-byte key read back), and settles its next channel.
      const second = await Ledger.open({ db, signer: w.key, id: 'ledger:test', trust: new TrustStore(p.roots), now: () => p.clock.now });
      const next = await p.payer.open({ payeeKid: p.padKid, cap: 30n });
      await deliver(p, next.frame);
      await deliver(p, await p.payer.pay(next.channelId, 30n));
      const [r] = await second.submit([encodeSettlement(p.payee.channel(next.channelId)!)]);
      expect(r).toMatchObject({ status: 'accepted' });
      expect(await second.balance('party:fleet', 'EUR')).toBe(870n);
      // The facts stored for the drone's chain hold its 65-byte key, and read back as written.
      const rows = await db.query<{ facts: Uint8Array | null }>('select facts from chains where facts is not null');
      const keys = rows.map((r) => decodeChainFacts(new Uint8Array(r.facts as Uint8Array)).publicKey.length).sort();
      expect(keys).toEqual([32, 65]);
    } finally {
      await w.http.close();
      await db.close();
    }
  });

  it('a message verifies only under a key of its own algorithm', async () => {
    const es = await createEs256Signer();
    const ed = await createSigner();
    const payload = new Uint8Array([1, 2, 3]);
    const signedEs = decodeSign1(await signSign1(payload, es));
    const signedEd = decodeSign1(await signSign1(payload, ed));
    expect(toHex(await verifySign1(signedEs, es.publicKey))).toBe('010203');
    expect(await codeOf(verifySign1(signedEs, ed.publicKey))).toBe('COSE_ALG');
    expect(await codeOf(verifySign1(signedEd, es.publicKey))).toBe('COSE_ALG');
  });

  it('an ECDSA re-sign of the same voucher (a fresh nonce, other bytes) is a resend to the payee and the ledger, not equivocation', async () => {
    const drone = await createEs256Signer();
    const p = await pair({ droneSigner: drone });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 100n });
    await deliver(p, frame);
    const sent = await p.payer.pay(channelId, 40n);
    await deliver(p, sent);
    const original = decodeSign1(sent);
    const again = await signSign1(original.payload as Uint8Array, drone, {
      ...(original.contentType !== undefined ? { contentType: original.contentType } : {}),
      ...(original.kid !== undefined ? { kid: original.kid } : {}),
    });
    expect(toHex(again)).not.toBe(toHex(sent)); // ECDSA: the same content, other bytes
    expect(toHex(decodeSign1(again).protectedBytes)).toBe(toHex(original.protectedBytes));
    const answers = await deliver(p, again);
    expect(answers.length).toBe(1); // acked again
    expect(p.payee.channel(channelId)).toMatchObject({ state: 'open', cumulative: 40n });
    // The ledger: the payee's record holds the first signature, the payer's the second; money moves once.
    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    try {
      const payerCopy = { ...p.payer.channel(channelId)!, voucher: again };
      const [a] = await w.ledger.submit([encodeSettlement(p.payee.channel(channelId)!)]);
      const [b] = await w.ledger.submit([encodeSettlement(payerCopy)]);
      expect([a?.status, b?.status]).toEqual(['accepted', 'duplicate']);
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(40n);
      // Another content for the same seq is still equivocation: the Ed25519 cases in test/adversarial cover it,
      // through the same comparison of signed content.
    } finally {
      await w.http.close();
      await db.close();
    }
  });

  it('a party whose key is ES256 (in a secure element) signs a revocation list that a device applies, revoking its own device', async () => {
    const party = await createEs256Signer();
    const drone = await createSigner();
    const issuer = await createSigner();
    const now = Math.floor(Date.now() / 1000);
    const base = { issuedAt: now - 60, notBefore: now - 60, expiresAt: now + 86_400 };
    const limits = { asset: 'EUR', perPayment: 10n, perChannel: 100n, perPeriod: 1_000n, periodSeconds: 86_400, totalOutstanding: 1_000n };
    const partyCred = await issueCredential(issuer, {
      ...base,
      role: 'party',
      issuer: 'net',
      subject: 'party:p',
      publicKey: party.publicKey,
      limits,
      category: 'fleet',
    });
    const deviceCred = await issueCredential(party, {
      ...base,
      role: 'device',
      issuer: 'party:p',
      subject: 'device:d',
      publicKey: drone.publicKey,
      limits: {},
      category: 'drone',
    });
    const trust = new TrustStore([{ id: 'net', publicKey: issuer.publicKey }]);
    const chain = encodeChain([partyCred, deviceCred]);
    await verifyChain(chain, { trust, now });
    const list = await signRevocationList(party, {
      issuer: 'party:p',
      version: 1,
      issuedAt: now,
      entries: [{ kid: coseKeyThumbprint(drone.publicKey), revokedAt: now - 1 }],
    });
    expect(decodeSign1(list).alg).toBe(-7);
    expect(await trust.applyRevocationList(list, { partyCredential: partyCred })).toBe('applied');
    expect(await codeOf(verifyChain(chain, { trust, now }))).toBe('ID_REVOKED');
  });
});
