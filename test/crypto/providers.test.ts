import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import type { Ed25519Provider } from '../../src/crypto/ed25519.js';
import {
  createSigner,
  detectWebCryptoEd25519,
  generateWebCryptoSigner,
  getEd25519,
  nobleEd25519,
  webCryptoEd25519,
} from '../../src/crypto/index.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { isEdgepayError } from '../../src/errors.js';
import reject from '../vectors/ed25519/reject.json';
import rfc8032 from '../vectors/ed25519/rfc8032.json';

const providers: Ed25519Provider[] = [nodeEd25519, webCryptoEd25519(), nobleEd25519];

describe('Ed25519 providers', () => {
  it('Node picks node:crypto automatically, and WebCrypto Ed25519 is detected here', async () => {
    expect((await getEd25519()).name).toBe('node');
    expect((await detectWebCryptoEd25519())?.name).toBe('webcrypto');
    const noEd25519 = { importKey: async () => Promise.reject(new DOMException('Algorithm: Unrecognized name', 'NotSupportedError')) };
    expect(await detectWebCryptoEd25519(noEd25519 as unknown as SubtleCrypto)).toBeUndefined();
  });

  for (const p of providers) {
    describe(p.name, () => {
      it.each(rfc8032.vectors)('RFC 8032 $name', async (v) => {
        const sk = fromHex(v.secretKey);
        const msg = fromHex(v.message);
        expect(toHex(await p.getPublicKey(sk))).toBe(v.publicKey);
        expect(toHex(await p.sign(msg, sk))).toBe(v.signature);
        expect(await p.verify(fromHex(v.signature), msg, fromHex(v.publicKey))).toBe(true);
        const signer = await p.signer(sk);
        expect(toHex(signer.publicKey)).toBe(v.publicKey);
        expect(toHex(await signer.sign(msg))).toBe(v.signature);
      });

      it.each(reject.vectors)('rejects $name', async (v) => {
        expect(await p.verify(fromHex(v.signature), fromHex(v.message), fromHex(v.publicKey))).toBe(false);
      });

      it('rejects a signature under a public key that is not a curve point', async () => {
        const v = rfc8032.vectors[0]!;
        const bad = fromHex(v.publicKey);
        bad[31] = 0x7f; // y >= p: not a canonical field element
        bad[0] = 0xff;
        expect(await p.verify(fromHex(v.signature), new Uint8Array(0), bad)).toBe(false);
      });

      it('throws CRYPTO_BYTES naming the field for wrong-length keys and signatures', async () => {
        await expect(p.sign(new Uint8Array(1), new Uint8Array(31))).rejects.toMatchObject({ code: 'CRYPTO_BYTES', field: 'secretKey' });
        await expect(p.verify(new Uint8Array(63), new Uint8Array(1), new Uint8Array(32))).rejects.toMatchObject({
          code: 'CRYPTO_BYTES',
          field: 'signature',
        });
        await expect(p.verify(new Uint8Array(64), new Uint8Array(1), new Uint8Array(33))).rejects.toMatchObject({
          code: 'CRYPTO_BYTES',
          field: 'publicKey',
        });
      });
    });
  }

  it('every provider verifies every other provider, and rejects a one-bit change', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        async (sk, msg, flip) => {
          for (const signer of providers) {
            const sig = await signer.sign(msg, sk);
            const pk = await signer.getPublicKey(sk);
            for (const verifier of providers) {
              expect(await verifier.verify(sig, msg, pk)).toBe(true);
              const bad = sig.slice();
              bad[flip % 64]! ^= 1 << (flip % 8);
              expect(await verifier.verify(bad, msg, pk)).toBe(false);
            }
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('a non-extractable WebCrypto key signs, its secret never leaves, and others verify', async () => {
    const signer = await generateWebCryptoSigner();
    expect(signer.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', signer.privateKey)).rejects.toThrow();
    const msg = new TextEncoder().encode('pay 5 Wh');
    const sig = await signer.sign(msg);
    for (const p of providers) expect(await p.verify(sig, msg, signer.publicKey)).toBe(true);
  });

  it('createSigner makes a fresh key each time, on the platform provider', async () => {
    const a = await createSigner();
    const b = await createSigner();
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
    const err = await createSigner(new Uint8Array(5)).catch((e: unknown) => e);
    expect(isEdgepayError(err, 'CRYPTO_BYTES')).toBe(true);
  });
});
