/** A ledger service on a real database over HTTP, and devices that pay offline and sync to it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Signer } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import type { BatchVerifier } from '../../src/crypto/workers.js';
import type { Device } from '../../src/identity/device.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import type { Db } from '../../src/ledger/db.js';
import { type HttpLedger, serveHttp } from '../../src/ledger/http.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { LedgerService } from '../../src/ledger/service.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { HttpLedgerClient } from '../../src/sync/client.js';
import { Sync, type SyncOptions } from '../../src/sync/sync.js';
import { deliver, type Pair, pair } from '../channel/world.js';

export const ledgerSeed = new Uint8Array(32).fill(77);

/**
 * A port for a ledger that is down now and starts later: held by a listener that resets every connection
 * (an unreachable ledger, as a client sees it) until `release()`, after which the ledger listens on it at
 * once. Unlike probing a free port and closing it, nobody else can take it in the meantime.
 */
export async function holdPort(): Promise<{ port: number; url: string /** Idempotent. */; release(): Promise<void> }> {
  const s = createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  let released: Promise<void> | undefined;
  const release = () => (released ??= new Promise<void>((r) => s.close(() => r())));
  return { port, url: `http://127.0.0.1:${port}`, release };
}

export interface LedgerWorld {
  key: Signer;
  ledger: Ledger;
  service: LedgerService;
  http: HttpLedger;
  trust: TrustStore;
  issuer: Signer;
  /** Revocation lists the service published (as it would to an MQTT retained topic). */
  published: Uint8Array[];
}

/** A ledger on `db` serving HTTP; `setup` runs before it listens (so no device sees it half-funded). */
export async function startLedger(
  db: Db,
  p: Pair,
  port = 0,
  setup?: (l: Ledger) => Promise<void>,
  verifier?: BatchVerifier,
): Promise<LedgerWorld> {
  const key = await nodeEd25519.signer(ledgerSeed);
  const trust = new TrustStore(p.roots);
  const now = () => p.clock.now;
  const ledger = await Ledger.open({ db, signer: key, id: 'ledger:test', trust, now, ...(verifier ? { verifier } : {}) });
  await setup?.(ledger);
  const issuer = await nodeEd25519.signer(new Uint8Array(32).fill(1)); // pair()'s issuer
  const published: Uint8Array[] = [];
  const service = await LedgerService.open({
    ledger,
    trust,
    now,
    debtor: { name: 'edgepay settlement', account: 'SETTLE-0001' },
    revocation: { signer: issuer, issuer: 'net', publish: (l) => void published.push(l) },
  });
  const http = await serveHttp(service, { port, trust });
  return { key, ledger, service, http, trust, issuer, published };
}

/** A device's outbox (a real file log) and its sync to `url`. */
export async function device(
  dev: Device,
  url: string,
  o: Partial<SyncOptions> = {},
): Promise<{ sync: Sync; outbox: FileOutbox; receipts: FileOutbox; dir: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-sync-'));
  const outbox = await FileOutbox.open(join(dir, 'outbox'));
  const receipts = await FileOutbox.open(join(dir, 'receipts'));
  const ledgerKey = (await nodeEd25519.signer(ledgerSeed)).publicKey;
  const sync = new Sync({
    outbox,
    receipts,
    client: new HttpLedgerClient(url, { timeoutMs: 5_000 }),
    device: dev,
    ledgerKey,
    backoff: { initialMs: 20, maxMs: 200 },
    ...o,
  });
  return {
    sync,
    outbox,
    receipts,
    dir,
    async close() {
      await sync.stop();
      await outbox.close();
      await receipts.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens a channel, pays `payments` vouchers of `amount`, closes if asked; returns both sides' records. */
export async function payOffline(
  p: Pair,
  payments: number,
  amount: bigint,
  close = false,
): Promise<{ payer: Uint8Array; payee: Uint8Array; id: Uint8Array }> {
  // The cap is exactly what will be paid: the payer's outstanding limit counts caps.
  const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: amount * BigInt(payments) });
  await deliver(p, frame);
  for (let i = 0; i < payments; i++) await deliver(p, await p.payer.pay(channelId, amount));
  if (close) await deliver(p, await p.payer.close(channelId));
  return {
    id: channelId,
    payer: encodeSettlement(p.payer.channel(channelId)!),
    payee: encodeSettlement(p.payee.channel(channelId)!),
  };
}

export { pair };
