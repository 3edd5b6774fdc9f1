import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from './errors.js';

// The README's error table is what users read: it must list every code, with the status the API sends.
describe('the README error table', () => {
  const readme = fs.readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const rows = new Map([...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));

  it('documents every code with its status, and no code that does not exist', () => {
    expect(Object.fromEntries(rows)).toEqual(ERROR_STATUS);
  });
});
