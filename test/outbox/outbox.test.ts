import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryOutbox, type Outbox } from '../../src/outbox/outbox.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';
import { outboxSuite } from './suite.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'edgepay-outbox-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('MemoryOutbox', () => outboxSuite(async () => new MemoryOutbox()));

describe('FileOutbox', () => {
  outboxSuite(
    async () => FileOutbox.open(tmp()),
    async (o: Outbox) => {
      const f = o as FileOutbox;
      await f.close();
      return FileOutbox.open(f.dir);
    },
  );

  it('a compaction right after a removal never writes the removed records back', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir);
    const ids = [];
    for (let i = 1; i <= 10; i++) ids.push(await o.append(new Uint8Array(50).fill(i)));
    // The removal and a compaction queued together: the writer writes the removal, then compacts.
    await Promise.all([o.remove(ids.slice(0, 6)), o.compact()]);
    expect(await o.size()).toBe(4);
    await o.close();
    const again = await FileOutbox.open(dir);
    expect((await again.pending()).map((e) => e.bytes[0])).toEqual([7, 8, 9, 10]);
    await again.close();
  });

  it('recovery cuts a torn tail (kept in quarantine, reported as OUTBOX_TORN) and never a committed record', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir);
    for (let i = 1; i <= 20; i++) await o.append(new Uint8Array(100).fill(i));
    await o.close();
    const log = join(dir, 'outbox.log');
    const size = statSync(log).size;
    // A write cut short: an entry's head for 500 bytes, then 40 bytes of them.
    appendFileSync(log, Buffer.concat([Buffer.from([0xe9, 1, 0, 0, 1, 244, 1, 2, 3, 4]), Buffer.alloc(40, 9)]));
    const seen: string[] = [];
    const r = await FileOutbox.open(dir, { onDamage: (d) => seen.push(d.code) });
    expect(r.recoveredTornBytes).toBe(50);
    expect(seen).toEqual(['OUTBOX_TORN']);
    expect(readFileSync(r.damage[0]?.kept as string).length).toBe(50);
    expect(statSync(log).size).toBe(size);
    expect((await r.pending({ maxCount: 100 })).map((e) => e.bytes[0])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await r.append(new Uint8Array(10).fill(99)); // and it goes on appending after the cut
    await r.close();
    expect((await (await FileOutbox.open(dir)).pending({ maxCount: 100 })).length).toBe(21);
  });

  it('a damaged entry in the middle is set aside and reported (OUTBOX_DAMAGED); every intact entry after it is kept', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir);
    for (let i = 1; i <= 3; i++) await o.append(new Uint8Array(100).fill(i));
    await o.close();
    const log = join(dir, 'outbox.log');
    const bytes = readFileSync(log);
    bytes[110 + 10 + 50]! ^= 0xff; // inside the second record's payload
    writeFileSync(log, bytes);
    const r = await FileOutbox.open(dir);
    expect((await r.pending()).map((e) => e.bytes[0])).toEqual([1, 3]);
    expect(r.damage.map((d) => [d.code, d.offset, d.length])).toEqual([['OUTBOX_DAMAGED', 110, 110]]);
    expect(readFileSync(r.damage[0]?.kept as string)).toEqual(bytes.subarray(110, 220));
    await r.close();
    // The log was rewritten without it: opening again finds nothing more to report.
    const again = await FileOutbox.open(dir);
    expect(again.damage).toEqual([]);
    expect(await again.size()).toBe(2);
    await again.close();
  });

  it('reads a log of the earlier format (no marker) and rewrites it in this one', async () => {
    const dir = tmp();
    const { crc32 } = await import('node:zlib');
    const legacy = (kind: number, payload: Uint8Array) => {
      const head = Buffer.alloc(9);
      head[0] = kind;
      head.writeUInt32BE(payload.length, 1);
      head.writeUInt32BE(crc32(payload, crc32(new Uint8Array([kind]))), 5);
      return Buffer.concat([head, payload]);
    };
    const a = new Uint8Array(40).fill(1);
    const b = new Uint8Array(40).fill(2);
    const { recordId } = await import('../../src/outbox/outbox.js');
    writeFileSync(join(dir, 'outbox.log'), Buffer.concat([legacy(1, a), legacy(1, b), legacy(2, recordId(a))]));
    const r = await FileOutbox.open(dir);
    expect((await r.pending()).map((e) => e.bytes[0])).toEqual([2]);
    expect(readFileSync(join(dir, 'outbox.log'))[0]).toBe(0xe9);
    await r.close();
  });

  it('concurrent appends are group-committed and all durable', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir);
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => o.append(new Uint8Array(64).fill(i % 256).map((b, j) => (j === 0 ? i >> 8 : b)))),
    );
    expect(await o.size()).toBe(500);
    await o.close();
    expect(await (await FileOutbox.open(dir)).size()).toBe(500);
  });

  it('compacts: the log shrinks to the live records, which survive a reopen', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir, { compactAfterBytes: 10_000 });
    const ids: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) ids.push(await o.append(new Uint8Array(200).fill(i % 256).map((b, j) => (j === 0 ? i >> 8 : b))));
    await o.remove(ids.slice(0, 290));
    await o.append(new Uint8Array(5).fill(1)); // a write after the removals lets the writer compact
    await o.pending(); // waits for the writer, which compacts once the queue is empty
    const { logBytes, records } = o.stats();
    expect(records).toBe(11);
    expect(logBytes).toBeLessThan(11 * 220);
    await o.close();
    const r = await FileOutbox.open(dir);
    expect(await r.size()).toBe(11);
    await r.close();
  });
});
