/**
 * @module crypto/webcrypto
 * Ed25519 through WebCrypto (`crypto.subtle`), native speed in browsers that have it (and in Node).
 * Support is feature-detected at run time: some browsers expose `subtle` without Ed25519.
 */

import { fromBase64Url } from '../base64.js';
import { concatBytes } from '../bytes.js';
import { CryptoError } from '../errors.js';
import { checkSecretKey, checkVerifyArgs, type Ed25519Provider, KeyCache, PKCS8_PREFIX, type Signer } from './ed25519.js';

const ALG = { name: 'Ed25519' } as const;

// TS 5.9's DOM types want ArrayBuffer-backed views; ours always are (never SharedArrayBuffer).
const bs = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

function subtleOf(subtle: SubtleCrypto | undefined): SubtleCrypto {
  if (subtle === undefined) throw new CryptoError('CRYPTO_UNAVAILABLE', 'WebCrypto is not available in this runtime', 'crypto.subtle');
  return subtle;
}

/**
 * A WebCrypto Ed25519 provider. It does not check support: use {@link detectWebCryptoEd25519} for that.
 * @throws CryptoError CRYPTO_UNAVAILABLE when there is no `crypto.subtle`.
 */
export function webCryptoEd25519(subtleArg: SubtleCrypto | undefined = globalThis.crypto?.subtle): Ed25519Provider {
  const subtle = subtleOf(subtleArg);
  const verifyKeys = new KeyCache<Promise<CryptoKey>>();
  const importSecret = (sk: Uint8Array, extractable: boolean) =>
    subtle.importKey('pkcs8', bs(concatBytes(PKCS8_PREFIX, sk)), ALG, extractable, ['sign']);
  const publicOf = async (sk: Uint8Array) => {
    const jwk = await subtle.exportKey('jwk', await importSecret(sk, true));
    return fromBase64Url(jwk.x as string, 'x');
  };
  return {
    name: 'webcrypto',
    async getPublicKey(secretKey) {
      checkSecretKey(secretKey);
      return publicOf(secretKey);
    },
    async sign(message, secretKey) {
      checkSecretKey(secretKey);
      return new Uint8Array(await subtle.sign(ALG, await importSecret(secretKey, false), bs(message)));
    },
    async verify(signature, message, publicKey) {
      checkVerifyArgs(signature, message, publicKey);
      try {
        const id = String.fromCharCode(...publicKey);
        const key = await verifyKeys.get(id, () => subtle.importKey('raw', bs(publicKey.slice()), ALG, false, ['verify']));
        return await subtle.verify(ALG, key, bs(signature), bs(message));
      } catch {
        return false; // an invalid public key point fails the import
      }
    },
    async signer(secretKey) {
      checkSecretKey(secretKey);
      const key = await importSecret(secretKey, false);
      return signerOf(subtle, key, await publicOf(secretKey));
    },
  };
}

function signerOf(subtle: SubtleCrypto, key: CryptoKey, publicKey: Uint8Array): Signer {
  return { publicKey, sign: async (m) => new Uint8Array(await subtle.sign(ALG, key, bs(m))) };
}

/**
 * Generates a key inside WebCrypto and returns a signer for it. With `extractable: false` (the default)
 * the secret key can never be read out, only used: store the CryptoKey (IndexedDB keeps it opaque).
 */
export async function generateWebCryptoSigner(
  options: { extractable?: boolean; subtle?: SubtleCrypto } = {},
): Promise<Signer & { privateKey: CryptoKey }> {
  const subtle = subtleOf(options.subtle ?? globalThis.crypto?.subtle);
  const pair = (await subtle.generateKey(ALG, options.extractable ?? false, ['sign', 'verify'])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return { ...signerOf(subtle, pair.privateKey, publicKey), privateKey: pair.privateKey };
}

// RFC 8032 section 7.1, test 1: a real verification, since some engines list Ed25519 but fail on use.
const PROBE_PUB = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
const PROBE_SIG = '5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw';

/** Resolves to a WebCrypto provider when this runtime really verifies Ed25519, otherwise `undefined`. */
export async function detectWebCryptoEd25519(subtle = globalThis.crypto?.subtle): Promise<Ed25519Provider | undefined> {
  if (subtle === undefined) return undefined;
  try {
    const key = await subtle.importKey('raw', bs(fromBase64Url(PROBE_PUB, 'probe')), ALG, false, ['verify']);
    const ok = await subtle.verify(ALG, key, bs(fromBase64Url(PROBE_SIG, 'probe')), new Uint8Array(0));
    return ok ? webCryptoEd25519(subtle) : undefined;
  } catch {
    return undefined;
  }
}
