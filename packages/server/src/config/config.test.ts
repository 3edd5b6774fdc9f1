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
