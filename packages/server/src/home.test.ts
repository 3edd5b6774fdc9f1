import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareHome } from './home.js';

describe('prepareHome', () => {
  it('creates BERTH_HOME private to its owner, and tightens an existing one', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-home-'));
    const fresh = path.join(parent, 'fresh');
    prepareHome(fresh);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    const loose = path.join(parent, 'loose');
    fs.mkdirSync(loose, { mode: 0o755 });
    fs.chmodSync(loose, 0o755);
    fs.writeFileSync(path.join(loose, 'kept'), 'x');
    prepareHome(loose);
    expect(fs.statSync(loose).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(loose, 'kept'), 'utf8')).toBe('x');
    fs.rmSync(parent, { recursive: true, force: true });
  });
});
