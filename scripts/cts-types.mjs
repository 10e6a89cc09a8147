/**
 * After tsc emits dist/types (`.d.ts`, ESM, as the package's "type": "module" makes them), writes a
 * `.d.cts` beside each, with relative imports pointing at `.cjs`: the types the exports map gives
 * `require`, so CommonJS users get CommonJS types (not ESM ones "masquerading" as CJS).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? 'dist/types';
let n = 0;
for (const f of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
  if (!f.endsWith('.d.ts')) continue;
  const text = readFileSync(join(root, f), 'utf8');
  // `from './x.js'`, `import('./x.js')`, `export * from '../y/index.js'`: relative specifiers only.
  const cts = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+?)\.js(['"])/g, '$1$2.cjs$3');
  writeFileSync(join(root, f.replace(/\.d\.ts$/, '.d.cts')), cts);
  n++;
}
console.log(`cts-types: ${n} .d.cts files in ${root}`);
