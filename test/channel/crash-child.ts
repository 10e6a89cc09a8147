/**
 * Child process for the kill -9 test: a payer and a payee, each on a FileChannelStore under argv[2],
 * streaming payments until killed: a voucher, then a burst of hash-chain ticks handled together. Prints
 * `SENT <seq> <cumulative> <sha256>` once a voucher is durable at the payer, and `ACK <seq> <total>` once
 * the payee has stored and acknowledged everything up to `total` (vouchers and ticks).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { decodeFrame } from '../../src/channel/messages.js';
import type { ChannelRecord } from '../../src/channel/store.js';
import { FileChannelStore } from '../../src/channel/store-file.js';
import { owed, type Pair, pair, CRASH_TICK as TICK } from './world.js';

const dir = process.argv[2] as string;
const p = await pair({
  limits: { perChannel: 100_000_000n, totalOutstanding: 100_000_000n },
  payerStore: new FileChannelStore(join(dir, 'payer')),
  payeeStore: new FileChannelStore(join(dir, 'payee')),
});
const out = (line: string) => process.stdout.write(`${line}\n`);
const [LENGTH, BURST] = [100_000, 8];

async function deliver(q: Pair, ...frames: Uint8Array[]): Promise<void> {
  for (const a of (await q.payee.handleMany(frames)).flat()) {
    await q.payer.handle(a);
    const f = decodeFrame(a);
    if (f.type === 'ack') out(`ACK ${f.seq} ${owed(q.payee.channel(f.channelId) as ChannelRecord, TICK)}`);
    if (f.type === 'error') out(`ERROR ${f.code}`);
  }
}

const existing = (await p.payer.resume())[0];
await p.payee.resume();
let id: Uint8Array;
if (existing) {
  id = existing.id;
  // Whatever the payee may have missed when we died: the open, then the newest voucher (both idempotent).
  await deliver(p, existing.open);
  if (existing.voucher) await deliver(p, existing.voucher);
  const tick = p.payer.lastTick(id);
  if (tick) await deliver(p, tick);
} else {
  const o = await p.payer.open({ payeeKid: p.padKid, cap: 100_000_000n, payword: { length: LENGTH, tickValue: TICK } });
  id = o.channelId;
  await deliver(p, o.frame);
}
out('READY');
for (let i = 0; ; i++) {
  const v = await p.payer.pay(id, BigInt(1 + (i % 5)));
  const f = decodeFrame(v);
  if (f.type === 'voucher') out(`SENT ${f.voucher.seq} ${f.voucher.cumulative} ${createHash('sha256').update(v).digest('hex')}`);
  await deliver(p, v);
  if ((p.payer.channel(id)?.ticks ?? LENGTH) + BURST <= LENGTH) await deliver(p, ...(await p.payer.ticks(id, BURST)));
}
