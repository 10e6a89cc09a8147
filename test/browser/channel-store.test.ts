/**
 * IdbChannelStore in Chromium: the shared ChannelStore checks, run in the page, plus survival across a
 * page reload (IndexedDB is the browser's durable store).
 */
import { describe, expect, it } from 'vitest';
import { haveChromium, useEdgepayPage } from './chromium.js';

describe.skipIf(!haveChromium)('IdbChannelStore in Chromium', () => {
  const ep = useEdgepayPage();

  it('puts, gets, lists and replaces records with exact amounts, and they survive a reload', async () => {
    const first = await ep().page.evaluate(async () => {
      const e = window.edgepay;
      const s = new e.IdbChannelStore('test-channels');
      const rec = (n: number) => ({
        id: new Uint8Array(32).fill(n),
        role: 'payee' as const,
        state: 'open' as const,
        open: new Uint8Array([0xd2, n]),
        seq: n,
        cumulative: 2n ** 40n + BigInt(n),
        voucherTicks: 0,
        ticks: 0,
        updatedAt: 1,
      });
      const missing = await s.get(new Uint8Array(32));
      await s.put(rec(1));
      await s.put(rec(2));
      await s.put({ ...rec(2), seq: 9, cumulative: 7n, state: 'closed', evidence: [new Uint8Array([1])] });
      const two = await s.get(new Uint8Array(32).fill(2));
      return {
        missing: missing === undefined,
        count: (await s.list()).length,
        seq: two?.seq,
        cumulative: String(two?.cumulative),
        evidence: two?.evidence?.length,
      };
    });
    expect(first).toEqual({ missing: true, count: 2, seq: 9, cumulative: '7', evidence: 1 });
    await ep().reload();
    const after = await ep().page.evaluate(async () => {
      const s = new window.edgepay.IdbChannelStore('test-channels');
      const one = await s.get(new Uint8Array(32).fill(1));
      return { count: (await s.list()).length, cumulative: String(one?.cumulative) };
    });
    expect(after).toEqual({ count: 2, cumulative: String(2n ** 40n + 1n) });
  });
});
