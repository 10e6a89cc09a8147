/** Devices for benchmarks: an issuer, two parties, and any number of payer/payee device pairs. */

import { Payee } from '../src/channel/payee.js';
import { Payer } from '../src/channel/payer.js';
import { type ChannelStore, MemoryChannelStore } from '../src/channel/store.js';
import type { Signer } from '../src/crypto/ed25519.js';
import { sha256 } from '../src/crypto/hash.js';
import { createEs256Signer, createSigner } from '../src/crypto/index.js';
import type { Limits } from '../src/identity/claims.js';
import { encodeChain, issueCredential } from '../src/identity/credential.js';
import { openDevice } from '../src/identity/device.js';
import { TrustStore } from '../src/identity/trust-store.js';

export const NOW = 1_767_225_600 + 86_400;
const LIMITS: Limits = {
  asset: 'EUR',
  perPayment: 1_000_000n,
  perChannel: 10n ** 15n,
  perPeriod: 10n ** 15n,
  periodSeconds: 86_400,
  totalOutstanding: 10n ** 15n,
};

export interface BenchPair {
  payer: Payer;
  payee: Payee;
  payeeKid: Uint8Array;
  payerAddr: string;
  payeeAddr: string;
}

/** Keys derived from names, so another thread or process can rebuild the same devices. */
const key = (name: string, es256 = false) => {
  const seed = sha256(new TextEncoder().encode(`edgepay-bench:${name}`));
  return es256 ? createEs256Signer(seed) : createSigner(seed);
};

/** The bench world's trust roots (its network issuer). */
export async function benchRoots(): Promise<{ id: string; publicKey: Uint8Array }[]> {
  return [{ id: 'net', publicKey: (await key('issuer')).publicKey }];
}

export async function benchPairs(
  n: number,
  stores: () => { payer: ChannelStore; payee: ChannelStore } = () => ({ payer: new MemoryChannelStore(), payee: new MemoryChannelStore() }),
  /** The payers' keys: Ed25519 (default), or ES256 as on a P-256 secure element. */
  payerAlg: 'EdDSA' | 'ES256' = 'EdDSA',
): Promise<BenchPair[]> {
  const issuer = await key('issuer');
  const [fleet, owner] = [await key('fleet'), await key('owner')];
  const base = { issuedAt: NOW - 86_400, notBefore: NOW - 86_400, expiresAt: NOW + 365 * 86_400 };
  const partyA = await issueCredential(issuer, {
    ...base,
    role: 'party',
    issuer: 'net',
    subject: 'party:a',
    publicKey: fleet.publicKey,
    limits: LIMITS,
    category: 'fleet',
  });
  const partyB = await issueCredential(issuer, {
    ...base,
    role: 'party',
    issuer: 'net',
    subject: 'party:b',
    publicKey: owner.publicKey,
    limits: LIMITS,
    category: 'owner',
  });
  const roots = [{ id: 'net', publicKey: issuer.publicKey }];
  const device = async (party: Signer, partyId: string, partyCred: Uint8Array, category: string, i: number) => {
    const s = await key(`${category}-${i}`, category === 'drone' && payerAlg === 'ES256');
    const cred = await issueCredential(party, {
      ...base,
      role: 'device',
      issuer: partyId,
      subject: `device:${category}-${i}`,
      publicKey: s.publicKey,
      limits: {},
      category,
    });
    return { signer: s, chain: encodeChain([partyCred, cred]) };
  };
  const out: BenchPair[] = [];
  for (let i = 0; i < n; i++) {
    const d = await device(fleet, 'party:a', partyA, 'drone', i);
    const p = await device(owner, 'party:b', partyB, 'pad', i);
    const trust = new TrustStore(roots);
    const st = stores();
    const payerDevice = await openDevice({ ...d, trust, now: NOW });
    const payeeDevice = await openDevice({ ...p, trust: new TrustStore(roots), now: NOW });
    const payeeKid = payeeDevice.kid;
    const payer = new Payer({ device: payerDevice, trust, store: st.payer, now: () => NOW });
    const payee = new Payee({ device: payeeDevice, trust: new TrustStore(roots), store: st.payee, now: () => NOW });
    out.push({
      payer,
      payee,
      payeeKid,
      payerAddr: Buffer.from(payer.kid).toString('hex'),
      payeeAddr: Buffer.from(payeeKid).toString('hex'),
    });
  }
  return out;
}
