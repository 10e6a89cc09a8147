/**
 * `npm run bench -- mqtt`: payments over MQTT on loopback, payer and payee in this process, the broker
 * either aedes (in-process, MQTT 3.1.1) or Mosquitto (its own process, 127.0.0.1:1883, MQTT 5).
 * Each payer pays, waits for its payee's ack, pays again: payments/s and p50/p99 latency per payment,
 * for one pair and for 100 concurrent pairs. Payers run on this thread, payees on a worker thread.
 * `limit` is the in-process voucher rate (`npm run bench -- edge`'s edge.voucher.memory), measured just
 * before and after each figure (target: ratio at least 0.5).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Aedes } from 'aedes';
import { PayerSession } from '../src/channel/session.js';
import { MqttTransport } from '../src/transport/mqtt.js';
import { startMosquitto } from '../test/transport/brokers.js';
import { voucherRound } from './edge.js';
import { MEASURE_MS, opsPerSecond, report } from './harness.js';
import { type BenchPair, benchPairs } from './world.js';

export async function runPairs(
  url: string,
  protocolVersion: 4 | 5,
  n: number,
  ms: number,
  window = 1,
): Promise<{ rate: number; p50: number; p99: number }> {
  const prefix = `edgepay-bench-${randomBytes(4).toString('hex')}`;
  const opts = { url, prefix, protocolVersion, endSessionOnClose: true } as const;
  // Payees on another thread, as on other devices; payers here.
  const entry = new URL('./mqtt-payees.ts', import.meta.url).href;
  const worker = new Worker(new URL('./ts-worker.mjs', import.meta.url), { workerData: { entry, url, prefix, protocolVersion, n } });
  await new Promise<void>((r, j) => worker.once('message', () => r()).once('error', j));
  const pairs = await benchPairs(n);
  const transports: MqttTransport[] = [];
  const sessions: { s: PayerSession; id: Uint8Array; p: BenchPair }[] = [];
  for (const p of pairs) {
    const tr = await MqttTransport.connect({ ...opts, address: p.payerAddr });
    transports.push(tr);
    const s = new PayerSession(p.payer, tr);
    sessions.push({ s, id: await s.open(p.payeeAddr, { payeeKid: p.payeeKid, cap: 10n ** 14n }), p });
  }
  // Pairs run for a warm-up of a quarter of `ms` (the payees' thread starts cold), then `ms` measured:
  // payments acked within it, and the latency (send to ack) of those also sent within it.
  const latencies: number[] = [];
  const from = performance.now() + ms / 4;
  const end = from + ms;
  let total = 0;
  await Promise.all(
    sessions.map(async ({ s, id, p }) => {
      // Up to `window` vouchers in flight (1: pay, wait for the ack, pay again).
      const sentAt: number[] = [];
      let seen = 0;
      const acked = (e: { seq: number }) => {
        const now = performance.now();
        for (; seen < e.seq && seen < sentAt.length; seen++) {
          if (now < from || now > end) continue;
          total++;
          const sent = sentAt[seen] as number;
          if (sent >= from) latencies.push(now - sent);
        }
      };
      p.payer.on('acked', acked);
      let seq = 0;
      while (performance.now() < end) {
        seq++;
        sentAt.push(performance.now());
        await s.pay(p.payeeAddr, id, 1n);
        if (seq >= window) await s.waitAck(p.payeeAddr, id, seq - window + 1, 0, { timeoutMs: 30_000 });
      }
      await s.waitAck(p.payeeAddr, id, seq, 0, { timeoutMs: 30_000 });
      p.payer.off('acked', acked);
    }),
  );
  await Promise.all(transports.map((t) => t.close()));
  worker.postMessage('stop');
  await new Promise((r) => worker.once('message', r));
  await worker.terminate();
  latencies.sort((a, b) => a - b);
  const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * f))] ?? 0;
  return { rate: (total * 1000) / ms, p50: q(0.5), p99: q(0.99) };
}

export async function benchMqtt(): Promise<void> {
  // The in-process voucher rate, measured just before and just after each figure: the machine's speed
  // drifts by tens of percent over the minute this takes, so a limit taken once at the start skews ratios.
  const voucherOp = await voucherRound();
  const broker = await Aedes.createBroker();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const aedesUrl = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  // Mosquitto as deployed for edgepay: its own process, `set_tcp_nodelay true` (the shared test broker's
  // default config leaves Nagle on, which adds about 40 ms per hop).
  const mosquitto = await startMosquitto({ tcpNoDelay: true });
  const brokers: [string, string, 4 | 5][] = [
    ['aedes', aedesUrl, 4],
    ['mosquitto', mosquitto.url, 5],
  ];
  const ms = Math.max(2000, MEASURE_MS * 3);
  for (const [name, url, v] of brokers) {
    for (const [n, window] of [
      [1, 1],
      [1, 32],
      [100, 1],
    ] as const) {
      const before = await opsPerSecond(voucherOp);
      const r = await runPairs(url, v, n, ms, window);
      const voucherRate = (before + (await opsPerSecond(voucherOp))) / 2;
      const tag = `mqtt.${name}.pairs${n}${window > 1 ? `.window${window}` : ''}`;
      report(`${tag}.payments`, r.rate, 'payments/s', voucherRate);
      report(`${tag}.p50`, r.p50, 'ms');
      report(`${tag}.p99`, r.p99, 'ms');
    }
  }
  await new Promise<void>((r) => broker.close(() => r()));
  await new Promise((r) => server.close(r));
  await mosquitto.close();
}
