/**
 * One bad record never blocks anyone else, on the device's side: a record the ledger rejects for good goes
 * with its receipt to the dead-letter log; one that makes the ledger refuse a whole submission is found by
 * splitting the batch and goes there too; the records behind both settle; `edgepay outbox` lists what was
 * refused and why. A refusal of the submitter itself is nobody's record: nothing is buried. PGlite and
 * PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/codec/cbor.js';
import { coseKeyMap } from '../../src/codec/cose-key.js';
import { MAX_COUNTER } from '../../src/codec/fields.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import type { Db } from '../../src/ledger/db.js';
import { serveHttp } from '../../src/ledger/http.js';
import { FileOutbox } from '../../src/outbox/outbox-file.js';
import { decodeDeadLetter } from '../../src/sync/dead-letter.js';
import { havePostgres, pgliteDb, postgresDb } from '../ledger/dbs.js';
import { device, ledgerSeed, pair, payOffline, startLedger } from '../sync/world.js';
import { acceptedChannel, forgeVoucher, record } from './world.js';

function suite(openDb: () => Promise<Db>) {
  it('a rejected record and a record the ledger will not take leave for the dead-letter log; the rest settle; edgepay outbox lists them', async () => {
    const db = await openDb();
    const p = await pair();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 10_000n).then(() => {}));
    // This ledger takes bodies of at most 12 KiB: a record larger than that can never be taken whole.
    const http = await serveHttp(w.service, { maxBodyBytes: 12 * 1024 });
    const d = await device(p.padDevice, http.url);
    const dead = await FileOutbox.open(join(d.dir, 'dead'));
    const { Sync } = await import('../../src/sync/sync.js');
    const { HttpLedgerClient } = await import('../../src/sync/client.js');
    const sync = new Sync({
      outbox: d.outbox,
      receipts: d.receipts,
      deadLetters: dead,
      client: new HttpLedgerClient(http.url),
      device: p.padDevice,
      ledgerKey: (await nodeEd25519.signer(ledgerSeed)).publicKey,
    });
    const events: string[] = [];
    sync.on('dead', (e) => events.push(`${e.code}${e.kept ? '' : ' (passed over)'}`));
    try {
      const honest = [(await payOffline(p, 1, 10n)).payee];
      const ch = await acceptedChannel(p);
      const overRange = record({ ...ch.parts, voucher: await forgeVoucher(p, { channelId: ch.id, seq: MAX_COUNTER + 1, cumulative: 5n }) });
      const huge = new Uint8Array(20 * 1024).fill(7); // not even a settlement record, and too large to send
      for (const r of [honest[0], overRange, huge, (await payOffline(p, 1, 20n)).payee, (await payOffline(p, 1, 30n)).payee])
        await sync.queue(r as Uint8Array);
      const result = await sync.syncNow();
      expect(result).toMatchObject({ acknowledged: 3, rejected: 1 });
      expect(events.sort()).toEqual(['FIELD_RANGE', 'LEDGER_BODY_SIZE']);
      expect(await d.outbox.size()).toBe(0);
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(60n);
      const letters = (await dead.pending()).map((e) => decodeDeadLetter(e.bytes));
      expect(letters.map((l) => [l.code, l.record.length, l.receipt !== undefined]).sort()).toEqual([
        ['FIELD_RANGE', overRange.length, true],
        ['LEDGER_BODY_SIZE', huge.length, false],
      ]);
      await dead.close();
      // The operator reads them, without touching the log.
      const keyFile = join(d.dir, 'ledger.pub');
      writeFileSync(keyFile, encode(coseKeyMap((await nodeEd25519.signer(ledgerSeed)).publicKey)));
      const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
      const listed = cli('outbox', join(d.dir, 'dead'));
      expect(listed.status).toBe(0);
      const shown = JSON.parse(listed.stdout) as {
        records: number;
        entries: { type: string; code: string; record: { type: string; seq?: number } }[];
      };
      expect(shown.records).toBe(2);
      expect(shown.entries.map((e) => [e.type, e.code, e.record.type]).sort()).toEqual([
        ['dead-letter', 'FIELD_RANGE', 'settlement'],
        ['dead-letter', 'LEDGER_BODY_SIZE', 'unknown'],
      ]);
      const receipts = JSON.parse(cli('outbox', join(d.dir, 'receipts'), '--ledger-key', keyFile).stdout) as {
        entries: { type: string; status: string }[];
      };
      expect(receipts.entries.map((e) => `${e.type} ${e.status}`).sort()).toEqual([
        'receipt accepted',
        'receipt accepted',
        'receipt accepted',
        'receipt rejected',
      ]);
    } finally {
      await d.close();
      await http.close();
      await w.http.close();
      await db.close();
    }
  });

  it("the submitter refused (a revoked device): nobody's record is buried, the outbox waits", async () => {
    const db = await openDb();
    const p = await pair();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 10_000n).then(() => {}));
    const stranger = await nodeEd25519.signer(new Uint8Array(32).fill(9)); // not the key of the chain it sends
    const dir = mkdtempSync(join(tmpdir(), 'edgepay-dead-'));
    const d = await device({ ...p.padDevice, signer: stranger }, w.http.url, { deadLetters: await FileOutbox.open(dir) });
    try {
      const events: string[] = [];
      d.sync.on('dead', (e) => events.push(e.code));
      for (let i = 0; i < 3; i++) await d.sync.queue((await payOffline(p, 1, 5n)).payee);
      await expect(d.sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_REFUSED', retryable: false });
      expect(events).toEqual([]);
      expect(await d.outbox.size()).toBe(3);
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
      await w.http.close();
      await db.close();
    }
  });
}

describe('dead letters, PGlite', () => suite(pgliteDb));
describe.skipIf(!havePostgres)('dead letters, PostgreSQL', () => suite(() => postgresDb()));
