import { describe, expect, it } from 'vitest';
import { encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { signSign1 } from '../../src/codec/cose-sign1.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { verifyChain } from '../../src/identity/chain.js';
import { issueCredential } from '../../src/identity/credential.js';
import { decodeRevocationList, REVOCATION_CONTENT_TYPE, signRevocationList } from '../../src/identity/revocation.js';
import { memoryPersistence, TrustStore } from '../../src/identity/trust-store.js';
import { codeOf } from '../codes.js';
import { DAY, ISSUER_ID, seed, T0, world } from './world.js';

const kidOf = (n: number) => nodeEd25519.getPublicKey(seed(n)).then(coseKeyThumbprint);

describe('revocation lists', () => {
  it('versions only move forward; deltas apply on exactly their base; a full list replaces', async () => {
    const w = await world();
    const [a, b] = [await kidOf(20), await kidOf(21)];
    const list = (version: number, entries: Uint8Array[], base?: number) =>
      signRevocationList(w.issuer, {
        issuer: ISSUER_ID,
        version,
        issuedAt: T0 + version,
        base,
        entries: entries.map((kid) => ({ kid, revokedAt: T0 })),
      });
    const root = coseKeyThumbprint(w.issuer.publicKey);
    expect(await w.trust.applyRevocationList(await list(2, [a]))).toBe('applied');
    expect(await w.trust.applyRevocationList(await list(1, []))).toBe('stale');
    expect(await w.trust.applyRevocationList(await list(2, []))).toBe('stale');
    expect(w.trust.revocation(root)?.revokedAt(a)).toBe(T0);
    expect(await w.trust.applyRevocationList(await list(3, [b], 2))).toBe('applied');
    expect(w.trust.revocation(root)?.revokedAt(b)).toBe(T0);
    expect(w.trust.revocation(root)?.revokedAt(a)).toBe(T0);
    expect(await codeOf(w.trust.applyRevocationList(await list(5, [], 4)))).toBe('ID_REVOCATION_GAP');
    expect(await w.trust.applyRevocationList(await list(6, [a]))).toBe('applied');
    expect(w.trust.revocation(root)?.revokedAt(b)).toBeUndefined();
    expect(w.trust.revocation(root)?.version).toBe(6);
    expect(w.trust.age(root, T0 + 100)).toBe(94);
  });

  it('persists and restores, verifying again; a tampered store does not load', async () => {
    const w = await world();
    const persistence = memoryPersistence();
    const trust = await TrustStore.open([{ id: ISSUER_ID, publicKey: w.issuer.publicKey }], persistence);
    await verifyChain([w.partyCred, w.deviceCred], { trust, now: T0 + DAY });
    const deviceKid = coseKeyThumbprint(w.device.publicKey);
    await trust.applyRevocationList(
      await signRevocationList(w.party, {
        issuer: 'party:fleet',
        version: 7,
        issuedAt: T0,
        entries: [{ kid: deviceKid, revokedAt: T0 + 5 }],
      }),
    );
    const reopened = await TrustStore.open([{ id: ISSUER_ID, publicKey: w.issuer.publicKey }], persistence);
    expect(reopened.revocation(coseKeyThumbprint(w.party.publicKey))?.version).toBe(7);
    expect(await codeOf(verifyChain([w.partyCred, w.deviceCred], { trust: reopened, now: T0 + DAY }))).toBe('ID_REVOKED');
    const bytes = persistence.bytes as Uint8Array;
    bytes[bytes.length - 3]! ^= 1; // inside the last list's signature
    expect(await codeOf(TrustStore.open([{ id: ISSUER_ID, publicKey: w.issuer.publicKey }], persistence))).not.toBe('ok');
  });

  it('rejects lists by unknown signers, naming another authority, or malformed', async () => {
    const w = await world();
    const rogue = await nodeEd25519.signer(seed(9));
    expect(
      await codeOf(
        w.trust.applyRevocationList(await signRevocationList(rogue, { issuer: ISSUER_ID, version: 1, issuedAt: T0, entries: [] })),
      ),
    ).toBe('ID_UNKNOWN_ISSUER');
    expect(
      await codeOf(
        w.trust.applyRevocationList(await signRevocationList(w.issuer, { issuer: 'network:other', version: 1, issuedAt: T0, entries: [] })),
      ),
    ).toBe('ID_ISSUER_MISMATCH');
    const unsorted = encode(
      new Map<number, never>([
        [1, ISSUER_ID as never],
        [2, 1 as never],
        [3, T0 as never],
        [5, [new Uint8Array(8).fill(2), 1, new Uint8Array(8).fill(1), 1] as never],
      ]),
    );
    const signed = await signSign1(unsorted, w.issuer, {
      kid: coseKeyThumbprint(w.issuer.publicKey),
      contentType: REVOCATION_CONTENT_TYPE,
    });
    expect(() => decodeRevocationList(signed)).toThrow(expect.objectContaining({ code: 'ID_REVOCATION_LIST' }));
    expect(() => decodeRevocationList(w.partyCred)).toThrow(expect.objectContaining({ code: 'ID_REVOCATION_LIST' }));
  });

  it('one-byte tampering anywhere in a list is rejected', async () => {
    const w = await world();
    const list = await signRevocationList(w.issuer, {
      issuer: ISSUER_ID,
      version: 3,
      issuedAt: T0,
      entries: [
        { kid: await kidOf(30), revokedAt: T0 },
        { kid: await kidOf(31), revokedAt: T0 + 9 },
      ],
    });
    for (let i = 0; i < list.length; i++) {
      const t = list.slice();
      t[i]! ^= 1 << (i % 8);
      const trust = new TrustStore([{ id: ISSUER_ID, publicKey: w.issuer.publicKey }]);
      expect(await codeOf(trust.applyRevocationList(t)), `byte ${i}`).not.toBe('ok');
    }
  });

  it('key rotation: the old key is revoked from the rotation time; what it signed before stays verifiable', async () => {
    const w = await world();
    const T1 = T0 + 10 * DAY;
    const newKey = await nodeEd25519.signer(seed(40));
    const newCred = await issueCredential(w.party, { ...w.deviceClaims, publicKey: newKey.publicKey, issuedAt: T1, notBefore: T1 });
    const list = await signRevocationList(w.party, {
      issuer: 'party:fleet',
      version: 1,
      issuedAt: T1,
      entries: [{ kid: coseKeyThumbprint(w.device.publicKey), revokedAt: T1 }],
    });
    await w.trust.applyRevocationList(list, { partyCredential: w.partyCred });
    const old = [w.partyCred, w.deviceCred];
    expect(await codeOf(verifyChain(old, { trust: w.trust, now: T1 + DAY }))).toBe('ID_REVOKED');
    // A payment the old key signed at T1 - 1 is judged as of then: still valid for settlement.
    expect(await codeOf(verifyChain(old, { trust: w.trust, now: T1 + DAY, revocationAt: T1 - 1 }))).toBe('ok');
    expect(await codeOf(verifyChain([w.partyCred, newCred], { trust: w.trust, now: T1 + DAY, expectedKey: newKey.publicKey }))).toBe('ok');
  });

  it('10,000 revoked devices fit in one list of about 140 KB that decodes and applies', async () => {
    const w = await world();
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      kid: new Uint8Array(32).map((_, j) => (i * 31 + j * 7 + (i >> 8)) & 0xff).map((b, j) => (j < 2 ? (i >> (8 * j)) & 0xff : b)),
      revokedAt: T0 + i,
    }));
    const list = await signRevocationList(w.party, { issuer: 'party:fleet', version: 1, issuedAt: T0, entries });
    expect(list.length).toBeLessThan(150_000);
    expect(list.length).toBeGreaterThan(130_000);
    await w.trust.applyRevocationList(list, { partyCredential: w.partyCred });
    expect(w.trust.revocation(coseKeyThumbprint(w.party.publicKey))?.revokedAt(entries[1234]!.kid)).toBe(T0 + 1234);
  });
});
