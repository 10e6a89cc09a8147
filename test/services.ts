/**
 * Real services (PostgreSQL, Mosquitto) on this machine. Tests that need one skip with a clear message
 * where it is absent, except where EDGEPAY_REQUIRE_SERVICES=1 (CI), where they fail.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';

export const requireServices = process.env.EDGEPAY_REQUIRE_SERVICES === '1';

export function reachable(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Where skipped groups are noted for the run's summary (test/summary.ts prints them last). */
export const SKIPPED_LOG = '.tmp/skipped.log';

/** Notes a group of tests skipped and why (what to install or start): warned now, summed up at the end. */
export function skipped(group: string, why: string): void {
  console.warn(`skipping ${group}: ${why}`);
  mkdirSync('.tmp', { recursive: true });
  appendFileSync(SKIPPED_LOG, `${group}: ${why}\n`);
}

/** True when the service answers; otherwise warns (or, where required, throws). */
export async function service(name: string, port: number): Promise<boolean> {
  if (await reachable(port)) return true;
  const msg = `${name} is not reachable at 127.0.0.1:${port}`;
  if (requireServices) throw new Error(`${msg}, and EDGEPAY_REQUIRE_SERVICES=1 makes it mandatory`);
  skipped(`${name} tests`, msg);
  return false;
}
