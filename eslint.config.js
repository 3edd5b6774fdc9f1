import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { capabilityBoundaries } from './scripts/eslint/capability-boundaries.js';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.berth/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['packages/server/src/**/*.ts'],
    plugins: { berth: { rules: { 'capability-boundaries': capabilityBoundaries } } },
    rules: { 'berth/capability-boundaries': 'error' },
  },
  {
    // The web UI's capability folders reach each other only through their index.js.
    files: ['packages/web/src/**/*.ts', 'packages/web/src/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./(lifecycle|snapshots|data|files|terminal|tokens)/(?!index\\.js$)', message: 'Reach another capability through its index.js.' }] },
      ],
    },
  },
);
