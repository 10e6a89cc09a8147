/**
 * Damage a checksum cannot see (a store without one, or a record changed in memory): the payer and payee
 * check a stored channel's frames against its record when they load it, so a seq moved back never makes
 * the payer sign a second voucher for a seq it used, and a stored voucher that does not verify never
 * becomes equivocation evidence against the payer.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../src/channel/messages.js';
import { Payee } from '../../src/channel/payee.js';
import { Payer } from '../../src/channel/payer.js';
import { type ChannelRecord, MemoryChannelStore } from '../../src/channel/store.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { deliver, pair } from '../channel/world.js';

describe('stored channel state checked on load', () => {
  it('a payer whose stored seq moved back refuses the channel instead of signing that seq again', async () => {
    const store = new MemoryChannelStore();
    const p = await pair({ payerStore: store });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
    await deliver(p, frame);
    for (const n of [10n, 20n, 30n]) await deliver(p, await p.payer.pay(channelId, n));
    const r = (await store.get(channelId)) as ChannelRecord;
    await store.put({ ...r, seq: 1, cumulative: 10n }); // the voucher stays seq 3
    const payer = new Payer({
      device: p.droneDevice,
      trust: new TrustStore(p.roots),
      store,
      now: () => p.clock.now,
    });
    const damaged: string[] = [];
    payer.on('damaged', (e) => damaged.push(e.error.code));
    expect(await payer.resume()).toEqual([]);
    expect(damaged).toEqual(['CH_STORE_DAMAGED']);
    await expect(payer.pay(channelId, 5n)).rejects.toMatchObject({ code: 'CH_UNKNOWN_CHANNEL' });
  });

  it('a payee whose stored voucher was damaged sets the channel aside: the payer resending it is refused, never taken as equivocation', async () => {
    const store = new MemoryChannelStore();
    const p = await pair({ payeeStore: store });
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
    await deliver(p, frame);
    const voucher = await p.payer.pay(channelId, 25n);
    await deliver(p, voucher);
    const r = (await store.get(channelId)) as ChannelRecord;
    const bad = (r.voucher as Uint8Array).slice();
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1; // the signature's last byte
    await store.put({ ...r, voucher: bad });
    const payee = new Payee({
      device: p.padDevice,
      trust: new TrustStore(p.roots),
      store,
      now: () => p.clock.now,
    });
    const events: string[] = [];
    payee.on('damaged', (e) => events.push(e.error.code));
    payee.on('equivocation', () => events.push('equivocation'));
    expect(await payee.resume()).toBe(0);
    const again = decodeFrame((await payee.handle(voucher))[0] as Uint8Array);
    expect(again.type === 'error' && again.code).toBe('CH_STORE_DAMAGED');
    expect(events).toEqual(['CH_STORE_DAMAGED']);
  });
});
