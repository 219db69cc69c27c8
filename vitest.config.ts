import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: ['test/setup.ts'],
    // End-to-end suites start real daemons and load generators; two cores cannot run many at once.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
