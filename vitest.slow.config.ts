import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Examples and docs import 'edgepay' as users do; in tests that means the sources.
  resolve: {
    alias: [
      { find: /^edgepay$/, replacement: new URL('./targets/node/index.ts', import.meta.url).pathname },
      { find: /^edgepay\/(.*)$/, replacement: new URL('./src/$1/index.ts', import.meta.url).pathname },
    ],
  },
  test: {
    include: ['test/**/*.slow.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
