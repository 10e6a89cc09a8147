/**
 * Real services (PostgreSQL, Mosquitto) on this machine. Tests that need one skip with a clear message
 * where it is absent, except where EDGEPAY_REQUIRE_SERVICES=1 (CI), where they fail.
 */
import { execFileSync } from 'node:child_process';
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

/**
 * True when the command `tool` runs (`tool ...args`); otherwise the group that needs it is noted as skipped
 * with how to install it (or, where services are required, the run fails).
 */
export function haveTool(tool: string, args: string[], group: string, install: string): boolean {
  try {
    execFileSync(tool, args, { stdio: 'ignore' });
    return true;
  } catch {
    if (requireServices) throw new Error(`${tool} is required here for ${group} (${install})`);
    skipped(group, `${tool} is not installed (${install})`);
    return false;
  }
}

/** xmllint (libxml2-utils), which checks ISO 20022 documents against the official schemas. */
export const haveXmllint = () => haveTool('xmllint', ['--version'], 'the ISO 20022 schema checks', 'apt-get install libxml2-utils');
