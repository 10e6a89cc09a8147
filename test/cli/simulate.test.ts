/**
 * The main job as users run it (`npm start`: sim/main.ts), as its own process: on the
 * embedded defaults, and against Mosquitto and PostgreSQL on this machine. It must reconcile and say so.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { service } from '../services.js';

function simulate(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sim/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const haveServices = (await service('PostgreSQL', 5432)) && (await service('Mosquitto', 1883));

describe('the simulator (npm start)', () => {
  it('embedded broker and ledger: pays through an outage, drains, reconciles, exits 0', async () => {
    const r = await simulate('--devices', '12', '--duration', '8', '--outage', '3', '--seed', '7', '--json');
    expect(r.code, r.stderr).toBe(0);
    // stdout is the JSON alone (so `| jq` works); the verdict and the progress are on stderr.
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ devices: 12, channels: 6, ok: true });
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^reconciliation: OK/);
    // Without a terminal, progress is a line per phase or ledger state, and a few between: not one per tick.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('[')).length).toBeLessThan(8);
    expect(report.payments).toBeGreaterThan(100);
    expect(report.maxOutboxDepth).toBeGreaterThan(0); // records waited while the ledger was away
    expect(report.checks.map((c: { ok: boolean }) => c.ok)).toEqual([true, true, true, true, true, true, true]);
    expect(r.stderr).toContain('ledger OFFLINE');
    expect(report.parties.map((p: { party: string }) => p.party).sort()).toEqual([
      'party:drone-fleet',
      'party:pad-owner',
      'party:toll-operator',
      'party:vehicle-owner',
    ]);
  }, 120_000);

  it.skipIf(!haveServices)(
    'against Mosquitto (MQTT 5) and PostgreSQL (its own schema, dropped after)',
    async () => {
      const r = await simulate(
        '--devices',
        '8',
        '--duration',
        '6',
        '--outage',
        '2',
        '--broker',
        'mqtt://127.0.0.1:1883',
        '--db',
        process.env.EDGEPAY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/party:pad-owner +\d+ +\d+ +ok/);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^reconciliation: OK/);
    },
    120_000,
  );

  it('refuses bad options with exit 2', async () => {
    expect((await simulate('--devices', '2')).code).toBe(2);
    expect((await simulate('--outage', '40', '--duration', '10')).code).toBe(2);
    expect((await simulate('--db', 'mysql://x')).code).toBe(2);
  }, 60_000);
});
