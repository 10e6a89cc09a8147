/**
 * @module identity/key-envelope
 * A secret key encrypted at rest with a passphrase: scrypt (from @noble/hashes) derives a 256-bit key,
 * AES-256-GCM (WebCrypto, present in Node and every browser) seals the secret, and the key's name and
 * public key are bound as additional data, so an envelope cannot be swapped under another name or key.
 * One format for every platform: a key file moves between a board and a browser unchanged.
 *
 * ```
 * { 1 version: 1, 2 kdf: "scrypt", 3 log2N, 4 r, 5 p, 6 salt: bstr 16, 7 nonce: bstr 12,
 *   8 sealed: bstr 48 (secret + GCM tag), 9 publicKey: bstr 32 }
 * ```
 */
import { decode, encode } from '../codec/cbor.js';
import { asBytes, asInt, asMap, asText, need } from '../codec/fields.js';
import { randomBytes } from '../crypto/hash.js';
import { IdentityError } from '../errors.js';

export interface EnvelopeOptions {
  /** log2 of scrypt's N (default 15: about 32 MiB and a fraction of a second; tests may lower it). */
  log2N?: number;
}

const bs = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

async function aesKey(passphrase: string, salt: Uint8Array, log2N: number, r: number, p: number): Promise<CryptoKey> {
  // Loaded when a key file is opened or sealed, not when the module is: most of a device's life needs neither.
  const { scryptAsync } = await import('@noble/hashes/scrypt.js');
  const raw = await scryptAsync(new TextEncoder().encode(passphrase.normalize('NFKC')), salt, {
    N: 2 ** log2N,
    r,
    p,
    dkLen: 32,
    maxmem: 2 ** (log2N + 11),
  });
  return crypto.subtle.importKey('raw', bs(raw), 'AES-GCM', false, ['encrypt', 'decrypt']);
}

const aad = (name: string, publicKey: Uint8Array) => bs(encode(['edgepay-key-v1', name, publicKey]));

/** Seals `secretKey` under `passphrase`. */
export async function sealKey(
  name: string,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  passphrase: string,
  options: EnvelopeOptions = {},
): Promise<Uint8Array> {
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new IdentityError('ID_KEY_PASSPHRASE', 'a non-empty passphrase is required', 'passphrase');
  const log2N = options.log2N ?? 15;
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const key = await aesKey(passphrase, salt, log2N, 8, 1);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: bs(nonce), additionalData: aad(name, publicKey) }, key, bs(secretKey)),
  );
  return encode(
    new Map<number, string | number | Uint8Array>([
      [1, 1],
      [2, 'scrypt'],
      [3, log2N],
      [4, 8],
      [5, 1],
      [6, salt],
      [7, nonce],
      [8, sealed],
      [9, publicKey],
    ]),
  );
}

/** The public key recorded in an envelope (readable without the passphrase). */
export function envelopePublicKey(envelope: Uint8Array): Uint8Array {
  return asBytes(need(asMap(decode(envelope), 'envelope'), 9, 'envelope.publicKey'), 'envelope.publicKey', 32);
}

/**
 * Opens an envelope.
 * @throws IdentityError ID_KEY_DECRYPT (wrong passphrase, or the envelope was altered or moved to another
 *   name), ID_KEY_FILE (not an envelope this version reads); CodecError for malformed bytes.
 */
export async function openKey(
  name: string,
  envelope: Uint8Array,
  passphrase: string,
): Promise<{ secretKey: Uint8Array; publicKey: Uint8Array }> {
  const m = asMap(decode(envelope), 'envelope');
  if (m.get(1) !== 1 || asText(m.get(2), 'envelope.kdf') !== 'scrypt')
    throw new IdentityError('ID_KEY_FILE', 'unsupported key envelope', 'envelope');
  const log2N = asInt(need(m, 3, 'envelope.log2N'), 'envelope.log2N');
  const r = asInt(need(m, 4, 'envelope.r'), 'envelope.r');
  const p = asInt(need(m, 5, 'envelope.p'), 'envelope.p');
  // Bounds keep a crafted envelope from asking for gigabytes or hours of scrypt.
  if (log2N < 10 || log2N > 20 || r < 1 || r > 16 || p < 1 || p > 4)
    throw new IdentityError('ID_KEY_FILE', 'scrypt parameters out of bounds', 'envelope.kdf');
  const salt = asBytes(need(m, 6, 'envelope.salt'), 'envelope.salt', 16);
  const nonce = asBytes(need(m, 7, 'envelope.nonce'), 'envelope.nonce', 12);
  const sealed = asBytes(need(m, 8, 'envelope.sealed'), 'envelope.sealed', 48);
  const publicKey = asBytes(need(m, 9, 'envelope.publicKey'), 'envelope.publicKey', 32);
  const key = await aesKey(passphrase, salt, log2N, r, p);
  try {
    const secretKey = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bs(nonce), additionalData: aad(name, publicKey) }, key, bs(sealed)),
    );
    return { secretKey, publicKey };
  } catch {
    throw new IdentityError('ID_KEY_DECRYPT', 'wrong passphrase, or the key envelope was altered', 'passphrase');
  }
}
