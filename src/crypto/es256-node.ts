/**
 * @module crypto/es256-node
 * ES256 from `node:crypto` (OpenSSL). Node-only, as crypto/node is for Ed25519.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { concatBytes } from '../bytes.js';
import { KeyCache } from './ed25519.js';
import { checkEs256Secret, checkEs256Verify, type Es256Provider, isCanonical, jwkOf, lowS, P256_PKCS8_PREFIX, pointOf } from './es256.js';

const privateKey = (sk: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.from(concatBytes(P256_PKCS8_PREFIX, sk)), format: 'der', type: 'pkcs8' });

const publicOf = (key: KeyObject): Uint8Array => pointOf(createPublicKey(key).export({ format: 'jwk' }) as { x: string; y: string });

const publicKeys = new KeyCache<KeyObject | null>();
const publicKey = (pk: Uint8Array): KeyObject | null =>
  publicKeys.get(Buffer.from(pk.buffer, pk.byteOffset, pk.length).toString('latin1'), () => {
    try {
      return createPublicKey({ key: jwkOf(pk), format: 'jwk' }); // OpenSSL checks the point is on the curve
    } catch {
      return null;
    }
  });

const signWith = (key: KeyObject, m: Uint8Array) => lowS(new Uint8Array(sign('sha256', m, { key, dsaEncoding: 'ieee-p1363' })));

export const nodeEs256: Es256Provider = {
  name: 'node',
  async getPublicKey(secretKey) {
    checkEs256Secret(secretKey);
    return publicOf(privateKey(secretKey));
  },
  async sign(message, secretKey) {
    checkEs256Secret(secretKey);
    return signWith(privateKey(secretKey), message);
  },
  async verify(signature, message, pk) {
    checkEs256Verify(signature, message, pk);
    if (!isCanonical(signature)) return false;
    const key = publicKey(pk);
    return key !== null && verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  },
  async signer(secretKey) {
    checkEs256Secret(secretKey);
    const key = privateKey(secretKey);
    return { publicKey: publicOf(key), sign: async (m) => signWith(key, m) };
  },
};
