/** A small fixed world for identity tests: one issuer, one party, one device, on a fixed clock. */
import type { Signer } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import type { CredentialClaims } from '../../src/identity/claims.js';
import { issueCredential } from '../../src/identity/credential.js';
import { TrustStore } from '../../src/identity/trust-store.js';

export const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
export const DAY = 86_400;
export const ISSUER_ID = 'network:test';

export const seed = (n: number) => new Uint8Array(32).fill(n);

export interface World {
  issuer: Signer;
  party: Signer;
  device: Signer;
  partyClaims: CredentialClaims;
  deviceClaims: CredentialClaims;
  partyCred: Uint8Array;
  deviceCred: Uint8Array;
  trust: TrustStore;
}

export async function world(edit: { party?: Partial<CredentialClaims>; device?: Partial<CredentialClaims> } = {}): Promise<World> {
  const issuer = await nodeEd25519.signer(seed(1));
  const party = await nodeEd25519.signer(seed(2));
  const device = await nodeEd25519.signer(seed(3));
  const partyClaims: CredentialClaims = {
    role: 'party',
    issuer: ISSUER_ID,
    subject: 'party:fleet',
    publicKey: party.publicKey,
    issuedAt: T0,
    notBefore: T0,
    expiresAt: T0 + 365 * DAY,
    limits: { asset: 'EUR', perPayment: 500n, perChannel: 10_000n, perPeriod: 100_000n, periodSeconds: DAY, totalOutstanding: 50_000n },
    category: 'fleet-operator',
    counterparties: ['charging-pad', 'toll-gate'],
    paymentRef: 'tok_4f2a9c',
    ...edit.party,
  };
  const deviceClaims: CredentialClaims = {
    role: 'device',
    issuer: 'party:fleet',
    subject: 'device:drone-1',
    publicKey: device.publicKey,
    issuedAt: T0,
    notBefore: T0,
    expiresAt: T0 + 30 * DAY,
    limits: { perPayment: 100n },
    category: 'drone',
    counterparties: ['charging-pad'],
    device: { model: 'X4', serial: 'SN-0001' },
    ...edit.device,
  };
  return {
    issuer,
    party,
    device,
    partyClaims,
    deviceClaims,
    partyCred: await issueCredential(issuer, partyClaims),
    deviceCred: await issueCredential(party, deviceClaims),
    trust: new TrustStore([{ id: ISSUER_ID, publicKey: issuer.publicKey }]),
  };
}

/** A minimal party credential for `subject` with the key from `secret`, issued by `w`'s issuer (a day long). */
export async function partyCredential(w: Pick<World, 'issuer'>, subject: string, secret: Uint8Array): Promise<Uint8Array> {
  return issueCredential(w.issuer, {
    role: 'party',
    issuer: ISSUER_ID,
    subject,
    publicKey: (await nodeEd25519.signer(secret)).publicKey,
    issuedAt: T0,
    notBefore: T0,
    expiresAt: T0 + DAY,
    limits: { asset: 'EUR', perPayment: 1n, perChannel: 1n, perPeriod: 1n, periodSeconds: 60, totalOutstanding: 1n },
    category: 'owner',
  });
}
