/**
 * MQTT answers go only to the identity that submitted, and the broker is locked down. On a Mosquitto of
 * the test's own with the documented setup (docs/operating/mosquitto: passwords per client, the committed
 * ACL file): anonymous clients, another device's topics and the revocation topics are refused, and the
 * honest flow works. On an open broker (aedes), where nothing stops a client: the ledger still answers only
 * the submitter's own topic, puts back a revocation list an anonymous client wiped, takes a party's list
 * over MQTT, and refuses a submitter over its work budget with a retryable code.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { sha256 } from '../../src/crypto/hash.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { decodeChain } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { openPglite } from '../../src/ledger/db.js';
import { serveMqtt } from '../../src/ledger/mqtt.js';
import { LedgerService } from '../../src/ledger/service.js';
import { MemoryOutbox } from '../../src/outbox/outbox.js';
import { decodeAnswer, MqttLedgerClient } from '../../src/sync/mqtt.js';
import { signSubmission } from '../../src/sync/submission.js';
import { Sync } from '../../src/sync/sync.js';
import { MqttTransport } from '../../src/transport/mqtt.js';
import { requireServices, skipped } from '../services.js';
import { ledgerSeed, pair, payOffline, startLedger } from '../sync/world.js';
import { type Broker, startAedes, startMosquitto } from '../transport/brokers.js';

const { connectAsync } = mqtt;

function haveMosquitto(): boolean {
  try {
    execFileSync('mosquitto_passwd', ['-h'], { stdio: 'ignore' });
  } catch (e) {
    // mosquitto_passwd -h exits 1 after printing its usage: present.
    if ((e as { status?: number }).status === 1) return true;
    if (requireServices) throw new Error('mosquitto and mosquitto_passwd are required in CI (apt-get install mosquitto)');
    skipped('the locked-down Mosquitto tests', 'mosquitto_passwd is not installed (apt-get install mosquitto)');
    return false;
  }
  return true;
}

const kidOf = (key: Uint8Array) => toHex(coseKeyThumbprint(key));

describe.runIf(haveMosquitto())('a locked-down Mosquitto (the documented ACL and per-client passwords)', () => {
  let broker: Broker;
  let p: Awaited<ReturnType<typeof pair>>;
  const pw = { ledger: 'ledger-secret', drone: 'drone-secret', pad: 'pad-secret' };
  beforeAll(async () => {
    p = await pair();
    broker = await startMosquitto({
      secure: { users: { ledger: pw.ledger, [kidOf(p.drone.publicKey)]: pw.drone, [kidOf(p.pad.publicKey)]: pw.pad } },
    });
  });
  afterAll(() => broker.close());

  it('refuses anonymous clients, wrong passwords, another device topics and the revocation topics; the honest flow works', async () => {
    const drone = kidOf(p.drone.publicKey);
    const pad = kidOf(p.pad.publicKey);
    const as = (username: string, password: string) =>
      connectAsync(broker.url, {
        protocolVersion: 5,
        username,
        password,
        reconnectPeriod: 0,
        clientId: `t-${randomBytes(4).toString('hex')}`,
      });
    await expect(connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 })).rejects.toThrow(/not authorized|bad user/i);
    await expect(as(pad, pw.drone)).rejects.toThrow(/not authorized|bad user/i);

    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 5_000n).then(() => {}));
    let ingest: Awaited<ReturnType<typeof serveMqtt>> | undefined;
    const service = await LedgerService.open({
      ledger: w.ledger,
      trust: w.trust,
      now: () => p.clock.now,
      publish: (l) => ingest?.publishRevocationList(l),
    });
    ingest = await serveMqtt(service, { url: broker.url, protocolVersion: 5, mqtt: { username: 'ledger', password: pw.ledger } });
    const issuer = await nodeEd25519.signer(new Uint8Array(32).fill(1));
    const list = await signRevocationList(issuer, { issuer: 'net', version: 4, issuedAt: p.clock.now, entries: [] });
    await service.takeRevocationList(list);
    const intruder = await as(drone, pw.drone); // an enrolled device trying what its ACL forbids
    try {
      // Reading another device's answers, every submission, or another device's frames: the broker lets the
      // subscription stand but delivers nothing on it (Mosquitto checks read access per message).
      const received: string[] = [];
      intruder.on('message', (topic) => received.push(topic));
      await intruder.subscribeAsync([`edgepay/ledger/answer/${pad}`, 'edgepay/ledger/submit/+', `edgepay/d/${pad}/from/+`, 'edgepay/#']);
      // Publishing on another device's submit topic, as another device, or on a revocation topic (a wipe): refused (PUBACK 0x87).
      const outcome = (topic: string) =>
        intruder.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true }).then(
          () => 'accepted',
          (e: Error) => e.message,
        );
      for (const topic of [
        `edgepay/ledger/submit/${pad}`,
        `edgepay/d/${drone}/from/${pad}`,
        `edgepay/revocations/${kidOf(issuer.publicKey)}`,
      ])
        expect(await outcome(topic)).toMatch(/not authorized/i);
      // The list is still there for a device connecting later.
      const t = await MqttTransport.connect({
        url: broker.url,
        address: pad,
        mqtt: { username: pad, password: pw.pad },
        endSessionOnClose: true,
      });
      try {
        const got = new Promise<Uint8Array>((resolve) => void t.onRevocationLists((l) => resolve(l)));
        expect(toHex(await got)).toBe(toHex(list));
      } finally {
        await t.close();
      }
      // The honest flow: the pad syncs over its own topics, and frames pass between the two devices.
      const padT = await MqttTransport.connect({
        url: broker.url,
        address: pad,
        mqtt: { username: pad, password: pw.pad },
        endSessionOnClose: true,
      });
      try {
        const sync = new Sync({
          outbox: new MemoryOutbox(),
          client: new MqttLedgerClient(padT, { timeoutMs: 10_000 }),
          device: p.padDevice,
          ledgerKey: (await nodeEd25519.signer(ledgerSeed)).publicKey,
        });
        await sync.queue((await payOffline(p, 1, 25n)).payee);
        expect(await sync.syncNow()).toMatchObject({ acknowledged: 1 });
        await padT.send(drone, new Uint8Array([1, 2, 3]));
      } finally {
        await padT.close();
      }
      // The intruder saw none of it: only what anyone may read (the retained list) and the frame addressed to it,
      // which the pad sent last: once it is in, whatever was published before it has been routed too.
      await waitFor(() => received.includes(`edgepay/d/${drone}/from/${pad}`));
      expect(received.sort()).toEqual([`edgepay/d/${drone}/from/${pad}`, `edgepay/revocations/${kidOf(issuer.publicKey)}`]);
    } finally {
      await intruder.endAsync();
      await ingest.close();
      await w.http.close();
      await db.close();
    }
  }, 60_000);
});

describe('the ledger on an open broker (aedes): nothing stops a client, the ledger still answers only the submitter', () => {
  it('answers go to the submitter, a wiped list is put back, a party list over MQTT is taken and republished, a submitter over budget is told to wait', async () => {
    const b = await startAedes();
    const p = await pair();
    const db = await openPglite();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 5_000n).then(() => {}));
    // The service republishes every list it takes through the ingest, as `ledger serve --mqtt` wires it.
    let ingest: Awaited<ReturnType<typeof serveMqtt>> | undefined;
    const service = await LedgerService.open({
      ledger: w.ledger,
      trust: w.trust,
      now: () => p.clock.now,
      publish: (l) => ingest?.publishRevocationList(l),
    });
    ingest = await serveMqtt(service, { url: b.url, protocolVersion: 4 });
    const anyone = await connectAsync(b.url, { protocolVersion: 4, reconnectPeriod: 0 });
    const drone = kidOf(p.drone.publicKey);
    const pad = kidOf(p.pad.publicKey);
    try {
      const seen = new Map<string, Uint8Array[]>();
      anyone.on('message', (topic, payload) => seen.set(topic, [...(seen.get(topic) ?? []), new Uint8Array(payload)]));
      await anyone.subscribeAsync(['edgepay/ledger/answer/+', 'edgepay/revocations/+']);
      // The drone's submission, published on the pad's topic: the answer goes to the drone's own topic.
      const submission = await signSubmission(p.drone, p.droneChain, [(await payOffline(p, 1, 10n)).payer], p.clock.now);
      await anyone.publishAsync(`edgepay/ledger/submit/${pad}`, Buffer.from(submission), { qos: 1 });
      await waitFor(() => seen.has(`edgepay/ledger/answer/${drone}`));
      expect(seen.has(`edgepay/ledger/answer/${pad}`)).toBe(false);
      expect(toHex(decodeAnswer(seen.get(`edgepay/ledger/answer/${drone}`)?.[0] as Uint8Array).id)).toBe(toHex(sha256(submission)));

      // A party's list over MQTT (with its credential): taken, stored, republished retained on its topic.
      const fleet = await nodeEd25519.signer(new Uint8Array(32).fill(2));
      const list = await signRevocationList(fleet, { issuer: 'party:fleet', version: 1, issuedAt: p.clock.now, entries: [] });
      await anyone.publishAsync(
        `edgepay/ledger/revoke/${kidOf(fleet.publicKey)}`,
        Buffer.from(encode([list, decodeChain(p.droneChain)[0] as Uint8Array])),
        { qos: 1 },
      );
      const topic = `edgepay/revocations/${kidOf(fleet.publicKey)}`;
      await waitFor(() => (seen.get(topic) ?? []).some((m) => toHex(m) === toHex(list)));
      // An anonymous empty retained publish wipes the topic: the ledger puts its list back.
      await anyone.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
      await waitFor(() => (seen.get(topic) ?? []).filter((m) => toHex(m) === toHex(list)).length >= 2);
      const late = await connectAsync(b.url, { protocolVersion: 4, reconnectPeriod: 0 });
      try {
        const retained = new Promise<Uint8Array>((resolve) => late.on('message', (_t, m) => resolve(new Uint8Array(m))));
        await late.subscribeAsync(topic);
        expect(toHex(await retained)).toBe(toHex(list));
      } finally {
        await late.endAsync();
      }

      // A submitter over its work budget: a retryable LEDGER_RATE on its own topic.
      const tight = await LedgerService.open({
        ledger: w.ledger,
        trust: w.trust,
        now: () => p.clock.now,
        limits: { submitter: { perSecond: 1, burst: 3 } },
      });
      const ingest2 = await serveMqtt(tight, { url: b.url, protocolVersion: 4, prefix: 'tight' });
      try {
        await anyone.subscribeAsync(`tight/ledger/answer/${drone}`);
        const big = await signSubmission(
          p.drone,
          p.droneChain,
          [(await payOffline(p, 1, 1n)).payer, (await payOffline(p, 1, 2n)).payer],
          p.clock.now,
        );
        await anyone.publishAsync(`tight/ledger/submit/${drone}`, Buffer.from(big), { qos: 1 });
        await waitFor(() => seen.has(`tight/ledger/answer/${drone}`));
        expect(decodeAnswer(seen.get(`tight/ledger/answer/${drone}`)?.[0] as Uint8Array).answer).toMatchObject({
          code: 'LEDGER_RATE',
          retryable: true,
        });
      } finally {
        await ingest2.close();
      }
    } finally {
      await anyone.endAsync();
      await ingest.close();
      await w.http.close();
      await db.close();
      await b.close();
    }
  }, 60_000);
});

/** Waits (vi.waitFor: polled, with a deadline) until `ok` holds. */
async function waitFor(ok: () => boolean, ms = 10_000): Promise<void> {
  await vi.waitFor(() => expect(ok()).toBe(true), { timeout: ms, interval: 10 });
}
