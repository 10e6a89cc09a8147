/**
 * `npm run bench -- <name...> [--json] [--time=ms]`: runs the named benchmarks (all when none named).
 */
import { benchCrypto } from './crypto.js';
import { benchEdge } from './edge.js';
import { benchIdentity } from './identity.js';
import { benchLedger } from './ledger.js';
import { benchMqtt } from './mqtt.js';

const benches: Record<string, () => Promise<void>> = {
  crypto: benchCrypto,
  identity: benchIdentity,
  edge: async () => void (await benchEdge()),
  mqtt: benchMqtt,
  ledger: benchLedger,
};
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
for (const name of names.length ? names : Object.keys(benches)) await (benches[name] as () => Promise<void>)();
