/**
 * The HTTP server sheds hostile clients and says what its limits are: idle connections are closed and
 * connections are capped per address and in all (an honest client from another address is served
 * throughout); bad text is a 400 with a code, never a retryable 503; submissions must be CBOR; a 5xx is
 * logged with its cause, one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { inlineVerifier } from '../../src/crypto/workers.js';
import { type Db, openPglite } from '../../src/ledger/db.js';
import { serveHttp } from '../../src/ledger/http.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { openLogger } from '../../src/ledger/log.js';
import { LedgerService } from '../../src/ledger/service.js';
import { signAdmin, signSubmission } from '../../src/sync/submission.js';
import { type LedgerWorld, pair, payOffline, startLedger } from '../sync/world.js';

/** GET `path` from 127.0.0.2 (another address than the flood's). */
function getFromOtherAddress(url: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { localAddress: '127.0.0.2', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP limits', () => {
  let db: Db;
  let w: LedgerWorld;
  let p: Awaited<ReturnType<typeof pair>>;
  beforeEach(async () => {
    db = await openPglite();
    p = await pair();
    w = await startLedger(db, p);
  });
  afterEach(async () => {
    await w.http.close();
    await db.close().catch(() => {});
  });

  /** Opens `n` sockets to `port` from 127.0.0.1; counts those the server closes. */
  async function flood(port: number, n: number): Promise<{ sockets: Socket[]; closed: () => number }> {
    const sockets: Socket[] = [];
    let closed = 0;
    await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((resolve) => {
            const s = connect({ port, host: '127.0.0.1' });
            sockets.push(s);
            s.on('close', () => closed++);
            s.on('error', () => {});
            s.once('connect', () => resolve());
            s.once('close', () => resolve());
          }),
      ),
    );
    return { sockets, closed: () => closed };
  }

  it('1,100 idle sockets from one address: at most the per-address cap stay open, and another address is served', async () => {
    // Idle connections are not closed here for a minute: whatever closes is closed by the cap.
    const limits = { maxConnections: 200, maxConnectionsPerAddress: 50, idleTimeoutMs: 60_000 };
    const http = await serveHttp(w.service, { limits });
    const f = await flood(http.port, 1_100);
    try {
      // What the server holds: the cap. (Some of the flood's sockets may still wait in the kernel's accept
      // queue, connected as far as the client knows: they hold nothing of the server's.)
      expect(await http.connections()).toBeLessThanOrEqual(limits.maxConnectionsPerAddress);
      await vi.waitFor(() => expect(f.closed()).toBeGreaterThanOrEqual(900), { timeout: 15_000 });
      expect(await http.connections()).toBeLessThanOrEqual(limits.maxConnectionsPerAddress);
      expect(await getFromOtherAddress(http.url, '/health')).toBe(200);
    } finally {
      for (const s of f.sockets) s.destroy();
      await http.close();
    }
  });

  it('an idle connection is closed once it has idled its time out', async () => {
    const http = await serveHttp(w.service, { limits: { idleTimeoutMs: 1_000, maxConnectionsPerAddress: 500 } });
    const f = await flood(http.port, 300);
    try {
      expect(f.closed()).toBe(0);
      await vi.waitFor(() => expect(f.closed()).toBe(300), { timeout: 15_000 });
    } finally {
      for (const s of f.sockets) s.destroy();
      await http.close();
    }
  });

  it('a NUL in an administrative text field is a 400 with a code; a submission that is not CBOR is a 415', async () => {
    const issuer = await nodeEd25519.signer(new Uint8Array(32).fill(1));
    const call = await signAdmin(issuer, 'fund', { party: 'party:\u0000fleet', asset: 'EUR', amount: 5n }, p.clock.now, randomBytes(16));
    const res = await fetch(`${w.http.url}/v1/admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: call as BodyInit,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'FIELD_RANGE', field: 'admin.args.party' });
    const submission = await signSubmission(p.drone, p.droneChain, [(await payOffline(p, 1, 1n)).payer], p.clock.now);
    for (const type of ['text/plain', 'application/json', '']) {
      const r = await fetch(`${w.http.url}/v1/submit`, {
        method: 'POST',
        headers: type ? { 'content-type': type } : {},
        body: submission as BodyInit,
      });
      expect([r.status, ((await r.json()) as { code: string }).code]).toEqual([415, 'LEDGER_MEDIA_TYPE']);
    }
  });

  it('more submissions in progress than the ledger takes: LEDGER_BUSY (503, Retry-After) before the body is read', async () => {
    // The first submission is held in its signature checks; the ledger takes one at a time.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const verifier = {
      verifyMany: async (items: Parameters<typeof inlineVerifier.verifyMany>[0]) => {
        await held;
        return inlineVerifier.verifyMany(items);
      },
      hashChains: inlineVerifier.hashChains,
      close: async () => {},
    };
    const ledger = await Ledger.open({ db, signer: w.key, id: 'ledger:test', trust: w.trust, now: () => p.clock.now, verifier });
    const service = await LedgerService.open({ ledger, trust: w.trust, now: () => p.clock.now, limits: { maxPending: 1 } });
    const http = await serveHttp(service);
    try {
      const sub = async () =>
        fetch(`${http.url}/v1/submit`, {
          method: 'POST',
          headers: { 'content-type': 'application/cbor' },
          body: (await signSubmission(p.drone, p.droneChain, [(await payOffline(p, 1, 1n)).payer], p.clock.now)) as BodyInit,
        });
      const first = sub();
      await vi.waitFor(() => expect(service.saturated).toBe(true));
      const second = await sub();
      expect([second.status, second.headers.get('retry-after'), ((await second.json()) as { code: string }).code]).toEqual([
        503,
        '1',
        'LEDGER_BUSY',
      ]);
      release();
      expect((await first).status).toBe(200);
      expect(service.metrics.busy).toBe(1);
    } finally {
      await http.close();
    }
  });

  it('a 5xx is logged with its cause, one JSON line', async () => {
    const lines: string[] = [];
    const http = await serveHttp(w.service, { log: await openLogger({ write: (l) => void lines.push(l) }) });
    try {
      const submission = await signSubmission(p.drone, p.droneChain, [(await payOffline(p, 1, 1n)).payer], p.clock.now);
      await db.close(); // the database goes away under the ledger
      const res = await fetch(`${http.url}/v1/submit`, {
        method: 'POST',
        headers: { 'content-type': 'application/cbor' },
        body: submission as BodyInit,
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toMatchObject({ code: 'LEDGER_INTERNAL' });
      expect(lines.length).toBe(1);
      expect(lines[0]?.endsWith('\n')).toBe(true);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        level: 50,
        code: 'LEDGER_INTERNAL',
        route: 'POST /v1/submit',
        err: { message: expect.any(String) },
      });
    } finally {
      await http.close();
    }
  });
});
