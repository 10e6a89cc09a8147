/**
 * Real services (PostgreSQL, Mosquitto) on this machine. Tests that need one skip with a clear message
 * where it is absent, except where EDGEPAY_REQUIRE_SERVICES=1 (CI), where they fail.
 */
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

/** True when the service answers; otherwise warns (or, where required, throws). */
export async function service(name: string, port: number): Promise<boolean> {
  if (await reachable(port)) return true;
  const msg = `${name} is not reachable at 127.0.0.1:${port}`;
  if (requireServices) throw new Error(`${msg}, and EDGEPAY_REQUIRE_SERVICES=1 makes it mandatory`);
  console.warn(`skipping ${name} tests: ${msg}`);
  return false;
}
