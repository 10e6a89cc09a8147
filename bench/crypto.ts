/**
 * `npm run bench -- crypto`: Ed25519 and ES256 sign and verify per provider against the bare library call,
 * plus COSE_Sign1 sign+verify against bare sign+verify, and SHA-256.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { concatBytes } from '../src/bytes.js';
import { encode } from '../src/codec/cbor.js';
import { decodeSign1, signSign1, verifySign1 } from '../src/codec/cose-sign1.js';
import { PKCS8_PREFIX, SPKI_PREFIX } from '../src/crypto/ed25519.js';
import { nobleEs256, P256_PKCS8_PREFIX, webCryptoEs256 } from '../src/crypto/es256.js';
import { nodeEs256 } from '../src/crypto/es256-node.js';
import { generateEs256SecretKey, generateSecretKey, nobleEd25519, sha256, webCryptoEd25519 } from '../src/crypto/index.js';
import { nodeEd25519 } from '../src/crypto/node.js';
import { opsPerSecond, report } from './harness.js';

export async function benchCrypto(): Promise<void> {
  const sk = generateSecretKey();
  const pk = await nodeEd25519.getPublicKey(sk);
  const msg = encode(
    new Map<number, bigint | number>([
      [1, 1],
      [2, 42],
      [3, 123_456_789n],
    ]),
  ); // a voucher-sized message

  // Bare library calls: the limits.
  const nodePriv = createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, sk)), format: 'der', type: 'pkcs8' });
  const nodePub = createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, pk)), format: 'der', type: 'spki' });
  const nodeSig = nodeSign(null, msg, nodePriv);
  const subtle = globalThis.crypto.subtle;
  const wcPriv = await subtle.importKey('pkcs8', concatBytes(PKCS8_PREFIX, sk) as Uint8Array<ArrayBuffer>, 'Ed25519', false, ['sign']);
  const wcPub = await subtle.importKey('raw', pk as Uint8Array<ArrayBuffer>, 'Ed25519', false, ['verify']);
  const m = msg as Uint8Array<ArrayBuffer>;
  const raw = {
    node: {
      sign: await opsPerSecond(() => nodeSign(null, msg, nodePriv)),
      verify: await opsPerSecond(() => nodeVerify(null, msg, nodePub, nodeSig)),
    },
    webcrypto: {
      sign: await opsPerSecond(() => subtle.sign('Ed25519', wcPriv, m)),
      verify: await opsPerSecond(() => subtle.verify('Ed25519', wcPub, nodeSig, m)),
    },
    noble: {
      sign: await opsPerSecond(() => ed25519.sign(msg, sk)),
      verify: await opsPerSecond(() => ed25519.verify(nodeSig, msg, pk, { zip215: false })),
    },
  };

  for (const p of [nodeEd25519, webCryptoEd25519(), nobleEd25519]) {
    const signer = await p.signer(sk);
    const sig = await signer.sign(msg);
    const r = raw[p.name];
    report(`crypto.${p.name}.sign`, await opsPerSecond(() => signer.sign(msg)), 'ops/s', r.sign);
    report(`crypto.${p.name}.verify`, await opsPerSecond(() => p.verify(sig, msg, pk)), 'ops/s', r.verify);
  }

  // COSE_Sign1 end to end (encode, sign, decode strictly, verify) against bare sign then verify.
  const bareBoth = 1 / (1 / raw.node.sign + 1 / raw.node.verify);
  const signer = await nodeEd25519.signer(sk);
  report(
    'crypto.cose_sign1.sign+verify',
    await opsPerSecond(async () => verifySign1(decodeSign1(await signSign1(msg, signer)), pk)),
    'ops/s',
    bareBoth,
  );
  report('crypto.sha256.32B', await opsPerSecond(() => sha256(pk)), 'ops/s');

  // ES256 (P-256) per provider against its bare library call.
  const esSk = generateEs256SecretKey();
  const esPriv = createPrivateKey({ key: Buffer.from(concatBytes(P256_PKCS8_PREFIX, esSk)), format: 'der', type: 'pkcs8' });
  const esPub = createPublicKey(esPriv);
  const esPk = await nodeEs256.getPublicKey(esSk);
  const esSig = await nodeEs256.sign(msg, esSk);
  const p1363 = { dsaEncoding: 'ieee-p1363' } as const;
  const wcEsPriv = await subtle.importKey(
    'pkcs8',
    concatBytes(P256_PKCS8_PREFIX, esSk) as Uint8Array<ArrayBuffer>,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const wcEsPub = await subtle.importKey('raw', esPk as Uint8Array<ArrayBuffer>, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const ecdsa = { name: 'ECDSA', hash: 'SHA-256' } as const;
  const rawEs = {
    node: {
      sign: await opsPerSecond(() => nodeSign('sha256', msg, { key: esPriv, ...p1363 })),
      verify: await opsPerSecond(() => nodeVerify('sha256', msg, { key: esPub, ...p1363 }, esSig)),
    },
    webcrypto: {
      sign: await opsPerSecond(() => subtle.sign(ecdsa, wcEsPriv, m)),
      verify: await opsPerSecond(() => subtle.verify(ecdsa, wcEsPub, esSig as Uint8Array<ArrayBuffer>, m)),
    },
    noble: {
      sign: await opsPerSecond(() => p256.sign(msg, esSk)),
      verify: await opsPerSecond(() => p256.verify(esSig, msg, esPk)),
    },
  };
  for (const p of [nodeEs256, webCryptoEs256(), nobleEs256]) {
    const signer = await p.signer(esSk);
    const r = rawEs[p.name];
    report(`crypto.es256.${p.name}.sign`, await opsPerSecond(() => signer.sign(msg)), 'ops/s', r.sign);
    report(`crypto.es256.${p.name}.verify`, await opsPerSecond(() => p.verify(esSig, msg, esPk)), 'ops/s', r.verify);
  }
}
