/**
 * @module ledger/mqtt
 * MQTT ingest: the ledger takes submissions from `<prefix>/ledger/submit/+` and answers on
 * `<prefix>/ledger/answer/<submitter>`, where `<submitter>` is the thumbprint (hex) of the key that signed
 * the submission: an answer goes to the identity that submitted, whatever topic it came on. Devices use
 * their key's thumbprint as their address, and a broker's ACL lets each publish only on its own submit
 * topic and read only its own answer topic (docs/operating/mqtt.md). With MQTT 5 it subscribes as a shared
 * subscription, so several ledger processes split one fleet's submissions.
 *
 * Revocation lists: parties and issuers send them to `<prefix>/ledger/revoke/<address>` (a list, or
 * `[list, party credential]`); the ledger publishes every list it holds, retained, on
 * `<prefix>/revocations/<authority kid>`, and puts its own back if anything else replaces it there (an
 * empty retained message would otherwise wipe the topic for every device that connects later).
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { equalBytes, toHex } from '../bytes.js';
import { decode } from '../codec/cbor.js';
import { asArray, asBytes } from '../codec/fields.js';
import { sha256 } from '../crypto/hash.js';
import { EdgepayError, LedgerError } from '../errors.js';
import { decodeRevocationList, MAX_REVOCATION_BYTES } from '../identity/revocation.js';
import { encodeAnswer } from '../sync/mqtt.js';
import { decodeSubmission } from '../sync/submission.js';
import { type Logger, silentLogger, Throttle } from './log.js';
import { optional } from './optional.js';
import type { LedgerService } from './service.js';

export interface MqttIngestOptions {
  url: string;
  prefix?: string;
  protocolVersion?: 4 | 5;
  clientId?: string;
  /** Largest submission taken (default 4 MiB). */
  maxBytes?: number;
  /** Extra MQTT.js options: the ledger's own credentials (username, password), TLS (ca, cert, key). */
  mqtt?: IClientOptions;
  log?: Logger;
}

export interface MqttIngest {
  /** Publishes a revocation list, retained (give this to the service's `publish`). */
  publishRevocationList(list: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

const ADDRESS = /^[0-9a-f]{1,128}$/;

/** The kid a submission names in its protected header, if it decodes at all (for answering a refusal). */
function claimedKid(bytes: Uint8Array): string | undefined {
  try {
    const kid = decodeSubmission(bytes).sign1.kid;
    return kid && toHex(kid);
  } catch {
    return undefined;
  }
}

export async function serveMqtt(service: LedgerService, o: MqttIngestOptions): Promise<MqttIngest> {
  const prefix = o.prefix ?? 'edgepay';
  const v = o.protocolVersion ?? 5;
  const max = o.maxBytes ?? 4 * 1024 * 1024;
  const log = o.log ?? silentLogger;
  const broker = o.url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  const mqtt = await optional('mqtt', "the ledger's MQTT ingest", () => import('mqtt'), 'mqtt');
  const { connectAsync } = (mqtt as unknown as { default?: typeof mqtt }).default ?? mqtt;
  // The first connection must succeed (or the start fails, saying why); later losses are reconnected.
  const client: MqttClient = await connectAsync(
    o.url,
    {
      clientId: o.clientId ?? `${prefix}:ledger:${toHex(crypto.getRandomValues(new Uint8Array(6)))}`,
      protocolVersion: v,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...o.mqtt,
    },
    false,
  ).catch((e: Error) => {
    throw new LedgerError(
      'LEDGER_BROKER',
      `cannot use the broker at ${broker}: ${e.message}; start it, or check the URL and credentials`,
      'mqtt',
      {
        cause: e,
      },
    );
  });
  const throttle = new Throttle();
  // The broker going away and coming back (a restart, a failover) is the operator's to see.
  client.on('offline', () => log.warn({ broker }, 'the broker connection was lost; reconnecting'));
  client.on('connect', () => log.info({ broker }, 'connected to the broker'));
  const submitBase = `${prefix}/ledger/submit/`;
  const revokeBase = `${prefix}/ledger/revoke/`;
  const listBase = `${prefix}/revocations/`;
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  /** What this process last published on each authority's revocation topic, by authority kid (hex). */
  const published = new Map<string, { list: Uint8Array; version: number; repairedAt: number }>();

  const answer = (to: string, bytes: Uint8Array) =>
    client.publishAsync(`${prefix}/ledger/answer/${to}`, Buffer.from(bytes), { qos: 1 }).catch(() => {});

  const onSubmit = async (address: string, bytes: Uint8Array) => {
    const id = sha256(bytes);
    try {
      const { receipts, submitter } = await service.submitFrom(bytes, `mqtt:${address}`);
      const who = toHex(submitter);
      if (who !== address) log.warn({ topic: address, submitter: who }, 'a submission came on another identity topic; answered on its own');
      await answer(who, encodeAnswer(id, { receipts }));
    } catch (e) {
      const known = e instanceof EdgepayError;
      if (!known) log.error({ err: e, code: 'LEDGER_INTERNAL', from: `mqtt:${address}` }, 'an MQTT submission failed');
      else {
        const dropped = throttle.pass(e.code);
        if (dropped !== false)
          log.warn({ code: e.code, field: e.field, from: `mqtt:${address}`, ...(dropped ? { unlogged: dropped } : {}) }, e.message);
      }
      // A refusal is answered only on the topic of the identity the submission names: with the broker's ACL
      // that is the device itself, and an anonymous publisher cannot aim refusals at anyone else.
      if (claimedKid(bytes) !== address) return;
      const retryable = !known || e.code === 'LEDGER_BUSY' || e.code === 'LEDGER_RATE';
      await answer(
        address,
        encodeAnswer(id, {
          code: known ? e.code : 'LEDGER_INTERNAL',
          message: known ? e.message : 'the ledger failed; the call may be retried',
          retryable,
        }),
      );
    }
  };

  const onRevoke = async (bytes: Uint8Array) => {
    try {
      let list = bytes;
      let party: Uint8Array | undefined;
      if (bytes[0] === 0x82) {
        const [l, p] = asArray(decode(bytes, { maxBytes: MAX_REVOCATION_BYTES + 16 * 1024, maxDepth: 2, tags: [] }), 'list', 2);
        list = asBytes(l, 'list[0]');
        party = asBytes(p, 'list[1]', { max: 8 * 1024 });
      }
      await service.takeRevocationList(list, party);
    } catch (e) {
      log.warn({ err: e }, 'a revocation list sent over MQTT was refused');
    }
  };

  /** A retained list on an authority's topic: a newer valid one is taken; anything else is replaced by ours. */
  const onRetained = async (authority: string, bytes: Uint8Array) => {
    const ours = published.get(authority);
    if (ours && equalBytes(ours.list, bytes)) return;
    try {
      const l = decodeRevocationList(bytes);
      if (l.sign1.kid && toHex(l.sign1.kid) === authority && (!ours || l.content.version >= ours.version)) {
        // Another ledger process may have published a list this one has not loaded yet (a party's, say).
        await service.takeRevocationList(bytes).catch(async () => {
          await service.ledger.loadLists();
          return service.takeRevocationList(bytes);
        });
        published.set(authority, { list: bytes, version: l.content.version, repairedAt: 0 });
        return;
      }
    } catch {} // not a list this ledger can verify (empty, forged, older): replaced below
    if (!ours || performance.now() - ours.repairedAt < 1000) return;
    ours.repairedAt = performance.now();
    log.warn({ authority, bytes: bytes.length }, 'a revocation topic held something else: the ledger put its list back');
    await client.publishAsync(`${listBase}${authority}`, Buffer.from(ours.list), { qos: 1, retain: true }).catch(() => {});
  };

  client.on('message', (topic, payload) => {
    if (payload.length > max) return;
    const bytes = new Uint8Array(payload);
    if (topic.startsWith(submitBase)) {
      const address = topic.slice(submitBase.length);
      if (ADDRESS.test(address)) track(onSubmit(address, bytes));
    } else if (topic.startsWith(revokeBase)) track(onRevoke(bytes));
    else if (topic.startsWith(listBase)) {
      const authority = topic.slice(listBase.length);
      if (ADDRESS.test(authority)) track(onRetained(authority, bytes));
    }
  });
  const shared = (filter: string) => (v === 5 ? `$share/edgepay-ledger/${filter}` : filter);
  await client.subscribeAsync(
    {
      [shared(`${submitBase}+`)]: { qos: 1 },
      [shared(`${revokeBase}+`)]: { qos: 1 },
      [`${listBase}+`]: { qos: 1 },
    },
    {},
  );
  return {
    async publishRevocationList(list) {
      const l = decodeRevocationList(list);
      const kid = l.sign1.kid;
      if (!kid) throw new LedgerError('LEDGER_CONFIG', 'a revocation list without a kid cannot be published', 'list');
      const authority = toHex(kid);
      const held = published.get(authority);
      if (held && held.version > l.content.version) return; // a newer one is out already
      published.set(authority, { list, version: l.content.version, repairedAt: 0 });
      await client.publishAsync(`${listBase}${authority}`, Buffer.from(list), { qos: 1, retain: true });
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      await client.endAsync();
    },
  };
}
