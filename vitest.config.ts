import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // TensorFlow.js keeps one engine per process; forks keep test files isolated from each other.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
