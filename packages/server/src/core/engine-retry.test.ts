import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { retryWhileEngineDown } from './engine-retry.js';

describe('retryWhileEngineDown', () => {
  it('retries while the engine does not answer, then returns the result', async () => {
    let calls = 0;
    const result = await retryWhileEngineDown(() => {
      calls++;
      if (calls < 3) return Promise.reject(new AppError('runtime_unavailable', { reason: 'down' }));
      return Promise.resolve('done');
    });
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('does not retry a refusal, and gives up once its time is out', async () => {
    let calls = 0;
    const refused = retryWhileEngineDown(() => {
      calls++;
      return Promise.reject(new AppError('container_not_found', { target: 'the bot', reason: 'gone' }));
    });
    await expect(refused).rejects.toMatchObject({ code: 'container_not_found' });
    expect(calls).toBe(1);
    await expect(retryWhileEngineDown(() => Promise.reject(new AppError('runtime_unavailable', { reason: 'down' })), { maxMs: 100 })).rejects.toMatchObject({ code: 'runtime_unavailable' });
  });

  it('stops retrying when the server stops', async () => {
    const controller = new AbortController();
    const pending = retryWhileEngineDown(() => Promise.reject(new AppError('runtime_unavailable', { reason: 'down' })), { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'runtime_unavailable' });
  });
});
