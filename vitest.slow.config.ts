import { defineConfig } from 'vitest/config';
import { aliases } from './scripts/entries.mjs';

export default defineConfig({
  // As in vitest.config.ts: `edgepay/...` resolves through the exports map to each entry's source.
  resolve: { alias: aliases('node') },
  test: {
    include: ['test/**/*.slow.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
