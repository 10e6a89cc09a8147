import { defineConfig } from 'vitest/config';
import { aliases } from './scripts/entries.mjs';

// The default, fast suite. Slow suites (*.slow.test.ts: long fuzzing, crash loops) run with
// `npm run test:slow` (vitest.slow.config.ts).
export default defineConfig({
  // Tests, examples and docs import `edgepay/...` as users do: each subpath of package.json's exports map
  // resolves to the source file its dist entry is built from (test/build checks the built dist itself).
  resolve: { alias: aliases('node') },
  test: {
    // Each file must close what it opens (servers, sockets, processes, threads).
    setupFiles: ['test/leaks.ts'],
    // Says last which groups were skipped and what they need.
    globalSetup: ['test/summary.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.slow.test.ts', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
