import { describe, expect, it } from 'vitest';
import { clientKey, LoginLimiter } from './login-limiter.js';

describe('LoginLimiter', () => {
  it('refuses a client after its failures in one window, until the window ends', () => {
    let clock = 1_000_000;
    const limiter = new LoginLimiter({ maxFailures: 3, windowMs: 60_000, now: () => clock });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('a')).toBe(0);
      limiter.recordFailure('a');
    }
    expect(limiter.retryAfterSeconds('a')).toBe(60);
    expect(limiter.retryAfterSeconds('b')).toBe(0);
    clock += 59_500;
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    clock += 500;
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    limiter.recordFailure('a');
    expect(limiter.retryAfterSeconds('a')).toBe(0);
  });

  it('remembers at most maxClients, dropping ended windows first, then the oldest', () => {
    let clock = 0;
    const limiter = new LoginLimiter({ maxFailures: 1, windowMs: 1_000, maxClients: 100, now: () => clock });
    for (let i = 0; i < 50; i++) limiter.recordFailure(`old-${i}`);
    clock = 2_000;
    for (let i = 0; i < 10_000; i++) limiter.recordFailure(`new-${i}`);
    expect(limiter.size).toBe(100);
    expect(limiter.retryAfterSeconds('new-9999')).toBe(1);
    expect(limiter.retryAfterSeconds('new-0')).toBe(0);
  });

  it('keys clients by address, IPv6 by its /64', () => {
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('2001:db8:1:2:3:4:5:6')).toBe(clientKey('2001:db8:1:2:ffff::1'));
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'));
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
