/**
 * Builds a self-contained browser bundle (dependencies included, browser conditions) in memory. Used by
 * `npm run size` and by the test that no Node builtin reaches a browser bundle.
 */
import { builtinModules } from 'node:module';
import nodeResolve from '@rollup/plugin-node-resolve';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';

export interface BrowserBundle {
  /** The code: all of it, or with `split`, what loads at start (the entry and its static imports). */
  code: string;
  /** With `split`: what loads only on demand (dynamic imports, such as MQTT.js). */
  lazy: string;
  /** Imports left unresolved: Node builtins or anything else a browser could not load. */
  externals: string[];
}

/**
 * Bundles `input` for browsers (minified when asked), recording every import it could not resolve. With
 * `split`, dynamic imports stay separate chunks, as a bundler would load them.
 */
export async function browserBundle(input: string, minify = true, split = false): Promise<BrowserBundle> {
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
  const { output } = await build.generate({ format: 'es', inlineDynamicImports: !split });
  await build.close();
  const chunks = new Map(output.flatMap((c) => (c.type === 'chunk' ? [[c.fileName, c] as const] : [])));
  for (const chunk of chunks.values()) for (const i of chunk.imports) if (!chunks.has(i)) externals.add(i);
  // What loads at start: the entry and, transitively, what it imports statically.
  const start = new Set<string>();
  const visit = (name: string) => {
    if (start.has(name) || !chunks.has(name)) return;
    start.add(name);
    for (const i of chunks.get(name)?.imports ?? []) visit(i);
  };
  for (const c of chunks.values()) if (c.isEntry) visit(c.fileName);
  const join = (pick: (name: string) => boolean) =>
    [...chunks.values()]
      .filter((c) => pick(c.fileName))
      .map((c) => c.code)
      .join('\n');
  return { code: join((n) => start.has(n)), lazy: join((n) => !start.has(n)), externals: [...externals] };
}
