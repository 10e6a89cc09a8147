/**
 * `npm run size`: for each entry a device loads, the gzipped size of its browser bundle (dependencies
 * included, minified) of what loads at start, against that entry's budget; what loads only on demand
 * (MQTT.js when an MQTT transport is made, noble where WebCrypto has no Ed25519) is shown beside it. Exits 1 over any budget, or if a bundle
 * imports something a browser cannot load. `--json` prints one JSON line per entry.
 */
import { gzipSync } from 'node:zlib';
import { entries } from '../scripts/entries.mjs';
import { browserBundle } from './browser-bundle.js';

const KB = 1024;
/** Budgets in gzipped bytes, a little above today's sizes: growth is a decision, not a drift. */
const BUDGETS: Record<string, number> = {
  edgepay: 52 * KB,
  'edgepay/identity': 34 * KB,
  'edgepay/channel': 42 * KB,
  'edgepay/outbox': 5 * KB,
  'edgepay/sync': 31 * KB,
  'edgepay/transport': 14 * KB,
  'edgepay/codec': 28 * KB,
  'edgepay/crypto': 11 * KB,
};

const json = process.argv.includes('--json');
const browser = entries('browser');
let over = false;
if (!json) console.log('entry                 start, gzipped   budget   on demand, gzipped');
for (const [entry, budget] of Object.entries(BUDGETS)) {
  const file = browser[entry];
  if (!file) throw new Error(`${entry} is not a browser entry in package.json`);
  const { code, lazy, externals } = await browserBundle(file, true, true);
  const gz = gzipSync(code, { level: 9 }).length;
  const lazyGz = lazy ? gzipSync(lazy, { level: 9 }).length : 0;
  const bad = gz > budget || externals.length > 0;
  over ||= bad;
  if (json)
    console.log(
      JSON.stringify({ bench: `size.browser.${entry}.gzip`, value: gz, unit: 'bytes', limit: budget, ratio: gz / budget, lazy: lazyGz }),
    );
  else
    console.log(
      `${entry.padEnd(20)}${`${(gz / KB).toFixed(1)} KB`.padStart(16)}${`${budget / KB} KB`.padStart(9)}${lazyGz ? `${(lazyGz / KB).toFixed(1)} KB`.padStart(21) : ''}${bad ? '  OVER' : ''}${externals.length ? `  unresolved: ${externals.join(', ')}` : ''}`,
    );
}
if (over) process.exit(1);
