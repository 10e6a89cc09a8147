import { defineConfig } from 'vitest/config';

// The default, fast suite. Slow suites (*.slow.test.ts: long fuzzing, crash loops) run with
// `npm run test:slow` (vitest.slow.config.ts).
export default defineConfig({
  // Examples and docs import 'edgepay' as users do; in tests that means the sources.
  resolve: {
    alias: [
      { find: /^edgepay$/, replacement: new URL('./targets/node/index.ts', import.meta.url).pathname },
      { find: /^edgepay\/(.*)$/, replacement: new URL('./src/$1/index.ts', import.meta.url).pathname },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.slow.test.ts', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
