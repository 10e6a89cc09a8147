/** The abstract suite every transport passes (MQTT.js abstract_store style). */
import { expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import type { Transport } from '../../src/transport/transport.js';
import { pair } from '../channel/world.js';

export interface TransportFixture {
  /** A connected endpoint at `address` (same address again = the same device reconnecting). */
  connect(address: string): Promise<Transport>;
  /**
   * Takes `address` (connected as `current`) away so frames to it must wait, then brings it back: the
   * fixture decides whether `current` is closed (a real connection) or kept (an in-process endpoint).
   */
  away?(address: string, current: Transport): Promise<() => Promise<Transport>>;
}

const addr = (n: number) => n.toString(16).padStart(8, '0').repeat(8);

export function transportSuite(fx: () => TransportFixture): void {
  it('delivers frames both ways, in order', async () => {
    const f = fx();
    const [a, b] = [await f.connect(addr(1)), await f.connect(addr(2))];
    const got: string[] = [];
    const done = new Promise<void>((r) =>
      b.onFrame(async (from, frame) => {
        got.push(`${from.slice(0, 8)}:${frame[0]}`);
        await b.send(from, frame);
        if (got.length === 20) r();
      }),
    );
    const echoed: number[] = [];
    const back = new Promise<void>((r) =>
      a.onFrame((_from, frame) => {
        echoed.push(frame[0] as number);
        if (echoed.length === 20) r();
      }),
    );
    for (let i = 0; i < 20; i++) await a.send(addr(2), new Uint8Array([i, 1, 2, 3]));
    await done;
    await back;
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `00000001:${i}`));
    expect(echoed).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await a.close();
    await b.close();
  });

  it('refuses frames over the size limit', async () => {
    const a = await fx().connect(addr(3));
    await expect(a.send(addr(4), new Uint8Array(17 * 1024))).rejects.toMatchObject({ code: 'TRANSPORT_FRAME_SIZE' });
    await a.close();
  });

  it('a paid session end to end: open, 30 vouchers, 30 ticks, close; totals exact', async () => {
    const f = fx();
    const p = await pair();
    const payerAddr = toHex(p.payer.kid);
    const payeeAddr = toHex(p.padKid);
    const pt = await f.connect(payeeAddr);
    servePayee(p.payee, pt);
    const session = new PayerSession(p.payer, await f.connect(payerAddr));
    const id = await session.open(payeeAddr, { payeeKid: p.padKid, cap: 50_000n, payword: { length: 100, tickValue: 2n } });
    for (let i = 0; i < 30; i++) await session.pay(payeeAddr, id, 10n);
    for (let i = 0; i < 30; i++) await session.tick(payeeAddr, id);
    await session.waitAck(payeeAddr, id, 30, 30);
    await session.close(payeeAddr, id);
    expect(p.payee.channel(id)).toMatchObject({ state: 'closed', cumulative: 360n, seq: 31 });
    await session.transport.close();
    await pt.close();
  });

  it('frames sent while the payee is away arrive when it returns', async () => {
    const f = fx();
    if (!f.away) return;
    const p = await pair();
    const payeeAddr = toHex(p.padKid);
    const first = await f.connect(payeeAddr);
    servePayee(p.payee, first);
    const session = new PayerSession(p.payer, await f.connect(toHex(p.payer.kid)));
    const id = await session.open(payeeAddr, { payeeKid: p.padKid, cap: 50_000n });
    const back = await f.away(payeeAddr, first);
    for (let i = 0; i < 10; i++) await session.pay(payeeAddr, id, 5n);
    const t = await back();
    servePayee(p.payee, t);
    await session.waitAck(payeeAddr, id, 10);
    expect(p.payee.channel(id)).toMatchObject({ cumulative: 50n, seq: 10 });
    await session.transport.close();
    await t.close();
  });
}
