/**
 * The MQTT transport against aedes (in-process, ephemeral port) and Mosquitto (the shared one at
 * 127.0.0.1:1883 with a per-run topic prefix; and a private one for crash tests), MQTT 5 and 3.1.1.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import { MqttTransport } from '../../src/transport/mqtt.js';
import { pair } from '../channel/world.js';
import { service } from '../services.js';
import { type Broker, startAedes, startMosquitto } from './brokers.js';
import { type TransportFixture, transportSuite } from './suite.js';

const prefix = () => `edgepay-test-${randomBytes(6).toString('hex')}`;

function mqttFixture(url: () => string, protocolVersion: 4 | 5): () => TransportFixture {
  return () => {
    const p = prefix();
    const connect = (address: string) =>
      MqttTransport.connect({ url: url(), address, prefix: p, protocolVersion, reconnectPeriod: 200, endSessionOnClose: true });
    return {
      connect,
      away: async (address, current) => {
        // The device disconnects without ending its session: the broker holds QoS 1 frames for it.
        await current.close();
        const t = await connect(address);
        await t.close({ endSession: false });
        return () => connect(address);
      },
    };
  };
}

describe('MQTT over aedes', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startAedes();
  });
  afterAll(() => broker.close());
  // aedes speaks MQTT 3.1.1 (it refuses 5 with "Unacceptable protocol version"); Mosquitto covers 5.
  describe('MQTT 3.1.1', () => transportSuite(mqttFixture(() => broker.url, 4)));

  it("sends a received frame's PUBACK and the answer its handler sends in one socket write", async () => {
    const p = prefix();
    const connect = (address: string) =>
      MqttTransport.connect({ url: broker.url, address, prefix: p, protocolVersion: 4, endSessionOnClose: true });
    const [a, b] = [await connect('aa'), await connect('bb')];
    try {
      // Count the writes B's socket makes: one writev or write each, whatever it carries.
      const sock = b.client.stream as unknown as Record<'_write' | '_writev', (...x: unknown[]) => unknown>;
      let writes = 0;
      for (const m of ['_write', '_writev'] as const) {
        const orig = sock[m];
        sock[m] = function (this: unknown, ...x: unknown[]) {
          writes++;
          return orig.apply(this, x);
        };
      }
      b.onFrame((from, f) =>
        b.send(
          from,
          f.map((x) => x ^ 0xff),
        ),
      );
      const answer = new Promise<Uint8Array>((r) => a.onFrame((_from, f) => r(f)));
      await a.send('bb', new Uint8Array([1, 2, 3]));
      expect([...(await answer)]).toEqual([0xfe, 0xfd, 0xfc]);
      // The PUBACK to the broker and the answer's PUBLISH: one write (two without holding the turn's writes).
      expect(writes).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

const haveMosquitto = await service('Mosquitto', 1883);

describe.skipIf(!haveMosquitto)('MQTT over Mosquitto at 127.0.0.1:1883', () => {
  describe('MQTT 5', () => transportSuite(mqttFixture(() => 'mqtt://127.0.0.1:1883', 5)));
  describe('MQTT 3.1.1', () => transportSuite(mqttFixture(() => 'mqtt://127.0.0.1:1883', 4)));
});

async function restartMidSession(broker: Broker, protocolVersion: 4 | 5): Promise<void> {
  const p = await pair();
  const pre = prefix();
  const payeeAddr = toHex(p.padKid);
  const opts = { url: broker.url, prefix: pre, protocolVersion, reconnectPeriod: 200, endSessionOnClose: true } as const;
  const pt = await MqttTransport.connect({ ...opts, address: payeeAddr });
  servePayee(p.payee, pt);
  const session = new PayerSession(p.payer, await MqttTransport.connect({ ...opts, address: toHex(p.payer.kid) }));
  let applied = 0n;
  p.payee.on('paid', (e) => {
    applied += e.delta;
  });
  const id = await session.open(payeeAddr, { payeeKid: p.padKid, cap: 100_000n, payword: { length: 200, tickValue: 1n } });
  const N = 60;
  for (let i = 0; i < N; i++) {
    if (i === N / 2) {
      await broker.crash();
      setTimeout(() => void broker.restart(), 300);
    }
    await session.pay(payeeAddr, id, 7n);
    await session.tick(payeeAddr, id);
  }
  try {
    await session.waitAck(payeeAddr, id, N, N, { timeoutMs: 20_000, resendMs: 500 });
  } catch (e) {
    const c = p.payee.channel(id);
    throw new Error(
      `payee at seq ${c?.seq} ticks ${c?.ticks}; payer acked ${JSON.stringify(p.payer.acked(id))}; connected payee ${pt.connected} payer ${(session.transport as MqttTransport).connected}; dropped ${pt.dropped}`,
      { cause: e },
    );
  }
  // Every payment arrived exactly once in effect: the total is what was paid, no more, no less.
  expect(p.payee.channel(id)).toMatchObject({ seq: N, ticks: N });
  expect(applied).toBe(BigInt(N) * 8n);
  await session.transport.close();
  await pt.close();
}

describe('broker restart in the middle of a session', () => {
  it('aedes: the session survives; nothing lost, nothing applied twice (MQTT 3.1.1)', async () => {
    const b = await startAedes();
    try {
      await restartMidSession(b, 4);
    } finally {
      await b.close();
    }
  }, 60_000);

  it('Mosquitto (private instance, kill -9): the same (MQTT 5)', async () => {
    const b = await startMosquitto();
    try {
      await restartMidSession(b, 5);
    } finally {
      await b.close();
    }
  }, 60_000);
});
