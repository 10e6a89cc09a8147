/**
 * Two builds from one config: Node (ESM + CJS, `#platform` -> src/crypto/platform-node.ts) and browsers
 * (ESM, `#platform` -> platform-browser.ts). One entry per concept (scripts/entries.mjs), so each subpath
 * export is its own file.
 * Dependencies stay external: consumers' bundlers dedupe them. Types come from tsc (tsconfig.build.json).
 */

import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import nodeResolve from '@rollup/plugin-node-resolve';
import esbuild from 'rollup-plugin-esbuild';
import { concepts } from './scripts/entries.mjs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

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
