/** Vouchers that queued up at a payee (a payer paying ahead of its acks): handled together by `handleMany`. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, signVoucher } from '../../src/channel/messages.js';
import { type ChannelRecord, MemoryChannelStore } from '../../src/channel/store.js';
import { answerTypes, CountingStore, deliver, pair } from './world.js';

const types = (answers: Uint8Array[][]) => answerTypes(answers, 'seq');

const forge = (f: Uint8Array) => {
  const g = new Uint8Array(f);
  g[g.length - 1] = (g.at(-1) as number) ^ 1; // the signature's last byte
  return g;
};

async function channel(payword?: { length: number; tickValue: bigint }) {
  const payeeStore = new CountingStore();
  const p = await pair({ payeeStore });
  const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 100_000n, payword });
  await deliver(p, frame);
  return { p, channelId, payeeStore };
}

const fields = (r: ChannelRecord | undefined) =>
  r && { seq: r.seq, cumulative: r.cumulative, voucherTicks: r.voucherTicks, ticks: r.ticks, state: r.state, voucher: r.voucher };

describe('vouchers that queued up on one channel', () => {
  it('only the newest is verified and stored, and it is acked for all of them', async () => {
    const { p, channelId, payeeStore } = await channel();
    await deliver(p, await p.payer.pay(channelId, 10n));
    const paid: [bigint, bigint][] = [];
    p.payee.on('paid', (e) => paid.push([e.total, e.delta]));
    const frames: Uint8Array[] = [];
    for (let k = 0; k < 5; k++) frames.push(await p.payer.pay(channelId, 20n));
    frames[2] = forge(frames[2] as Uint8Array); // superseded: never checked, never stored, refuses nothing
    const puts = payeeStore.puts;
    const answers = await p.payee.handleMany(frames);
    expect(types(answers)).toEqual([[], [], [], [], ['ack:6']]);
    expect(payeeStore.puts - puts).toBe(1);
    expect(paid).toEqual([[110n, 100n]]);
    expect(await payeeStore.get(channelId)).toMatchObject({ seq: 6, cumulative: 110n, voucher: frames[4] });
    for (const a of answers.flat()) await p.payer.handle(a);
    expect(p.payer.acked(channelId).seq).toBe(6);
  });

  it('when the newest is refused (here: over the per-payment limit taken together), each is handled on its own', async () => {
    const { p, channelId, payeeStore } = await channel();
    const frames = [await p.payer.pay(channelId, 400n), await p.payer.pay(channelId, 400n), await p.payer.pay(channelId, 400n)];
    const puts = payeeStore.puts;
    expect(types(await p.payee.handleMany(frames))).toEqual([['ack:1'], ['ack:2'], ['ack:3']]);
    expect(payeeStore.puts - puts).toBe(3);
    expect(p.payee.channel(channelId)).toMatchObject({ seq: 3, cumulative: 1200n });
  });

  it('a forged newest is refused on its own; the genuine ones before it count', async () => {
    const { p, channelId } = await channel();
    const frames = [await p.payer.pay(channelId, 5n), await p.payer.pay(channelId, 5n), forge(await p.payer.pay(channelId, 5n))];
    expect(types(await p.payee.handleMany(frames))).toEqual([['ack:1'], ['ack:2'], ['COSE_SIGNATURE']]);
    expect(p.payee.channel(channelId)).toMatchObject({ seq: 2, cumulative: 10n });
  });

  it('a run that ends in a final voucher closes the channel once', async () => {
    const { p, channelId } = await channel();
    const frames = [await p.payer.pay(channelId, 5n), await p.payer.pay(channelId, 7n), await p.payer.close(channelId)];
    expect(types(await p.payee.handleMany(frames))).toEqual([[], [], ['ack:3', 'close']]);
    expect(p.payee.channel(channelId)).toMatchObject({ seq: 3, cumulative: 12n, state: 'closed' });
  });

  it('a voucher that moves the tick checkpoint is judged on its own: a later one may owe less (a rogue payer)', async () => {
    const { p, channelId } = await channel({ length: 50, tickValue: 3n });
    const q = await pair({ payeeStore: new MemoryChannelStore() });
    await q.payee.handle(p.payer.channel(channelId)?.open as Uint8Array);
    const ticks = await p.payer.ticks(channelId, 10); // counted: 30 owed
    // Signed with the payer's key: 100 plus the 10 ticks on top (130), then 100 with the ticks inside (100).
    const a = await signVoucher(p.drone, { channelId, seq: 1, cumulative: 100n, ticks: 0 });
    const b = await signVoucher(p.drone, { channelId, seq: 2, cumulative: 100n, ticks: 10 });
    for (const f of [...ticks, a, b]) await q.payee.handle(f);
    await p.payee.handleMany(ticks);
    expect(types(await p.payee.handleMany([a, b]))).toEqual([['ack:1'], ['CH_DECREASING']]);
    expect(fields(p.payee.channel(channelId))).toEqual(fields(q.payee.channel(channelId)));
    expect(p.payee.channel(channelId)).toMatchObject({ seq: 1, cumulative: 100n, voucherTicks: 0, ticks: 10 });
  });

  it('a second voucher for a stored seq at the head of a run is equivocation, as on its own', async () => {
    const { p, channelId } = await channel();
    await deliver(p, await p.payer.pay(channelId, 5n));
    // A clone of the payer signs another seq 1; the payer's own seq 2 queues behind it.
    const twin = await signVoucher(p.drone, { channelId, seq: 1, cumulative: 9n });
    const next = await p.payer.pay(channelId, 5n);
    expect(types(await p.payee.handleMany([twin, next]))).toEqual([['CH_EQUIVOCATION'], ['CH_REFUSED']]);
    expect(p.payee.channel(channelId)).toMatchObject({ state: 'refused', seq: 1, cumulative: 5n });
  });

  it('any mix of vouchers and ticks, forged, repeated and reordered, ends as handling them one by one would', async () => {
    const op = fc.oneof(fc.record({ pay: fc.bigInt(1n, 600n) }), fc.constant({ tick: true as const }));
    const pick = fc.record({ i: fc.nat(), forged: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.array(pick, { maxLength: 24 }), async (ops, picks) => {
        const { p, channelId } = await channel({ length: 50, tickValue: 3n });
        const q = await pair({ payeeStore: new MemoryChannelStore() }); // the same keys: a twin payee
        await q.payee.handle(p.payer.channel(channelId)?.open as Uint8Array);
        const made: Uint8Array[] = [];
        for (const o of ops) made.push('pay' in o ? await p.payer.pay(channelId, o.pay) : await p.payer.tick(channelId));
        // Mostly in order, as a queue would hold them; some repeated, reordered or forged.
        const frames = [
          ...made,
          ...picks.map(({ i, forged }) => (forged ? forge : (f: Uint8Array) => f)(made[i % made.length] as Uint8Array)),
        ];
        const together = await p.payee.handleMany(frames);
        const alone: Uint8Array[][] = [];
        for (const f of frames) alone.push(await q.payee.handle(f));
        expect(fields(p.payee.channel(channelId))).toEqual(fields(q.payee.channel(channelId)));
        const newestAck = (a: Uint8Array[][]) =>
          Math.max(
            -1,
            ...a
              .flat()
              .map((f) => decodeFrame(f))
              .flatMap((d) => (d.type === 'ack' ? [d.seq] : [])),
          );
        expect(newestAck(together)).toBe(newestAck(alone));
      }),
      { numRuns: 60 },
    );
  });
});
