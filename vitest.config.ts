import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // TensorFlow.js keeps one engine per process; forks keep test files isolated from each other.
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores (one on a 2-core machine); each test file runs
    // single-threaded wasm, so every core takes a file.
    maxWorkers: availableParallelism(),
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
