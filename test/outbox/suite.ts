/** The abstract suite every Outbox store passes. */
import { expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import type { Outbox } from '../../src/outbox/outbox.js';
import { recordId } from '../../src/outbox/outbox.js';

const rec = (n: number, size = 50) => new Uint8Array(size).fill(n);

export function outboxSuite(make: () => Promise<Outbox>, reopen?: (o: Outbox) => Promise<Outbox>): void {
  it('appends, serves oldest first, removes; ids are content hashes; appends are idempotent', async () => {
    const o = await make();
    const ids = [];
    for (let i = 1; i <= 5; i++) ids.push(await o.append(rec(i)));
    expect(toHex(ids[0] as Uint8Array)).toBe(toHex(recordId(rec(1))));
    expect(toHex(await o.append(rec(3)))).toBe(toHex(ids[2] as Uint8Array));
    expect(await o.size()).toBe(5);
    expect((await o.pending()).map((e) => e.bytes[0])).toEqual([1, 2, 3, 4, 5]);
    await o.remove([ids[0] as Uint8Array, ids[2] as Uint8Array, new Uint8Array(32)]);
    expect((await o.pending()).map((e) => e.bytes[0])).toEqual([2, 4, 5]);
    await o.close();
  });

  it('bounds batches by count and bytes (always at least one record)', async () => {
    const o = await make();
    for (let i = 1; i <= 10; i++) await o.append(rec(i, 1000));
    expect(await o.pending({ maxCount: 3 })).toHaveLength(3);
    expect(await o.pending({ maxBytes: 2500 })).toHaveLength(2);
    expect(await o.pending({ maxBytes: 10 })).toHaveLength(1);
    await o.close();
  });

  it('refuses empty and oversize records with OUTBOX_RECORD', async () => {
    const o = await make();
    await expect(o.append(new Uint8Array(0))).rejects.toMatchObject({ code: 'OUTBOX_RECORD' });
    await expect(o.append(new Uint8Array(70_000))).rejects.toMatchObject({ code: 'OUTBOX_RECORD' });
    await o.close();
  });

  if (reopen)
    it('keeps what was appended and removed across a restart', async () => {
      const o = await make();
      const a = await o.append(rec(7));
      await o.append(rec(8));
      await o.remove([a]);
      const r = await reopen(o);
      expect((await r.pending()).map((e) => e.bytes[0])).toEqual([8]);
      await r.close();
    });
}
