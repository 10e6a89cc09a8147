/**
 * Worker for `npm run bench -- mqtt`: the payee devices, on their own thread (as devices would be on
 * their own boards), served over MQTT. Posts 'ready' once every payee is subscribed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { servePayee } from '../src/channel/session.js';
import { MqttTransport } from '../src/transport/mqtt.js';
import { benchPairs } from './world.js';

const { url, prefix, protocolVersion, n } = workerData as { url: string; prefix: string; protocolVersion: 4 | 5; n: number };
const transports: MqttTransport[] = [];
for (const p of await benchPairs(n)) {
  const t = await MqttTransport.connect({ url, prefix, protocolVersion, address: p.payeeAddr, endSessionOnClose: true });
  servePayee(p.payee, t);
  transports.push(t);
}
parentPort?.postMessage('ready');
parentPort?.on('message', async (m) => {
  if (m === 'stop') {
    await Promise.all(transports.map((t) => t.close()));
    parentPort?.postMessage('stopped');
  }
});
