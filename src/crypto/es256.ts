/**
 * @module crypto/es256
 * ECDSA on P-256 with SHA-256 (COSE ES256, alg -7), for the secure elements and TPMs that do only P-256.
 * The same shape as Ed25519's providers: secret keys are 32-byte scalars, public keys 65-byte uncompressed
 * SEC1 points (`04 || x || y`), signatures the 64-byte `r || s` COSE requires (never DER).
 *
 * Signatures are non-malleable here: every signer writes the low-S form (`s <= n/2`) and every provider
 * refuses the high-S twin of a valid signature, so one signed state has exactly one signature's bytes
 * and every provider gives the same verdict. Points are checked to be on the curve.
 * This module holds the WebCrypto and `@noble/curves` providers (noble loaded on first use); Node's is
 * in es256-node.ts.
 */
import { fromBase64Url, toBase64Url } from '../base64.js';
import { abytes, concatBytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { KeyCache, type Signer } from './ed25519.js';

export const ES256_PUBLIC_KEY_LENGTH = 65;
export const ES256_SIGNATURE_LENGTH = 64;

/** The order of P-256's base point. */
export const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = P256_N >> 1n;

/** An ES256 implementation: `node:crypto`, WebCrypto, or `@noble/curves`. */
export interface Es256Provider {
  readonly name: 'node' | 'webcrypto' | 'noble';
  /** The 65-byte uncompressed public key. @throws CryptoError CRYPTO_BYTES unless a scalar in [1, n). */
  getPublicKey(secretKey: Uint8Array): Promise<Uint8Array>;
  /** The low-S `r || s` signature of SHA-256(`message`). */
  sign(message: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array>;
  /**
   * False for any invalid signature, a high-S one, or a public key that is not a point on the curve.
   * @throws CryptoError CRYPTO_BYTES when `signature` is not 64 bytes or `publicKey` not 65 starting 0x04.
   */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
  signer(secretKey: Uint8Array): Promise<Signer>;
}

const toBig = (b: Uint8Array) => {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
};
const toBytes32 = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};

/** @throws CryptoError CRYPTO_BYTES unless `secretKey` is 32 bytes holding a scalar in [1, n). */
export function checkEs256Secret(secretKey: Uint8Array): void {
  abytes(secretKey, 'secretKey', 32);
  const d = toBig(secretKey);
  if (d === 0n || d >= P256_N) throw new CryptoError('CRYPTO_BYTES', 'a P-256 secret key is a scalar in [1, n)', 'secretKey');
}

/** Boundary checks shared by providers. */
export function checkEs256Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void {
  abytes(signature, 'signature', ES256_SIGNATURE_LENGTH);
  abytes(message, 'message');
  abytes(publicKey, 'publicKey', ES256_PUBLIC_KEY_LENGTH);
  if (publicKey[0] !== 0x04) throw new CryptoError('CRYPTO_BYTES', 'a P-256 public key is an uncompressed point (0x04 first)', 'publicKey');
}

/** The order of P-256's base point, and half of it, as 32 big-endian bytes (compared byte by byte). */
const N_BYTES = toBytes32(P256_N);
const HALF_BYTES = toBytes32(HALF_N);

/** -1, 0 or 1 as the 32 bytes of `a` from `at` compare with `b` (both big-endian numbers). */
function compare32(a: Uint8Array, at: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = (a[at + i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const isZero32 = (a: Uint8Array, at: number) => {
  for (let i = 0; i < 32; i++) if (a[at + i] !== 0) return false;
  return true;
};

/** The low-S form of an `r || s` signature: `s` replaced by `n - s` when above n/2 (both verify). */
export function lowS(signature: Uint8Array): Uint8Array {
  if (compare32(signature, 32, HALF_BYTES) <= 0) return signature;
  // n - s, byte by byte with a borrow (half of all ECDSA signatures come here: kept off BigInt).
  const out = new Uint8Array(64);
  out.set(signature.subarray(0, 32));
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    const d = (N_BYTES[i] as number) - (signature[32 + i] as number) - borrow;
    borrow = d < 0 ? 1 : 0;
    out[32 + i] = d & 0xff;
  }
  return out;
}

/** True when `s` is in [1, n/2] and `r` in [1, n): the only form verified here. */
export function isCanonical(signature: Uint8Array): boolean {
  return (
    !isZero32(signature, 0) && compare32(signature, 0, N_BYTES) < 0 && !isZero32(signature, 32) && compare32(signature, 32, HALF_BYTES) <= 0
  );
}

/** JWK coordinates of an uncompressed point. */
export const jwkOf = (publicKey: Uint8Array) => ({
  kty: 'EC',
  crv: 'P-256',
  x: toBase64Url(publicKey.subarray(1, 33)),
  y: toBase64Url(publicKey.subarray(33, 65)),
});

/** The uncompressed point of a JWK's coordinates. */
export const pointOf = (jwk: { x?: string; y?: string }) =>
  concatBytes(new Uint8Array([4]), fromBase64Url(jwk.x ?? '', 'x'), fromBase64Url(jwk.y ?? '', 'y'));

/**
 * PKCS#8 DER of a P-256 scalar without its public key (RFC 5915 in RFC 5208): what Node and WebCrypto
 * import a raw secret from; each derives the public key itself.
 */
export const P256_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
  0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20,
]);

// Loaded on first use, as for Ed25519: most platforms sign P-256 natively.
let curve: Promise<typeof import('@noble/curves/nist.js')> | undefined;
const p256 = async () => {
  curve ??= import('@noble/curves/nist.js');
  return (await curve).p256;
};

/** Pure-JS ES256 from `@noble/curves` (deterministic RFC 6979 nonces, low-S). */
export const nobleEs256: Es256Provider = {
  name: 'noble',
  async getPublicKey(secretKey) {
    checkEs256Secret(secretKey);
    return (await p256()).getPublicKey(secretKey, false);
  },
  async sign(message, secretKey) {
    checkEs256Secret(secretKey);
    return (await p256()).sign(message, secretKey, { prehash: true, lowS: true });
  },
  async verify(signature, message, publicKey) {
    checkEs256Verify(signature, message, publicKey);
    if (!isCanonical(signature)) return false;
    const curve = await p256();
    try {
      return curve.verify(signature, message, publicKey, { prehash: true, lowS: true });
    } catch {
      return false; // not a point on the curve
    }
  },
  async signer(secretKey) {
    checkEs256Secret(secretKey);
    const curve = await p256();
    const key = new Uint8Array(secretKey);
    return { publicKey: curve.getPublicKey(key, false), sign: async (m) => curve.sign(m, key, { prehash: true, lowS: true }) };
  },
};

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const bs = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

/**
 * ES256 through WebCrypto (browsers, Node's `crypto.subtle`).
 * @throws CryptoError CRYPTO_UNAVAILABLE when there is no `crypto.subtle`.
 */
export function webCryptoEs256(subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle): Es256Provider {
  if (subtle === undefined) throw new CryptoError('CRYPTO_UNAVAILABLE', 'WebCrypto is not available in this runtime', 'crypto.subtle');
  const verifyKeys = new KeyCache<Promise<CryptoKey | null>>();
  const importSecret = async (sk: Uint8Array) => {
    const key = await subtle.importKey('pkcs8', bs(concatBytes(P256_PKCS8_PREFIX, sk)), ALG, true, ['sign']);
    return { key, publicKey: pointOf(await subtle.exportKey('jwk', key)) };
  };
  const signWith = async (key: CryptoKey, m: Uint8Array) => lowS(new Uint8Array(await subtle.sign(SIGN, key, bs(m))));
  return {
    name: 'webcrypto',
    async getPublicKey(secretKey) {
      checkEs256Secret(secretKey);
      return (await importSecret(secretKey)).publicKey;
    },
    async sign(message, secretKey) {
      checkEs256Secret(secretKey);
      return signWith((await importSecret(secretKey)).key, message);
    },
    async verify(signature, message, publicKey) {
      checkEs256Verify(signature, message, publicKey);
      if (!isCanonical(signature)) return false;
      const key = await verifyKeys.get(toBase64Url(publicKey), () =>
        subtle.importKey('jwk', jwkOf(publicKey), ALG, false, ['verify']).catch(() => null),
      );
      return key !== null && subtle.verify(SIGN, key, bs(signature), bs(message));
    },
    async signer(secretKey) {
      checkEs256Secret(secretKey);
      const { key, publicKey } = await importSecret(secretKey);
      return { publicKey, sign: (m) => signWith(key, m) };
    },
  };
}
