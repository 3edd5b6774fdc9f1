import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig: BERTH_ENGINE_TIMEOUT_SECONDS', () => {
  it('defaults to 30 s and takes fractions', () => {
    expect(loadConfig({}).engineTimeoutSeconds).toBe(30);
    expect(loadConfig({ BERTH_ENGINE_TIMEOUT_SECONDS: '2.5' }).engineTimeoutSeconds).toBe(2.5);
  });

  it('refuses a deadline that is not a positive number of seconds up to an hour', () => {
    for (const bad of ['0', '-1', 'soon', '3601']) {
      expect(() => loadConfig({ BERTH_ENGINE_TIMEOUT_SECONDS: bad })).toThrow(/BERTH_ENGINE_TIMEOUT_SECONDS/);
    }
  });
});

describe('loadConfig: BERTH_DEFAULT_DISK_LIMIT_MB', () => {
  it('defaults to 10 GiB; 0 means no limit', () => {
    expect(loadConfig({}).defaultDiskLimitMb).toBe(10240);
    expect(loadConfig({ BERTH_DEFAULT_DISK_LIMIT_MB: '512' }).defaultDiskLimitMb).toBe(512);
    expect(loadConfig({ BERTH_DEFAULT_DISK_LIMIT_MB: '0' }).defaultDiskLimitMb).toBeNull();
  });

  it('refuses anything but a whole number of MiB up to 16 TiB', () => {
    for (const bad of ['-1', '1.5', 'lots', String(16 * 1024 * 1024 + 1)]) {
      expect(() => loadConfig({ BERTH_DEFAULT_DISK_LIMIT_MB: bad })).toThrow(/BERTH_DEFAULT_DISK_LIMIT_MB/);
    }
  });
});
