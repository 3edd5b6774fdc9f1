import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config/config.js';
import { Failpoints } from './failpoints.js';

describe('failpoints (BERTH_FAILPOINTS)', () => {
  it('does nothing when none is set, and refuses a malformed list at config time', async () => {
    const none = Failpoints.parse('');
    expect(none.active).toBe(false);
    await none.hit('restore.data');
    expect(() => loadConfig({ BERTH_FAILPOINTS: 'restore.data:explode' })).toThrow(/BERTH_FAILPOINTS/);
    expect(() => loadConfig({ BERTH_FAILPOINTS: 'restore.data' })).toThrow(/BERTH_FAILPOINTS/);
    expect(loadConfig({ BERTH_FAILPOINTS: 'restore.data:crash, import.midway:error' }).failpoints).toBe('restore.data:crash, import.midway:error');
  });

  it('fails a step as an unexpected error or as a full disk; other points pass', async () => {
    const points = Failpoints.parse('a.one:error,a.two:enospc');
    await expect(points.hit('a.one')).rejects.toThrow(/failpoint a.one/);
    await expect(points.hit('a.two')).rejects.toMatchObject({ code: 'ENOSPC' });
    await points.hit('a.three');
  });

  it('pauses a step until its continue file exists', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-failpoints-'));
    try {
      const points = Failpoints.parse('a.wait:pause', { dir });
      let done = false;
      const waiting = points.hit('a.wait').then(() => (done = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(done).toBe(false);
      fs.mkdirSync(path.join(dir, 'failpoints'));
      fs.writeFileSync(path.join(dir, 'failpoints', 'a.wait.continue'), '');
      await waiting;
      expect(done).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
