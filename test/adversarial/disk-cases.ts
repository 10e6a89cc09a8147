/**
 * A damaged disk is detected and reported, never turned into silent loss or a false fraud verdict. Real
 * outboxes and channel stores, each byte flipped in turn (every byte, or a dense sample), and cut at entry
 * boundaries and inside entries: no intact record is lost, no damaged one accepted, each damage reported;
 * a damaged channel is set aside and the others resume; nothing local makes equivocation evidence.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { decodeFrame } from '../../src/channel/messages.js';
import { Payee } from '../../src/channel/payee.js';
import { Payer } from '../../src/channel/payer.js';
import type { ChannelRecord } from '../../src/channel/store.js';
import { FileChannelStore } from '../../src/channel/store-file.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { recordId } from '../../src/outbox/outbox.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';
import { deliver, pair } from '../channel/world.js';
import { payOffline } from '../sync/world.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'edgepay-disk-'));

/** The positions to damage: every byte, or every entry's head and a byte in `stride` elsewhere. */
const positions = (size: number, heads: number[], stride: number) =>
  stride <= 1
    ? Array.from({ length: size }, (_, i) => i)
    : [...new Set([...heads, ...Array.from({ length: Math.ceil(size / stride) }, (_, k) => k * stride)])]
        .filter((i) => i < size)
        .sort((a, b) => a - b);

/** The entries of a log as written: where each starts and ends, what it holds. */
function entriesOf(log: Uint8Array): { start: number; end: number; kind: number; payload: Uint8Array }[] {
  const out = [];
  const view = new DataView(log.buffer, log.byteOffset, log.length);
  for (let p = 0; p < log.length; ) {
    const len = view.getUint32(p + 2);
    out.push({ start: p, end: p + 10 + len, kind: log[p + 1] as number, payload: log.subarray(p + 10, p + 10 + len) });
    p += 10 + len;
  }
  return out;
}

/** What an outbox should hold once the entries at `lost` are gone: records added and not removed by what is left. */
function expected(entries: ReturnType<typeof entriesOf>, lost: (i: number) => boolean): Set<string> {
  const live = new Set<string>();
  entries.forEach((e, i) => {
    if (lost(i)) return;
    if (e.kind === 1) live.add(toHex(recordId(e.payload)));
    else for (let k = 0; k < e.payload.length; k += 32) live.delete(toHex(e.payload.subarray(k, k + 32)));
  });
  return live;
}

export function outboxDamageCase(stride: number): void {
  it(`an outbox: a byte flipped at ${stride <= 1 ? 'every position' : 'a dense sample of positions'}, and cuts at every boundary and inside entries`, async () => {
    const src = tmp();
    const work = tmp();
    try {
      // A real outbox: a payee's settlement records, some removed after their receipts.
      const p = await pair();
      const o = await FileOutbox.open(src);
      const ids: Uint8Array[] = [];
      for (let i = 0; i < 6; i++) ids.push(await o.append((await payOffline(p, 1 + i, 10n)).payee));
      await o.remove([ids[1] as Uint8Array]);
      await o.remove([ids[3] as Uint8Array, ids[4] as Uint8Array]);
      ids.push(await o.append((await payOffline(p, 2, 7n)).payer));
      await o.close();
      const log = new Uint8Array(readFileSync(join(src, 'outbox.log')));
      const entries = entriesOf(log);
      const originals = new Map<string, string>();
      for (const e of entries) if (e.kind === 1) originals.set(toHex(recordId(e.payload)), toHex(e.payload));
      const open = async (bytes: Uint8Array) => {
        rmSync(work, { recursive: true, force: true });
        cpSync(src, work, { recursive: true });
        writeFileSync(join(work, 'outbox.log'), bytes);
        const r = await FileOutbox.open(work);
        const live = await r.pending({ maxCount: 1000, maxBytes: 1e9 });
        await r.close();
        return { live, damage: r.damage };
      };
      let flips = 0;
      for (const i of positions(
        log.length,
        entries.flatMap((e) => [e.start, e.start + 1, e.start + 2, e.start + 5, e.start + 6, e.start + 9]),
        stride,
      )) {
        const bytes = log.slice();
        bytes[i] = (bytes[i] as number) ^ (1 << (i % 8));
        const { live, damage } = await open(bytes);
        const hit = entries.findIndex((e) => i >= e.start && i < e.end);
        const want = expected(entries, (k) => k === hit);
        // No damaged record accepted, each one served byte for byte as it was written.
        for (const e of live) expect(toHex(e.bytes), `flip at ${i}`).toBe(originals.get(toHex(e.id)));
        // No intact record lost, no removal that is intact undone.
        expect(new Set(live.map((e) => toHex(e.id))), `flip at ${i}`).toEqual(want);
        // The damage is reported, over a region that holds the flipped byte.
        expect(
          damage.some((d) => d.offset <= i && i < d.offset + d.length),
          `flip at ${i} reported`,
        ).toBe(true);
        flips++;
      }
      const cuts =
        stride <= 1
          ? Array.from({ length: log.length }, (_, n) => n)
          : positions(
              log.length,
              entries.flatMap((e) => [e.start, e.start + 1, e.end - 1]),
              stride,
            );
      for (const n of cuts) {
        const { live, damage } = await open(log.slice(0, n));
        const want = expected(entries, (k) => (entries[k]?.end as number) > n);
        expect(new Set(live.map((e) => toHex(e.id))), `cut at ${n}`).toEqual(want);
        const boundary = n === 0 || entries.some((e) => e.end === n);
        expect(
          damage.map((d) => d.code),
          `cut at ${n}`,
        ).toEqual(boundary ? [] : ['OUTBOX_TORN']);
      }
      expect(flips).toBeGreaterThan(stride <= 1 ? log.length - 1 : 100);
    } finally {
      rmSync(src, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  }, 900_000);
}

/** Two real channel stores (a payer's, a payee's): a voucher channel, a hash-chain channel with ticks, a closed one. */
async function stores(dir: string) {
  const p = await pair({ payerStore: new FileChannelStore(join(dir, 'payer')), payeeStore: new FileChannelStore(join(dir, 'payee')) });
  const a = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
  await deliver(p, a.frame);
  for (const n of [10n, 20n, 30n]) await deliver(p, await p.payer.pay(a.channelId, n));
  const b = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n, payword: { length: 50, tickValue: 2n } });
  await deliver(p, b.frame);
  for (let k = 0; k < 5; k++) await deliver(p, await p.payer.tick(b.channelId));
  await deliver(p, await p.payer.pay(b.channelId, 5n));
  const c = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
  await deliver(p, c.frame);
  await deliver(p, await p.payer.pay(c.channelId, 40n));
  await deliver(p, await p.payer.close(c.channelId));
  return { p, ids: [a.channelId, b.channelId, c.channelId] };
}

export function channelStoreDamageCase(stride: number): void {
  it(`channel stores: a byte flipped at ${stride <= 1 ? 'every position' : 'a dense sample of positions'} of each file, or the file cut: set aside and reported, the others resume, no evidence`, async () => {
    const src = tmp();
    const work = tmp();
    try {
      const { p, ids } = await stores(src);
      const snapshot = (side: 'payer' | 'payee', id: Uint8Array) => (side === 'payer' ? p.payer : p.payee).channel(id) as ChannelRecord;
      const trust = () => new TrustStore(p.roots);
      const now = () => p.clock.now;
      let cases = 0;
      for (const side of ['payer', 'payee'] as const) {
        const files = readdirSync(join(src, side)).filter((f) => f.endsWith('.ch'));
        expect(files.length).toBe(3);
        for (const file of files) {
          const original = new Uint8Array(readFileSync(join(src, side, file)));
          const damage: Uint8Array[] = [];
          for (const i of positions(original.length, [0, 1, 4, 5, 8, 9], stride)) {
            const b = original.slice();
            b[i] = (b[i] as number) ^ (1 << (i % 8));
            damage.push(b);
          }
          for (const n of positions(original.length, [1, 8, 9], Math.max(stride, 7) * 3)) damage.push(original.slice(0, n));
          for (const bytes of damage) {
            rmSync(work, { recursive: true, force: true });
            cpSync(src, work, { recursive: true });
            writeFileSync(join(work, side, file), bytes);
            const reported: string[] = [];
            const store = new FileChannelStore(join(work, side), { onDamage: (e) => reported.push(e.code) });
            const events: string[] = [];
            const resumed = new Set<string>();
            if (side === 'payer') {
              const payer = new Payer({ device: p.droneDevice, trust: trust(), store, now });
              payer.on('damaged', (e) => events.push(e.error.code));
              for (const r of await payer.resume()) resumed.add(toHex(r.id));
              // The damaged channel is never paid on again: no second voucher for a seq it used.
              const gone = ids.find((id) => `${toHex(id)}.ch` === file) as Uint8Array;
              await expect(payer.pay(gone, 1n)).rejects.toMatchObject({ code: 'CH_UNKNOWN_CHANNEL' });
              for (const id of ids) if (toHex(id) !== toHex(gone)) expect(payer.channel(id)).toEqual(snapshot('payer', id));
            } else {
              const payee = new Payee({
                device: p.padDevice,
                trust: trust(),
                store,
                now,
              });
              payee.on('damaged', (e) => events.push(e.error.code));
              payee.on('equivocation', () => events.push('equivocation'));
              await payee.resume();
              for (const id of ids) if (payee.channel(id)) resumed.add(toHex(id));
              // The payer goes on paying on the damaged channel: refused with a code, never taken as equivocation.
              const gone = ids.find((id) => `${toHex(id)}.ch` === file) as Uint8Array;
              const r = snapshot('payer', gone);
              if (r.voucher) {
                const answer = decodeFrame((await payee.handle(r.voucher))[0] as Uint8Array);
                expect(answer.type === 'error' && answer.code).toBe('CH_STORE_DAMAGED');
              }
              expect(events).not.toContain('equivocation');
            }
            // Reported (the store found it, or its owner did), set aside, and every other open channel resumed.
            expect([...reported, ...events], `${side}/${file}`).toContain('CH_STORE_DAMAGED');
            expect(readdirSync(join(work, side, 'damaged'))).toEqual([file]);
            for (const id of ids)
              if (`${toHex(id)}.ch` !== file && (side === 'payer' || snapshot('payee', id).state !== 'closed'))
                expect(resumed.has(toHex(id))).toBe(true);
            cases++;
          }
        }
      }
      expect(cases).toBeGreaterThan(stride <= 1 ? 6 * 1000 : 300);
    } finally {
      rmSync(src, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  }, 1_800_000);
}
