import { describe, expect, it } from 'vitest';
import { childEnv, forgetSecretEnv } from './child-env.js';

describe('the environment of processes Berth starts', () => {
  it('has everything but the admin token', () => {
    const env = { PATH: '/usr/bin', BERTH_HOME: '/srv/berth', BERTH_ADMIN_TOKEN: 'secret-admin-token-123' };
    expect(childEnv(env)).toEqual({ PATH: '/usr/bin', BERTH_HOME: '/srv/berth' });
    // The given environment is left as it was.
    expect(env.BERTH_ADMIN_TOKEN).toBe('secret-admin-token-123');
    forgetSecretEnv(env);
    expect(env).toEqual({ PATH: '/usr/bin', BERTH_HOME: '/srv/berth' });
  });
});
