/**
 * `npm run bench -- <name...> [--json] [--time=ms]`: runs the named benchmarks (all when none named).
 */
import { benchCrypto } from './crypto.js';
import { benchDevice } from './device.js';
import { benchEdge } from './edge.js';
import { benchIdentity } from './identity.js';
import { benchLedger } from './ledger.js';
import { benchMqtt } from './mqtt.js';
import { benchSeed1 } from './seed1.js';
import { benchSimulator } from './simulator.js';

const benches: Record<string, () => Promise<void>> = {
  crypto: benchCrypto,
  identity: benchIdentity,
  edge: async () => void (await benchEdge()),
  mqtt: benchMqtt,
  ledger: benchLedger,
  seed1: benchSeed1,
  device: benchDevice,
  simulator: benchSimulator,
};
// Options take the form --name or --name=value, so every other argument names a benchmark.
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
// seed1 runs for minutes on a database, device installs from the registry, simulator drives a browser: only when named.
const named = ['seed1', 'device', 'simulator'];
for (const name of names.length ? names : Object.keys(benches).filter((b) => !named.includes(b)))
  await (benches[name] as () => Promise<void>)();
