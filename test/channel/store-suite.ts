/** The abstract suite every ChannelStore passes. */
import { expect, it } from 'vitest';
import type { ChannelRecord, ChannelStore } from '../../src/channel/store.js';

const rec = (n: number, extra: Partial<ChannelRecord> = {}): ChannelRecord => ({
  id: new Uint8Array(32).fill(n),
  role: 'payee',
  state: 'open',
  open: new Uint8Array([0xd2, n]),
  seq: n,
  cumulative: 2n ** 40n + BigInt(n),
  voucherTicks: 0,
  ticks: 0,
  updatedAt: 1_767_225_600,
  ...extra,
});

export function channelStoreSuite(make: () => Promise<ChannelStore>): void {
  it('puts, gets and lists records, amounts exact', async () => {
    const s = await make();
    expect(await s.get(new Uint8Array(32))).toBeUndefined();
    await s.put(rec(1));
    await s.put(rec(2, { role: 'payer', seed: new Uint8Array(32).fill(9), evidence: [new Uint8Array([1]), new Uint8Array([2])] }));
    expect(await s.get(new Uint8Array(32).fill(1))).toEqual(rec(1));
    expect((await s.get(new Uint8Array(32).fill(2)))?.evidence).toEqual([new Uint8Array([1]), new Uint8Array([2])]);
    await s.put(rec(4, { role: 'payer', periodStart: 1_767_225_600, periodSpent: 2n ** 62n + 5n }));
    expect(await s.get(new Uint8Array(32).fill(4))).toMatchObject({ periodStart: 1_767_225_600, periodSpent: 2n ** 62n + 5n });
    expect((await s.list()).map((r) => r.seq).sort()).toEqual([1, 2, 4]);
  });

  it('a put replaces the record; what is returned is a copy', async () => {
    const s = await make();
    const r = rec(3);
    await s.put(r);
    r.seq = 99;
    expect((await s.get(r.id))?.seq).toBe(3);
    await s.put({ ...rec(3), seq: 4, cumulative: 7n, state: 'closed', close: new Uint8Array([5]) });
    expect(await s.get(r.id)).toMatchObject({ seq: 4, cumulative: 7n, state: 'closed' });
    expect(await s.list()).toHaveLength(1);
  });
}
