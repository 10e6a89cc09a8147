/**
 * @module ledger/http
 * The ledger's HTTP API (node:http; no framework needed for five routes):
 *
 *   POST /v1/submit       a signed submission (application/cbor) → a CBOR array of signed receipts
 *   POST /v1/admin        a signed administrative call → CBOR data, CSV or pain.001 XML
 *   GET  /v1/revocations  the newest signed revocation lists the ledger holds (a CBOR array)
 *   GET  /health          200 when the database answers
 *   GET  /metrics         Prometheus text
 *
 * Errors are JSON `{ code, message, field }` with a 4xx status (5xx only for the ledger's own faults).
 * Bodies are bounded; each client address gets a token bucket of requests.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BoundedMap } from '../bounded.js';
import { encode } from '../codec/cbor.js';
import { EdgepayError, LedgerError } from '../errors.js';
import type { TrustStore } from '../identity/trust-store.js';
import type { LedgerService } from './service.js';

export interface HttpOptions {
  port?: number;
  host?: string;
  /** Largest request body, bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Requests per second per client address, and the burst allowed (default 200/s, burst 400). */
  rate?: { perSecond: number; burst: number };
  /** Where the served revocation lists come from (default: none). */
  trust?: TrustStore;
  /** Static files served at exact paths (GET): a device simulator's page served by the ledger itself. */
  files?: Record<string, { type: string; body: string | Uint8Array }>;
}

export interface HttpLedger {
  url: string;
  port: number;
  close(): Promise<void>;
}

const STATUS: Record<string, number> = {
  LEDGER_UNAUTHORIZED: 403,
  LEDGER_BODY_SIZE: 413,
  LEDGER_RATE: 429,
  LEDGER_NOT_FOUND: 404,
  LEDGER_METHOD: 405,
  LEDGER_CONFIG: 501,
};

class Buckets {
  private readonly m = new BoundedMap<string, { tokens: number; at: number }>(10_000);
  constructor(private readonly r: { perSecond: number; burst: number }) {}
  take(key: string): boolean {
    const now = performance.now() / 1000;
    const b = this.m.get(key) ?? { tokens: this.r.burst, at: now };
    b.tokens = Math.min(this.r.burst, b.tokens + (now - b.at) * this.r.perSecond);
    b.at = now;
    this.m.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

async function body(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new LedgerError('LEDGER_BODY_SIZE', `body of ${declared} bytes exceeds ${max}`, 'body');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new LedgerError('LEDGER_BODY_SIZE', `body exceeds ${max} bytes`, 'body');
    chunks.push(c);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function send(res: ServerResponse, status: number, type: string, data: Uint8Array | string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(data);
}

function metricsText(s: LedgerService): string {
  const lines = Object.entries(s.metrics).map(([k, v]) => `edgepay_ledger_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total ${v}`);
  return `${lines.join('\n')}\n`;
}

/** Serves `service` over HTTP until `close()`. */
export async function serveHttp(service: LedgerService, o: HttpOptions = {}): Promise<HttpLedger> {
  const max = o.maxBodyBytes ?? 4 * 1024 * 1024;
  const buckets = new Buckets(o.rate ?? { perSecond: 200, burst: 400 });
  const server = createServer(async (req, res) => {
    try {
      if (!buckets.take(req.socket.remoteAddress ?? '')) throw new LedgerError('LEDGER_RATE', 'too many requests', 'client');
      const path = (req.url ?? '/').split('?')[0];
      const route = `${req.method} ${path}`;
      switch (route) {
        case 'POST /v1/submit': {
          const receipts = await service.submit(await body(req, max));
          return send(res, 200, 'application/cbor', encode(receipts));
        }
        case 'POST /v1/admin': {
          const r = await service.admin(await body(req, 64 * 1024));
          return 'document' in r ? send(res, 200, r.mediaType, r.document) : send(res, 200, 'application/cbor', encode(r.data));
        }
        case 'GET /v1/revocations':
          return send(res, 200, 'application/cbor', encode(o.trust?.lists() ?? []));
        case 'GET /health': {
          await service.ledger.ping();
          return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
        }
        case 'GET /metrics':
          return send(res, 200, 'text/plain; version=0.0.4', metricsText(service));
        default: {
          const f = req.method === 'GET' ? o.files?.[path === '/' ? '/index.html' : (path ?? '')] : undefined;
          if (f) return send(res, 200, f.type, f.body);
          if (['/v1/submit', '/v1/admin', '/v1/revocations', '/health', '/metrics'].includes(path ?? ''))
            throw new LedgerError('LEDGER_METHOD', `${req.method} is not allowed here`, 'method');
          throw new LedgerError('LEDGER_NOT_FOUND', `no route ${path}`, 'path');
        }
      }
    } catch (e) {
      const err =
        e instanceof EdgepayError
          ? e
          : new LedgerError('LEDGER_INTERNAL', 'the ledger failed; the call may be retried', undefined, { cause: e });
      const status = e instanceof EdgepayError ? (STATUS[err.code] ?? 400) : 503;
      if (!res.headersSent)
        send(res, status, 'application/json', JSON.stringify({ code: err.code, message: err.message, field: err.field }));
      else res.destroy();
      if (err.code === 'LEDGER_BODY_SIZE') req.destroy();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((r) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
