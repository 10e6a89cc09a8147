import { defineConfig } from 'vitest/config';
import { aliases } from './scripts/entries.mjs';

export default defineConfig({
  // As in vitest.config.ts: `edgepay/...` resolves through the exports map to each entry's source.
  resolve: { alias: aliases('node') },
  test: {
    // Each file must close what it opens (servers, sockets, processes, threads).
    setupFiles: ['test/leaks.ts'],
    // Says last which groups were skipped and what they need.
    globalSetup: ['test/summary.ts'],
    include: ['test/**/*.slow.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
