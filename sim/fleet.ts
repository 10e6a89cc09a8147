/**
 * @module sim/fleet
 * A whole network for the simulation, from a seed: an issuer, responsible parties (each certified with
 * limits and a payment reference), and their devices (each enrolled by its party), as payer/payee pairs
 * ready to talk over a transport. The same seed gives the same keys.
 */

import { toHex } from '../src/bytes.js';
import type { Signer } from '../src/crypto/ed25519.js';
import { sha256 } from '../src/crypto/hash.js';
import { getEd25519 } from '../src/crypto/index.js';
import type { Limits } from '../src/identity/claims.js';
import { encodeChain, issueCredential } from '../src/identity/credential.js';
import { type Device, openDevice } from '../src/identity/device.js';
import { type TrustRoot, TrustStore } from '../src/identity/trust-store.js';

const DAY = 86_400;

export interface PartySpec {
  id: string;
  category: string;
  paymentRef: string;
  /** The category of this party's devices and what they may pay or be paid by. */
  device: { category: string; counterparties: string[] };
}

/** The simulation's four parties: drones pay pads, vehicles pay toll gates. */
export const PARTIES: Record<'fleet' | 'pads' | 'vehicles' | 'tolls', PartySpec> = {
  fleet: {
    id: 'party:drone-fleet',
    category: 'fleet-operator',
    paymentRef: 'tok_fleet',
    device: { category: 'drone', counterparties: ['charging-pad'] },
  },
  pads: {
    id: 'party:pad-owner',
    category: 'pad-owner',
    paymentRef: 'tok_pads',
    device: { category: 'charging-pad', counterparties: ['drone'] },
  },
  vehicles: {
    id: 'party:vehicle-owner',
    category: 'vehicle-owner',
    paymentRef: 'tok_vehicles',
    device: { category: 'vehicle', counterparties: ['toll-gate'] },
  },
  tolls: {
    id: 'party:toll-operator',
    category: 'toll-operator',
    paymentRef: 'tok_tolls',
    device: { category: 'toll-gate', counterparties: ['vehicle'] },
  },
};

/** A simulated device: its name, its party and the device itself (key, chain, facts). */
export interface SimDevice {
  name: string;
  party: PartySpec;
  device: Device;
  /** Its address on the broker: its key's thumbprint, hex. */
  address: string;
}

/** A payer device and the payee device it pays. */
export interface DevicePair {
  from: SimDevice;
  to: SimDevice;
}

export interface Fleet {
  issuer: Signer;
  issuerId: string;
  roots: TrustRoot[];
  pairs: DevicePair[];
  devices: SimDevice[];
}

/** Deterministic secret keys: SHA-256 of the seed and a name. */
export const seedFor = (seed: number, name: string): Uint8Array => sha256(new TextEncoder().encode(`edgepay-sim:${seed}:${name}`));
const keyFor = async (seed: number, name: string) => (await getEd25519()).signer(seedFor(seed, name));

/** A certified party: its spec, key and credential. */
export interface SimParty {
  spec: PartySpec;
  signer: Signer;
  cred: Uint8Array;
}

/** The issuer (the one trust root) and the four parties it certified, each with `limits` for 30 days. */
export async function certifyParties(o: { seed: number; now: () => number; limits: Limits }): Promise<{
  issuer: Signer;
  issuerId: string;
  roots: TrustRoot[];
  parties: Map<string, SimParty>;
}> {
  const t = o.now();
  const validity = { issuedAt: t - 60, notBefore: t - 60, expiresAt: t + 30 * DAY };
  const issuerId = 'network:sim';
  const issuer = await keyFor(o.seed, 'issuer');
  const parties = new Map<string, SimParty>();
  for (const spec of Object.values(PARTIES)) {
    const signer = await keyFor(o.seed, spec.id);
    const cred = await issueCredential(issuer, {
      ...validity,
      role: 'party',
      issuer: issuerId,
      subject: spec.id,
      publicKey: signer.publicKey,
      limits: o.limits,
      category: spec.category,
      paymentRef: spec.paymentRef,
    });
    parties.set(spec.id, { spec, signer, cred });
  }
  return { issuer, issuerId, roots: [{ id: issuerId, publicKey: issuer.publicKey }], parties };
}

/**
 * Builds the network: `perKind` drones paying as many pads, `perKind` vehicles paying as many toll gates,
 * each device enrolled by its party and opened (its chain verified once).
 */
export async function buildFleet(o: { seed: number; perKind: number; now: () => number; limits: Limits }): Promise<Fleet> {
  const t = o.now();
  const validity = { issuedAt: t - 60, notBefore: t - 60, expiresAt: t + 30 * DAY };
  const { issuer, issuerId, roots, parties: partyCreds } = await certifyParties(o);
  const devices: SimDevice[] = [];
  const enrol = async (party: PartySpec, name: string): Promise<SimDevice> => {
    const { signer: partySigner, cred } = partyCreds.get(party.id) as SimParty;
    const signer = await keyFor(o.seed, name);
    const deviceCred = await issueCredential(partySigner, {
      ...validity,
      role: 'device',
      issuer: party.id,
      subject: `device:${name}`,
      publicKey: signer.publicKey,
      limits: {},
      category: party.device.category,
      counterparties: party.device.counterparties,
    });
    const device = await openDevice({ signer, chain: encodeChain([cred, deviceCred]), trust: new TrustStore(roots), now: t });
    const d = { name, party, device, address: toHex(device.kid) };
    devices.push(d);
    return d;
  };
  const pairs: DevicePair[] = [];
  for (const [payerSpec, payeeSpec, a, b] of [
    [PARTIES.fleet, PARTIES.pads, 'drone', 'pad'],
    [PARTIES.vehicles, PARTIES.tolls, 'vehicle', 'gate'],
  ] as const) {
    for (let i = 0; i < o.perKind; i++) pairs.push({ from: await enrol(payerSpec, `${a}-${i}`), to: await enrol(payeeSpec, `${b}-${i}`) });
  }
  return { issuer, issuerId, roots, pairs, devices };
}
