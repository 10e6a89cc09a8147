/**
 * Builds a self-contained browser bundle (dependencies included, browser conditions) in memory. Used by
 * `npm run size` and by the test that no Node builtin reaches a browser bundle.
 */
import { builtinModules } from 'node:module';
import nodeResolve from '@rollup/plugin-node-resolve';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';

export interface BrowserBundle {
  code: string;
  /** Imports left unresolved: Node builtins or anything else a browser could not load. */
  externals: string[];
}

/** Bundles `input` for browsers (minified when asked), recording every import it could not resolve. */
export async function browserBundle(input: string, minify = true): Promise<BrowserBundle> {
  const externals = new Set<string>();
  const build = await rollup({
    input,
    onwarn: () => {},
    external: (id) => {
      const builtin = id.startsWith('node:') || builtinModules.includes(id);
      if (builtin) externals.add(id);
      return builtin;
    },
    plugins: [
      nodeResolve({
        browser: true,
        exportConditions: ['browser', 'import', 'default'],
        preferBuiltins: false,
        extensions: ['.ts', '.js', '.mjs'],
      }),
      esbuild({ target: 'es2022', minify, tsconfig: 'tsconfig.json' }),
    ],
  });
  const { output } = await build.generate({ format: 'es', inlineDynamicImports: true });
  await build.close();
  for (const chunk of output) if (chunk.type === 'chunk') for (const i of chunk.imports) externals.add(i);
  const code = output.map((c) => (c.type === 'chunk' ? c.code : '')).join('\n');
  return { code, externals: [...externals] };
}
