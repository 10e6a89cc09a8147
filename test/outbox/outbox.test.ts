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

  it('recovery drops a torn tail and never a committed record', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir);
    for (let i = 1; i <= 20; i++) await o.append(new Uint8Array(100).fill(i));
    await o.close();
    const log = join(dir, 'outbox.log');
    const size = statSync(log).size;
    // A write cut short: a valid header for 500 bytes, then 40 bytes of them.
    appendFileSync(log, Buffer.concat([Buffer.from([1, 0, 0, 1, 244, 1, 2, 3, 4]), Buffer.alloc(40, 9)]));
    const r = await FileOutbox.open(dir);
    expect(r.recoveredTornBytes).toBe(49);
    expect(statSync(log).size).toBe(size);
    expect((await r.pending({ maxCount: 100 })).map((e) => e.bytes[0])).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await r.append(new Uint8Array(10).fill(99)); // and it goes on appending after the cut
    await r.close();
    expect((await (await FileOutbox.open(dir)).pending({ maxCount: 100 })).length).toBe(21);
  });

  it('a corrupted entry ends recovery there: what follows is dropped, what precedes kept', async () => {
    const dir = tmp();
    const o = await FileOutbox.open(dir);
    for (let i = 1; i <= 3; i++) await o.append(new Uint8Array(100).fill(i));
    await o.close();
    const log = join(dir, 'outbox.log');
    const bytes = readFileSync(log);
    bytes[109 + 9 + 50]! ^= 0xff; // inside the second record's payload
    writeFileSync(log, bytes);
    const r = await FileOutbox.open(dir);
    expect((await r.pending()).map((e) => e.bytes[0])).toEqual([1]);
    for (const e of await r.pending()) expect(e.bytes.every((b) => b === 1)).toBe(true);
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
