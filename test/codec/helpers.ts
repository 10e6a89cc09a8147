import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { concatBytes, fromHex } from '../../src/bytes.js';
import type { Signer } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';

/** RFC 8032 TEST 1 key: a fixed signer, so encodings in tests are reproducible. */
export const SK1 = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
export const PK1 = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');

export function signer1(): Promise<Signer> {
  return nodeEd25519.signer(SK1);
}

/** Node KeyObjects of a raw Ed25519 key pair, for libraries that take jose KeyLike (cose-kit). */
export function keyObjects(secretKey: Uint8Array, publicKey: Uint8Array): { privateKey: KeyObject; publicKey: KeyObject } {
  return {
    privateKey: createPrivateKey({
      key: Buffer.from(concatBytes(fromHex('302e020100300506032b657004220420'), secretKey)),
      format: 'der',
      type: 'pkcs8',
    }),
    publicKey: createPublicKey({
      key: Buffer.from(concatBytes(fromHex('302a300506032b6570032100'), publicKey)),
      format: 'der',
      type: 'spki',
    }),
  };
}

/** `good` cut short at `at` (when `cut`), else with the byte at `at` set to `byte`: a mutation property tests feed the fast readers. */
export function mutated(good: Uint8Array, at: number, byte: number, cut: boolean): Uint8Array {
  if (cut) return good.subarray(0, at % good.length);
  const bad = good.slice();
  bad[at % bad.length] = byte;
  return bad;
}
