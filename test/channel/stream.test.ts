import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeFrame } from '../../src/channel/messages.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import { type ChannelRecord, MemoryChannelStore } from '../../src/channel/store.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { answerTypes, CountingStore, deliver, pair } from './world.js';

const types = (answers: Uint8Array[][]) => answerTypes(answers, 'ticks');

async function tickChannel(length = 1000, tickValue = 3n) {
  const payeeStore = new CountingStore();
  const payerStore = new CountingStore();
  const p = await pair({ payeeStore, payerStore });
  const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 100_000n, payword: { length, tickValue } });
  await deliver(p, frame);
  return { p, channelId, payeeStore, payerStore };
}

describe('streamed ticks', () => {
  it('a burst: the payer stores once and reveals each tick; the payee verifies each, stores once, acks the newest', async () => {
    const { p, channelId, payeeStore, payerStore } = await tickChannel();
    const paid: bigint[] = [];
    p.payee.on('paid', (e) => paid.push(e.total));
    const [payerPuts, payeePuts] = [payerStore.puts, payeeStore.puts];
    const frames = await p.payer.ticks(channelId, 20);
    expect(payerStore.puts - payerPuts).toBe(1);
    expect(frames.map((f) => (decodeFrame(f) as { index: number }).index)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const answers = await p.payee.handleMany(frames);
    expect(payeeStore.puts - payeePuts).toBe(1);
    expect(types(answers)).toEqual([...Array.from({ length: 19 }, () => []), ['ack:20']]);
    expect(paid).toEqual(Array.from({ length: 20 }, (_, i) => 3n * BigInt(i + 1))); // one event a tick
    expect(await payeeStore.get(channelId)).toMatchObject({ ticks: 20, tickIndex: 20 });
    for (const a of answers.flat()) await p.payer.handle(a);
    expect(p.payer.acked(channelId).ticks).toBe(20);
  });

  it('a bad tick in a burst is refused on its own; the good ones around it count', async () => {
    const { p, channelId } = await tickChannel();
    const frames = await p.payer.ticks(channelId, 6);
    const bad = new Uint8Array(frames[3] as Uint8Array);
    bad[bad.length - 1] = (bad.at(-1) as number) ^ 1;
    // Tick 4 forged: tick 5 still verifies from tick 3's word (two hashes), as it would one at a time.
    const answers = await p.payee.handleMany([frames[0], frames[1], frames[2], bad, frames[4], frames[5]] as Uint8Array[]);
    expect(types(answers)).toEqual([[], [], [], ['CH_TICK'], [], ['ack:6']]);
    expect(p.payee.channel(channelId)).toMatchObject({ ticks: 6 });
    // A run of only repeats changes nothing and is acked again.
    expect(types(await p.payee.handleMany(frames.slice(0, 3)))).toEqual([[], [], ['ack:6']]);
  });

  it('frames that are not ticks of the run are handled one by one, in order, as handle would', async () => {
    const { p, channelId } = await tickChannel();
    const q = await tickChannel();
    const burst = await p.payer.ticks(channelId, 3);
    const voucher = await p.payer.pay(channelId, 5n);
    const more = await p.payer.ticks(channelId, 2);
    const other = await q.p.payer.tick(q.channelId); // another channel: unknown to p's payee
    const answers = await p.payee.handleMany([...burst, voucher, ...more, other]);
    expect(types(answers)).toEqual([[], [], ['ack:3'], ['ack:3'], [], ['ack:5'], ['CH_UNKNOWN_CHANNEL']]);
    expect(p.payee.channel(channelId)).toMatchObject({ seq: 1, cumulative: 14n, voucherTicks: 3, ticks: 5 });
    // A run on a channel the payee does not know: each tick gets the error, as from handle.
    expect(types(await p.payee.handleMany(await q.p.payer.ticks(q.channelId, 2)))).toEqual([
      ['CH_UNKNOWN_CHANNEL'],
      ['CH_UNKNOWN_CHANNEL'],
    ]);
  });

  it('any mix of good, forged, repeated and reordered ticks ends as handling them one by one would', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ i: fc.nat(39), forged: fc.boolean() }), { maxLength: 30 }), async (ops) => {
        const { p, channelId } = await tickChannel(40, 2n);
        const q = await pair({ payeeStore: new MemoryChannelStore() }); // the same keys: a twin payee
        await q.payee.handle(p.payer.channel(channelId)?.open as Uint8Array);
        const ticks = await p.payer.ticks(channelId, 40);
        const frames = ops.map(({ i, forged }) => {
          const f = new Uint8Array(ticks[i] as Uint8Array);
          if (forged) f[f.length - 1] = (f.at(-1) as number) ^ 1;
          return f;
        });
        const together = await p.payee.handleMany(frames);
        const alone: Uint8Array[][] = [];
        for (const f of frames) alone.push(await q.payee.handle(f));
        const errors = (a: Uint8Array[][]) => types(a).map((x) => x.filter((t) => !t.startsWith('ack')));
        expect(errors(together)).toEqual(errors(alone));
        const fields = (r: ChannelRecord | undefined) => r && { ticks: r.ticks, tickIndex: r.tickIndex, tickWord: r.tickWord };
        expect(fields(p.payee.channel(channelId))).toEqual(fields(q.payee.channel(channelId)));
      }),
      { numRuns: 40 },
    );
  });

  it('a burst the payee cannot store is not acknowledged and pays nothing', async () => {
    const { p, channelId, payeeStore } = await tickChannel();
    const paid: bigint[] = [];
    p.payee.on('paid', (e) => paid.push(e.total));
    payeeStore.put = async () => {
      throw new Error('disk full');
    };
    await expect(p.payee.handleMany(await p.payer.ticks(channelId, 4))).rejects.toThrow('disk full');
    expect(paid).toEqual([]);
  });

  it('a payer reveals a burst all or none, and a count must be a positive integer', async () => {
    const { p, channelId, payerStore } = await tickChannel(10, 3n);
    for (const n of [0, -1, 1.5, Number.NaN])
      await expect(p.payer.ticks(channelId, n)).rejects.toMatchObject({ code: 'CH_TICK', field: 'count' });
    await p.payer.ticks(channelId, 8);
    const puts = payerStore.puts;
    await expect(p.payer.ticks(channelId, 3)).rejects.toMatchObject({ code: 'CH_TICK' }); // 11 > the chain's 10
    expect(p.payer.channel(channelId)?.ticks).toBe(8);
    expect(payerStore.puts).toBe(puts);
    expect(await p.payer.ticks(channelId, 2)).toHaveLength(2);
  });

  it('served on a transport, ticks that pile up while the payee works are stored together', async () => {
    const { p, channelId, payeeStore } = await tickChannel(1000, 1n);
    const net = new MemoryNetwork();
    const payeeAddr = toHex(p.padKid);
    servePayee(p.payee, net.endpoint(payeeAddr));
    const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
    const puts = payeeStore.puts;
    // The payer runs ahead of its acks: 300 ticks sent without waiting for any.
    await session.ticks(payeeAddr, channelId, 300);
    await session.waitAck(payeeAddr, channelId, 0, 300);
    expect(p.payee.channel(channelId)).toMatchObject({ ticks: 300 });
    expect(payeeStore.puts - puts).toBeGreaterThan(0);
    // Frames reach the payee one at a time (a microtask apart here): each batch is what came in while the
    // one before it was handled. Fewer writes than ticks, never more.
    expect(payeeStore.puts - puts).toBeLessThan(150);
  });
});
