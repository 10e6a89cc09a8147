/**
 * The identity objects shown in docs/wire-format.md, made from fixed inputs (RFC 8032 keys, fixed times)
 * so that anyone can reproduce them byte for byte. `npx tsx test/identity/examples.ts` prints them.
 */
import { fromHex, toHex } from '../../src/bytes.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { encodeChain, issueCredential } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';

export const RFC_KEYS = {
  issuer: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  party: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  device: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
};
const T0 = 1_767_225_600;

export async function examples(): Promise<Record<string, string>> {
  const [issuer, party, device] = await Promise.all(
    [RFC_KEYS.issuer, RFC_KEYS.party, RFC_KEYS.device].map((k) => nodeEd25519.signer(fromHex(k))),
  );
  const partyCred = await issueCredential(issuer!, {
    role: 'party',
    issuer: 'network:example',
    subject: 'party:fleet',
    publicKey: party!.publicKey,
    issuedAt: T0,
    notBefore: T0,
    expiresAt: T0 + 365 * 86_400,
    limits: { asset: 'EUR', perPayment: 500n, perChannel: 10_000n, perPeriod: 100_000n, periodSeconds: 86_400, totalOutstanding: 50_000n },
    category: 'fleet-operator',
    counterparties: ['charging-pad'],
    paymentRef: 'tok_4f2a9c',
  });
  const deviceCred = await issueCredential(party!, {
    role: 'device',
    issuer: 'party:fleet',
    subject: 'device:drone-1',
    publicKey: device!.publicKey,
    issuedAt: T0,
    notBefore: T0,
    expiresAt: T0 + 30 * 86_400,
    limits: { perPayment: 100n },
    category: 'drone',
    device: { model: 'X4', serial: 'SN-0001' },
  });
  const list = await signRevocationList(party!, {
    issuer: 'party:fleet',
    version: 1,
    issuedAt: T0 + 86_400,
    entries: [{ kid: coseKeyThumbprint(device!.publicKey), revokedAt: T0 + 86_400 }],
  });
  return {
    'party credential': toHex(partyCred),
    'device credential': toHex(deviceCred),
    chain: toHex(encodeChain([partyCred, deviceCred])),
    'revocation list': toHex(list),
  };
}

if (process.argv[1]?.endsWith('identity/examples.ts')) for (const [k, v] of Object.entries(await examples())) console.log(`${k}:\n${v}\n`);
