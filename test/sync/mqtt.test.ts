/**
 * Sync over MQTT (aedes in-process with 3.1.1; Mosquitto at 127.0.0.1:1883 with MQTT 5 and a shared
 * subscription, a topic prefix per run), and revocation lists as retained messages, large ones included.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { openPglite } from '../../src/ledger/db.js';
import { serveMqtt } from '../../src/ledger/mqtt.js';
import { MemoryOutbox } from '../../src/outbox/outbox.js';
import { MqttLedgerClient } from '../../src/sync/mqtt.js';
import { Sync } from '../../src/sync/sync.js';
import { MqttTransport } from '../../src/transport/mqtt.js';
import { service } from '../services.js';
import { startAedes } from '../transport/brokers.js';
import { ledgerSeed, pair, payOffline, startLedger } from './world.js';

async function syncOverMqtt(url: string, protocolVersion: 4 | 5): Promise<void> {
  const prefix = `edgepay-test-${randomBytes(6).toString('hex')}`;
  const p = await pair();
  const db = await openPglite();
  const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 5_000n).then(() => {}));
  const ingest = await serveMqtt(w.service, { url, prefix, protocolVersion });
  const t = await MqttTransport.connect({
    url,
    prefix,
    protocolVersion,
    address: toHex(coseKeyThumbprint(p.drone.publicKey)),
    endSessionOnClose: true,
  });
  try {
    const outbox = new MemoryOutbox();
    const receipts = new MemoryOutbox();
    const ledgerKey = (await nodeEd25519.signer(ledgerSeed)).publicKey;
    const sync = new Sync({
      outbox,
      receipts,
      client: new MqttLedgerClient(t, { timeoutMs: 10_000 }),
      device: p.droneDevice,
      ledgerKey,
    });
    for (let i = 0; i < 3; i++) await sync.queue((await payOffline(p, 2, 50n)).payer);
    expect(await sync.syncNow()).toMatchObject({ acknowledged: 3, rejected: 0 });
    expect(await outbox.size()).toBe(0);
    expect(await receipts.size()).toBe(3);
    expect(await w.ledger.balance('party:pads', 'EUR')).toBe(300n);
    // A refused submission comes back, on the submitter's own topic, as a non-retryable failure with the
    // ledger's code: here a key that is not the chain's.
    const strangerKey = await nodeEd25519.signer(new Uint8Array(32).fill(9));
    const st = await MqttTransport.connect({
      url,
      prefix,
      protocolVersion,
      address: toHex(coseKeyThumbprint(strangerKey.publicKey)),
      endSessionOnClose: true,
    });
    try {
      const stranger = new Sync({
        outbox: new MemoryOutbox(),
        client: new MqttLedgerClient(st),
        device: { ...p.droneDevice, signer: strangerKey }, // a key that is not the chain's
        ledgerKey,
      });
      await stranger.queue((await payOffline(p, 1, 1n)).payer);
      await expect(stranger.syncNow()).rejects.toMatchObject({ code: 'SYNC_REFUSED', retryable: false });
    } finally {
      await st.close();
    }

    // Revocation lists travel retained: a device that subscribes later still gets the newest, even one
    // of 10,000 keys (far over the 16 KiB frame limit).
    const issuer = await nodeEd25519.signer(new Uint8Array(32).fill(1));
    const entries = Array.from({ length: 10_000 }, () => ({ kid: randomBytes(32), revokedAt: p.clock.now }));
    const big = await signRevocationList(issuer, { issuer: 'net', version: 7, issuedAt: p.clock.now, entries });
    expect(big.length).toBeGreaterThan(100_000);
    await ingest.publishRevocationList(big);
    const late = await MqttTransport.connect({ url, prefix, protocolVersion, address: 'abcdef', endSessionOnClose: true });
    try {
      const trust = new TrustStore(p.roots);
      const applied = new Promise<string>((resolve) => late.onRevocationLists(async (l) => resolve(await trust.applyRevocationList(l))));
      expect(await applied).toBe('applied');
      expect(trust.revocation(coseKeyThumbprint(issuer.publicKey))?.version).toBe(7);
    } finally {
      await late.close();
    }
  } finally {
    await ingest.close();
    // Clear the retained message (the broker is shared), once the ledger no longer keeps it there.
    await t.client.publishAsync(
      `${prefix}/revocations/${toHex(coseKeyThumbprint((await nodeEd25519.signer(new Uint8Array(32).fill(1))).publicKey))}`,
      Buffer.alloc(0),
      {
        qos: 1,
        retain: true,
      },
    );
    await t.close();
    await w.http.close();
    await db.close();
  }
}

const haveMosquitto = await service('Mosquitto', 1883);

describe('sync over MQTT', () => {
  it('aedes (MQTT 3.1.1): receipts come back on the device topic; lists arrive retained', async () => {
    const b = await startAedes();
    try {
      await syncOverMqtt(b.url, 4);
    } finally {
      await b.close();
    }
  }, 60_000);

  it.skipIf(!haveMosquitto)(
    'Mosquitto at 127.0.0.1:1883 (MQTT 5, shared subscription)',
    () => syncOverMqtt('mqtt://127.0.0.1:1883', 5),
    60_000,
  );
});
