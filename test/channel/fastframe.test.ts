import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import {
  fastDecodeAccept,
  fastDecodeAck,
  fastDecodeOpen,
  fastDecodeTick,
  fastDecodeVoucher,
  fastEncodeAck,
  fastEncodeTick,
  fastEncodeTicks,
  fastEncodeVoucher,
  fastReadSettlement,
  TickPool,
} from '../../src/channel/fastframe.js';
import { acceptPayload, type OpenTerms, openPayload, openTermsOf, type Voucher } from '../../src/channel/messages.js';
import { type CborValue, decode, encode } from '../../src/codec/cbor.js';
import { mutated } from '../codec/helpers.js';

const id = fc.uint8Array({ minLength: 32, maxLength: 32 });
const n = fc.oneof(fc.nat(30), fc.nat(300), fc.nat(70_000), fc.nat(2 ** 32 + 5), fc.maxSafeNat());

describe('tick and ack fast path', () => {
  it('writes exactly what the general deterministic encoder writes, and reads it back', () => {
    fc.assert(
      fc.property(id, n, id, n, (c, a, w, b) => {
        const tick = fastEncodeTick(c, a, w);
        expect(toHex(tick)).toBe(toHex(encode([7, c, a, w])));
        // From 2^32 the general decoder gives a bigint that `asInt` refuses: the fast readers decline it too.
        expect(fastDecodeTick(tick)).toEqual(a < 2 ** 32 ? { channelId: c, index: a, word: w } : undefined);
        const ack = fastEncodeAck(c, a, b);
        expect(toHex(ack)).toBe(toHex(encode([8, c, a, b])));
        expect(fastDecodeAck(ack)).toEqual(a < 2 ** 32 && b < 2 ** 32 ? { channelId: c, seq: a, ticks: b } : undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('a burst of ticks: each frame as written alone, in one buffer that holds only the burst', () => {
    fc.assert(
      fc.property(id, fc.oneof(fc.nat(300), fc.nat(2 ** 32)), fc.array(id, { minLength: 1, maxLength: 40 }), (c, first, words) => {
        const frames = fastEncodeTicks(c, first, words);
        expect(frames.map(toHex)).toEqual(words.map((w, k) => toHex(fastEncodeTick(c, first + k, w))));
        const buffer = (frames[0] as Uint8Array).buffer;
        expect(frames.every((f) => f.buffer === buffer)).toBe(true);
        expect(buffer.byteLength).toBe(frames.reduce((a, f) => a + f.length, 0));
      }),
      { numRuns: 500 },
    );
  });

  it('bursts from one channel pool: each frame as written alone, none overwritten by a later burst', () => {
    fc.assert(
      fc.property(id, fc.array(fc.array(id, { minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 30 }), (c, bursts) => {
        const pool = new TickPool();
        const sent: [Uint8Array, string][] = [];
        let first = 1;
        for (const words of bursts) {
          const frames = fastEncodeTicks(c, first, words, pool);
          for (const [k, w] of words.entries()) sent.push([frames[k] as Uint8Array, toHex(fastEncodeTick(c, first + k, w))]);
          first += words.length;
        }
        for (const [frame, alone] of sent) expect(toHex(frame)).toBe(alone);
        // A pool's buffers hold the frames it gave out and nothing else (the unused tail is zeros).
        for (const buffer of new Set(sent.map(([f]) => f.buffer))) {
          const used = sent.filter(([f]) => f.buffer === buffer).reduce((a, [f]) => a + f.length, 0);
          expect(new Uint8Array(buffer).subarray(used).every((b) => b === 0)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('accepts only what the strict general decoder accepts as the same frame (mutations)', () => {
    fc.assert(
      fc.property(id, n, id, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (c, a, w, at, v, cut) => {
        const good = fastEncodeTick(c, a, w);
        const bad = mutated(good, at, v, cut);
        const fast = fastDecodeTick(bad);
        if (fast === undefined) return;
        // Whatever the fast path accepts, the strict decoder accepts as the same values.
        const general = decode(bad) as unknown[];
        expect([general[0], general[1], Number(general[2]), general[3]]).toEqual([7, fast.channelId, fast.index, fast.word]);
      }),
      { numRuns: 5000 },
    );
  });
});

const amount = fc.oneof(fc.bigInt(0n, 30n), fc.bigInt(0n, 2n ** 32n + 5n), fc.bigInt(0n, 2n ** 63n - 1n));
const voucher: fc.Arbitrary<Voucher> = fc.record(
  {
    channelId: id,
    seq: n,
    cumulative: amount,
    ticks: fc.option(n, { nil: undefined }),
    meter: fc.option(amount, { nil: undefined }),
    final: fc.option(fc.constant(true), { nil: undefined }),
  },
  { requiredKeys: ['channelId', 'seq', 'cumulative'] },
);

/** The payload as the general encoder writes it (the map `signVoucher` used before the fast path). */
function general(type: number, v: Voucher): Uint8Array {
  const m = new Map<number, CborValue>([
    [0, type],
    [2, v.channelId],
    [3, v.seq],
    [4, v.cumulative],
  ]);
  if (v.ticks !== undefined) m.set(5, v.ticks);
  if (v.meter !== undefined) m.set(6, v.meter);
  if (v.final) m.set(7, true);
  return encode(m);
}

/** Optional fields as the fast decoder returns them: absent ones undefined. */
const full = (v: Voucher): Voucher => ({ ticks: undefined, meter: undefined, final: undefined, ...v });

describe('voucher payload fast path', () => {
  it('writes exactly what the general deterministic encoder writes, and reads it back', () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 5), voucher, (type, v) => {
        const fast = fastEncodeVoucher(type, v) as Uint8Array;
        expect(toHex(fast)).toBe(toHex(general(type, v)));
        const small = v.seq < 2 ** 32 && (v.ticks ?? 0) < 2 ** 32;
        expect(fastDecodeVoucher(fast)).toEqual(small ? { type, voucher: full(v) } : undefined);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves to the general encoder what its layout does not cover', () => {
    const v = { channelId: new Uint8Array(32), seq: 1, cumulative: 1n };
    expect(fastEncodeVoucher(4, { ...v, cumulative: 2n ** 63n })).toBeUndefined();
    expect(fastEncodeVoucher(4, { ...v, cumulative: -1n })).toBeUndefined();
    expect(fastEncodeVoucher(4, { ...v, seq: -1 })).toBeUndefined();
    expect(fastEncodeVoucher(4, { ...v, seq: 1.5 })).toBeUndefined();
    expect(fastEncodeVoucher(4, { ...v, channelId: new Uint8Array(31) })).toBeUndefined();
    // `7: false` is valid CBOR the general reader takes; the fast reader declines it.
    const m = new Map<number, CborValue>([
      [0, 4],
      [2, v.channelId],
      [3, 1],
      [4, 1n],
      [7, false],
    ]);
    expect(fastDecodeVoucher(encode(m))).toBeUndefined();
  });

  it('accepts only what the strict general decoder accepts as the same payload (mutations)', () => {
    fc.assert(
      fc.property(voucher, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (v, at, byte, cut) => {
        const good = fastEncodeVoucher(4, v) as Uint8Array;
        const bad = mutated(good, at, byte, cut);
        const fast = fastDecodeVoucher(bad);
        if (fast === undefined) return;
        // Whatever the fast path accepts, the strict decoder accepts as the same fields (and no others).
        const m = decode(bad) as Map<number, CborValue>;
        const big = (x: CborValue | undefined) => (x === undefined ? undefined : BigInt(x as number | bigint));
        expect([...m.keys()].every((k) => [0, 2, 3, 4, 5, 6, 7].includes(k))).toBe(true);
        expect({
          type: m.get(0),
          channelId: m.get(2),
          seq: Number(m.get(3)),
          cumulative: big(m.get(4)),
          ticks: m.has(5) ? Number(m.get(5)) : undefined,
          meter: big(m.get(6)),
          final: m.get(7),
        }).toEqual({ type: fast.type, ...fast.voucher });
      }),
      { numRuns: 10000 },
    );
  });
});

describe('settlement record fast path', () => {
  const record = (frames: Uint8Array[]) =>
    encode(new Map<number, CborValue>([[0, 1], ...frames.map((f, i): [number, CborValue] => [i + 1, f])]));

  it('reads records of 2 to 4 frames as the general decoder does, and declines what it does not cover', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 2, maxLength: 4 }), (frames) => {
        const r = record(frames);
        expect(fastReadSettlement(r)).toEqual(decode(r));
      }),
      { numRuns: 500 },
    );
    const [a, b] = [new Uint8Array([1]), new Uint8Array([2])];
    // A tick or evidence entry (5, 6), a close without a voucher, another version: the general path's.
    for (const m of [
      new Map<number, CborValue>([
        [0, 1],
        [1, a],
        [2, b],
        [5, [1, a]],
      ]),
      new Map<number, CborValue>([
        [0, 1],
        [1, a],
        [2, b],
        [4, a],
      ]),
      new Map<number, CborValue>([
        [0, 2],
        [1, a],
        [2, b],
      ]),
    ])
      expect(fastReadSettlement(encode(m))).toBeUndefined();
    expect(fastReadSettlement(record([new Uint8Array(70_000), b]))).toBeUndefined(); // over the size limit
  });

  it('accepts only what the strict general decoder accepts as the same record (mutations)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 2, maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (frames, at, v, cut) => {
          const good = record(frames);
          const bad = mutated(good, at, v, cut);
          const fast = fastReadSettlement(bad);
          if (fast !== undefined) expect(fast).toEqual(decode(bad, { maxBytes: 64 * 1024, maxDepth: 4, tags: [] }));
        },
      ),
      { numRuns: 5000 },
    );
  });
});

const terms: fc.Arbitrary<OpenTerms> = fc.record({
  chain: fc.uint8Array({ maxLength: 700 }),
  payeeKid: id,
  // Mostly printable ASCII (the fast layout), sometimes any text (the general decoder's).
  asset: fc.oneof(fc.stringMatching(/^[ -~]{0,32}$/), fc.string({ maxLength: 40, unit: 'grapheme' })),
  cap: amount,
  unitPrice: amount,
  expiresAt: n,
  nonce: fc.uint8Array({ minLength: 8, maxLength: 32 }),
  payword: fc.option(fc.record({ root: id, length: fc.integer({ min: 1, max: 10_000_000 }), tickValue: amount }), { nil: undefined }),
  reservation: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
});

/** The strict general reading of an open payload, or the error it gives. */
const generalOpen = (b: Uint8Array) => {
  try {
    return openTermsOf(decode(b, { maxBytes: 16 * 1024, maxDepth: 6, tags: [18] }) as Map<number, CborValue>);
  } catch (e) {
    return e as Error;
  }
};

describe('open and accept payload fast paths', () => {
  it('read canonical payloads exactly as the strict general path does, and decline the rest', () => {
    fc.assert(
      fc.property(terms, (t) => {
        const b = openPayload(t);
        const general = generalOpen(b);
        const fast = fastDecodeOpen(b, 1);
        if (fast !== undefined) expect(fast).toEqual(general);
        // Declined only for what its layout leaves out: text beyond printable ASCII, or a bound broken.
        else expect(general instanceof Error || !/^[ -~]*$/.test(t.asset)).toBe(true);
        if (!(general instanceof Error)) expect(general).toEqual(t);
      }),
      { numRuns: 3000 },
    );
    const t: OpenTerms = {
      chain: new Uint8Array(3),
      payeeKid: new Uint8Array(32),
      asset: 'EUR',
      cap: 1n,
      unitPrice: 1n,
      expiresAt: 1,
      nonce: new Uint8Array(8),
    };
    expect(fastDecodeOpen(openPayload(t), 2)).toBeUndefined(); // another protocol version
    expect(fastDecodeOpen(openPayload({ ...t, chain: new Uint8Array(8 * 1024 + 1) }), 1)).toBeUndefined();
    expect(fastDecodeOpen(openPayload({ ...t, expiresAt: -1 }), 1)).toBeUndefined();
    expect(
      fastDecodeOpen(openPayload({ ...t, payword: { root: new Uint8Array(32), length: 10_000_001, tickValue: 1n } }), 1),
    ).toBeUndefined();
    const c = new Uint8Array(32).fill(7);
    expect(fastDecodeAccept(acceptPayload(c, new Uint8Array(500).fill(1)))).toEqual({ channelId: c, chain: new Uint8Array(500).fill(1) });
    expect(fastDecodeAccept(acceptPayload(c, new Uint8Array(8 * 1024 + 1)))).toBeUndefined();
    // Read from a Buffer (a Node transport's payload), every byte string is still a plain copy, not a
    // view into the caller's memory (Buffer#slice would give one).
    const fromBuffer = fastDecodeOpen(Buffer.from(openPayload({ ...t, chain: new Uint8Array(40).fill(9) })), 1) as OpenTerms;
    const accepted = fastDecodeAccept(Buffer.from(acceptPayload(c, new Uint8Array(40).fill(9)))) as { chain: Uint8Array };
    for (const b of [fromBuffer.chain, fromBuffer.payeeKid, fromBuffer.nonce, accepted.chain]) {
      expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype);
      expect(b.byteLength).toBe(b.buffer.byteLength);
    }
  });

  it('accept only what the strict general decoder accepts as the same payload (mutations)', () => {
    fc.assert(
      fc.property(terms, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (t, at, byte, cut) => {
        const good = openPayload(t);
        const bad = mutated(good, at, byte, cut);
        const fast = fastDecodeOpen(bad, 1);
        if (fast !== undefined) expect(fast).toEqual(generalOpen(bad));
      }),
      { numRuns: 10000 },
    );
    fc.assert(
      fc.property(
        id,
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (c, chain, at, byte, cut) => {
          const good = acceptPayload(c, chain);
          const bad = mutated(good, at, byte, cut);
          const fast = fastDecodeAccept(bad);
          if (fast === undefined) return;
          const m = decode(bad) as Map<number, CborValue>;
          expect([...m.keys()]).toEqual([0, 2, 3]);
          expect({ type: m.get(0), channelId: m.get(2), chain: m.get(3) }).toEqual({ type: 3, ...fast });
        },
      ),
      { numRuns: 5000 },
    );
  });
});
