/**
 * `ledger serve` settings from a config file and the environment as well as flags: flags win over the
 * environment, the environment over the file; relative paths in the file are from its folder; a mistyped
 * or unknown setting is a usage error naming it (with "did you mean"), never ignored.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'edgepay-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function edgepay(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const config = (name: string, settings: unknown) => {
  const f = join(dir, name);
  writeFileSync(f, typeof settings === 'string' ? settings : JSON.stringify(settings));
  return f;
};

describe('ledger serve settings', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (k.startsWith('EDGEPAY_LEDGER_')) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('come from flags, then the environment, then the config file', async () => {
    const file = config('ledger.json', {
      dir: 'state',
      trust: ['issuer.pub', '/etc/edgepay/other.pub'],
      port: 9000,
      host: '0.0.0.0',
      'log-level': 'warn',
      'trusted-proxy': ['10.0.0.0/8'],
    });
    process.env.EDGEPAY_LEDGER_PORT = '9100';
    process.env.EDGEPAY_LEDGER_TRUSTED_PROXY = '10.1.0.1, 10.1.0.2';
    process.env.EDGEPAY_LEDGER_PRINT_CONFIG = 'yes';
    const r = await edgepay('ledger', 'serve', '--config', file, '--host', '127.0.0.1');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(JSON.parse(r.out)).toEqual({
      dir: join(dir, 'state'), // relative to the file's folder
      trust: [join(dir, 'issuer.pub'), '/etc/edgepay/other.pub'],
      port: '9100', // the environment over the file
      host: '127.0.0.1', // the flag over the file
      'log-level': 'warn',
      'trusted-proxy': ['10.1.0.1', '10.1.0.2'],
    });
    // The file can also be named in the environment.
    delete process.env.EDGEPAY_LEDGER_PORT;
    process.env.EDGEPAY_LEDGER_CONFIG = file;
    expect(JSON.parse((await edgepay('ledger', 'serve')).out)).toMatchObject({ port: '9000', host: '0.0.0.0' });
  });

  it('an unknown or mistyped setting is a usage error that names it', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--config', config('typo.json', { prot: 8787 })], {}, /typo\.json: unknown setting prot; did you mean port\?/],
      [['--config', config('type.json', { port: { n: 1 } })], {}, /port takes a string or a number/],
      [['--config', config('list.json', { trust: [1, {}] })], {}, /trust takes a list of strings/],
      [['--config', config('bad.json', '{ "port": ')], {}, /is not JSON/],
      [['--config', config('array.json', [])], {}, /holds a JSON object of settings/],
      [['--config', join(dir, 'absent.json')], {}, /^edgepay: CLI_FILE .*absent\.json cannot be read/],
      [[], { EDGEPAY_LEDGER_PROT: '1' }, /unknown environment setting EDGEPAY_LEDGER_PROT; did you mean EDGEPAY_LEDGER_PORT\?/],
      [[], { EDGEPAY_LEDGER_PRINT_CONFIG: 'maybe' }, /EDGEPAY_LEDGER_PRINT_CONFIG: print-config takes true or false/],
      [['--log-level', 'loud', '--dir', dir, '--trust', 'x'], {}, /--log-level is one of debug, info, warn, error/],
      [['--trusted-proxy', 'proxy.example', '--dir', dir, '--trust', 'x'], {}, /a trusted proxy is an IP address or a CIDR range/],
    ];
    for (const [args, env, message] of cases) {
      Object.assign(process.env, env);
      const r = await edgepay('ledger', 'serve', ...args);
      for (const k of Object.keys(env)) delete process.env[k];
      expect(r.err, args.join(' ') || JSON.stringify(env)).toMatch(message);
      expect(r.code).toBe(/CLI_FILE/.test(r.err) ? 1 : 2);
      expect(r.err.split('\n')).toHaveLength(1);
    }
  });
});
