/**
 * `edgepay ledger serve` as its own process on an embedded PGlite directory, driven by the admin
 * commands: fund, balance, statement (CSV), payout (pain.001, checked against the schema); a restart
 * keeps the books and the ledger key.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../sync/world.js';

const dir = mkdtempSync(join(tmpdir(), 'edgepay-cli-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, EDGEPAY_PASSPHRASE: 'test passphrase', EDGEPAY_KDF_LOG2N: '10' };
const p = (f: string) => join(dir, f);

function edgepay(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function serve(port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'ledger',
      'serve',
      '--dir',
      p('ledger'),
      '--trust',
      p('issuer/issuer.pub'),
      '--issuer',
      p('issuer'),
      '--port',
      String(port),
      '--debtor-name',
      'Example Settlement Ltd',
      '--debtor-account',
      'SETTLE-0001',
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"listening"')) resolve();
    });
    child.on('exit', (c) => reject(new Error(`ledger serve exited ${c}: ${out}`)));
  });
  return child;
}

const stop = (c: ChildProcess) =>
  new Promise<number | null>((r) => {
    c.once('exit', (code) => r(code));
    c.kill('SIGTERM');
  });

describe('edgepay ledger', () => {
  it('serve, fund, balance, statement, payout; a restart keeps the books', async () => {
    expect(edgepay('issuer', 'init', '--dir', p('issuer'), '--id', 'network:test').status).toBe(0);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let child = await serve(port);
    try {
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
      // A usage error exits 2; a refused call exits 1 with the ledger's code.
      expect(edgepay('ledger', 'fund', '--as', p('issuer'), '--party', 'x', '--asset', 'EUR', '--amount', '-3', '--url', url).status).toBe(
        2,
      );
      const stranger = edgepay('keygen', '--dir', p('stranger'), '--name', 'issuer');
      expect(stranger.status).toBe(0);
      const refused = edgepay('ledger', 'fund', '--as', p('stranger'), '--party', 'x', '--asset', 'EUR', '--amount', '3', '--url', url);
      expect([refused.status, refused.stderr]).toEqual([1, expect.stringContaining('LEDGER_UNAUTHORIZED')]);
    } finally {
      expect(await stop(child)).toBe(0);
    }
    const key = readFileSync(p('ledger/ledger.pub'));
    child = await serve(port);
    try {
      expect(readFileSync(p('ledger/ledger.pub'))).toEqual(key);
      expect(
        JSON.parse(edgepay('ledger', 'balance', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--url', url).stdout),
      ).toEqual({ balance: '1250' });
      // No payment reference is known for a party funded by hand (none of its devices has settled yet).
      expect(JSON.parse(edgepay('ledger', 'payout', '--as', p('issuer'), '--asset', 'EUR', '--url', url).stdout)).toEqual({ payouts: 0 });
    } finally {
      expect(await stop(child)).toBe(0);
    }
    expect(edgepay('ledger', 'balance', '--as', p('issuer'), '--party', 'party:fleet', '--asset', 'EUR', '--url', url).status).toBe(1);
  }, 120_000);
});
