/**
 * @module channel/hello
 * Peers hand each other fresher revocation lists. A hello carries the sender's credential chain and the
 * newest list version it holds per authority; the receiver answers with every list it holds that is
 * newer, and (unless the hello was itself a reply) with its own hello. Lists authenticate themselves, so
 * a device that met a fresher peer carries that freshness on, offline.
 *
 * ```
 * hello (signed by the sender): { 0: 1, 2 chain: bstr, 3 versions: [* authorityKid: bstr 32, version: uint], ? 4 reply: true }
 * ```
 */
import { fromHex, toHex } from '../bytes.js';
import { type CborValue, encode } from '../codec/cbor.js';
import { signSign1 } from '../codec/cose-sign1.js';
import type { Signer } from '../crypto/ed25519.js';
import { EdgepayError } from '../errors.js';
import { verifyChain } from '../identity/chain.js';
import { decodeRevocationList } from '../identity/revocation.js';
import type { TrustStore } from '../identity/trust-store.js';
import { MSG } from './messages.js';

/** A signed hello announcing `chain` and the list versions `trust` holds. */
export function signHello(signer: Signer, chain: Uint8Array, trust: TrustStore, reply = false): Promise<Uint8Array> {
  const versions: CborValue[] = [];
  for (const [kid, v] of trust.versions()) versions.push(fromHex(kid), v);
  const m = new Map<number, CborValue>([
    [0, MSG.hello],
    [2, chain],
    [3, versions],
  ]);
  if (reply) m.set(4, true);
  return signSign1(encode(m), signer);
}

/**
 * Answers a peer's hello: the lists newer than the peer's, then our hello (unless it was a reply).
 * The peer's chain is verified (which also teaches `trust` the peer's party, for its lists).
 */
export async function answerHello(
  hello: { chain: Uint8Array; versions: Map<string, number>; reply: boolean },
  me: { signer: Signer; chain: Uint8Array; trust: TrustStore; now: number },
): Promise<Uint8Array[]> {
  try {
    await verifyChain(hello.chain, { trust: me.trust, now: me.now });
  } catch (e) {
    if (!(e instanceof EdgepayError)) throw e; // an unverifiable peer still gets our lists: they are public
  }
  const out: Uint8Array[] = [];
  for (const bytes of me.trust.lists()) {
    const l = decodeRevocationList(bytes);
    const kid = l.sign1.kid ? toHex(l.sign1.kid) : '';
    if (l.content.version > (hello.versions.get(kid) ?? 0)) out.push(bytes);
  }
  if (!hello.reply) out.push(await signHello(me.signer, me.chain, me.trust, true));
  return out;
}
