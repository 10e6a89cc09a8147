/**
 * Running the ledger as an operator does: its log says what happened (each submission's outcome, admin
 * calls with who made them, refusals with their codes, database connections lost), at a bounded rate for
 * what anyone can cause; rate limits hold per address and per signer, and behind a trusted proxy per
 * forwarded address (a forwarded address from anyone else is not believed).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Db, openPglite } from '../../src/ledger/db.js';
import { clientAddress, proxyList, serveHttp } from '../../src/ledger/http.js';
import { openLogger, Throttle } from '../../src/ledger/log.js';
import { openPostgres } from '../../src/ledger/postgres.js';
import { LedgerService } from '../../src/ledger/service.js';
import { signAdmin, signSubmission } from '../../src/sync/submission.js';
import { type LedgerWorld, pair, payOffline, startLedger } from '../sync/world.js';
import { freshSchema, havePostgres, PG_URL } from './dbs.js';

type Line = Record<string, unknown> & { level: number; msg: string };

/** POST `body` to `url` with `headers`, from `localAddress`; the status and the JSON answer. */
function post(url: string, body: Uint8Array, headers: Record<string, string> = {}, localAddress = '127.0.0.1') {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/cbor', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the ledger as an operator runs it', () => {
  let db: Db;
  let w: LedgerWorld;
  let p: Awaited<ReturnType<typeof pair>>;
  let lines: Line[];
  let service: LedgerService;
  beforeEach(async () => {
    db = await openPglite();
    p = await pair();
    w = await startLedger(db, p, 0, (l) => l.fund('party:fleet', 'EUR', 1_000n).then(() => {}));
    lines = [];
    const log = await openLogger({ write: (l) => void lines.push(JSON.parse(l)), base: { service: 'edgepay-ledger' } });
    service = await LedgerService.open({
      ledger: w.ledger,
      trust: w.trust,
      now: () => p.clock.now,
      log,
    });
  });
  afterEach(async () => {
    await w.http.close();
    await db.close();
  });
  const admin = (op: string, args: Record<string, string | bigint>) => signAdmin(w.issuer, op, args, p.clock.now, randomBytes(16));

  it('logs each submission outcome, each admin call with its signer, and each refusal with its code', async () => {
    const log = await openLogger({ write: (l) => void lines.push(JSON.parse(l)) });
    const http = await serveHttp(service, { log });
    try {
      const paid = await payOffline(p, 3, 2n);
      const submission = await signSubmission(p.drone, p.droneChain, [paid.payer], p.clock.now);
      const first = await post(`${http.url}/v1/submit`, submission);
      expect(first, first.body).toMatchObject({ status: 200 });
      expect(await post(`${http.url}/v1/submit`, submission)).toMatchObject({ status: 200 }); // the same again: repeated
      expect((await post(`${http.url}/v1/admin`, await admin('balance', { party: 'party:fleet', asset: 'EUR' }))).status).toBe(200);
      const refused = await post(`${http.url}/v1/admin`, await admin('fund', { party: 'party:nobody', asset: 'EUR', amount: 5n }));
      expect([refused.status, JSON.parse(refused.body).code]).toEqual([404, 'LEDGER_UNKNOWN_PARTY']);
      expect((await post(`${http.url}/v1/submit`, submission, { 'content-type': 'text/plain' })).status).toBe(415);

      const settled = lines.filter((l) => l.msg === 'submission settled');
      expect(settled).toEqual([
        expect.objectContaining({
          level: 30,
          records: 1,
          accepted: 1,
          repeated: 0,
          from: '127.0.0.1',
          submitter: expect.stringMatching(/^[0-9a-f]{64}$/),
        }),
        expect.objectContaining({ records: 1, accepted: 0, repeated: 1 }),
      ]);
      expect(lines.filter((l) => l.msg === 'admin call')).toEqual([
        expect.objectContaining({ op: 'balance', by: 'issuer', party: 'party:fleet', asset: 'EUR', from: '127.0.0.1' }),
        expect.objectContaining({ op: 'fund', by: 'issuer', party: 'party:nobody', amount: '5' }),
      ]);
      const refusals = lines.filter((l) => l.level === 40).map((l) => [l.code, l.status, l.route, l.client]);
      expect(refusals).toEqual([
        ['LEDGER_UNKNOWN_PARTY', 404, 'POST /v1/admin', '127.0.0.1'],
        ['LEDGER_MEDIA_TYPE', 415, 'POST /v1/submit', '127.0.0.1'],
      ]);
      for (const l of lines) expect(l).toMatchObject({ time: expect.any(Number), pid: process.pid });
    } finally {
      await http.close();
    }
  });

  it('refusals anyone can cause are logged at a bounded rate, with the count left out', async () => {
    const http = await serveHttp(service, { log: await openLogger({ write: (l) => void lines.push(JSON.parse(l)) }) });
    try {
      for (let i = 0; i < 40; i++) await post(`${http.url}/v1/nowhere`, new Uint8Array(1));
      const notFound = lines.filter((l) => l.code === 'LEDGER_NOT_FOUND');
      // Ten a second at most; a run this short spans one or two seconds.
      expect(notFound.length).toBeGreaterThanOrEqual(10);
      expect(notFound.length).toBeLessThan(40);
      const t = new Throttle(2);
      expect([t.pass('A'), t.pass('A'), t.pass('A'), t.pass('B')]).toEqual([0, 0, false, 0]);
      vi.useFakeTimers({ toFake: ['performance'] });
      vi.advanceTimersByTime(1000);
      expect(t.pass('A')).toBe(1); // the next line that passes says one was left out
      vi.useRealTimers();
    } finally {
      await http.close();
    }
  });

  it('admin calls are rate-limited by their signer, not only by their address', async () => {
    const limited = await LedgerService.open({
      ledger: w.ledger,
      trust: w.trust,
      now: () => p.clock.now,
      limits: { submitter: { perSecond: 0.001, burst: 3 } },
    });
    const http = await serveHttp(limited);
    try {
      const codes: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await post(`${http.url}/v1/admin`, await admin('balance', { party: 'party:fleet', asset: 'EUR' }));
        codes.push(r.status === 200 ? 'ok' : JSON.parse(r.body).code);
      }
      // The issuer's budget (burst 3 here) runs out whatever address its calls come from.
      expect(codes.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
      expect(codes.slice(3)).toEqual(['LEDGER_RATE', 'LEDGER_RATE']);
    } finally {
      await http.close();
    }
  });

  it('behind a trusted proxy the rate limit is per forwarded address; from anyone else X-Forwarded-For is not believed', async () => {
    const body = await admin('balance', { party: 'party:fleet', asset: 'EUR' });
    const statuses = async (url: string, forwarded: string[], from = '127.0.0.1') => {
      const out: number[] = [];
      for (const f of forwarded) out.push((await post(`${url}/v1/nowhere`, body, { 'x-forwarded-for': f }, from)).status);
      return out;
    };
    // No trusted proxies: every request from 127.0.0.1 shares one bucket (burst 2), whatever it says it forwards.
    const direct = await serveHttp(service, { rate: { perSecond: 0.001, burst: 2 } });
    try {
      expect(await statuses(direct.url, ['10.0.0.1', '10.0.0.2', '10.0.0.3'])).toEqual([404, 404, 429]);
    } finally {
      await direct.close();
    }
    const proxied = await serveHttp(service, {
      rate: { perSecond: 0.001, burst: 2 },
      trustedProxies: ['127.0.0.1', '10.9.0.0/16'],
      log: await openLogger({ write: (l) => void lines.push(JSON.parse(l)) }),
    });
    try {
      // Each client behind the proxy has its own bucket.
      expect(await statuses(proxied.url, ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2'])).toEqual([404, 404, 429, 404]);
      // A client cannot escape by writing its own X-Forwarded-For: the proxy appends the address it saw,
      // and the nearest untrusted hop is the one counted (10.0.0.1, through a second trusted proxy here).
      expect(await statuses(proxied.url, ['1.2.3.4, 10.0.0.1', '5.6.7.8, 10.0.0.1, 10.9.1.1'])).toEqual([429, 429]);
      // 127.0.0.2 is not a trusted proxy: what it forwards is not believed.
      expect(await statuses(proxied.url, ['10.0.0.7', '10.0.0.8', '10.0.0.9'], '127.0.0.2')).toEqual([404, 404, 429]);
      expect(lines.filter((l) => l.code === 'LEDGER_RATE').map((l) => l.client)).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1', '127.0.0.2']);
    } finally {
      await proxied.close();
    }
    // A trusted proxy's connections count against the total only, not against one address's share.
    const shared = await serveHttp(service, { trustedProxies: ['127.0.0.1'], limits: { maxConnectionsPerAddress: 2 } });
    const sockets: Socket[] = [];
    try {
      let closed = 0;
      for (let i = 0; i < 5; i++) {
        const s = connect({ port: shared.port, host: '127.0.0.1' });
        s.on('close', () => closed++);
        s.on('error', () => {});
        sockets.push(s);
        await new Promise((r) => s.once('connect', r));
      }
      const other = connect({ port: shared.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      sockets.push(other);
      await new Promise((r) => other.once('connect', r));
      await vi.waitFor(() => expect(shared.connections()).resolves.toBe(6));
      expect(closed).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      await shared.close();
    }
    const req = (remoteAddress: string, xff?: string) =>
      ({ socket: { remoteAddress } as Socket, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as IncomingMessage;
    const proxies = proxyList(['::ffff:127.0.0.1', '2001:db8::/32']);
    expect(clientAddress(req('::ffff:127.0.0.1', '203.0.113.9'), proxies)).toBe('203.0.113.9');
    expect(clientAddress(req('2001:db8::1', 'not-an-address, 2001:db8::2'), proxies)).toBe('2001:db8::2'); // all trusted: the last good hop
    expect(clientAddress(req('127.0.0.1'), proxies)).toBe('127.0.0.1');
    for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/', '::1/129'])
      expect(() => proxyList([bad]), bad).toThrow(expect.objectContaining({ code: 'LEDGER_CONFIG', field: 'trustedProxies' }));
  });
});

describe.skipIf(!havePostgres)('the ledger database as an operator sees it (PostgreSQL)', () => {
  it('a connection the server drops is logged, and the next query opens a new one (no crash)', async () => {
    const lines: Line[] = [];
    const log = await openLogger({ write: (l) => void lines.push(JSON.parse(l)) });
    const schema = freshSchema();
    const db = await openPostgres(PG_URL, schema, { log });
    const [{ pid }] = (await db.query<{ pid: number }>('select pg_backend_pid() as pid')) as [{ pid: number }];
    const admin = await openPostgres(PG_URL);
    try {
      await admin.query('select pg_terminate_backend($1)', [pid]);
      await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('a database connection was lost; the next query opens a new one'));
      expect(lines[0]).toMatchObject({ level: 40, err: { code: '57P01' }, db: expect.stringContaining('127.0.0.1:5432') });
      expect(await db.query('select 1 as one')).toEqual([{ one: 1 }]);
    } finally {
      await db.query(`drop schema ${schema} cascade`);
      await db.close();
      await admin.close();
    }
  });
});
