import { defineConfig } from 'vitest/config';

// Unit tests are pure and fast; integration tests drive the real Podman engine and run one file
// at a time so that they don't fight over the 2 cores.
export default defineConfig({
  test: {
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
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
