/**
 * `npm run size`: gzipped size of the browser bundle of codec + crypto (dependencies included,
 * minified), against a 40 KB budget. Exits 1 over budget. `--json` prints one JSON line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { browserBundle } from './browser-bundle.js';

const BUDGET = 40 * 1024;
const entry = '.tmp/size-entry.ts';
mkdirSync('.tmp', { recursive: true });
writeFileSync(entry, "export * from '../src/codec/index.js';\nexport * from '../src/crypto/index.js';\n");

const { code, externals } = await browserBundle(entry);
const raw = Buffer.byteLength(code);
const gz = gzipSync(code, { level: 9 }).length;
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ bench: 'size.browser.codec+crypto.gzip', value: gz, unit: 'bytes', limit: BUDGET, ratio: gz / BUDGET }));
} else {
  console.log(
    `browser bundle, codec + crypto, minified: ${(raw / 1024).toFixed(1)} KB; gzipped: ${(gz / 1024).toFixed(1)} KB (budget ${BUDGET / 1024} KB)`,
  );
  if (externals.length) console.log(`unresolved imports: ${externals.join(', ')}`);
}
if (gz > BUDGET || externals.length > 0) process.exit(1);
