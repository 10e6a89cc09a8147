/**
 * Two builds from one config: Node (ESM + CJS, `#platform` -> src/crypto/platform-node.ts) and browsers
 * (ESM, `#platform` -> platform-browser.ts). One entry per concept (scripts/entries.mjs), so each subpath
 * export is its own file.
 * Dependencies stay external: consumers' bundlers dedupe them. Types come from tsc (tsconfig.build.json).
 */

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import nodeResolve from '@rollup/plugin-node-resolve';
import esbuild from 'rollup-plugin-esbuild';
import { concepts } from './scripts/entries.mjs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

const deps = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies ?? {})];
const external = (id) => builtinModules.includes(id) || id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`));

/**
 * The verifier pool's worker is a file of its own in the Node build, found from its caller by URL in ESM
 * and CJS alike (crypto/workers.ts names its source; this points that URL at the built file).
 */
const verifierWorker = {
  name: 'edgepay-verifier-worker',
  transform(code, id) {
    if (!id.endsWith('/src/crypto/workers.ts')) return null;
    const source = "new URL('./verify-worker.ts', import.meta.url)";
    if (!code.includes(source)) this.error(`${source} not found in ${id}`);
    const ref = this.emitFile({
      type: 'chunk',
      id: fileURLToPath(new URL('./src/crypto/verify-worker.ts', import.meta.url)),
      name: 'verify-worker',
    });
    return { code: code.replace(source, `new URL(import.meta.ROLLUP_FILE_URL_${ref})`), map: null };
  },
};

const plugins = (conditions) => [
  verifierWorker,
  nodeResolve({ exportConditions: conditions, extensions: ['.ts', '.js'], preferBuiltins: true }),
  esbuild({ target: 'es2022', tsconfig: 'tsconfig.json' }),
];

/**
 * The device side's shared code is one chunk: every file is a module the runtime resolves and links at
 * start, and on a small board that, not the code, is most of the start-up time. The chunk holds what the
 * device entries reach by static imports, so what only the ledger or the CLI uses (the verifier threads,
 * the database) stays out of it.
 */
const DEVICE_ENTRIES = ['index', 'codec', 'crypto', 'identity', 'channel', 'transport', 'settlement', 'outbox', 'sync'];
function deviceCore(id, { getModuleInfo }) {
  if (!this.reach) {
    const roots = DEVICE_ENTRIES.map((e) => fileURLToPath(new URL(`./${concepts.node[e]}`, import.meta.url)));
    const seen = new Set();
    const visit = (m) => {
      if (seen.has(m)) return;
      seen.add(m);
      for (const i of getModuleInfo(m)?.importedIds ?? []) visit(i);
    };
    for (const r of roots) visit(r);
    this.reach = seen;
  }
  return this.reach.has(id) && /\/(src|targets)\//.test(id) ? 'core' : undefined;
}
const manualChunks = deviceCore.bind({});

/** @type {import('rollup').RollupOptions[]} */
const config = [
  {
    input: concepts.node,
    external,
    plugins: plugins(['node']),
    output: [
      {
        dir: 'dist/node',
        format: 'es',
        entryFileNames: '[name].js',
        chunkFileNames: 'chunks/[name]-[hash].js',
        banner: (c) => (c.name === 'cli' ? '#!/usr/bin/env node' : ''),
        manualChunks,
      },
      {
        dir: 'dist/node',
        format: 'cjs',
        entryFileNames: '[name].cjs',
        chunkFileNames: 'chunks/[name]-[hash].cjs',
        manualChunks,
      },
    ],
  },
  {
    input: concepts.browser,
    external,
    plugins: plugins(['browser']),
    output: { dir: 'dist/browser', format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
  },
];
export default config;
