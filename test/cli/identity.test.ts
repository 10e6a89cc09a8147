/**
 * The CLI flow end to end in a temp directory, as separate processes with real exit codes:
 * init issuer, certify a party, enrol a device, inspect (valid), revoke, inspect (revoked).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'edgepay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function edgepay(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, EDGEPAY_PASSPHRASE: 'test passphrase', EDGEPAY_KDF_LOG2N: '10' },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const p = (f: string) => join(dir, f);

describe('edgepay CLI identity flow', () => {
  it('init issuer, certify party, enrol device, inspect valid, revoke, inspect revoked', () => {
    expect(edgepay('issuer', 'init', '--dir', p('issuer'), '--id', 'network:test').status).toBe(0);
    expect(edgepay('keygen', '--dir', p('party'), '--name', 'party').status).toBe(0);
    const certify = edgepay(
      'party',
      'certify',
      '--issuer',
      p('issuer'),
      '--key',
      p('party/party.pub'),
      '--id',
      'party:fleet',
      '--asset',
      'EUR',
      '--per-payment',
      '500',
      '--per-channel',
      '10000',
      '--per-period',
      '100000',
      '--total-outstanding',
      '50000',
      '--category',
      'fleet-operator',
      '--counterparties',
      'charging-pad,toll-gate',
      '--payment-ref',
      'tok_9f',
      '--out',
      p('party.cred'),
    );
    expect(certify.status).toBe(0);
    expect(JSON.parse(certify.stdout)).toMatchObject({ role: 'party', subject: 'party:fleet', paymentRef: 'tok_9f' });
    expect(edgepay('keygen', '--dir', p('drone'), '--name', 'device').status).toBe(0);
    const enroll = edgepay(
      'device',
      'enroll',
      '--party',
      p('party'),
      '--party-cred',
      p('party.cred'),
      '--key',
      p('drone/device.pub'),
      '--id',
      'device:drone-7',
      '--category',
      'drone',
      '--counterparties',
      'charging-pad',
      '--per-payment',
      '100',
      '--model',
      'X4',
      '--serial',
      'SN-7',
      '--out',
      p('drone.chain'),
    );
    expect(enroll.status, enroll.stderr).toBe(0);

    const ok = edgepay('inspect', p('drone.chain'), '--trust', p('issuer/issuer.pub'));
    expect(ok.status, ok.stderr).toBe(0);
    const shown = JSON.parse(ok.stdout);
    expect(shown).toMatchObject({
      type: 'credential-chain',
      verified: true,
      result: { paymentRef: 'tok_9f', limits: { perPayment: '100', perChannel: '10000', asset: 'EUR' } },
    });

    const rev = edgepay(
      'revoke',
      '--authority',
      p('party'),
      '--id',
      'party:fleet',
      '--cred',
      p('drone.chain'),
      '--list',
      p('party.revocations'),
    );
    expect(rev.status, rev.stderr).toBe(0);
    const bad = edgepay('inspect', p('drone.chain'), '--trust', p('issuer/issuer.pub'), '--revocations', p('party.revocations'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/ID_REVOKED at device/);

    // The list itself inspects and verifies; a second revocation bumps its version.
    expect(JSON.parse(edgepay('inspect', p('party.revocations')).stdout)).toMatchObject({
      type: 'revocation-list',
      value: { version: 1, issuer: 'party:fleet' },
    });
  });

  it('rejects an untrusted chain and a tampered file with their codes', () => {
    expect(edgepay('issuer', 'init', '--dir', p('other'), '--id', 'network:other').status).toBe(0);
    const untrusted = edgepay('inspect', p('drone.chain'), '--trust', p('other/issuer.pub'));
    expect(untrusted.status).toBe(1);
    expect(untrusted.stderr).toMatch(/ID_UNKNOWN_ISSUER/);
    const bytes = readFileSync(p('party.cred'));
    bytes[bytes.length - 5]! ^= 1;
    writeFileSync(p('tampered.cred'), bytes);
    const t = edgepay('inspect', p('tampered.cred'), '--trust', p('issuer/issuer.pub'));
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(/COSE_SIGNATURE/);
  });

  it("device enroll refuses what the chain could never verify with (limits wider than the party's, another asset, a category it may not pay), before writing anything; negative amounts are named", () => {
    const base = [
      'device',
      'enroll',
      '--party',
      p('party'),
      '--party-cred',
      p('party.cred'),
      '--key',
      p('drone/device.pub'),
      '--id',
      'device:d2',
      '--category',
      'drone',
    ];
    for (const [extra, field] of [
      [['--per-payment', '501'], 'device.limits.perPayment'],
      [['--asset', 'USD'], 'device.limits.asset'],
      [['--counterparties', 'kiosk'], 'device.counterparties'],
    ] as const) {
      const r = edgepay(...base, ...extra, '--out', p('never.chain'));
      expect([r.status, r.stderr]).toEqual([
        1,
        expect.stringMatching(new RegExp(`ID_LIMITS_WIDENED.*${field.replace('.', '\\.')}|${field}.*ID_LIMITS_WIDENED`)),
      ]);
      expect(() => readFileSync(p('never.chain'))).toThrow();
    }
    const negative = edgepay(...base, '--per-payment=-5', '--out', p('never.chain'));
    expect([negative.status, negative.stderr]).toEqual([2, expect.stringMatching(/--per-payment cannot be negative/)]);
  });

  it('writes and reads hex and JSON formats', () => {
    expect(edgepay('keygen', '--dir', p('hexed'), '--name', 'k', '--format', 'hex').status).toBe(0);
    expect(readFileSync(p('hexed/k.pub'), 'utf8')).toMatch(/^[0-9a-f]+\n$/);
    const shown = JSON.parse(edgepay('inspect', p('hexed/k.pub')).stdout);
    expect(shown.type).toBe('cose-key');
    expect(edgepay('keygen', '--dir', p('jsoned'), '--name', 'k', '--format', 'json').status).toBe(0);
    expect(JSON.parse(readFileSync(p('jsoned/k.pub'), 'utf8'))).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
  });

  it('refuses to run without a passphrase, and on usage errors exits 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keygen', '--dir', p('nopw'), '--name', 'k'], {
      encoding: 'utf8',
      env: { ...process.env, EDGEPAY_PASSPHRASE: '' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/CLI_PASSPHRASE/);
    expect(edgepay('party', 'certify', '--issuer', p('issuer')).status).toBe(2);
    expect(edgepay('keygen', '--bogus').status).toBe(2);
  });

  it('every command has --help', () => {
    for (const name of Object.keys(commands)) {
      const r = edgepay(...name.split(' '), '--help');
      expect(r.status, name).toBe(0);
      expect(r.stdout).toMatch(/^edgepay /);
    }
    expect(edgepay('--help').stdout).toMatch(/device enroll/);
  });
});
