/**
 * The ledger service over HTTP on PGlite: who may write, how bad input is answered, what each bad record
 * gets, disputes becoming revocations, statements and ISO 20022 payouts (checked against the schema).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { signVoucher } from '../../src/channel/messages.js';
import { Payee } from '../../src/channel/payee.js';
import { MemoryChannelStore } from '../../src/channel/store.js';
import { type CborValue, decode, encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { decodeChain } from '../../src/identity/credential.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { type Db, openPglite } from '../../src/ledger/db.js';
import { currencyExponent, formatMinor } from '../../src/ledger/statement.js';
import { verifyReceipt } from '../../src/settlement/receipt.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { HttpLedgerClient, SyncFailure } from '../../src/sync/client.js';
import { signAdmin, signSubmission } from '../../src/sync/submission.js';
import { deliver, pair } from '../channel/world.js';
import { haveXmllint } from '../services.js';
import { type LedgerWorld, payOffline, startLedger } from '../sync/world.js';

const seed = (n: number) => new Uint8Array(32).fill(n);
const XSD = 'test/fixtures/iso20022/pain.001.001.03.xsd';

async function post(url: string, body: Uint8Array | string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as BodyInit });
}

async function adminCall(
  w: LedgerWorld,
  signer: Awaited<ReturnType<typeof nodeEd25519.signer>>,
  op: string,
  args: Record<string, CborValue>,
  time: number,
) {
  const res = await post(`${w.http.url}/v1/admin`, await signAdmin(signer, op, args, time, randomBytes(16)));
  return res;
}

describe('ledger service over HTTP (PGlite)', () => {
  let db: Db;
  let p: Awaited<ReturnType<typeof pair>>;
  let w: LedgerWorld;
  beforeEach(async () => {
    db = await openPglite();
    p = await pair({ limits: { totalOutstanding: 1_000n } });
    w = await startLedger(db, p);
  });
  afterEach(async () => {
    await w.http.close();
    await db.close();
  });

  it('administrative calls: issuer only for writes, a party reads only its own, retries apply once, stale calls refused', async () => {
    const issuer = await nodeEd25519.signer(seed(1));
    const fleet = await nodeEd25519.signer(seed(2));
    const stranger = await nodeEd25519.signer(seed(9));
    const t = p.clock.now;
    // A deposit for a party the ledger does not know is refused; the issuer registers it from its credential.
    const unknown = await adminCall(w, issuer, 'fund', { party: 'party:fleet', asset: 'EUR', amount: 500n }, t);
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, 'LEDGER_UNKNOWN_PARTY']);
    // Before it is registered (or any record of its devices comes), the party's key is not known here,
    // and the refusal says so.
    const early = await adminCall(w, fleet, 'balance', { party: 'party:fleet', asset: 'EUR' }, t);
    expect(early.status).toBe(403);
    expect(((await early.json()) as { message: string }).message).toMatch(/party this ledger knows yet/);
    const partyCred = decodeChain(p.droneChain)[0] as Uint8Array;
    const reg = await adminCall(w, issuer, 'register', { credential: partyCred }, t);
    expect(decode(new Uint8Array(await reg.arrayBuffer()))).toEqual(new Map([['party', 'party:fleet']]));
    expect(await (await adminCall(w, fleet, 'register', { credential: partyCred }, t)).json()).toMatchObject({
      code: 'LEDGER_UNAUTHORIZED',
    });
    const fund = await signAdmin(issuer, 'fund', { party: 'party:fleet', asset: 'EUR', amount: 500n }, t, randomBytes(16));
    for (const applied of [true, false, false]) {
      const res = await post(`${w.http.url}/v1/admin`, fund);
      expect(res.status).toBe(200);
      expect((decode(new Uint8Array(await res.arrayBuffer())) as Map<string, unknown>).get('applied')).toBe(applied);
    }
    expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(500n);
    await payOffline(p, 1, 1n); // the ledger learns party:fleet's key from a chain it verifies
    await w.service.submit(await signSubmission(p.drone, p.droneChain, [(await payOffline(p, 1, 5n)).payer], t));
    const own = await adminCall(w, fleet, 'balance', { party: 'party:fleet', asset: 'EUR' }, t);
    expect(BigInt((decode(new Uint8Array(await own.arrayBuffer())) as Map<string, number | bigint>).get('balance') as bigint)).toBe(495n);
    const refusals = [
      [await adminCall(w, fleet, 'balance', { party: 'party:pads', asset: 'EUR' }, t), 403, 'LEDGER_UNAUTHORIZED'],
      [await adminCall(w, fleet, 'fund', { party: 'party:fleet', asset: 'EUR', amount: 1n }, t), 403, 'LEDGER_UNAUTHORIZED'],
      [await adminCall(w, stranger, 'fund', { party: 'party:fleet', asset: 'EUR', amount: 1n }, t), 403, 'LEDGER_UNAUTHORIZED'],
      [await adminCall(w, issuer, 'fund', { party: 'party:fleet', asset: 'EUR', amount: 1n }, t - 3600), 400, 'LEDGER_STALE'],
      [await adminCall(w, issuer, 'explode', {}, t), 400, 'LEDGER_OP'],
      [await adminCall(w, issuer, 'fund', { party: 'party:fleet', asset: 'EUR', amount: -5n }, t), 400, 'FIELD_RANGE'],
    ] as const;
    for (const [res, status, code] of refusals) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { code: string }).code).toMatch(new RegExp(`^${code}`));
    }
  });

  it('bad requests get a status and a code, and never take the service down', async () => {
    const u = w.http.url;
    const cases: [Promise<Response>, number, RegExp][] = [
      [post(`${u}/v1/submit`, new Uint8Array([0xff, 0x00, 0x13])), 400, /^(CBOR|COSE)_/],
      [post(`${u}/v1/submit`, encode(new Map([[1, 2]]))), 400, /^(CBOR|COSE)_/],
      [post(`${u}/v1/submit`, new Uint8Array(5 * 1024 * 1024)), 413, /^LEDGER_BODY_SIZE$/],
      [fetch(`${u}/v1/submit`), 405, /^LEDGER_METHOD$/],
      [fetch(`${u}/nowhere`), 404, /^LEDGER_NOT_FOUND$/],
    ];
    for (const [res, status, code] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      expect(((await r.json()) as { code: string }).code).toMatch(code);
    }
    // A submission signed by a key other than the chain's, and one by a stranger's chain.
    const ch = await payOffline(p, 1, 5n);
    const forgedSigner = await signSubmission(p.pad, p.droneChain, [ch.payer], p.clock.now);
    const r = await post(`${u}/v1/submit`, forgedSigner);
    expect([r.status, ((await r.json()) as { code: string }).code]).toEqual([403, 'LEDGER_UNAUTHORIZED']);
    const client = new HttpLedgerClient(u);
    await expect(client.submit(forgedSigner)).rejects.toSatisfy(
      (e) => e instanceof SyncFailure && !e.retryable && e.code === 'SYNC_REFUSED',
    );
    // Mutated submissions: always a 4xx with a code, never a 5xx or a dropped connection.
    const valid = await signSubmission(p.drone, p.droneChain, [ch.payer], p.clock.now);
    for (let i = 0; i < 150; i++) {
      const m = valid.slice(0, valid.length - (i % 7));
      for (let k = 0; k < 3; k++) m[(i * 131 + k * 977) % m.length]! ^= 1 << ((i + k) % 8);
      const res = await post(`${u}/v1/submit`, m);
      if (res.status === 200) continue; // a mutation inside a record: the record gets a rejection receipt
      expect([400, 403]).toContain(res.status);
      expect(((await res.json()) as { code: string }).code).toMatch(/^[A-Z]+_[A-Z0-9_]+$/);
    }
    expect((await fetch(`${u}/health`)).status).toBe(200);
    expect((await post(`${u}/v1/submit`, valid)).status).toBe(200);
    // What the ledger counts is for its operator's listener, not for anyone who can reach the API.
    expect((await fetch(`${u}/metrics`)).status).toBe(404);
    const { serveOperator } = await import('../../src/ledger/http.js');
    const operator = await serveOperator(w.service);
    try {
      const res = await fetch(`${operator.url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const metrics = await res.text();
      // Prometheus text: HELP and TYPE lines, counters, the queue gauge, and histograms of what the
      // submissions above cost (latency, size, the check and apply stages).
      expect(metrics).toMatch(/^edgepay_ledger_refused_total [1-9]/m);
      expect(metrics).toMatch(/^# HELP edgepay_ledger_records_total Settlement records answered$/m);
      expect(metrics).toMatch(/^# TYPE edgepay_ledger_records_total counter$/m);
      expect(metrics).toMatch(/^edgepay_ledger_submissions_in_progress 0$/m);
      expect(metrics).toMatch(/^edgepay_ledger_db_failovers_total 0$/m);
      expect(metrics).toMatch(/^edgepay_ledger_db_unreplicated_total 0$/m);
      // Readiness, on both listeners: this process can take submissions (its database takes commits).
      for (const base of [operator.url, u]) {
        const ready = await fetch(`${base}/ready`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toEqual({ status: 'ready', writable: true, failovers: 0, unreplicated: 0 });
      }
      for (const h of ['submission_seconds', 'submission_records', 'check_seconds', 'apply_seconds']) {
        expect(metrics).toMatch(new RegExp(`^# TYPE edgepay_ledger_${h} histogram$`, 'm'));
        expect(metrics).toMatch(new RegExp(`^edgepay_ledger_${h}_count [1-9]`, 'm'));
        expect(metrics).toMatch(new RegExp(`^edgepay_ledger_${h}_bucket\\{le="\\+Inf"\\} [1-9]`, 'm'));
      }
    } finally {
      await operator.close();
    }
  });

  it('a client over its rate gets 429 (retryable)', async () => {
    const w2 = await startLedger(await openPglite(), p);
    await w2.http.close();
    const { serveHttp } = await import('../../src/ledger/http.js');
    const tight = await serveHttp(w2.service, { rate: { perSecond: 1, burst: 3 } });
    try {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${tight.url}/health`)).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses).toContain(429);
      await expect(new HttpLedgerClient(tight.url).submit(new Uint8Array([1]))).rejects.toSatisfy(
        (e) => e instanceof SyncFailure && e.retryable,
      );
    } finally {
      await tight.close();
    }
  });

  it('forged, replayed, revoked, over-limit and equivocating records: each rejected or disputed with its code', async () => {
    await w.ledger.fund('party:fleet', 'EUR', 100_000n);
    const submit = async (records: Uint8Array[], by = p.pad, chain = p.padChain) =>
      Promise.all(
        (await w.service.submit(await signSubmission(by, chain, records, p.clock.now))).map((r) => verifyReceipt(r, w.key.publicKey)),
      );
    const good = await payOffline(p, 3, 100n);
    const forged = good.payee.slice();
    forged[forged.length - 2]! ^= 1;
    const [f, ok] = await submit([forged, good.payee]);
    expect(f?.status).toBe('rejected');
    expect(f?.code).toMatch(/^(COSE_SIGNATURE|CBOR_|CH_|FIELD_)/);
    expect(ok).toMatchObject({ status: 'accepted', posted: 300n });
    // Replayed: the same bytes get the same receipt, and an older state of the channel changes nothing.
    const [again] = await w.service.submit(await signSubmission(p.pad, p.padChain, [good.payee], p.clock.now));
    expect((await verifyReceipt(again!, w.key.publicKey)).time).toBe(ok?.time);
    // Over-limit: a clone of the drone (same key, its own state) opens another channel; together they
    // pass the 1,000 total outstanding its credential allows.
    const clone = await pair({ limits: { totalOutstanding: 1_000n } });
    const a = await payOffline(clone, 4, 200n);
    const [over] = await submit([a.payee]);
    expect(over).toMatchObject({ status: 'rejected', code: 'LEDGER_OUTSTANDING' });
    // ... which disputes the device: a new issuer revocation list, published and served.
    expect(w.published.length).toBe(1);
    const served = decode(new Uint8Array(await (await fetch(`${w.http.url}/v1/revocations`)).arrayBuffer())) as Uint8Array[];
    expect(served.some((l) => Buffer.from(l).equals(Buffer.from(w.published[0]!)))).toBe(true);
    const device = new TrustStore(p.roots);
    expect(await device.applyRevocationList(w.published[0]!)).toBe('applied');
    const [liability] = await db.query<{ kind: string; unpaid: string; payer_party: string }>(
      'select kind, unpaid::text as unpaid, payer_party from disputes',
    );
    expect(liability).toEqual({ kind: 'overspend', unpaid: '800', payer_party: 'party:fleet' });
    // Revoked: what the drone signs from now on is refused, and the drone may no longer submit.
    p.clock.now += 10;
    const late = await payOffline(p, 1, 10n);
    const [revoked] = await submit([late.payee]);
    expect(revoked).toMatchObject({ status: 'rejected', code: 'ID_REVOKED' });
    const res = await post(`${w.http.url}/v1/submit`, await signSubmission(p.drone, p.droneChain, [late.payer], p.clock.now));
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([403, 'LEDGER_UNAUTHORIZED']);
    // A device revoked by its own party (not the ledger) is refused the same way.
    const fleet = await nodeEd25519.signer(seed(2));
    const q = await pair();
    const qw = await startLedger(await openPglite(), q);
    try {
      await qw.ledger.fund('party:fleet', 'EUR', 1_000n);
      q.clock.now += 5;
      const list = await signRevocationList(fleet, {
        issuer: 'party:fleet',
        version: 1,
        issuedAt: q.clock.now,
        entries: [{ kid: coseKeyThumbprint(q.drone.publicKey), revokedAt: q.clock.now }],
      });
      await qw.trust.applyRevocationList(list, {
        partyCredential: (await import('../../src/identity/credential.js')).decodeChain(q.droneChain)[0],
      });
      const r = await payOffline(q, 1, 10n);
      const [x] = await Promise.all(
        (await qw.service.submit(await signSubmission(q.pad, q.padChain, [r.payee], q.clock.now))).map((b) =>
          verifyReceipt(b, qw.key.publicKey),
        ),
      );
      expect(x).toMatchObject({ status: 'rejected', code: 'ID_REVOKED' });
    } finally {
      await qw.http.close();
    }
  });

  it('equivocation: disputed with evidence, the device revoked and the list published', async () => {
    await w.ledger.fund('party:fleet', 'EUR', 10_000n);
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 900n });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, 100n));
    await p.payee.handle(await signVoucher(p.drone, { channelId, seq: 1, cumulative: 5n }));
    const [d] = await w.service.submit(
      await signSubmission(p.pad, p.padChain, [encodeSettlement(p.payee.channel(channelId)!)], p.clock.now),
    );
    expect(await verifyReceipt(d!, w.key.publicKey)).toMatchObject({ status: 'disputed', code: 'LEDGER_EQUIVOCATION' });
    expect(w.published.length).toBe(1);
    expect(w.service.metrics).toMatchObject({ disputed: 1, revocations: 1 });
    // A restarted service restores the list; nothing is revoked twice.
    const again = await startLedger(db, p);
    try {
      expect(again.published.length).toBe(0);
      expect(again.trust.lists().length).toBe(1);
    } finally {
      await again.http.close();
    }
  });

  it("revoke by hand: the issuer's call adds a key to the list the ledger keeps (published, applied, never twice); others refused", async () => {
    const issuer = await nodeEd25519.signer(seed(1));
    const fleet = await nodeEd25519.signer(seed(2));
    const t = p.clock.now;
    await adminCall(w, issuer, 'register', { credential: decodeChain(p.droneChain)[0] as Uint8Array }, t);
    const fleetKid = toHex(coseKeyThumbprint(fleet.publicKey));
    const call = async (by: typeof issuer, args: Record<string, CborValue>) => {
      const res = await adminCall(w, by, 'revoke', args, t);
      const body = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, body: res.ok ? (decode(body) as Map<string, unknown>) : JSON.parse(new TextDecoder().decode(body)) };
    };
    expect(await call(fleet, { key: fleetKid })).toMatchObject({ status: 403, body: { code: 'LEDGER_UNAUTHORIZED' } });
    expect(await call(issuer, { key: 'not-a-key' })).toMatchObject({ status: 400, body: { code: 'LEDGER_OP', field: 'admin.args.key' } });
    const first = await call(issuer, { key: fleetKid, reason: 'stolen credential' });
    expect(first.status).toBe(200);
    expect(first.body).toEqual(
      new Map<string, unknown>([
        ['version', 1],
        ['changed', true],
      ]),
    );
    expect(w.published.length).toBe(1);
    // The party is revoked from now: its device's chain no longer verifies here.
    const issuerKid = coseKeyThumbprint(issuer.publicKey);
    expect(w.trust.revocation(issuerKid)?.revokedAt(fromHex(fleetKid))).toBeDefined();
    // Again: nothing changes, nothing is published twice.
    expect((await call(issuer, { key: fleetKid })).body).toEqual(
      new Map<string, unknown>([
        ['version', 1],
        ['changed', false],
      ]),
    );
    expect(w.published.length).toBe(1);
  });

  it('statements as CSV, and payouts as ISO 20022 pain.001 valid against the official schema', async () => {
    await w.ledger.fund('party:fleet', 'EUR', 10_000n);
    const t0 = Math.floor(Date.now() / 1000) - 60;
    const a = await payOffline(p, 3, 125n, true);
    await w.service.submit(await signSubmission(p.pad, p.padChain, [a.payee], p.clock.now));
    const issuer = await nodeEd25519.signer(seed(1));
    const st = await adminCall(w, issuer, 'statement', { party: 'party:pads', asset: 'EUR', from: t0, to: t0 + 3600 }, p.clock.now);
    expect(st.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await st.text())
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
    expect(rows[0]).toEqual([
      'booked_at',
      'kind',
      'party',
      'asset',
      'counterparty',
      'record_id',
      'channel_id',
      'amount_minor',
      'balance_minor',
    ]);
    expect(rows.map((r) => r[1])).toEqual(['kind', 'opening', 'credit', 'closing']);
    expect(rows[2]?.slice(4)).toEqual([
      'party:fleet',
      expect.stringMatching(/^[0-9a-f]{64}$/),
      expect.stringMatching(/^[0-9a-f]{64}$/),
      '375',
      '375',
    ]);
    // A dry run first: the lines and the document, nothing applied.
    const dry = decode(
      new Uint8Array(await (await adminCall(w, issuer, 'payout', { asset: 'EUR', dryRun: true }, p.clock.now)).arrayBuffer()),
    );
    expect(dry).toEqual(
      new Map<string, unknown>([
        ['dryRun', true],
        [
          'payouts',
          [
            new Map<string, unknown>([
              ['party', 'party:pads'],
              ['account', 'tok_b'],
              ['amount', 375],
              ['endToEndId', expect.stringMatching(/^ep-[0-9a-f]{24}-1$/)],
            ]),
          ],
        ],
        ['document', expect.stringContaining('<InstdAmt Ccy="EUR">3.75</InstdAmt>')],
      ]),
    );
    expect(await w.ledger.balance('party:pads', 'EUR')).toBe(375n);
    const pay = await adminCall(w, issuer, 'payout', { asset: 'EUR', date: '2026-12-01' }, p.clock.now);
    expect(pay.headers.get('content-type')).toMatch(/^application\/xml/);
    const xml = await pay.text();
    expect(xml).toContain('<InstdAmt Ccy="EUR">3.75</InstdAmt>');
    expect(xml).toContain('<Id>tok_b</Id>');
    expect(await w.ledger.balance('party:pads', 'EUR')).toBe(0n);
    expect(await w.ledger.total()).toBe(0n);
    // The same payout asked again (same reference) returns the same document and moves nothing.
    expect(await w.ledger.payout('again-1', 'EUR', { name: 'x', account: 'y' })).toBeUndefined();
    if (haveXmllint()) {
      const dir = mkdtempSync(join(tmpdir(), 'edgepay-pain-'));
      try {
        writeFileSync(join(dir, 'payout.xml'), xml);
        execFileSync('xmllint', ['--noout', '--schema', XSD, join(dir, 'payout.xml')], { stdio: 'pipe' });
        // The check can fail: a document missing its debtor account is refused by the schema.
        writeFileSync(join(dir, 'bad.xml'), xml.replace(/<DbtrAcct>.*<\/DbtrAcct>/, ''));
        expect(() => execFileSync('xmllint', ['--noout', '--schema', XSD, join(dir, 'bad.xml')], { stdio: 'pipe' })).toThrow();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('minor units become decimals exactly, per ISO 4217 exponent', () => {
    expect([currencyExponent('EUR'), currencyExponent('JPY'), currencyExponent('BHD')]).toEqual([2, 0, 3]);
    expect(formatMinor(5n, 2)).toBe('0.05');
    expect(formatMinor(123456789012345678n, 2)).toBe('1234567890123456.78');
    expect(formatMinor(7n, 0)).toBe('7');
    expect(formatMinor(-1005n, 3)).toBe('-1.005');
    expect(() => currencyExponent('kWh-credit')).toThrow(/LEDGER_ASSET/);
  });
});

describe('reservations issued by the ledger', () => {
  it('a party locks funds; the payee takes the ticket offline; the channel is paid from the hold; the rest returns at expiry', async () => {
    const db = await openPglite();
    const p = await pair();
    const w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    try {
      const fleet = await nodeEd25519.signer(seed(2));
      await w.service.submit(await signSubmission(p.pad, p.padChain, [(await payOffline(p, 1, 1n)).payee], p.clock.now)); // the ledger learns party:fleet
      const call = (args: Record<string, string | bigint | number>) => adminCall(w, fleet, 'reserve', args, p.clock.now);
      const args = {
        party: 'party:fleet',
        payer: toHex(coseKeyThumbprint(p.drone.publicKey)),
        asset: 'EUR',
        amount: 600n,
        expiresAt: p.clock.now + 3 * 86_400,
      };
      const res = await call(args);
      expect(res.status).toBe(200);
      const ticket = (decode(new Uint8Array(await res.arrayBuffer())) as Map<string, Uint8Array>).get('ticket') as Uint8Array;
      expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(1_000n - 1n - 600n);
      // More than the party has left: refused.
      const over = await call({ ...args, amount: 5_000n });
      expect([over.status, ((await over.json()) as { code: string }).code]).toEqual([400, 'LEDGER_FUNDS']);
      // A payee that requires tickets takes it offline, with the ledger's key.
      const payee = new Payee({
        device: p.padDevice,
        trust: new TrustStore(p.roots),
        store: new MemoryChannelStore(),
        now: () => p.clock.now,
        ledgers: [{ id: 'ledger:test', publicKey: w.key.publicKey }],
        requireReservation: true,
      });
      const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 500n, reservation: ticket });
      for (const a of await payee.handle(frame)) await p.payer.handle(a);
      for (let i = 0; i < 4; i++) for (const a of await payee.handle(await p.payer.pay(channelId, 100n))) await p.payer.handle(a);
      const [r] = await w.service.submit(
        await signSubmission(p.pad, p.padChain, [encodeSettlement(payee.channel(channelId)!)], p.clock.now),
      );
      expect(await verifyReceipt(r!, w.key.publicKey)).toMatchObject({ status: 'accepted', posted: 400n });
      // Paid from the hold: the party's own balance did not move; 200 is still held.
      expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(399n);
      expect(await w.ledger.balance('party:pads', 'EUR')).toBe(401n);
      expect(await w.ledger.releaseExpired()).toBe(0);
      p.clock.now += 4 * 86_400;
      expect(await w.ledger.releaseExpired()).toBe(1);
      expect(await w.ledger.balance('party:fleet', 'EUR')).toBe(599n);
      expect(await w.ledger.total()).toBe(0n);
    } finally {
      await w.http.close();
      await db.close();
    }
  });
});
