/**
 * @module crypto/ed25519
 * The Ed25519 interface every provider implements. Keys are RFC 8032 32-byte secret keys (seeds) and
 * 32-byte public keys; signatures are 64 bytes; every provider produces and accepts the same bytes.
 * Everything is asynchronous so that a key held by WebCrypto, a secure element or an HSM fits the same
 * shape: the SDK asks a {@link Signer} to sign and never needs the secret key itself.
 */
import { BoundedMap } from '../bounded.js';
import { abytes } from '../bytes.js';

/** Something that signs with one Ed25519 key. The key may never leave its store. */
export interface Signer {
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Signs `message` (pure Ed25519, RFC 8032) and returns the 64-byte signature. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** An Ed25519 implementation: `node:crypto`, WebCrypto, or `@noble/curves`. */
export interface Ed25519Provider {
  readonly name: 'node' | 'webcrypto' | 'noble';
  /** @throws CryptoError CRYPTO_BYTES unless `secretKey` is 32 bytes. */
  getPublicKey(secretKey: Uint8Array): Promise<Uint8Array>;
  /** @throws CryptoError CRYPTO_BYTES unless `secretKey` is 32 bytes. */
  sign(message: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array>;
  /**
   * Strict RFC 8032 verification (canonical S, canonical point encodings). False for any invalid
   * signature or public key point.
   * @throws CryptoError CRYPTO_BYTES when `signature` is not 64 bytes or `publicKey` not 32.
   */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
  /** A {@link Signer} with the key prepared once (parsed KeyObject / CryptoKey), for repeated signing. */
  signer(secretKey: Uint8Array): Promise<Signer>;
}

export const SECRET_KEY_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

/** Boundary checks shared by providers. */
export function checkVerifyArgs(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void {
  abytes(signature, 'signature', SIGNATURE_LENGTH);
  abytes(message, 'message');
  abytes(publicKey, 'publicKey', PUBLIC_KEY_LENGTH);
}

export function checkSecretKey(secretKey: Uint8Array): void {
  abytes(secretKey, 'secretKey', SECRET_KEY_LENGTH);
}

/** PKCS#8 and SPKI DER prefixes for Ed25519 (RFC 8410), which Node and WebCrypto import keys from. */
export const PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
export const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** A small bounded cache of parsed public keys: verifying many messages from one peer parses its key once. */
export class KeyCache<K> {
  private readonly map: BoundedMap<string, K>;
  constructor(max = 4096) {
    this.map = new BoundedMap(max);
  }
  get(id: string, make: () => K): K {
    let k = this.map.get(id);
    if (k === undefined) {
      k = make();
      this.map.set(id, k);
    }
    return k;
  }
}
