/**
 * The ledger speaks HTTPS itself: with a certificate (made here with openssl, a CA, a server certificate
 * for 127.0.0.1 and a client certificate) it serves TLS only; with a client CA it takes only clients that
 * present a certificate that CA signed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openPglite } from '../../src/ledger/db.js';
import { type HttpLedger, serveHttp } from '../../src/ledger/http.js';
import { pair } from '../channel/world.js';
import { haveTool } from '../services.js';
import { startLedger } from '../sync/world.js';

const haveOpenssl = haveTool('openssl', ['version'], 'the TLS tests', 'apt-get install openssl');

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function certificates(dir: string): Record<'ca' | 'cert' | 'key' | 'clientCert' | 'clientKey', Buffer> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=edgepay test CA',
  );
  for (const [name, subject, ext] of [
    ['server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', '/CN=operator', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    );
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  }
  const f = (n: string) => readFileSync(join(dir, n));
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

/** GET /health over HTTPS trusting `ca`, optionally with a client certificate: the status, or the error's code. */
function health(url: string, o: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(`${url}/health`, { ca: o.ca, cert: o.cert, key: o.key }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

describe.skipIf(!haveOpenssl)('HTTPS', () => {
  let dir: string;
  let db: Db;
  let certs: ReturnType<typeof certificates>;
  const servers: HttpLedger[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgepay-tls-'));
    certs = certificates(dir);
    db = await openPglite();
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with its certificate, and nothing in plain HTTP', async () => {
    const w = await startLedger(db, await pair());
    await w.http.close();
    const https = await serveHttp(w.service, { tls: { cert: certs.cert, key: certs.key } });
    servers.push(https);
    expect(https.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await health(https.url, { ca: certs.ca })).toBe(200);
    // A client that does not trust the CA refuses the server.
    expect(await health(https.url, { ca: Buffer.from('') })).toMatch(/SELF_SIGNED|UNABLE_TO|CERT/);
    // Plain HTTP to the TLS port gets no HTTP answer.
    const plain = await new Promise<number | string>((resolve) => {
      const req = httpRequest(`${https.url.replace('https:', 'http:')}/health`, (res) => resolve(res.statusCode ?? 0));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      req.end();
    });
    expect(plain).not.toBe(200);
  });

  it('with a client CA, takes only clients with a certificate it signed', async () => {
    const w = await startLedger(db, await pair());
    await w.http.close();
    const mtls = await serveHttp(w.service, { tls: { cert: certs.cert, key: certs.key, ca: certs.ca } });
    servers.push(mtls);
    expect(await health(mtls.url, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey })).toBe(200);
    expect(await health(mtls.url, { ca: certs.ca })).not.toBe(200);
  });
});
