/**
 * @module ledger/mqtt
 * MQTT ingest: the ledger takes submissions from `<prefix>/ledger/submit/+` and answers each device on
 * `<prefix>/ledger/answer/<address>` (see sync/mqtt). With MQTT 5 it subscribes as a shared subscription,
 * so several ledger processes split one fleet's submissions. It also publishes the revocation lists it
 * makes, retained, on `<prefix>/revocations/<issuer kid>`.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { toHex } from '../codec/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { EdgepayError, LedgerError } from '../errors.js';
import { decodeRevocationList } from '../identity/revocation.js';
import { encodeAnswer } from '../sync/mqtt.js';
import type { LedgerService } from './service.js';

const { connectAsync } = mqtt;

export interface MqttIngestOptions {
  url: string;
  prefix?: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  /** Largest submission taken (default 4 MiB). */
  maxBytes?: number;
}

export interface MqttIngest {
  /** Publishes a revocation list, retained (give this to the service's `revocation.publish`). */
  publishRevocationList(list: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

const ADDRESS = /^[0-9a-f]{1,128}$/;

export async function serveMqtt(service: LedgerService, o: MqttIngestOptions): Promise<MqttIngest> {
  const prefix = o.prefix ?? 'edgepay';
  const v = o.protocolVersion ?? 5;
  const max = o.maxBytes ?? 4 * 1024 * 1024;
  const client: MqttClient = await connectAsync(o.url, {
    clientId: o.clientId ?? `${prefix}:ledger:${toHex(crypto.getRandomValues(new Uint8Array(6)))}`,
    protocolVersion: v,
    clean: true,
    reconnectPeriod: 1000,
  });
  const base = `${prefix}/ledger/submit/`;
  let chain = Promise.resolve();
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(base)) return;
    const address = topic.slice(base.length);
    if (!ADDRESS.test(address) || payload.length > max) return;
    const bytes = new Uint8Array(payload);
    // One submission at a time per process: a batch is already one transaction of many records.
    chain = chain.then(async () => {
      const id = sha256(bytes);
      let answer: Uint8Array;
      try {
        answer = encodeAnswer(id, { receipts: await service.submit(bytes) });
      } catch (e) {
        const known = e instanceof EdgepayError;
        answer = encodeAnswer(id, {
          code: known ? e.code : 'LEDGER_INTERNAL',
          message: known ? e.message : 'the ledger failed; the call may be retried',
          retryable: !known,
        });
      }
      await client.publishAsync(`${prefix}/ledger/answer/${address}`, Buffer.from(answer), { qos: 1 }).catch(() => {});
    });
  });
  const filter = `${base}+`;
  await client.subscribeAsync(v === 5 ? `$share/edgepay-ledger/${filter}` : filter, { qos: 1 });
  return {
    async publishRevocationList(list) {
      const kid = decodeRevocationList(list).sign1.kid;
      if (!kid) throw new LedgerError('LEDGER_CONFIG', 'a revocation list without a kid cannot be published', 'list');
      await client.publishAsync(`${prefix}/revocations/${toHex(kid)}`, Buffer.from(list), { qos: 1, retain: true });
    },
    async close() {
      await chain;
      await client.endAsync();
    },
  };
}
