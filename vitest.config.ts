import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast; integration tests drive the real Podman engine. Files run one at a
// time so that integration tests don't fight over the 2 cores and the engine.
export default defineConfig({
  test: {
    fileParallelism: false,
    globalSetup: ['packages/server/src/testing/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], exclude: ['**/*.int.test.ts', '**/node_modules/**', '**/dist/**'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/src/**/*.int.test.ts', 'e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
