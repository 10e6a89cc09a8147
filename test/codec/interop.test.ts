/**
 * Interop with independent implementations: cose-kit (its own COSE code, jose/Node crypto underneath)
 * verifies what we sign and signs what we verify; cborg (its own CBOR code) decodes our objects.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto';
import { decode as cborgDecode, encode as cborgEncode } from 'cborg';
import { COSEKeyToJWK, coseSign, coseVerify } from 'cose-kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/bytes.js';
import { encode } from '../../src/codec/cbor.js';
import { coseKeyMap, coseKeyThumbprint, toJwk } from '../../src/codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../../src/codec/cose-sign1.js';
import { claimsMap } from '../../src/codec/cwt.js';
import { isCanonical, P256_PKCS8_PREFIX } from '../../src/crypto/es256.js';
import { nodeEs256 } from '../../src/crypto/es256-node.js';
import { randomBytes } from '../../src/crypto/hash.js';
import { generateEs256SecretKey, generateSecretKey } from '../../src/crypto/index.js';
import { nobleEd25519 } from '../../src/crypto/noble.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { keyObjects } from './helpers.js';

describe('interop with cose-kit and cborg', () => {
  it('cose-kit verifies our COSE_Sign1 (and rejects it tampered)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (payload) => {
        const sk = generateSecretKey();
        const signer = await nodeEd25519.signer(sk);
        const { publicKey } = keyObjects(sk, signer.publicKey);
        const bytes = await signSign1(payload, signer, { kid: coseKeyThumbprint(signer.publicKey) });
        const { isValid } = await coseVerify(bytes, publicKey);
        expect(isValid).toBe(true);
        const tampered = bytes.slice();
        tampered[tampered.length - 1]! ^= 1;
        expect((await coseVerify(tampered, publicKey)).isValid).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('we verify COSE_Sign1 made by cose-kit, with every provider', async () => {
    const sk = generateSecretKey();
    const pk = await nodeEd25519.getPublicKey(sk);
    const { privateKey } = keyObjects(sk, pk);
    const payload = encode(claimsMap({ iss: 'network', sub: 'party-1', iat: 1_750_000_000 }));
    const bytes = await coseSign({ alg: 'EdDSA', kid: coseKeyThumbprint(pk) } as never, undefined, payload, privateKey);
    const msg = decodeSign1(bytes);
    expect(msg.kid).toEqual(coseKeyThumbprint(pk));
    expect(await verifySign1(msg, pk)).toEqual(payload);
    expect(await verifySign1(msg, pk, { provider: nobleEd25519 })).toEqual(payload);
  });

  it('we verify Ed25519 messages labelled with the fully specified alg -19 (RFC 9864), made without our encoder', async () => {
    const sk = generateSecretKey();
    const pk = await nodeEd25519.getPublicKey(sk);
    const { privateKey } = keyObjects(sk, pk);
    const payload = new TextEncoder().encode('a voucher from another implementation');
    // Built with cborg and node:crypto alone: the protected header {1: -19}, the Sig_structure, the tag 18.
    const protectedBytes = cborgEncode(new Map([[1, -19]]));
    const toSign = cborgEncode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
    const signature = nodeSign(null, toSign, privateKey);
    const tag18 = (body: Uint8Array) => new Uint8Array([0xd2, ...body]); // CBOR tag 18: major type 6, value 18
    const msg = decodeSign1(tag18(cborgEncode([protectedBytes, new Map(), payload, new Uint8Array(signature)])));
    expect(msg.alg).toBe(-19);
    for (const provider of [nodeEd25519, nobleEd25519]) expect(await verifySign1(msg, pk, { provider })).toEqual(payload);
    const wrong = new Uint8Array(signature);
    wrong[0] = (wrong[0] as number) ^ 1;
    const bad = tag18(cborgEncode([protectedBytes, new Map(), payload, wrong]));
    await expect(verifySign1(decodeSign1(bad), pk)).rejects.toMatchObject({ code: 'COSE_SIGNATURE' });
  });

  it('ES256: cose-kit verifies our COSE_Sign1 and we verify its own (refused only in high-S form, taken once normalized)', async () => {
    const sk = generateEs256SecretKey();
    const ours = await nodeEs256.signer(sk);
    const privateKey = createPrivateKey({ key: Buffer.from(concatBytes(P256_PKCS8_PREFIX, sk)), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(privateKey);
    for (let i = 0; i < 12; i++) {
      const payload = randomBytes(10 + i);
      const bytes = await signSign1(payload, ours, { kid: coseKeyThumbprint(ours.publicKey) });
      expect((await coseVerify(bytes, publicKey)).isValid).toBe(true);
      const theirs = await coseSign({ alg: 'ES256' } as never, undefined, payload, privateKey);
      const msg = decodeSign1(theirs);
      expect(msg.alg).toBe(-7);
      if (isCanonical(msg.signature)) expect(await verifySign1(msg, ours.publicKey)).toEqual(payload);
      else await expect(verifySign1(msg, ours.publicKey)).rejects.toMatchObject({ code: 'COSE_SIGNATURE' });
    }
    // cose-kit reads our EC2 COSE_Key as the JWK we export.
    const jwk = COSEKeyToJWK(encode(coseKeyMap(ours.publicKey)));
    expect([jwk.kty, jwk.crv, jwk.x, jwk.y]).toEqual([
      'EC',
      'P-256',
      (toJwk(ours.publicKey) as { x: string }).x,
      (toJwk(ours.publicKey) as { y: string }).y,
    ]);
  });

  it('cose-kit reads our COSE_Key as the same JWK we export', () => {
    const pk = new Uint8Array(32).fill(7);
    const jwk = COSEKeyToJWK(encode(coseKeyMap(pk)));
    expect(jwk.x).toBe(toJwk(pk).x);
    expect(jwk.crv).toBe('Ed25519');
  });

  it('cborg, in strict mode, decodes our COSE_Sign1 to the same structure', async () => {
    const signer = await nodeEd25519.signer(generateSecretKey());
    const payload = encode(claimsMap({ sub: 'x', exp: 2 ** 33 }));
    const bytes = await signSign1(payload, signer);
    const tags: ((inner: unknown) => unknown)[] = [];
    tags[18] = (inner) => inner;
    const arr = cborgDecode(bytes, { strict: true, useMaps: true, rejectDuplicateMapKeys: true, tags }) as unknown[];
    expect(arr).toHaveLength(4);
    expect(arr[2]).toEqual(payload);
    expect(cborgDecode(arr[2] as Uint8Array, { strict: true, useMaps: true })).toEqual(
      new Map<number, unknown>([
        [2, 'x'],
        [4, 2 ** 33],
      ]),
    );
  });
});
