/**
 * `npm run bench -- identity`: credential-chain verification against its raw limit (two bare Ed25519
 * verifies, measured in the same run), and the sizes of credentials and revocation lists.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { concatBytes } from '../src/bytes.js';
import { coseKeyThumbprint } from '../src/codec/cose-key.js';
import { SPKI_PREFIX } from '../src/crypto/ed25519.js';
import { nodeEd25519 } from '../src/crypto/node.js';
import { verifyChain } from '../src/identity/chain.js';
import { encodeChain, issueCredential } from '../src/identity/credential.js';
import { signRevocationList } from '../src/identity/revocation.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { opsPerSecond, report } from './harness.js';

export async function benchIdentity(): Promise<void> {
  const T0 = 1_767_225_600;
  const [issuer, party, device] = await Promise.all([1, 2, 3].map((n) => nodeEd25519.signer(new Uint8Array(32).fill(n))));
  const base = { issuedAt: T0, notBefore: T0, category: 'x' };
  const partyCred = await issueCredential(issuer as never, {
    ...base,
    role: 'party',
    issuer: 'network',
    subject: 'party:fleet',
    publicKey: (party as { publicKey: Uint8Array }).publicKey,
    expiresAt: T0 + 365 * 86_400,
    limits: { asset: 'EUR', perPayment: 500n, perChannel: 10_000n, perPeriod: 100_000n, periodSeconds: 86_400, totalOutstanding: 50_000n },
    paymentRef: 'tok_4f2a9c',
  });
  const deviceCred = await issueCredential(party as never, {
    ...base,
    role: 'device',
    issuer: 'party:fleet',
    subject: 'device:drone-1',
    publicKey: (device as { publicKey: Uint8Array }).publicKey,
    expiresAt: T0 + 30 * 86_400,
    limits: { perPayment: 100n },
    device: { model: 'X4', serial: 'SN-1' },
  });
  const trust = new TrustStore([{ id: 'network', publicKey: (issuer as { publicKey: Uint8Array }).publicKey }]);
  const chain = [partyCred, deviceCred];

  const pk = createPublicKey({
    key: Buffer.from(concatBytes(SPKI_PREFIX, (party as { publicKey: Uint8Array }).publicKey)),
    format: 'der',
    type: 'spki',
  });
  const msg = new Uint8Array(200);
  const sig = await (party as { sign: (m: Uint8Array) => Promise<Uint8Array> }).sign(msg);
  const rawVerify = await opsPerSecond(() => nodeVerify(null, msg, pk, sig));
  report('identity.chain.verify', await opsPerSecond(() => verifyChain(chain, { trust, now: T0 + 86_400 })), 'chains/s', rawVerify / 2);

  report('identity.credential.party.bytes', partyCred.length, 'bytes');
  report('identity.credential.device.bytes', deviceCred.length, 'bytes');
  report('identity.chain.bytes', encodeChain(chain).length, 'bytes');
  const kids = Array.from({ length: 10_000 }, (_, i) =>
    coseKeyThumbprint(new Uint8Array(32).map((_, j) => (i * 131 + j * 17 + (i >> 7)) & 0xff)),
  );
  const full = await signRevocationList(party as never, {
    issuer: 'party:fleet',
    version: 1,
    issuedAt: T0,
    entries: kids.map((kid, i) => ({ kid, revokedAt: T0 + i })),
  });
  report('identity.revocation.10000.bytes', full.length, 'bytes');
  const delta = await signRevocationList(party as never, {
    issuer: 'party:fleet',
    version: 2,
    base: 1,
    issuedAt: T0,
    entries: kids.slice(0, 100).map((kid) => ({ kid, revokedAt: T0 })),
  });
  report('identity.revocation.delta100.bytes', delta.length, 'bytes');
}
