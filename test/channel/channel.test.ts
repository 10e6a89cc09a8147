import { describe, expect, it } from 'vitest';
import { decodeFrame, signVoucher } from '../../src/channel/messages.js';
import { decodeRecord, encodeRecord, MemoryChannelStore } from '../../src/channel/store.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { verifySettlement } from '../../src/settlement/verify.js';
import { DAY, deliver, pair } from './world.js';

const codeOf = (frames: Uint8Array[]) => {
  const f = decodeFrame(frames[0] as Uint8Array);
  return f.type === 'error' ? f.code : f.type;
};

describe('payment channels', () => {
  it('open, accept, pay with vouchers, and close cooperatively', async () => {
    const p = await pair();
    const paid: bigint[] = [];
    p.payee.on('paid', (e) => paid.push(e.total));
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, unitPrice: 5n });
    expect(codeOf(await deliver(p, frame))).toBe('accept');
    expect(p.payer.channel(channelId)?.state).toBe('open');
    for (let i = 0; i < 5; i++) expect(codeOf(await deliver(p, await p.payer.pay(channelId, 100n)))).toBe('ack');
    expect(paid).toEqual([100n, 200n, 300n, 400n, 500n]);
    expect(p.payer.acked(channelId).seq).toBe(5);
    let closed = false;
    p.payer.on('closed', () => {
      closed = true;
    });
    const answers = await deliver(p, await p.payer.close(channelId));
    expect(answers.map((a) => decodeFrame(a).type)).toEqual(['ack', 'close']);
    expect(closed).toBe(true);
    expect(p.payee.channel(channelId)).toMatchObject({ state: 'closed', cumulative: 500n, seq: 6 });
    expect((await p.payerStore.get(channelId))?.close).toBeDefined();
  });

  it('hash-chain ticks: one hash per unit; a voucher checkpoints them; totals add up exactly', async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, payword: { length: 1000, tickValue: 3n } });
    await deliver(p, frame);
    let total = 0n;
    p.payee.on('paid', (e) => {
      total = e.total;
    });
    for (let i = 0; i < 50; i++) expect(codeOf(await deliver(p, await p.payer.tick(channelId)))).toBe('ack');
    expect(total).toBe(150n);
    await deliver(p, await p.payer.pay(channelId, 7n)); // checkpoints 50 ticks and adds 7
    expect(total).toBe(157n);
    for (let i = 0; i < 10; i++) await deliver(p, await p.payer.tick(channelId));
    expect(total).toBe(187n);
    expect(p.payee.channel(channelId)).toMatchObject({ ticks: 60, voucherTicks: 50, cumulative: 157n });
  });

  it('a tick lost in transit and then counted by a voucher does not break the ticks after it', async () => {
    // Seen over MQTT after a broker crash: tick 3 lost, voucher 1 checkpoints 3 ticks, tick 4 arrives.
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, payword: { length: 100, tickValue: 2n } });
    await deliver(p, frame);
    await deliver(p, await p.payer.tick(channelId));
    await deliver(p, await p.payer.tick(channelId));
    await p.payer.tick(channelId); // lost
    expect(codeOf(await deliver(p, await p.payer.pay(channelId, 5n)))).toBe('ack');
    expect(p.payee.channel(channelId)).toMatchObject({ ticks: 3, tickIndex: 2, voucherTicks: 3, cumulative: 11n });
    for (let i = 0; i < 3; i++) expect(codeOf(await deliver(p, await p.payer.tick(channelId)))).toBe('ack');
    expect(p.payee.channel(channelId)).toMatchObject({ ticks: 6, tickIndex: 6, cumulative: 11n });
    // The settlement proves ticks 4..6 from the word of tick 6, and the stored record keeps that word.
    const s = await verifySettlement(encodeSettlement(p.payee.channel(channelId)!), { trust: new TrustStore(p.roots), now: p.clock.now });
    expect(s).toMatchObject({ seq: 1, ticks: 6, amount: 17n });
    expect(decodeRecord(encodeRecord((await p.payeeStore.get(channelId))!))).toMatchObject({ ticks: 6, tickIndex: 6 });
  });

  it('enforces the payee rules, each with its code', async () => {
    const p = await pair({ limits: { perPayment: 500n } });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n, payword: { length: 100, tickValue: 1n } });
    await deliver(p, frame);
    const forge = (seq: number, cumulative: bigint, extra = {}) => signVoucher(p.drone, { channelId, seq, cumulative, ...extra });
    expect(codeOf(await p.payee.handle(await forge(1, 600n)))).toBe('CH_PER_PAYMENT');
    expect(codeOf(await p.payee.handle(await forge(1, 400n)))).toBe('ack');
    expect(codeOf(await p.payee.handle(await forge(1, 400n)))).toBe('ack'); // the same voucher again: idempotent
    expect(codeOf(await p.payee.handle(await forge(0, 400n)))).toBe('CH_SEQ');
    expect(codeOf(await p.payee.handle(await forge(2, 300n)))).toBe('CH_DECREASING');
    expect(codeOf(await p.payee.handle(await forge(2, 800n)))).toBe('ack');
    expect(codeOf(await p.payee.handle(await forge(3, 1_001n)))).toBe('CH_OVER_CAP');
    expect(codeOf(await p.payee.handle(await signVoucher(p.pad, { channelId, seq: 3, cumulative: 900n })))).toBe('COSE_SIGNATURE');
    const tick = decodeFrame(await p.payer.tick(channelId));
    if (tick.type !== 'tick') throw new Error('not a tick');
    const badTick = new Uint8Array(tick.bytes);
    badTick[badTick.length - 1]! ^= 1;
    expect(codeOf(await p.payee.handle(badTick))).toBe('CH_TICK');
    p.clock.now += 2 * DAY;
    expect(codeOf(await p.payee.handle(await forge(3, 900n)))).toBe('CH_EXPIRED');
  });

  it('detects equivocation: keeps both vouchers as evidence and refuses the channel', async () => {
    const p = await pair();
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 100n));
    const events: Uint8Array[][] = [];
    p.payee.on('equivocation', (e) => events.push(e.evidence));
    // A clone of the payer signs a different voucher for the same seq.
    const clone = await signVoucher(p.drone, { channelId, seq: 1, cumulative: 50n });
    expect(codeOf(await p.payee.handle(clone))).toBe('CH_EQUIVOCATION');
    expect(events).toHaveLength(1);
    const stored = await p.payeeStore.get(channelId);
    expect(stored?.state).toBe('refused');
    expect(stored?.evidence).toHaveLength(2);
    expect(codeOf(await p.payee.handle(await p.payer.pay(channelId, 100n)))).toBe('CH_REFUSED');
  });

  it('refuses opens: wrong payee, cap over the limit, revoked or unknown payer, wrong category', async () => {
    const p = await pair({ limits: { perChannel: 5_000n } });
    const other = await pair({ seeds: [1, 2, 3, 4, 9] });
    const toOther = await p.payer.open({ payeeKid: other.padKid, cap: 100n });
    expect(codeOf(await p.payee.handle(toOther.frame))).toBe('CH_TERMS');
    await expect(p.payer.open({ payeeKid: p.padKid, cap: 6_000n })).rejects.toMatchObject({ code: 'CH_LIMIT' });
    const stranger = await pair({ seeds: [7, 2, 3, 4, 5] }); // a payer under another issuer
    const fromStranger = await stranger.payer.open({ payeeKid: p.padKid, cap: 100n });
    expect(codeOf(await p.payee.handle(fromStranger.frame))).toBe('ID_UNKNOWN_ISSUER');
    expect(codeOf(await p.payee.handle(new Uint8Array([1, 2, 3])))).toMatch(/^(CBOR|CH)_/);
  });

  it('a restarted payee and payer resume from their stores; no seq is reused', async () => {
    const payerStore = new MemoryChannelStore();
    const payeeStore = new MemoryChannelStore();
    const p = await pair({ payerStore, payeeStore });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 10_000n, payword: { length: 100, tickValue: 2n } });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 10n));
    await deliver(p, await p.payer.tick(channelId));
    const q = await pair({ payerStore, payeeStore }); // new processes, same stores
    expect(await q.payee.resume()).toBe(1);
    expect((await q.payer.resume()).length).toBe(1);
    expect(codeOf(await deliver(q, await q.payer.tick(channelId)))).toBe('ack');
    expect(codeOf(await deliver(q, await q.payer.pay(channelId, 10n)))).toBe('ack');
    expect(q.payee.channel(channelId)).toMatchObject({ seq: 2, cumulative: 24n, ticks: 2 });
  });

  it('the payer keeps its per-period limit over all its channels, ticks included, across restarts', async () => {
    const payerStore = new MemoryChannelStore();
    const limits = { perPeriod: 1_500n, perPayment: 1_000n };
    const p = await pair({ limits, payerStore });
    p.clock.now += 3_600; // windows are whole UTC days: this is 01:00 on the day after T0
    const a = await p.payer.open({ payeeKid: p.padKid, cap: 5_000n });
    const b = await p.payer.open({ payeeKid: p.padKid, cap: 5_000n, payword: { length: 10, tickValue: 150n } });
    await deliver(p, a.frame);
    await deliver(p, b.frame);
    expect(codeOf(await deliver(p, await p.payer.pay(a.channelId, 1_000n)))).toBe('ack');
    await expect(p.payer.pay(b.channelId, 600n)).rejects.toMatchObject({ code: 'CH_PERIOD', field: 'amount' });
    expect(codeOf(await deliver(p, await p.payer.pay(b.channelId, 300n)))).toBe('ack'); // the refusal used no seq
    expect(codeOf(await deliver(p, await p.payer.tick(b.channelId)))).toBe('ack');
    await expect(p.payer.tick(b.channelId)).rejects.toMatchObject({ code: 'CH_PERIOD', field: 'channel' });
    expect(p.payer.spentThisPeriod()).toEqual({ start: p.clock.now - 3_600, end: p.clock.now - 3_600 + DAY, spent: 1_450n, limit: 1_500n });

    // A restarted payer remembers what it spent today, and a clock set back does not reopen yesterday.
    const q = await pair({ limits, payerStore, payeeStore: p.payeeStore });
    q.clock.now = p.clock.now;
    await q.payer.resume();
    await expect(q.payer.pay(a.channelId, 51n)).rejects.toMatchObject({ code: 'CH_PERIOD' });
    q.clock.now -= DAY;
    await expect(q.payer.pay(a.channelId, 51n)).rejects.toMatchObject({ code: 'CH_PERIOD' });
    expect(codeOf(await deliver(q, await q.payer.pay(a.channelId, 50n)))).toBe('ack');

    // The next day starts afresh.
    q.clock.now += 2 * DAY - 3_600;
    expect(codeOf(await deliver(q, await q.payer.pay(a.channelId, 1_000n)))).toBe('ack');
    expect(codeOf(await deliver(q, await q.payer.pay(b.channelId, 500n)))).toBe('ack');
    await expect(q.payer.tick(b.channelId)).rejects.toMatchObject({ code: 'CH_PERIOD' });
    expect(q.payer.spentThisPeriod().spent).toBe(1_500n);
    expect(q.payee.channel(a.channelId)?.cumulative).toBe(2_050n);
    expect(q.payee.channel(b.channelId)?.cumulative).toBe(950n);
  });

  it('the payer keeps its total-outstanding limit across channels', async () => {
    const p = await pair({ limits: { totalOutstanding: 1_500n, perChannel: 1_000n } });
    await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
    await expect(p.payer.open({ payeeKid: p.padKid, cap: 600n })).rejects.toMatchObject({ code: 'CH_LIMIT', field: 'cap' });
  });
});
