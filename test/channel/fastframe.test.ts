import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastDecodeAck, fastDecodeTick, fastEncodeAck, fastEncodeTick } from '../../src/channel/fastframe.js';
import { toHex } from '../../src/codec/bytes.js';
import { decode, encode } from '../../src/codec/cbor.js';

const id = fc.uint8Array({ minLength: 32, maxLength: 32 });
const n = fc.oneof(fc.nat(30), fc.nat(300), fc.nat(70_000), fc.nat(2 ** 32 + 5), fc.maxSafeNat());

describe('tick and ack fast path', () => {
  it('writes exactly what the general deterministic encoder writes, and reads it back', () => {
    fc.assert(
      fc.property(id, n, id, n, (c, a, w, b) => {
        const tick = fastEncodeTick(c, a, w);
        expect(toHex(tick)).toBe(toHex(encode([7, c, a, w])));
        expect(fastDecodeTick(tick)).toEqual({ channelId: c, index: a, word: w });
        const ack = fastEncodeAck(c, a, b);
        expect(toHex(ack)).toBe(toHex(encode([8, c, a, b])));
        expect(fastDecodeAck(ack)).toEqual({ channelId: c, seq: a, ticks: b });
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts only what the strict general decoder accepts as the same frame (mutations)', () => {
    fc.assert(
      fc.property(id, n, id, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (c, a, w, at, v, cut) => {
        const good = fastEncodeTick(c, a, w);
        const bad = cut ? good.subarray(0, at % good.length) : good.slice();
        if (!cut) bad[at % bad.length] = v;
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
