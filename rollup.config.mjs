/**
 * Two builds from one config: Node (ESM + CJS, `#platform` -> targets/node) and browsers (ESM,
 * `#platform` -> targets/browser). One entry per concept, so each subpath export is its own file.
 * Dependencies stay external: consumers' bundlers dedupe them. Types come from tsc (tsconfig.build.json).
 */

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import nodeResolve from '@rollup/plugin-node-resolve';
import esbuild from 'rollup-plugin-esbuild';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** One entry per concept; where a concept differs by platform, the target's file is the entry. */
export const concepts = {
  node: {
    index: 'targets/node/index.ts',
    codec: 'src/codec/index.ts',
    crypto: 'src/crypto/index.ts',
    identity: 'targets/node/identity.ts',
    channel: 'targets/node/channel.ts',
    transport: 'src/transport/index.ts',
    outbox: 'targets/node/outbox.ts',
    sync: 'src/sync/index.ts',
    ledger: 'src/ledger/index.ts',
    cli: 'src/cli/main.ts',
  },
  browser: {
    index: 'targets/browser/index.ts',
    codec: 'src/codec/index.ts',
    crypto: 'src/crypto/index.ts',
    identity: 'targets/browser/identity.ts',
    channel: 'targets/browser/channel.ts',
    transport: 'src/transport/index.ts',
    outbox: 'targets/browser/outbox.ts',
    sync: 'src/sync/index.ts',
  },
};
const deps = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies ?? {})];
const external = (id) => builtinModules.includes(id) || id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`));

const plugins = (conditions) => [
  nodeResolve({ exportConditions: conditions, extensions: ['.ts', '.js'], preferBuiltins: true }),
  esbuild({ target: 'es2022', tsconfig: 'tsconfig.json' }),
];

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
      },
      { dir: 'dist/node', format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'chunks/[name]-[hash].cjs' },
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
