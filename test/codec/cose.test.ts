import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { type CborValue, decode, encode, Tagged } from '../../src/codec/cbor.js';
import { coseKeyMap, coseKeyThumbprint, fromJwk, readCoseKey, toJwk } from '../../src/codec/cose-key.js';
import { decodeSign1, fastKidHeader, protectedHeader, signSign1, sigStructure, verifySign1 } from '../../src/codec/cose-sign1.js';
import { claimsMap, readClaims } from '../../src/codec/cwt.js';
import { scanDeterministic } from '../../src/codec/scan.js';
import { nobleEd25519 } from '../../src/crypto/noble.js';
import { CoseError } from '../../src/errors.js';
import { mutated, PK1, signer1 } from './helpers.js';

const payload = encode(
  new Map<number, CborValue>([
    [1, 'drone-7'],
    [2, 1_000_000n],
  ]),
);

async function coseCode(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** A COSE_Sign1 with a hand-made protected header, signed properly: only the header is at fault. */
async function withProtected(header: Map<number, unknown>, unprotected = new Map()): Promise<Uint8Array> {
  const s = await signer1();
  const prot = encode(header as Map<number, never>);
  const sig = await s.sign(encode(['Signature1', prot, new Uint8Array(0), payload]));
  return encode(new Tagged(18, [prot, unprotected, payload, sig]));
}

describe('COSE_Sign1 (EdDSA)', () => {
  it('signs and verifies an attached payload, with alg and kid protected', async () => {
    const s = await signer1();
    const kid = coseKeyThumbprint(s.publicKey);
    const msg = decodeSign1(await signSign1(payload, s, { kid }));
    expect(msg.kid).toEqual(kid);
    expect(toHex(msg.protectedBytes)).toBe(toHex(protectedHeader({ kid })));
    expect(await verifySign1(msg, PK1)).toEqual(payload);
    expect(await verifySign1(msg, PK1, { provider: nobleEd25519 })).toEqual(payload);
  });

  it('sigStructure writes exactly the deterministic encoding of ["Signature1", protected, aad, payload]', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 70_000 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 40 }),
        (payload, aad, prot) => {
          expect(toHex(sigStructure(prot, aad, payload))).toBe(toHex(encode(['Signature1', prot, aad, payload])));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('signSign1 writes exactly encode(18([protected, {}, payload, signature])); decodeSign1 reads any such back', async () => {
    const s = await signer1();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
        async (payload, detached, cwtTag, kid) => {
          const bytes = await signSign1(payload, s, { detached, cwtTag, kid });
          const m = decodeSign1(bytes);
          const inner = new Tagged(18, [m.protectedBytes, new Map(), detached ? null : payload, m.signature]);
          expect(toHex(bytes)).toBe(toHex(encode(cwtTag ? new Tagged(61, inner) : inner)));
          expect(m.payload).toEqual(detached ? null : payload);
          expect(m.kid).toEqual(kid);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodeSign1 reads a mutated or cut message in place only when the deterministic scan and the general decoder take it too', async () => {
    const s = await signer1();
    const limits = { maxBytes: 1024, maxDepth: 3, tags: [18, 61] };
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        async (p, detached, cwtTag, at, byte, cut) => {
          const good = await signSign1(p, s, { detached, cwtTag });
          const bad = mutated(good, at, byte, cut);
          let m: ReturnType<typeof decodeSign1>;
          try {
            m = decodeSign1(bad, limits);
          } catch {
            return;
          }
          scanDeterministic(bad, limits);
          let v = decode(bad, limits) as Tagged;
          if (v.tag === 61) v = v.value as Tagged;
          expect(v.value).toEqual([m.protectedBytes, new Map(), m.payload, m.signature]);
        },
      ),
      { numRuns: 3000 },
    );
    // Limits bind the fast path too.
    const msg = await signSign1(payload, s, { cwtTag: true });
    expect(() => decodeSign1(msg, { maxBytes: msg.length - 1, maxDepth: 16, tags: [18, 61] })).toThrow(/exceeds the limit/);
    expect(() => decodeSign1(msg, { maxBytes: 1024, maxDepth: 16, tags: [18] })).toThrow(/tag 61/);
    expect(() => decodeSign1(msg, { maxBytes: 1024, maxDepth: 3, tags: [18, 61] })).toThrow(/deeper/);
    expect(decodeSign1(msg, { maxBytes: 1024, maxDepth: 4, tags: [18, 61] }).payload).toEqual(payload);
  });

  it('is deterministic: the same input gives the same bytes (Ed25519 is deterministic too)', async () => {
    const s = await signer1();
    expect(toHex(await signSign1(payload, s))).toBe(toHex(await signSign1(payload, s)));
  });

  it('signs detached payloads; verifying needs the payload, and only once', async () => {
    const s = await signer1();
    const msg = decodeSign1(await signSign1(payload, s, { detached: true }));
    expect(msg.payload).toBeNull();
    expect(await verifySign1(msg, PK1, { detachedPayload: payload })).toEqual(payload);
    expect(await coseCode(verifySign1(msg, PK1))).toBe('COSE_DETACHED');
    expect(await coseCode(verifySign1(msg, PK1, { detachedPayload: encode(1) }))).toBe('COSE_SIGNATURE');
    const attached = decodeSign1(await signSign1(payload, s));
    expect(await coseCode(verifySign1(attached, PK1, { detachedPayload: payload }))).toBe('COSE_DETACHED');
  });

  it('binds external AAD', async () => {
    const s = await signer1();
    const aad = new TextEncoder().encode('channel-42');
    const msg = decodeSign1(await signSign1(payload, s, { externalAad: aad }));
    expect(await verifySign1(msg, PK1, { externalAad: aad })).toEqual(payload);
    expect(await coseCode(verifySign1(msg, PK1))).toBe('COSE_SIGNATURE');
  });

  it('accepts the CWT tag 61 around tag 18, rejects other tags and untagged arrays', async () => {
    const s = await signer1();
    expect(decodeSign1(await signSign1(payload, s, { cwtTag: true })).payload).toEqual(payload);
    const untagged = (decode(await signSign1(payload, s)) as Tagged).value;
    expect(await coseCode(() => decodeSign1(encode(untagged)))).toBe('COSE_TAG');
    expect(await coseCode(() => decodeSign1(encode(new Tagged(17, untagged)), { maxBytes: 1e5, maxDepth: 8, tags: [17, 18] }))).toBe(
      'COSE_TAG',
    );
  });

  it('rejects any one-byte change anywhere in the message', async () => {
    const s = await signer1();
    const bytes = await signSign1(payload, s, { kid: coseKeyThumbprint(s.publicKey) });
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const t = bytes.slice();
        t[i]! ^= bit;
        const code = await coseCode(async () => verifySign1(decodeSign1(t), PK1));
        expect(code, `byte ${i} bit ${bit}`).not.toBe('ok');
      }
    }
  });

  it.each<[string, Map<number, unknown>, Map<number, unknown>?]>([
    ['COSE_ALG', new Map([[1, -7]])],
    ['COSE_ALG', new Map([[4, new Uint8Array(2)]])],
    [
      'COSE_CRIT',
      new Map<number, unknown>([
        [1, -8],
        [2, [99]],
        [99, 1],
      ]),
    ],
    [
      'COSE_CRIT',
      new Map<number, unknown>([
        [1, -8],
        [2, [4]],
      ]),
    ],
    [
      'COSE_CRIT',
      new Map<number, unknown>([
        [1, -8],
        [2, []],
      ]),
    ],
    [
      'COSE_HEADER',
      new Map<number, unknown>([
        [1, -8],
        [4, 'text-kid'],
      ]),
    ],
    ['COSE_HEADER', new Map([[1, -8]]), new Map([[1, -8]])],
    ['COSE_HEADER', new Map([[1, -8]]), new Map([[2, [4]]])],
    [
      'ok',
      new Map<number, unknown>([
        [1, -8],
        [2, [4]],
        [4, new Uint8Array(1)],
      ]),
    ],
  ])('rejects a bad protected header with %s', async (code, header, unprotected) => {
    const bytes = await withProtected(header, unprotected);
    expect(await coseCode(async () => verifySign1(decodeSign1(bytes), PK1))).toBe(code);
  });

  it('rejects a protected header that is not deterministic CBOR', async () => {
    const s = await signer1();
    const prot = fromHex('a2042001270000'.slice(0, 8)); // truncated map
    const sig = await s.sign(encode(['Signature1', prot, new Uint8Array(0), payload]));
    expect(await coseCode(() => decodeSign1(encode(new Tagged(18, [prot, new Map(), payload, sig]))))).toBe('COSE_HEADER');
  });

  it.each([
    ['COSE_STRUCTURE', [new Uint8Array(0), new Map(), new Uint8Array(0)]],
    ['COSE_STRUCTURE', ['x', new Map(), new Uint8Array(0), new Uint8Array(64)]],
    ['COSE_STRUCTURE', [new Uint8Array(0), [], new Uint8Array(0), new Uint8Array(64)]],
    ['COSE_STRUCTURE', [new Uint8Array(0), new Map(), 5, new Uint8Array(64)]],
    ['COSE_STRUCTURE', [new Uint8Array(0), new Map(), null, new Uint8Array(63)]],
    ['COSE_ALG', [new Uint8Array(0), new Map(), null, new Uint8Array(64)]],
  ])('rejects a malformed structure with %s', async (code, arr) => {
    expect(await coseCode(() => decodeSign1(encode(new Tagged(18, arr as never))))).toBe(code);
  });
});

describe('protected header with a kid (fast path)', () => {
  it('reads {alg, content type, kid} as the general decoder does, and nothing it would read otherwise', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (kid, ct, at, byte, mutate) => {
          const good = protectedHeader({ kid, contentType: ct });
          const p = mutate ? good.slice() : good;
          if (mutate) p[at % p.length] = byte;
          const fast = fastKidHeader(p);
          if (!mutate && ct >= 24 && ct < 256) expect(fast).toBeDefined();
          if (fast === undefined) return;
          scanDeterministic(p, { maxBytes: 100, maxDepth: 2, tags: [] });
          expect(fast).toEqual(decode(p));
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('COSE_Key, JWK and CWT claims', () => {
  it('COSE_Key round-trips and rejects other key types, curves that do not fit, or private keys, naming the field', () => {
    const kid = coseKeyThumbprint(PK1);
    expect(readCoseKey(decode(encode(coseKeyMap(PK1, kid))))).toEqual({ publicKey: PK1, kid });
    const bad = (mut: (m: Map<number, unknown>) => void) => {
      const m = coseKeyMap(PK1) as Map<number, unknown>;
      mut(m);
      try {
        readCoseKey(m as never, 'cnf');
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(CoseError);
        return `${(e as CoseError).code}@${(e as CoseError).field}`;
      }
    };
    expect(bad((m) => m.set(1, 3))).toBe('COSE_KEY@cnf.kty'); // RSA
    expect(bad((m) => m.set(1, 2))).toBe('COSE_KEY@cnf.crv'); // EC2 with Ed25519's curve
    expect(bad((m) => m.set(-1, 4))).toBe('COSE_KEY@cnf.crv');
    expect(bad((m) => m.set(3, -7))).toBe('COSE_KEY@cnf.alg');
    expect(bad((m) => m.set(-4, new Uint8Array(32)))).toBe('COSE_KEY@cnf.d');
    expect(bad((m) => m.set(-2, new Uint8Array(31)))).toBe('COSE_KEY@cnf.x');
  });

  it('thumbprint follows RFC 9679: SHA-256 of {1:1, -1:6, -2:x}, independent of kid and alg', () => {
    const expected = coseKeyThumbprint(PK1);
    expect(expected.length).toBe(32);
    // Encoded by hand: a3 01 01 20 06 21 58 20 <x>
    const manual = fromHex(`a301012006215820${toHex(PK1)}`);
    expect(toHex(encode(decode(manual)))).toBe(toHex(manual));
  });

  it('JWK round-trips and refuses private JWKs', () => {
    const jwk = toJwk(PK1);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
    expect(fromJwk(jwk).publicKey).toEqual(PK1);
    expect(() => fromJwk({ ...jwk, d: 'AA' })).toThrow(expect.objectContaining({ code: 'COSE_KEY', field: 'jwk.d' }));
    expect(() => fromJwk({ ...jwk, x: 'AAAA' })).toThrow(expect.objectContaining({ code: 'COSE_KEY', field: 'jwk.x' }));
  });

  it('CWT claims round-trip with cnf and private claims; registered claims are type-checked', () => {
    const claims = {
      iss: 'issuer',
      sub: 'device-1',
      iat: 1_700_000_000,
      exp: 1_800_000_000,
      cnf: { publicKey: PK1 },
      extra: new Map([[-70001, 5n ** 20n]]),
    };
    const back = readClaims(decode(encode(claimsMap(claims))));
    expect(back).toMatchObject({ iss: 'issuer', sub: 'device-1', iat: 1_700_000_000, exp: 1_800_000_000 });
    expect(back.cnf?.publicKey).toEqual(PK1);
    expect(BigInt(back.extra?.get(-70001) as bigint)).toBe(5n ** 20n);
    expect(() => readClaims(new Map([[4, 'tomorrow']]))).toThrow(expect.objectContaining({ code: 'FIELD_TYPE', field: 'claims.exp' }));
    expect(() => claimsMap({ extra: new Map([[1, 'x']]) })).toThrow(expect.objectContaining({ code: 'CWT_CLAIM' }));
    expect(() => readClaims(new Map([[8, new Map([[3, 1]])]]))).toThrow(expect.objectContaining({ field: 'claims.cnf' }));
  });

  it('signed CWT: any payload round-trips through sign, decode and verify', async () => {
    const s = await signer1();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 30 }), fc.nat(), async (sub, iat) => {
        const bytes = await signSign1(encode(claimsMap({ sub, iat })), s, { cwtTag: true });
        const claims = readClaims(decode(await verifySign1(decodeSign1(bytes), PK1)));
        expect(claims).toEqual({ sub, iat });
      }),
      { numRuns: 200 },
    );
  });
});
