/**
 * A stolen or expired device can be stopped at the ledger: a party's (or the issuer's) revocation list,
 * sent over HTTP, applies at once to records, submissions and cached chains, is stored (a fresh ledger
 * process on the database has it) and is republished; a channel may not outlive any credential of either
 * chain, records are refused once their channel expired more than the settlement window ago, and a cached
 * submitter chain stops authorising when it expires. PGlite and PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { signAccept, signOpen, signVoucher } from '../../src/channel/messages.js';
import { decode, encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { decodeChain } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import type { Db } from '../../src/ledger/db.js';
import { Ledger, SETTLEMENT_WINDOW } from '../../src/ledger/ledger.js';
import { verifyReceipt } from '../../src/settlement/receipt.js';
import { signSubmission } from '../../src/sync/submission.js';
import { DAY, T0 } from '../channel/world.js';
import { havePostgres, pgliteDb, postgresDb } from '../ledger/dbs.js';
import { ledgerSeed, pair, payOffline, startLedger } from '../sync/world.js';
import { record } from './world.js';

const seed = (n: number) => new Uint8Array(32).fill(n);

async function post(url: string, path: string, body: Uint8Array) {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as BodyInit });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes, json: () => JSON.parse(new TextDecoder().decode(bytes)) as { code: string } };
}

/** Each receipt's status and code, verified under the ledger's key. */
async function receipts(bytes: Uint8Array): Promise<string[]> {
  const key = (await nodeEd25519.signer(ledgerSeed)).publicKey;
  const out: string[] = [];
  for (const r of decode(bytes) as Uint8Array[]) {
    const v = await verifyReceipt(r, key);
    out.push(v.code ? `${v.status} ${v.code}` : v.status);
  }
  return out;
}

function suite(openDb: () => Promise<Db & { close(o?: { keep?: boolean }): Promise<void> }>) {
  it("a party's list over HTTP stops its stolen device at once (records, submissions, cached chains), is stored for a fresh process, and is republished", async () => {
    const db = await openDb();
    const p = await pair();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 10_000n).then(() => {}));
    try {
      // The drone settles once: its chain is now cached by the ledger and by the service.
      const first = await payOffline(p, 1, 10n);
      const ok = await post(w.http.url, '/v1/submit', await signSubmission(p.drone, p.droneChain, [first.payer], p.clock.now));
      expect(await receipts(ok.bytes)).toEqual(['accepted']);
      const pending = await payOffline(p, 1, 20n); // paid before the theft was noticed, not yet settled

      // The fleet revokes the drone (its key was stolen), from now; the list goes with the party's credential.
      const fleet = await nodeEd25519.signer(seed(2));
      const list = await signRevocationList(fleet, {
        issuer: 'party:fleet',
        version: 1,
        issuedAt: p.clock.now,
        entries: [{ kid: coseKeyThumbprint(p.drone.publicKey), revokedAt: p.clock.now }],
      });
      // Without the party's credential the ledger cannot know the party's key (it never learns parties).
      const unknown = await post(w.http.url, '/v1/revocations', list);
      expect([unknown.status, unknown.json().code]).toEqual([400, 'ID_UNKNOWN_ISSUER']);
      const partyCred = decodeChain(p.droneChain)[0] as Uint8Array;
      const taken = await post(w.http.url, '/v1/revocations', encode([list, partyCred]));
      expect(taken.status).toBe(200);
      expect(Object.fromEntries(decode(taken.bytes) as Map<string, unknown>)).toEqual({ applied: true, version: 1 });
      // Again: not newer, nothing changes.
      const again = await post(w.http.url, '/v1/revocations', encode([list, partyCred]));
      expect(Object.fromEntries(decode(again.bytes) as Map<string, unknown>)).toEqual({ applied: false, version: 1 });

      // Its submissions: refused (its chain was cached, and is checked again on every use).
      const sub = await post(w.http.url, '/v1/submit', await signSubmission(p.drone, p.droneChain, [pending.payer], p.clock.now));
      expect([sub.status, sub.json().code]).toEqual([403, 'LEDGER_UNAUTHORIZED']);
      // Its records, relayed by the pad: refused.
      const relayed = await post(w.http.url, '/v1/submit', await signSubmission(p.pad, p.padChain, [pending.payee], p.clock.now));
      expect(await receipts(relayed.bytes)).toEqual(['rejected ID_REVOKED']);
      // Republished: served to devices over HTTP, and handed to the publisher (MQTT retained).
      const served = decode(new Uint8Array(await (await fetch(`${w.http.url}/v1/revocations`)).arrayBuffer())) as Uint8Array[];
      expect(served.some((l) => toHex(l) === toHex(list))).toBe(true);
      expect(w.published.some((l) => toHex(l) === toHex(list))).toBe(true);

      // A fresh ledger process on the same database, with a trust store that never saw the list, has it.
      const fresh = await Ledger.open({ db, signer: w.key, id: 'ledger:test', trust: new TrustStore(p.roots), now: () => p.clock.now });
      const [r] = await fresh.submit([(await payOffline(p, 1, 5n)).payee]);
      expect([r?.status, r?.code]).toEqual(['rejected', 'ID_REVOKED']);

      // The issuer's own list is taken too; a list signed by nobody trusted is refused with a code.
      const issuer = await nodeEd25519.signer(seed(1));
      const issuerList = await signRevocationList(issuer, { issuer: 'net', version: 3, issuedAt: p.clock.now, entries: [] });
      expect((await post(w.http.url, '/v1/revocations', issuerList)).status).toBe(200);
      const stranger = await nodeEd25519.signer(seed(9));
      const forged = await signRevocationList(stranger, { issuer: 'net', version: 9, issuedAt: p.clock.now, entries: [] });
      const refused = await post(w.http.url, '/v1/revocations', forged);
      expect([refused.status, refused.json().code]).toEqual([400, 'ID_UNKNOWN_ISSUER']);
      const untyped = await fetch(`${w.http.url}/v1/revocations`, { method: 'POST', body: list as BodyInit });
      expect(untyped.status).toBe(415);
    } finally {
      await w.http.close();
      await db.close();
    }
  });

  it('expiry: a channel may not outlive either credential, settles only within the window after it expires; a cached submitter chain stops when it expires', async () => {
    const db = await openDb();
    // The drone's credential ends two days after T0; the pad's lasts a year.
    const p = await pair({ droneExpiresAt: T0 + 2 * DAY });
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 10_000n).then(() => {}));
    try {
      const sub = (signer: typeof p.drone, chain: Uint8Array, recs: Uint8Array[]) =>
        signSubmission(signer, chain, recs, p.clock.now).then((s) => post(w.http.url, '/v1/submit', s));
      // Settled while valid (the drone's chain is cached by the service now).
      const a = await payOffline(p, 1, 10n);
      expect(await receipts((await sub(p.drone, p.droneChain, [a.payer])).bytes)).toEqual(['accepted']);
      // A channel the payer opened to end with its credential, paid, then the credential expires.
      const b = await payOffline(p, 1, 20n);
      p.clock.now = T0 + 2 * DAY + 3600;
      // The drone's own submissions stop: its cached chain is checked for expiry on every use.
      const late = await sub(p.drone, p.droneChain, [b.payer]);
      expect([late.status, late.json().code]).toEqual([403, 'LEDGER_UNAUTHORIZED']);
      // The pad relays the record: within the settlement window it settles (the payment was made in time).
      expect(await receipts((await sub(p.pad, p.padChain, [b.payee])).bytes)).toEqual(['accepted']);
      // A back-dated channel (opened, in effect, after the credential ended, within its validity on paper)
      // settles only within the window; after it, refused.
      const frame = await signOpen(p.drone, {
        chain: p.droneChain,
        payeeKid: p.padKid,
        asset: 'EUR',
        cap: 100n,
        unitPrice: 0n,
        expiresAt: T0 + 2 * DAY,
        nonce: seed(4).slice(0, 16),
      });
      const backdated = record({
        open: frame.bytes,
        accept: await signAccept(p.pad, frame.channelId, p.padChain),
        voucher: await signVoucher(p.drone, { channelId: frame.channelId, seq: 1, cumulative: 30n }),
      });
      p.clock.now = T0 + 2 * DAY + SETTLEMENT_WINDOW + 1;
      expect(await receipts((await sub(p.pad, p.padChain, [backdated])).bytes)).toEqual(['rejected CH_EXPIRED']);
      // A channel that outlives the payee's credential is refused, whoever accepted it.
      const q = await pair({ padExpiresAt: T0 + 3 * DAY, seeds: [1, 2, 3, 4, 5] });
      const long = await signOpen(q.drone, {
        chain: q.droneChain,
        payeeKid: q.padKid,
        asset: 'EUR',
        cap: 100n,
        unitPrice: 0n,
        expiresAt: T0 + 10 * DAY,
        nonce: seed(6).slice(0, 16),
      });
      const outliving = record({
        open: long.bytes,
        accept: await signAccept(q.pad, long.channelId, q.padChain),
        voucher: await signVoucher(q.drone, { channelId: long.channelId, seq: 1, cumulative: 5n }),
      });
      p.clock.now = T0 + 2 * DAY;
      const [r] = await w.ledger.submit([outliving]);
      expect([r?.status, r?.code]).toEqual(['rejected', 'CH_TERMS']);
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(30n);
    } finally {
      await w.http.close();
      await db.close();
    }
  });
}

describe('revocation and expiry at the ledger, PGlite', () => suite(pgliteDb as never));
describe.skipIf(!havePostgres)('revocation and expiry at the ledger, PostgreSQL', () => suite(() => postgresDb()));
