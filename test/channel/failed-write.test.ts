import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeFrame } from '../../src/channel/messages.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import { type ChannelRecord, MemoryChannelStore } from '../../src/channel/store.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { deliver, pair } from './world.js';

/** A memory store whose next write fails (as a full disk would) when `failNext` is set. */
class FlakyStore extends MemoryChannelStore {
  failNext = false;
  override async put(r: ChannelRecord): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    await super.put(r);
  }
}

async function channel(payword?: { length: number; tickValue: bigint }) {
  const payeeStore = new FlakyStore();
  const payerStore = new FlakyStore();
  const p = await pair({ payeeStore, payerStore });
  const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 100_000n, payword });
  await deliver(p, frame);
  return { p, channelId, payeeStore, payerStore };
}

const acks = (frames: Uint8Array[]) =>
  frames.map((f) => {
    const d = decodeFrame(f);
    return d.type === 'ack' ? { seq: d.seq, ticks: d.ticks } : d.type;
  });

const fields = (r: ChannelRecord | undefined) =>
  r && { seq: r.seq, cumulative: r.cumulative, ticks: r.ticks, voucherTicks: r.voucherTicks, state: r.state, periodSpent: r.periodSpent };

describe('a write that fails changes nothing', () => {
  it('payee: a voucher it could not store is not counted, so its resend is stored and acked', async () => {
    const { p, channelId, payeeStore } = await channel();
    const first = await p.payer.pay(channelId, 10n);
    expect(acks(await p.payee.handle(first))).toEqual([{ seq: 1, ticks: 0 }]);
    const voucher = await p.payer.pay(channelId, 20n);
    const paid: bigint[] = [];
    p.payee.on('paid', (e) => paid.push(e.total));
    payeeStore.failNext = true;
    await expect(p.payee.handle(voucher)).rejects.toThrow('disk full');
    expect(paid).toEqual([]);
    expect(fields(p.payee.channel(channelId))).toEqual(fields(await payeeStore.get(channelId)));
    expect(p.payee.channel(channelId)).toMatchObject({ seq: 1, cumulative: 10n });
    // The payer resends what was not acked: now it is stored, then acked, and paid once.
    expect(acks(await p.payee.handle(voucher))).toEqual([{ seq: 2, ticks: 0 }]);
    expect(await payeeStore.get(channelId)).toMatchObject({ seq: 2, cumulative: 30n });
    expect(paid).toEqual([30n]);
  });

  it('payee: ticks it could not store, one or a burst, are counted again when resent', async () => {
    const { p, channelId, payeeStore } = await channel({ length: 100, tickValue: 2n });
    const one = await p.payer.tick(channelId);
    payeeStore.failNext = true;
    await expect(p.payee.handle(one)).rejects.toThrow('disk full');
    expect(p.payee.channel(channelId)?.ticks).toBe(0);
    expect(acks(await p.payee.handle(one))).toEqual([{ seq: 0, ticks: 1 }]);
    const burst = await p.payer.ticks(channelId, 5);
    payeeStore.failNext = true;
    await expect(p.payee.handleMany(burst)).rejects.toThrow('disk full');
    expect(p.payee.channel(channelId)).toMatchObject({ ticks: 1, tickIndex: 1 });
    expect(acks((await p.payee.handleMany(burst)).flat())).toEqual([{ seq: 0, ticks: 6 }]);
    expect(await payeeStore.get(channelId)).toMatchObject({ ticks: 6, tickIndex: 6 });
  });

  it('payee: equivocation it could not store leaves the channel as stored; the next copy refuses it', async () => {
    const { p, channelId, payeeStore, payerStore } = await channel();
    const v1 = await p.payer.pay(channelId, 10n);
    await p.payee.handle(v1);
    // A cloned payer: the same state signs a different voucher for seq 1.
    const saved = (await payerStore.get(channelId)) as ChannelRecord;
    await payerStore.put({ ...saved, seq: 0, cumulative: 0n, voucher: undefined, periodSpent: 0n });
    const clone = await pair({ payerStore, payeeStore: new MemoryChannelStore() });
    await clone.payer.resume();
    const v1b = await clone.payer.pay(channelId, 11n);
    payeeStore.failNext = true;
    await expect(p.payee.handle(v1b)).rejects.toThrow('disk full');
    expect(p.payee.channel(channelId)?.state).toBe('open');
    expect(acks(await p.payee.handle(v1b))).toEqual(['error']);
    expect(await payeeStore.get(channelId)).toMatchObject({ state: 'refused', evidence: [v1, v1b] });
  });

  it('payer: a payment it could not store is not signed into the next, spends nothing and reuses no sent seq', async () => {
    const { p, channelId, payerStore, payeeStore } = await channel();
    expect(acks(await p.payee.handle(await p.payer.pay(channelId, 10n)))).toEqual([{ seq: 1, ticks: 0 }]);
    const before = fields(p.payer.channel(channelId));
    const spent = p.payer.spentThisPeriod().spent;
    payerStore.failNext = true;
    await expect(p.payer.pay(channelId, 500n)).rejects.toThrow('disk full');
    expect(fields(p.payer.channel(channelId))).toEqual(before);
    expect(fields(await payerStore.get(channelId))).toEqual(before);
    expect(p.payer.spentThisPeriod().spent).toBe(spent);
    // The next payment counts only what was paid: seq 2 (seq 2 never left), 10 + 7.
    const next = await p.payer.pay(channelId, 7n);
    expect(acks(await p.payee.handle(next))).toEqual([{ seq: 2, ticks: 0 }]);
    expect(await payeeStore.get(channelId)).toMatchObject({ seq: 2, cumulative: 17n });
    expect(p.payer.spentThisPeriod().spent).toBe(spent + 7n);
  });

  it('payer: a burst of ticks it could not store reveals nothing and spends nothing', async () => {
    const { p, channelId, payerStore } = await channel({ length: 100, tickValue: 2n });
    await p.payer.ticks(channelId, 3);
    const spent = p.payer.spentThisPeriod().spent;
    payerStore.failNext = true;
    await expect(p.payer.ticks(channelId, 4)).rejects.toThrow('disk full');
    expect(p.payer.channel(channelId)?.ticks).toBe(3);
    expect(p.payer.spentThisPeriod().spent).toBe(spent);
    const again = await p.payer.ticks(channelId, 4);
    expect(again.map((f) => (decodeFrame(f) as { index: number }).index)).toEqual([4, 5, 6, 7]);
    expect(p.payer.spentThisPeriod().spent).toBe(spent + 8n);
  });
});

describe('a payee served on a transport whose store fails', () => {
  it('reports the failure, leaves the frames unanswered, and takes the resend', async () => {
    const { p, channelId, payeeStore } = await channel();
    const net = new MemoryNetwork();
    const payeeAddr = toHex(p.padKid);
    const errors: [string, number][] = [];
    servePayee(p.payee, net.endpoint(payeeAddr), { onError: (e, n) => errors.push([(e as Error).message, n]) });
    const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
    payeeStore.failNext = true;
    await session.pay(payeeAddr, channelId, 25n);
    // Unanswered at first; the payer's resend (every 20 ms here) is stored and acked.
    await session.waitAck(payeeAddr, channelId, 1, 0, { resendMs: 20, timeoutMs: 5_000 });
    expect(errors).toEqual([['disk full', 1]]);
    expect(await payeeStore.get(channelId)).toMatchObject({ seq: 1, cumulative: 25n });
  });

  it('keeps serving when the error handler itself throws', async () => {
    const { p, channelId, payeeStore } = await channel();
    const net = new MemoryNetwork();
    const payeeAddr = toHex(p.padKid);
    const error = console.error;
    console.error = () => {};
    try {
      servePayee(p.payee, net.endpoint(payeeAddr), {
        onError: () => {
          throw new Error('handler broke');
        },
      });
      const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
      payeeStore.failNext = true;
      await session.pay(payeeAddr, channelId, 4n);
      await session.waitAck(payeeAddr, channelId, 1, 0, { resendMs: 20, timeoutMs: 5_000 });
      await session.pay(payeeAddr, channelId, 4n);
      await session.waitAck(payeeAddr, channelId, 2, 0, { resendMs: 20, timeoutMs: 5_000 });
    } finally {
      console.error = error;
    }
    expect(await payeeStore.get(channelId)).toMatchObject({ seq: 2, cumulative: 8n });
  });

  it('says so on the console when no handler is given', async () => {
    const { p, channelId, payeeStore } = await channel();
    const net = new MemoryNetwork();
    const payeeAddr = toHex(p.padKid);
    const logged: unknown[][] = [];
    const error = console.error;
    console.error = (...a: unknown[]) => void logged.push(a);
    try {
      servePayee(p.payee, net.endpoint(payeeAddr));
      const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
      payeeStore.failNext = true;
      await session.pay(payeeAddr, channelId, 5n);
      await session.waitAck(payeeAddr, channelId, 1, 0, { resendMs: 20, timeoutMs: 5_000 });
    } finally {
      console.error = error;
    }
    expect(logged).toHaveLength(1);
    expect(String(logged[0]?.[0])).toContain('could not handle 1 frame');
    expect(logged[0]?.[1]).toMatchObject({ message: 'disk full' });
  });
});
