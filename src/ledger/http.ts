/**
 * @module ledger/http
 * The ledger's HTTP API (node:http; no framework needed for a handful of routes):
 *
 *   POST /v1/submit       a signed submission (application/cbor) → a CBOR array of signed receipts
 *   POST /v1/admin        a signed administrative call (application/cbor) → CBOR data, CSV or pain.001 XML
 *   POST /v1/revocations  a signed revocation list, or [list, party credential] (application/cbor)
 *   GET  /v1/revocations  the newest signed revocation lists the ledger holds (a CBOR array)
 *   GET  /health          200 when the database answers (liveness)
 *   GET  /ready           200 when this process can take submissions: its database takes commits (readiness);
 *                         503 when not. JSON with the server in use and the failovers seen.
 *
 * and, on the operator's listener ({@link serveOperator}, never the devices'): `GET /metrics` (Prometheus
 * text), `GET /health` and `GET /ready`.
 *
 * Errors are JSON `{ code, message, field }` with a 4xx status (5xx only for the ledger's own faults, each
 * logged with its cause). What a client can hold is bounded: bodies, the request rate per address,
 * connections in all and per address, and how long a connection may idle or take to send a request
 * ({@link HttpLimits}). Behind a TLS-terminating proxy, the client's address is the forwarded one only for
 * the proxies named in `trustedProxies`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, BlockList, isIP, type Socket } from 'node:net';
import { BoundedMap } from '../bounded.js';
import { decode, encode } from '../codec/cbor.js';
import { asArray, asBytes } from '../codec/fields.js';
import { EdgepayError, LedgerError } from '../errors.js';
import { MAX_REVOCATION_BYTES } from '../identity/revocation.js';
import type { TrustStore } from '../identity/trust-store.js';
import { type Logger, silentLogger, Throttle } from './log.js';
import type { LedgerService } from './service.js';

/** What one client may hold of the server (see docs/security.md; each has a `ledger serve` option). */
export interface HttpLimits {
  /** Open connections in all (default 768: under the usual 1,024 file descriptors, with room for the database's). */
  maxConnections: number;
  /** Open connections from one address (default 64). */
  maxConnectionsPerAddress: number;
  /** A connection with no traffic for this long is closed, ms (default 30,000). */
  idleTimeoutMs: number;
  /** A kept-alive connection waiting for its next request is closed after this long, ms (default 5,000). */
  keepAliveTimeoutMs: number;
  /** The request headers must arrive within this long, ms (default 10,000). */
  headersTimeoutMs: number;
  /** The whole request must arrive within this long, ms (default 30,000). */
  requestTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 768,
  maxConnectionsPerAddress: 64,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

export interface HttpOptions {
  port?: number;
  host?: string;
  /** Largest request body, bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Requests per second per client address, and the burst allowed (default 200/s, burst 400). */
  rate?: { perSecond: number; burst: number };
  /**
   * The proxies in front of the ledger (addresses or CIDR ranges, IPv4 or IPv6) whose `X-Forwarded-For` is
   * believed: a request from one of them is counted against the address it forwarded for (the nearest hop
   * that is not itself a trusted proxy), and their connections only against the total. Default: none, so a
   * forwarded address is never believed.
   */
  trustedProxies?: readonly string[];
  limits?: Partial<HttpLimits>;
  /** Where the served revocation lists come from (default: none). */
  trust?: TrustStore;
  /** Static files served at exact paths (GET): a device simulator's page served by the ledger itself. */
  files?: Record<string, { type: string; body: string | Uint8Array }>;
  log?: Logger;
  /** HTTPS: the server's certificate chain and key (PEM); with `ca`, clients must present a certificate it signed. */
  tls?: TlsOptions;
}

/** The ledger speaking HTTPS itself (no terminating proxy needed). */
export interface TlsOptions {
  cert: string | Uint8Array;
  key: string | Uint8Array;
  /** Client certificates are required, and must chain to this CA (PEM). */
  ca?: string | Uint8Array | undefined;
}

export interface HttpLedger {
  url: string;
  port: number;
  /** Connections open now (for metrics, and to see the limits hold). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

const STATUS: Record<string, number> = {
  LEDGER_UNAUTHORIZED: 403,
  LEDGER_BODY_SIZE: 413,
  LEDGER_MEDIA_TYPE: 415,
  LEDGER_RATE: 429,
  LEDGER_NOT_FOUND: 404,
  LEDGER_UNKNOWN_PARTY: 404,
  LEDGER_METHOD: 405,
  LEDGER_CONFIG: 501,
  LEDGER_DEPENDENCY: 501,
  LEDGER_BUSY: 503,
  // The database lost or its commit in doubt: the same submission later is answered (it is idempotent).
  LEDGER_DATABASE: 503,
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

/** An IPv4 address as a socket may report it (`::ffff:10.0.0.1`) in its plain form. */
const plain = (a: string) => (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a);

/**
 * The trusted proxies as a BlockList.
 * @throws LedgerError LEDGER_CONFIG for an entry that is not an address or a CIDR range.
 */
export function proxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [address = '', bits] = e.trim().split('/');
    const family = isIP(plain(address));
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (
      family === 0 ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (family === 6 ? 128 : 32) ||
      (bits !== undefined && !/^\d+$/.test(bits))
    )
      throw new LedgerError(
        'LEDGER_CONFIG',
        `a trusted proxy is an IP address or a CIDR range, not ${JSON.stringify(e)}`,
        'trustedProxies',
      );
    list.addSubnet(plain(address), prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

const trusted = (list: BlockList | undefined, a: string) => {
  const family = isIP(a);
  return list !== undefined && family !== 0 && list.check(a, family === 6 ? 'ipv6' : 'ipv4');
};

/**
 * The address a request is counted against: the peer's, or, from a trusted proxy, the nearest address in
 * `X-Forwarded-For` that is not a trusted proxy (entries further left are the client's to write: not believed).
 */
export function clientAddress(req: IncomingMessage, proxies?: BlockList): string {
  let a = plain(req.socket.remoteAddress ?? '');
  if (!trusted(proxies, a)) return a;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plain((hops[i] as string).trim());
    if (isIP(hop) === 0) break; // a malformed hop: the last good one stands
    a = hop;
    if (!trusted(proxies, hop)) break;
  }
  return a;
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

/** Bodies are CBOR: `application/cbor`, or an `application/*+cbor` type naming what it holds. */
function cborBody(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/cbor' && !/^application\/[a-z0-9.+-]+\+cbor$/.test(type))
    throw new LedgerError('LEDGER_MEDIA_TYPE', `the body must be application/cbor, not ${type || 'untyped'}`, 'content-type');
}

function send(res: ServerResponse, status: number, type: string, data: Uint8Array | string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(data);
}

/** Applies `limits` to `server`: timeouts, and connections in all and per address (a trusted proxy's: in all only). */
function bound(server: Server, limits: HttpLimits, proxies?: BlockList): void {
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  // A socket that goes quiet (a client that connects and never sends, or stops halfway) is closed.
  server.timeout = limits.idleTimeoutMs;
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const a = plain(socket.remoteAddress ?? '');
    if (trusted(proxies, a)) return;
    const n = (perAddress.get(a) ?? 0) + 1;
    if (n > limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(a, n);
    socket.once('close', () => {
      const left = (perAddress.get(a) ?? 1) - 1;
      if (left === 0) perAddress.delete(a);
      else perAddress.set(a, left);
    });
  });
}

/**
 * Answers an error: an EdgepayError with its status (logged as a refusal with its code), anything else as
 * a 503 the client may retry, logged with its cause.
 */
function fail(req: IncomingMessage, res: ServerResponse, e: unknown, log: Logger, client: string, throttle: Throttle): void {
  const known = e instanceof EdgepayError;
  const err = known ? e : new LedgerError('LEDGER_INTERNAL', 'the ledger failed; the call may be retried', undefined, { cause: e });
  const status = known ? (STATUS[err.code] ?? 400) : 503;
  const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
  if (!known) log.error({ code: err.code, status, route, client, err: e }, 'request failed');
  else {
    // Refusals are what anyone can cause: a flood of one kind is logged at a bounded rate, with the count left out.
    const dropped = throttle.pass(err.code);
    if (dropped !== false)
      log.warn({ code: err.code, field: err.field, status, route, client, ...(dropped ? { unlogged: dropped } : {}) }, err.message);
  }
  const headers: Record<string, string> = err.code === 'LEDGER_RATE' || status === 503 ? { 'retry-after': '1' } : {};
  if (!res.headersSent)
    send(res, status, 'application/json', JSON.stringify({ code: err.code, message: err.message, field: err.field }), headers);
  else res.destroy();
  if (err.code === 'LEDGER_BODY_SIZE') req.destroy();
}

async function listen(server: Server, port: number, host: string, scheme: 'http' | 'https' = 'http'): Promise<HttpLedger> {
  await new Promise<void>((resolve, reject) => {
    const refused = (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use (another ledger?): choose another port' : e.message;
      reject(new LedgerError('LEDGER_LISTEN', `cannot listen on ${host}:${port}: ${why}`, 'port', { cause: e }));
    };
    server.once('error', refused);
    server.listen(port, host, () => {
      server.off('error', refused);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    connections: () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n)))),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A signed revocation list, alone or as `[list, party credential]`. */
function readListBody(bytes: Uint8Array): { list: Uint8Array; party?: Uint8Array } {
  if (bytes[0] === 0x82) {
    const [list, party] = asArray(decode(bytes, { maxBytes: MAX_REVOCATION_BYTES + 16 * 1024, maxDepth: 2, tags: [] }), 'body', 2);
    return { list: asBytes(list, 'body[0]'), party: asBytes(party, 'body[1]', { max: 8 * 1024 }) };
  }
  return { list: bytes };
}

/** Serves `service` to devices and parties over HTTP until `close()`. */
export async function serveHttp(service: LedgerService, o: HttpOptions = {}): Promise<HttpLedger> {
  const max = o.maxBodyBytes ?? 4 * 1024 * 1024;
  const log = o.log ?? silentLogger;
  const buckets = new Buckets(o.rate ?? { perSecond: 200, burst: 400 });
  const proxies = o.trustedProxies?.length ? proxyList(o.trustedProxies) : undefined;
  const throttle = new Throttle();
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const client = clientAddress(req, proxies);
    const started = performance.now();
    res.once('finish', () => {
      if (res.statusCode < 400)
        log.debug(
          {
            route: `${req.method} ${(req.url ?? '/').split('?')[0]}`,
            client,
            status: res.statusCode,
            ms: Math.round(performance.now() - started),
          },
          'answered',
        );
    });
    try {
      if (!buckets.take(client)) throw new LedgerError('LEDGER_RATE', 'too many requests from this address', 'client');
      const path = (req.url ?? '/').split('?')[0];
      const route = `${req.method} ${path}`;
      switch (route) {
        case 'POST /v1/submit': {
          cborBody(req);
          service.admit(); // before its body is read: a full ledger does not buffer what it cannot take
          const receipts = (await service.submitFrom(await body(req, max), client)).receipts;
          return send(res, 200, 'application/cbor', encode(receipts));
        }
        case 'POST /v1/admin': {
          cborBody(req);
          const r = await service.admin(await body(req, 64 * 1024), client);
          return 'document' in r ? send(res, 200, r.mediaType, r.document) : send(res, 200, 'application/cbor', encode(r.data));
        }
        case 'POST /v1/revocations': {
          cborBody(req);
          const { list, party } = readListBody(await body(req, MAX_REVOCATION_BYTES + 16 * 1024));
          const r = await service.takeRevocationList(list, party);
          return send(
            res,
            200,
            'application/cbor',
            encode(
              new Map<string, boolean | number>([
                ['applied', r.applied],
                ['version', r.version],
              ]),
            ),
          );
        }
        case 'GET /v1/revocations':
          return send(res, 200, 'application/cbor', encode(o.trust?.lists() ?? []));
        case 'GET /health': {
          await service.ledger.ping();
          return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
        }
        case 'GET /ready':
          return ready(service, res);
        default: {
          const f = req.method === 'GET' ? o.files?.[path === '/' ? '/index.html' : (path ?? '')] : undefined;
          if (f) return send(res, 200, f.type, f.body);
          if (['/v1/submit', '/v1/admin', '/v1/revocations', '/health', '/ready'].includes(path ?? ''))
            throw new LedgerError('LEDGER_METHOD', `${req.method} is not allowed here`, 'method');
          throw new LedgerError('LEDGER_NOT_FOUND', `no route ${path}`, 'path');
        }
      }
    } catch (e) {
      fail(req, res, e, log, client, throttle);
    }
  };
  const server = o.tls
    ? createHttpsServer(
        {
          cert: toBuffer(o.tls.cert),
          key: toBuffer(o.tls.key),
          ...(o.tls.ca ? { ca: toBuffer(o.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handler,
      )
    : createServer(handler);
  bound(server, { ...DEFAULT_HTTP_LIMITS, ...o.limits }, proxies);
  return listen(server, o.port ?? 0, o.host ?? '127.0.0.1', o.tls ? 'https' : 'http');
}

/** Readiness: 200 when this process can take submissions (its database takes commits), 503 when not; which server, how many failovers. */
async function ready(service: LedgerService, res: ServerResponse): Promise<void> {
  const r = await service.ledger.ready();
  send(res, r.writable ? 200 : 503, 'application/json', JSON.stringify({ status: r.writable ? 'ready' : 'not writable', ...r }));
}

const toBuffer = (v: string | Uint8Array) => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

/**
 * The operator's listener: `/metrics` (Prometheus text) and `/health`, apart from the devices' API so that
 * what the ledger counts is not for anyone who can reach it. Binds to 127.0.0.1 unless told otherwise.
 */
export async function serveOperator(service: LedgerService, o: { port?: number; host?: string; log?: Logger } = {}): Promise<HttpLedger> {
  const log = o.log ?? silentLogger;
  const throttle = new Throttle();
  const server = createServer(async (req, res) => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') throw new LedgerError('LEDGER_METHOD', `${req.method} is not allowed here`, 'method');
      if (path === '/metrics') {
        if (!service.prometheus)
          throw new LedgerError('LEDGER_DEPENDENCY', '/metrics needs the optional package prom-client: npm install prom-client', 'metrics');
        const m = await service.prometheus.text();
        return send(res, 200, m.contentType, m.body);
      }
      if (path === '/health') {
        await service.ledger.ping();
        return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      }
      if (path === '/ready') return ready(service, res);
      throw new LedgerError('LEDGER_NOT_FOUND', `no route ${path}`, 'path');
    } catch (e) {
      fail(req, res, e, log, plain(req.socket.remoteAddress ?? ''), throttle);
    }
  });
  bound(server, { ...DEFAULT_HTTP_LIMITS, maxConnections: 64, maxConnectionsPerAddress: 16 });
  return listen(server, o.port ?? 0, o.host ?? '127.0.0.1');
}
