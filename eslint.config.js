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
);
