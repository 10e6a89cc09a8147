/**
 * The seed trial (`npm run bench -- seed1`) at a small N, so its machinery is tested on every run: three
 * ledger processes on PostgreSQL, two killed with SIGKILL mid-run and restarted, clients failing over,
 * and the exact checks; and the device-side variant (the whole ledger down while devices pay offline).
 */
import { describe, expect, it } from 'vitest';
import { runSeed1, seed1Defaults } from '../../bench/seed1.js';
import { runSeed1Devices } from '../../bench/seed1-devices.js';
import { havePostgres, PG_URL } from '../ledger/dbs.js';

const options = (accounts: number) => ({
  ...seed1Defaults(),
  accounts,
  seed: 'seed1-test',
  clients: 3,
  batch: 200,
  killAt: 0.3,
  downSeconds: 2,
  pgUrl: PG_URL,
  dir: '.tmp/seed1-test',
  log: () => {},
});

describe.skipIf(!havePostgres)('seed trial on PostgreSQL', () => {
  it('3,000 accounts through three ledger processes, two killed mid-run: every total exact', async () => {
    const r = await runSeed1(options(3000));
    expect(r.checks).toEqual(Object.fromEntries(Object.keys(r.checks).map((k) => [k, true])));
    expect(Object.keys(r.checks)).toHaveLength(5);
    // Two processes really went down and came back; the survivor kept taking records meanwhile.
    expect(r.recoverSeconds).toBeGreaterThan(0);
    expect(r.peakRss.ledger.every((b) => b > 0)).toBe(true);
  }, 180_000);

  it('accounts only funded, not enrolled: each chain is verified when its record comes, every total exact', async () => {
    const r = await runSeed1({ ...options(500), enrol: false, killAt: 2 });
    expect(r.checks).toEqual(Object.fromEntries(Object.keys(r.checks).map((k) => [k, true])));
    expect(Object.keys(r.checks)).toHaveLength(5);
  }, 180_000);

  it('devices pay offline while the whole ledger is down, then sync both copies: every total exact', async () => {
    const r = await runSeed1Devices(options(500));
    expect(r.checks).toEqual(Object.fromEntries(Object.keys(r.checks).map((k) => [k, true])));
    expect(r.records).toBe(1000);
    expect(r.payments).toBe(999);
  }, 180_000);
});
