/**
 * `edgepay ledger serve` as its own process on an embedded PGlite directory, driven by the admin
 * commands: fund, balance, statement (CSV), payout (pain.001, checked against the schema), and a
 * revocation list sent with `edgepay revoke --ledger`; metrics on the operator listener, logs as JSON lines;
 * a restart keeps the books, the lists and the ledger key.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decode } from '../../src/codec/cbor.js';

const dir = mkdtempSync(join(tmpdir(), 'edgepay-cli-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, EDGEPAY_PASSPHRASE: 'test passphrase', EDGEPAY_KDF_LOG2N: '10' };
const p = (f: string) => join(dir, f);

function edgepay(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** As `edgepay`, without blocking this process (which holds a port the command must find taken). */
function edgepayAsync(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, timeout: 60_000 }, (e, stdout, stderr) =>
      resolve({ status: e ? ((e as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Starts `ledger serve` on ports the system picks (port 0); its first line on stdout says where it listens.
 * Its settings come from flags or, as an operator's service unit would give them, from a config file and
 * the environment.
 */
async function serve(from: 'flags' | 'config' = 'flags'): Promise<{ child: ChildProcess; url: string; operator: string }> {
  const settings: Record<string, string | string[]> = {
    dir: 'ledger',
    trust: ['issuer/issuer.pub'],
    issuer: 'issuer',
    port: '0',
    'debtor-name': 'Example Settlement Ltd',
    'debtor-account': 'SETTLE-0001',
  };
  let args: string[] = [];
  let extraEnv: Record<string, string> = {};
  if (from === 'flags')
    for (const [k, v] of Object.entries({ ...settings, 'operator-port': '0' }))
      args.push(...(Array.isArray(v) ? v : [v]).flatMap((x) => [`--${k}`, ['dir', 'trust', 'issuer'].includes(k) ? p(x) : x]));
  else {
    writeFileSync(p('ledger.json'), JSON.stringify(settings));
    args = ['--config', p('ledger.json')];
    extraEnv = { EDGEPAY_LEDGER_OPERATOR_PORT: '0', EDGEPAY_LEDGER_LOG_LEVEL: 'debug' };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'ledger', 'serve', ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const where = await new Promise<{ listening: string; operator: string }>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"listening"') && out.trimEnd().endsWith('}')) resolve(JSON.parse(out));
    });
    child.on('exit', (c) => reject(new Error(`ledger serve exited ${c}: ${out}`)));
  });
  // Its log: JSON lines on standard error.
  child.stderr?.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
  return { child, url: where.listening, operator: where.operator };
}

const logs: string[] = [];

const stop = (c: ChildProcess) =>
  new Promise<number | null>((r) => {
    c.once('close', (code) => r(code)); // after its output is all read
    c.kill('SIGTERM');
  });

describe('edgepay ledger', () => {
  it('serve, fund, balance, statement, payout; a restart keeps the books', async () => {
    expect(edgepay('issuer', 'init', '--dir', p('issuer'), '--id', 'network:test').status).toBe(0);
    // The party, certified by the issuer: the ledger must know it before it takes a deposit for it.
    expect(edgepay('keygen', '--dir', p('fleet'), '--name', 'party').status).toBe(0);
    const certify = ['party', 'certify', '--issuer', p('issuer'), '--key', p('fleet/party.pub'), '--id', 'party:fleet', '--asset', 'EUR'];
    const limits = ['--per-payment', '500', '--per-channel', '10000', '--per-period', '100000', '--total-outstanding', '50000'];
    expect(edgepay(...certify, ...limits, '--category', 'fleet-operator', '--payment-ref', 'tok_f', '--out', p('fleet.cred')).status).toBe(
      0,
    );
    // A start that cannot succeed says why in one line, and writes nothing (no key, no database).
    const serveArgs = ['ledger', 'serve', '--dir', p('never'), '--trust', p('issuer/issuer.pub'), '--port', '0'];
    const noCert = edgepay(...serveArgs, '--tls-cert', p('missing.pem'), '--tls-key', p('missing.key'));
    expect([noCert.status, noCert.stderr.trim()]).toEqual([1, expect.stringMatching(/^edgepay: CLI_FILE .*missing\.pem/)]);
    expect(edgepay(...serveArgs, '--tls-cert', p('issuer/issuer.pub')).status).toBe(2); // a cert without its key
    expect(existsSync(p('never'))).toBe(false);
    // A port in use, a broker not there: one line each, and the process exits (nothing left open holds it).
    const held = createServer().listen(0, '127.0.0.1');
    await once(held, 'listening');
    const busy = ['ledger', 'serve', '--dir', p('failed'), '--trust', p('issuer/issuer.pub'), '--operator-port', 'off'];
    const inUse = await edgepayAsync(...busy, '--port', String((held.address() as AddressInfo).port));
    held.close();
    const noBroker = await edgepayAsync(...busy, '--port', '0', '--mqtt', 'mqtt://127.0.0.1:1');
    expect([inUse.status, inUse.stderr.trim()]).toEqual([1, expect.stringMatching(/^edgepay: LEDGER_LISTEN .*in use/)]);
    expect([noBroker.status, noBroker.stderr.trim()]).toEqual([
      1,
      expect.stringMatching(/^edgepay: LEDGER_BROKER .*127\.0\.0\.1:1.*ECONNREFUSED/),
    ]);
    let { child, url, operator } = await serve();
    try {
      const early = edgepay(
        'ledger',
        'fund',
        '--as',
        p('issuer'),
        '--party',
        'party:fleet',
        '--asset',
        'EUR',
        '--amount',
        '1',
        '--url',
        url,
      );
      expect([early.status, early.stderr]).toEqual([1, expect.stringContaining('LEDGER_UNKNOWN_PARTY')]);
      const registered = edgepay('ledger', 'register', '--as', p('issuer'), '--party-cred', p('fleet.cred'), '--url', url);
      expect([registered.stderr, JSON.parse(registered.stdout)]).toEqual(['', { party: 'party:fleet' }]);
      const fund = edgepay(
        'ledger',
        'fund',
        '--as',
        p('issuer'),
        '--party',
        'party:fleet',
        '--asset',
        'EUR',
        '--amount',
        '1250',
        '--url',
        url,
      );
      expect(fund.stderr).toBe('');
      expect(JSON.parse(fund.stdout)).toEqual({ applied: true });
      expect(
        JSON.parse(edgepay('ledger', 'balance', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--url', url).stdout),
      ).toEqual({ balance: '1250' });
      const csv = edgepay('ledger', 'statement', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--url', url).stdout;
      expect(csv.split('\r\n')[2]).toMatch(/^[^,]+,credit,party:fleet,EUR,external,fund:admin:[0-9a-f]+,,1250,1250$/);
      const camt = edgepay(
        'ledger',
        'statement',
        '--as',
        p('issuer'),
        '--party',
        'party:fleet',
        '--asset',
        'EUR',
        '--format',
        'camt053',
        '--url',
        url,
      );
      expect(camt.stdout).toMatch(/<Cd>CLBD<\/Cd><\/CdOrPrtry><\/Tp><Amt Ccy="EUR">12\.50<\/Amt><CdtDbtInd>CRDT<\/CdtDbtInd>/);
      expect(
        edgepay('ledger', 'statement', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--format', 'pdf', '--url', url)
          .stderr,
      ).toMatch(/LEDGER_OP/);
      // A usage error exits 2; a refused call exits 1 with the ledger's code.
      expect(edgepay('ledger', 'fund', '--as', p('issuer'), '--party', 'x', '--asset', 'EUR', '--amount', '-3', '--url', url).status).toBe(
        2,
      );
      const stranger = edgepay('keygen', '--dir', p('stranger'), '--name', 'issuer');
      expect(stranger.status).toBe(0);
      const refused = edgepay('ledger', 'fund', '--as', p('stranger'), '--party', 'x', '--asset', 'EUR', '--amount', '3', '--url', url);
      expect([refused.status, refused.stderr]).toEqual([1, expect.stringContaining('LEDGER_UNAUTHORIZED')]);
      // The issuer revokes a key: the list is written and sent to the ledger, which applies and stores it.
      const kid = 'ab'.repeat(32);
      const revoked = edgepay('revoke', '--authority', p('issuer'), '--kid', kid, '--list', p('issuer/revocations'), '--ledger', url);
      expect(revoked.stderr).toBe('');
      expect(JSON.parse(revoked.stdout)).toMatchObject({ version: 1, revoked: kid, ledger: { applied: true, version: 1 } });
      // Or the operator asks the ledger to: the key goes into the issuer's list the ledger keeps (version 2,
      // the first key kept); asked again, nothing changes.
      const other = 'cd'.repeat(32);
      const byLedger = edgepay('ledger', 'revoke', '--as', p('issuer'), '--key', other, '--reason', 'stolen', '--url', url);
      expect([byLedger.stderr, JSON.parse(byLedger.stdout)]).toEqual(['', { version: 2, changed: true }]);
      expect(JSON.parse(edgepay('ledger', 'revoke', '--as', p('issuer'), '--key', other, '--url', url).stdout)).toEqual({
        version: 2,
        changed: false,
      });
      expect(edgepay('ledger', 'revoke', '--as', p('issuer'), '--key', 'nope', '--url', url).stderr).toMatch(/LEDGER_OP.*key/);
      // Metrics are on the operator listener, not on the devices' one.
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      expect(await (await fetch(`${operator}/metrics`)).text()).toMatch(/^edgepay_ledger_lists_taken_total 1$/m);
      expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ msg: 'revocation list taken', version: 1 }));
    } finally {
      expect(await stop(child)).toBe(0);
    }
    // Its log said what happened: the start, each admin call with its signer, each refusal with its code, the stop.
    const logged = logs.map((l) => JSON.parse(l));
    expect(logged[0]).toMatchObject({ level: 30, msg: 'ledger serving', service: 'edgepay-ledger', version: expect.any(String) });
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'admin call', op: 'fund', by: 'issuer', party: 'party:fleet' }));
    expect(logged).toContainEqual(expect.objectContaining({ level: 40, code: 'LEDGER_UNKNOWN_PARTY', route: 'POST /v1/admin' }));
    expect(logged.slice(-2).map((l) => l.msg)).toEqual(['ledger stopping', 'ledger stopped']);
    const key = readFileSync(p('ledger/ledger.pub'));
    ({ child, url, operator } = await serve('config'));
    try {
      // At debug level (set in its environment) each request answered is logged too.
      await fetch(`${url}/health`);
      await vi.waitFor(() =>
        expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ level: 20, route: 'GET /health', status: 200 })),
      );
      expect(readFileSync(p('ledger/ledger.pub'))).toEqual(key);
      // The revocation list was stored: the restarted ledger serves it.
      const lists = decode(new Uint8Array(await (await fetch(`${url}/v1/revocations`)).arrayBuffer())) as Uint8Array[];
      expect(lists.length).toBe(1);
      expect(
        JSON.parse(edgepay('ledger', 'balance', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--url', url).stdout),
      ).toEqual({ balance: '1250' });
      // The party only funded itself: it earned nothing, so the default payout pays nothing; a dry run of
      // the whole balance shows the line and the document, and applies nothing.
      expect(JSON.parse(edgepay('ledger', 'payout', '--as', p('issuer'), '--asset', 'EUR', '--url', url).stdout)).toEqual({ payouts: 0 });
      const dry = edgepay(
        'ledger',
        'payout',
        '--as',
        p('issuer'),
        '--asset',
        'EUR',
        '--policy',
        'balance',
        '--dry-run',
        '--out',
        p('preview.xml'),
        '--url',
        url,
      );
      expect(JSON.parse(dry.stdout)).toMatchObject({
        dryRun: true,
        payouts: [{ party: 'party:fleet', account: 'tok_f', amount: '1250' }],
        wrote: p('preview.xml'),
      });
      expect(readFileSync(p('preview.xml'), 'utf8')).toContain('<InstdAmt Ccy="EUR">12.50</InstdAmt>');
    } finally {
      expect(await stop(child)).toBe(0);
    }
    expect(edgepay('ledger', 'balance', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--url', url).status).toBe(1);
  }, 120_000);
});
