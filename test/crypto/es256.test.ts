/**
 * ES256 (ECDSA P-256, SHA-256) providers: node:crypto, WebCrypto and @noble/curves give the same bytes
 * and the same verdicts. The RFC 6979 vector (A.2.5) fixes the key derivation and noble's deterministic
 * signature; signatures are low-S and a high-S twin is refused by every provider; a point off the curve
 * verifies nothing; bad lengths and scalars are codes. WebCrypto called directly (not through edgepay) is
 * the independent check.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { decode, encode } from '../../src/codec/cbor.js';
import { ec2KeyMap, ec2Thumbprint, readEc2Key } from '../../src/codec/cose-key.js';
import { type Es256Provider, isCanonical, lowS, nobleEs256, P256_N, webCryptoEs256 } from '../../src/crypto/es256.js';
import { nodeEs256 } from '../../src/crypto/es256-node.js';
import { randomBytes } from '../../src/crypto/hash.js';

const providers: Es256Provider[] = [nodeEs256, webCryptoEs256(), nobleEs256];
const text = (s: string) => new TextEncoder().encode(s);
// DOM types want ArrayBuffer-backed views; these always are.
const bs = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

// RFC 6979 appendix A.2.5: P-256, SHA-256, message "sample".
const D = fromHex('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
const Q = fromHex(
  '04' +
    '60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6' +
    '7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299',
);
const R = 'efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716';
const S_HIGH = 'f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8';
const S_LOW = (P256_N - BigInt(`0x${S_HIGH}`)).toString(16).padStart(64, '0');

const secret = () => {
  for (;;) {
    const k = randomBytes(32);
    const d = BigInt(`0x${toHex(k)}`);
    if (d > 0n && d < P256_N) return k;
  }
};

describe('ES256 providers', () => {
  it('the RFC 6979 vector: every provider derives its public key; noble signs it deterministically, in low-S form', async () => {
    for (const p of providers) expect(toHex(await p.getPublicKey(D)), p.name).toBe(toHex(Q));
    expect(toHex(await nobleEs256.sign(text('sample'), D))).toBe(R + S_LOW);
    const high = fromHex(R + S_HIGH);
    const low = fromHex(R + S_LOW);
    expect(toHex(lowS(high))).toBe(R + S_LOW);
    for (const p of providers) {
      expect(await p.verify(low, text('sample'), Q), p.name).toBe(true);
      // The high-S twin is a valid ECDSA signature of the same message: refused everywhere, one verdict.
      expect(await p.verify(high, text('sample'), Q), p.name).toBe(false);
    }
  });

  it('what each provider signs, every provider verifies; tampering fails everywhere', async () => {
    for (const signer of providers) {
      const sk = secret();
      const s = await signer.signer(sk);
      expect(toHex(s.publicKey)).toBe(toHex(await nodeEs256.getPublicKey(sk)));
      for (let i = 0; i < 8; i++) {
        const m = randomBytes(i * 9);
        const sig = await s.sign(m);
        expect(sig.length).toBe(64);
        expect(isCanonical(sig)).toBe(true);
        for (const v of providers) {
          expect(await v.verify(sig, m, s.publicKey), `${signer.name} -> ${v.name}`).toBe(true);
          const bad = new Uint8Array(sig);
          bad[i % 64] = (bad[i % 64] as number) ^ 1;
          expect(await v.verify(bad, m, s.publicKey)).toBe(false);
          expect(await v.verify(sig, new Uint8Array([...m, 0]), s.publicKey)).toBe(false);
        }
      }
    }
  });

  it('a point off the curve verifies nothing; bad lengths and scalars are refused with codes', async () => {
    const sig = await nodeEs256.sign(text('x'), D);
    const offCurve = new Uint8Array(Q);
    offCurve[64] = (offCurve[64] as number) ^ 1;
    for (const p of providers) {
      expect(await p.verify(sig, text('x'), offCurve), p.name).toBe(false);
      await expect(p.verify(sig.subarray(1), text('x'), Q)).rejects.toMatchObject({ code: 'CRYPTO_BYTES', field: 'signature' });
      await expect(p.verify(sig, text('x'), Q.subarray(1))).rejects.toMatchObject({ code: 'CRYPTO_BYTES', field: 'publicKey' });
      const compressed = new Uint8Array(65);
      compressed[0] = 0x02;
      await expect(p.verify(sig, text('x'), compressed)).rejects.toMatchObject({ code: 'CRYPTO_BYTES', field: 'publicKey' });
      for (const bad of [new Uint8Array(32), fromHex(P256_N.toString(16)), new Uint8Array(31).fill(1)])
        await expect(p.getPublicKey(bad), p.name).rejects.toMatchObject({ code: 'CRYPTO_BYTES', field: 'secretKey' });
      // r = 0 or s = 0 is never a signature.
      expect(await p.verify(new Uint8Array(64), text('x'), Q)).toBe(false);
    }
  });

  it('WebCrypto used directly, as another implementation would: it verifies ours, and we verify its low-S signatures', async () => {
    const subtle = globalThis.crypto.subtle;
    const pair = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const raw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
    let high = 0;
    for (let i = 0; i < 16; i++) {
      const m = randomBytes(20);
      const theirs = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, bs(m)));
      // About half of a plain ECDSA signer's signatures are high-S: refused as they are, taken once normalized.
      if (!isCanonical(theirs)) high++;
      for (const p of providers) {
        expect(await p.verify(theirs, m, raw)).toBe(isCanonical(theirs));
        expect(await p.verify(lowS(theirs), m, raw)).toBe(true);
      }
    }
    expect(high).toBeGreaterThan(0);
    const sk = secret();
    const ours = await nodeEs256.sign(text('ours'), sk);
    const key = await subtle.importKey('raw', bs(await nodeEs256.getPublicKey(sk)), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'verify',
    ]);
    expect(await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, bs(ours), bs(text('ours')))).toBe(true);
  });
});

describe('P-256 COSE_Keys (RFC 9053) and their thumbprints (RFC 9679)', () => {
  // RFC 9679 section 6: the example EC2 key and its thumbprint.
  const X = '65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d';
  const Y = '1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c';
  const point = fromHex(`04${X}${Y}`);

  it('the RFC 9679 example thumbprint, and a key that encodes and reads back', () => {
    expect(toHex(ec2Thumbprint(point))).toBe('496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec');
    const kid = ec2Thumbprint(point);
    const read = readEc2Key(decode(encode(ec2KeyMap(point, kid))));
    expect([toHex(read.publicKey), toHex(read.kid as Uint8Array)]).toEqual([toHex(point), toHex(kid)]);
  });

  it('refuses other key types and curves, another alg, short coordinates and private parts, naming the field', () => {
    const base = () => ec2KeyMap(point);
    const cases: [string, (m: Map<number, unknown>) => void][] = [
      ['cose_key.kty', (m) => m.set(1, 1)],
      ['cose_key.crv', (m) => m.set(-1, 6)],
      ['cose_key.alg', (m) => m.set(3, -8)],
      ['cose_key.x', (m) => m.set(-2, new Uint8Array(31))],
      ['cose_key.y', (m) => m.set(-3, true)],
      ['cose_key.d', (m) => m.set(-4, new Uint8Array(32))],
    ];
    for (const [field, change] of cases) {
      const m = base() as Map<number, unknown>;
      change(m);
      expect(() => readEc2Key(m as never), field).toThrow(expect.objectContaining({ code: 'COSE_KEY', field }));
    }
    expect(() => ec2KeyMap(point.subarray(1))).toThrow(expect.objectContaining({ code: 'CRYPTO_BYTES' }));
  });
});
