// Unit tests beside the code (src/**/*.test.ts). The worker pool's workers run the compiled
// dist/pool/worker-entry.js, so the tests import the package from dist/ and a global setup compiles it first.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    globalSetup: ['./vitest.build.ts'],
    // Heap measurements in the pool tests call gc().
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
