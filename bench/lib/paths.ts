import { fileURLToPath } from 'node:url';

// This file runs from bench/dist/lib/paths.js; everything is found relative to it.
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const resultsDir = fileURLToPath(new URL('../../results/', import.meta.url));
export const serverMain = fileURLToPath(new URL('../../../packages/server/dist/main.js', import.meta.url));
