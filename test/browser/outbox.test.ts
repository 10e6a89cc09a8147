/** IdbOutbox in Chromium: oldest first, idempotent, bounded batches, and records survive a reload. */
import { describe, expect, it } from 'vitest';
import { haveChromium, useEdgepayPage } from './chromium.js';

describe.skipIf(!haveChromium)('IdbOutbox in Chromium', () => {
  const ep = useEdgepayPage();

  it('keeps records oldest first across a reload; removals stick', async () => {
    const first = await ep().page.evaluate(async () => {
      const o = new window.edgepay.IdbOutbox('test-outbox');
      const ids = [];
      for (let i = 1; i <= 6; i++) ids.push(await o.append(new Uint8Array(40).fill(i)));
      await o.append(new Uint8Array(40).fill(3)); // idempotent
      await o.remove([ids[0] as Uint8Array]);
      return { size: await o.size(), batch: (await o.pending({ maxCount: 2 })).map((e) => e.bytes[0]) };
    });
    expect(first).toEqual({ size: 5, batch: [2, 3] });
    await ep().reload();
    const after = await ep().page.evaluate(async () => {
      const o = new window.edgepay.IdbOutbox('test-outbox');
      await o.append(new Uint8Array(40).fill(7));
      return (await o.pending()).map((e) => e.bytes[0]);
    });
    expect(after).toEqual([2, 3, 4, 5, 6, 7]);
  });
});
