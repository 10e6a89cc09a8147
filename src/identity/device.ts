/**
 * @module identity/device
 * A device as every part of the SDK takes it: its key, its credential chain, and what the chain proves,
 * verified once when the device is opened (the chain's key must be the signer's). Payer, Payee and Sync each
 * take one `Device`, so they can never disagree about who the device is.
 */
import { coseKeyThumbprint } from '../codec/cose-key.js';
import type { Signer } from '../crypto/ed25519.js';
import { type VerifiedChain, verifyChain } from './chain.js';
import type { TrustStore } from './trust-store.js';

/**
 * A device as a channel or sync runs it: its signer, its credential chain, and what the chain proves
 * (verified once, checked to belong to the signer). Made by {@link openDevice}.
 */
export interface Device {
  /** The device's key (a file, IndexedDB or a secure element behind the same interface). */
  readonly signer: Signer;
  /** Its credential chain `[party, device]`, encoded (`encodeChain`). */
  readonly chain: Uint8Array;
  /** What the chain proves: the party, the device's category and limits, its expiry. */
  readonly facts: VerifiedChain;
  /** The thumbprint of the device's key (RFC 9679): its address on MQTT, the kid payers name. */
  readonly kid: Uint8Array;
}

/**
 * Opens a device: verifies its chain against `trust` (as of `now`, seconds; default the clock) and that the
 * chain vouches for the signer's key.
 * @throws IdentityError (the chain's failed check: ID_EXPIRED, ID_REVOKED, ID_CNF...), CoseError, CodecError.
 * @example const device = await openDevice({ signer: await keys.get('device'), chain, trust });
 */
export async function openDevice(o: { signer: Signer; chain: Uint8Array; trust: TrustStore; now?: number }): Promise<Device> {
  const facts = await verifyChain(o.chain, { trust: o.trust, now: o.now, expectedKey: o.signer.publicKey });
  return { signer: o.signer, chain: o.chain, facts, kid: coseKeyThumbprint(o.signer.publicKey) };
}
