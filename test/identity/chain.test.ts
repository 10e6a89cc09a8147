import { coseVerify } from 'cose-kit';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { signSign1 } from '../../src/codec/cose-sign1.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { type ChainVerifyOptions, verifyChain } from '../../src/identity/chain.js';
import { credentialClaimsMap } from '../../src/identity/claims.js';
import { encodeChain, issueCredential } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { keyObjects } from '../codec/helpers.js';
import { DAY, ISSUER_ID, seed, T0, world } from './world.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return `${(e as { code?: string }).code ?? e}@${(e as { field?: string }).field ?? ''}`;
  }
}

const at = (now: number, extra: Partial<ChainVerifyOptions> = {}) => ({ now, ...extra });

describe('credential chain', () => {
  it('verifies offline and returns the effective limits (device narrows, inherits the rest)', async () => {
    const w = await world();
    const v = await verifyChain([w.partyCred, w.deviceCred], {
      trust: w.trust,
      now: T0 + DAY,
      expectedKey: w.device.publicKey,
      counterpartyCategory: 'charging-pad',
    });
    expect(v.limits).toEqual({
      asset: 'EUR',
      perPayment: 100n,
      perChannel: 10_000n,
      perPeriod: 100_000n,
      periodSeconds: DAY,
      totalOutstanding: 50_000n,
    });
    expect(v.counterparties).toEqual(['charging-pad']);
    expect(v.paymentRef).toBe('tok_4f2a9c');
    expect(v.validUntil).toBe(T0 + 30 * DAY);
    expect(toHex(v.kid)).toBe(toHex(coseKeyThumbprint(w.device.publicKey)));
    expect(v.device.claims.device).toEqual({ model: 'X4', serial: 'SN-0001' });
    // The same chain, encoded as it travels.
    expect((await verifyChain(encodeChain([w.partyCred, w.deviceCred]), { trust: w.trust, now: T0 + DAY })).kid).toEqual(v.kid);
  });

  it('allows clock skew at both ends of the window, and no more', async () => {
    const w = await world();
    const chain = [w.partyCred, w.deviceCred];
    const exp = T0 + 30 * DAY;
    expect(await codeOf(verifyChain(chain, { trust: w.trust, ...at(T0 - 299) }))).toBe('ok');
    expect(await codeOf(verifyChain(chain, { trust: w.trust, ...at(T0 - 301) }))).toBe('ID_NOT_YET_VALID@party.nbf');
    expect(await codeOf(verifyChain(chain, { trust: w.trust, ...at(exp + 299) }))).toBe('ok');
    expect(await codeOf(verifyChain(chain, { trust: w.trust, ...at(exp + 300) }))).toBe('ID_EXPIRED@device.exp');
    expect(await codeOf(verifyChain(chain, { trust: w.trust, ...at(exp + 10, { skewSeconds: 0 }) }))).toBe('ID_EXPIRED@device.exp');
  });

  it.each<
    [
      string,
      string,
      () => Promise<{
        chain: Uint8Array[];
        trust: import('../../src/identity/trust-store.js').TrustStore;
        opts?: Partial<ChainVerifyOptions>;
      }>,
    ]
  >([
    [
      'not yet valid',
      'ID_NOT_YET_VALID@device.nbf',
      async () => {
        const w = await world({ device: { notBefore: T0 + 10 * DAY } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'expired party',
      'ID_EXPIRED@party.exp',
      async () => {
        const w = await world({ party: { expiresAt: T0 + 2 * DAY }, device: { expiresAt: T0 + 2 * DAY } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust, opts: { now: T0 + 3 * DAY } };
      },
    ],
    [
      'wrong issuer (untrusted key)',
      'ID_UNKNOWN_ISSUER@party.protected.kid',
      async () => {
        const w = await world();
        const rogue = await nodeEd25519.signer(seed(9));
        return { chain: [await issueCredential(rogue, w.partyClaims), w.deviceCred], trust: w.trust };
      },
    ],
    [
      'iss not the signing issuer',
      'ID_ISSUER_MISMATCH@party.iss',
      async () => {
        const w = await world({ party: { issuer: 'network:other' } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'device iss not its party',
      'ID_ISSUER_MISMATCH@device.iss',
      async () => {
        const w = await world({ device: { issuer: 'party:someone-else' } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'self-signed party',
      'ID_SELF_SIGNED@party.protected.kid',
      async () => {
        const w = await world();
        return { chain: [await issueCredential(w.party, w.partyClaims), w.deviceCred], trust: w.trust };
      },
    ],
    [
      'self-signed device',
      'ID_SELF_SIGNED@device.protected.kid',
      async () => {
        const w = await world();
        return { chain: [w.partyCred, await issueCredential(w.device, w.deviceClaims)], trust: w.trust };
      },
    ],
    [
      'widened per-payment limit',
      'ID_LIMITS_WIDENED@device.limits.perPayment',
      async () => {
        const w = await world({ device: { limits: { perPayment: 501n } } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'other asset',
      'ID_LIMITS_WIDENED@device.limits.asset',
      async () => {
        const w = await world({ device: { limits: { asset: 'USD' } } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'shorter period (spends faster)',
      'ID_LIMITS_WIDENED@device.limits.periodSeconds',
      async () => {
        const w = await world({ device: { limits: { periodSeconds: 3600 } } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'extra counterparty category',
      'ID_LIMITS_WIDENED@device.counterparties',
      async () => {
        const w = await world({ device: { counterparties: ['charging-pad', 'casino'] } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'outliving its party',
      'ID_OUTLIVES_PARENT@device.exp',
      async () => {
        const w = await world({ party: { expiresAt: T0 + 10 * DAY } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'wrong cnf (another key in use)',
      'ID_CNF@device.cnf',
      async () => {
        const w = await world();
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust, opts: { expectedKey: w.issuer.publicKey } };
      },
    ],
    [
      'kid not the party key',
      'ID_KID_MISMATCH@device.protected.kid',
      async () => {
        const w = await world();
        const bad = await signSign1(encode(credentialClaimsMap(w.deviceClaims)), w.party, {
          kid: coseKeyThumbprint(w.issuer.publicKey),
          contentType: 61,
        });
        return { chain: [w.partyCred, bad], trust: w.trust };
      },
    ],
    [
      'signed by another key under the party kid',
      'COSE_SIGNATURE@signature',
      async () => {
        const w = await world();
        const bad = await signSign1(encode(credentialClaimsMap(w.deviceClaims)), w.issuer, {
          kid: coseKeyThumbprint(w.party.publicKey),
          contentType: 61,
        });
        return { chain: [w.partyCred, bad], trust: w.trust };
      },
    ],
    [
      'unknown critical claim',
      'ID_CRITICAL_CLAIM@claims.edgepay.crit',
      async () => {
        const w = await world({ device: { critical: [-70000] } });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'roles swapped',
      'ID_ROLE@party.role',
      async () => {
        const w = await world();
        return { chain: [w.deviceCred, w.partyCred], trust: w.trust };
      },
    ],
    [
      'counterparty category not allowed',
      'ID_CATEGORY@device.counterparties',
      async () => {
        const w = await world();
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust, opts: { counterpartyCategory: 'toll-gate' } };
      },
    ],
    [
      'stale revocation list under a staleness policy',
      'ID_REVOCATION_STALE@party',
      async () => {
        const w = await world();
        await w.trust.applyRevocationList(await signRevocationList(w.issuer, { issuer: ISSUER_ID, version: 1, issuedAt: T0, entries: [] }));
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust, opts: { now: T0 + 2 * DAY, maxRevocationAgeSeconds: DAY } };
      },
    ],
    [
      'no revocation list at all under a staleness policy',
      'ID_REVOCATION_STALE@party',
      async () => {
        const w = await world();
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust, opts: { maxRevocationAgeSeconds: DAY } };
      },
    ],
    [
      'revoked device',
      'ID_REVOKED@device',
      async () => {
        const w = await world();
        const list = await signRevocationList(w.party, {
          issuer: 'party:fleet',
          version: 1,
          issuedAt: T0,
          entries: [{ kid: coseKeyThumbprint(w.device.publicKey), revokedAt: T0 }],
        });
        await w.trust.applyRevocationList(list, { partyCredential: w.partyCred });
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
    [
      'revoked party (all its devices fall)',
      'ID_REVOKED@party',
      async () => {
        const w = await world();
        await w.trust.applyRevocationList(
          await signRevocationList(w.issuer, {
            issuer: ISSUER_ID,
            version: 1,
            issuedAt: T0,
            entries: [{ kid: coseKeyThumbprint(w.party.publicKey), revokedAt: T0 }],
          }),
        );
        return { chain: [w.partyCred, w.deviceCred], trust: w.trust };
      },
    ],
  ])('rejects %s with %s', async (_name, expected, make) => {
    const { chain, trust, opts } = await make();
    expect(await codeOf(verifyChain(chain, { trust, now: T0 + DAY, ...opts }))).toBe(expected);
  });

  it('one-byte tampering anywhere in either credential is rejected', async () => {
    const w = await world();
    for (const which of [0, 1]) {
      const good = [w.partyCred, w.deviceCred];
      const target = good[which] as Uint8Array;
      for (let i = 0; i < target.length; i++) {
        const t = target.slice();
        t[i]! ^= 1 << (i % 8);
        const chain = [...good];
        chain[which] = t;
        expect(await codeOf(verifyChain(chain, { trust: w.trust, now: T0 + DAY })), `credential ${which} byte ${i}`).not.toBe('ok');
      }
    }
  });

  it('an independent COSE library (cose-kit) verifies credentials with the issuer and party keys', async () => {
    const w = await world();
    expect((await coseVerify(w.partyCred, keyObjects(seed(1), w.issuer.publicKey).publicKey)).isValid).toBe(true);
    expect((await coseVerify(w.deviceCred, keyObjects(seed(2), w.party.publicKey).publicKey)).isValid).toBe(true);
    expect((await coseVerify(w.deviceCred, keyObjects(seed(1), w.issuer.publicKey).publicKey)).isValid).toBe(false);
  });
});
