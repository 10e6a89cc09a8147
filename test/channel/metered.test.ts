import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { MeteredPayer, MeteredService } from '../../src/channel/metered.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import type { SettlementSink } from '../../src/channel/sink.js';
import type { ChannelRecord } from '../../src/channel/store.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { pair } from './world.js';

function sink(): SettlementSink & { records: ChannelRecord[] } {
  const records: ChannelRecord[] = [];
  return { records, enqueue: async (r) => void records.push(r) };
}

async function setup(payword: boolean) {
  const [padSink, droneSink] = [sink(), sink()];
  const p = await pair({ payeeOutbox: padSink, payerOutbox: droneSink });
  const net = new MemoryNetwork();
  const payeeAddr = toHex(p.padKid);
  servePayee(p.payee, net.endpoint(payeeAddr));
  const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
  const id = await session.open(payeeAddr, {
    payeeKid: p.padKid,
    cap: 10_000n,
    unitPrice: 3n,
    ...(payword ? { payword: { length: 1000, tickValue: 3n } } : {}),
  });
  const service = new MeteredService({ payee: p.payee, channelId: id, unitPrice: 3n, creditUnits: 5 });
  const meter = new MeteredPayer({ session, address: payeeAddr, channelId: id, unitPrice: 3n, aheadUnits: 2 });
  return { p, session, id, service, meter, padSink, droneSink, payeeAddr };
}

describe.each([true, false])('metered session (hash-chain ticks: %s)', (payword) => {
  it('pays ahead as it consumes; every unit delivered is paid; closing reaches both outboxes', async () => {
    const s = await setup(payword);
    const delivered: number[] = [];
    s.service.on('delivered', (e) => delivered.push(e.units));
    for (let unit = 1; unit <= 100; unit++) {
      await s.meter.consumed(unit - 1); // pay ahead for what comes next
      await vi.waitFor(() => expect(s.service.canDeliver()).toBe(true));
      expect(s.service.deliver(1)).toBe(1);
    }
    await s.meter.consumed(100);
    const sent = s.p.payer.channel(s.id);
    await s.session.waitAck(s.payeeAddr, s.id, sent?.seq ?? 0, sent?.ticks ?? 0);
    expect(s.service.units).toBe(100);
    expect(s.service.paidUnits).toBe(102);
    await s.meter.close();
    await vi.waitFor(() => {
      expect(s.padSink.records).toHaveLength(1);
      expect(s.droneSink.records).toHaveLength(1);
    });
    expect(s.padSink.records[0]?.state).toBe('closed');
    expect(s.p.payee.channel(s.id)?.cumulative).toBe(306n); // 102 units x 3, exactly
  });

  it('service stops when payment stops: at most the credit window unpaid, then stalled', async () => {
    const s = await setup(payword);
    let stalled = 0;
    s.service.on('stalled', () => stalled++);
    await s.meter.consumed(18); // pays for 20 units, then the payer goes quiet
    await vi.waitFor(() => expect(s.service.paidUnits).toBe(20));
    let delivered = 0;
    for (let i = 0; i < 40; i++) delivered += s.service.deliver(1);
    expect(delivered).toBe(25); // 20 paid + 5 on credit
    expect(stalled).toBe(15);
    expect(s.service.canDeliver()).toBe(false);
    await s.meter.consumed(25);
    await vi.waitFor(() => expect(s.service.canDeliver()).toBe(true));
    expect(s.service.deliver(1)).toBe(1); // paying again resumes the service
  });
});
