import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { EngineHttpError, toAppError } from './podman-client.js';

describe('toAppError', () => {
  it('maps the engine running out of space to 507 insufficient_storage naming the engine’s storage', () => {
    const err = toAppError(new EngineHttpError(500, 'committing container abc: writing blob: write /var/lib/containers/storage/overlay/x: no space left on device', ''), {
      resource: 'container',
      ref: 'abc',
      action: 'commit container',
    });
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'insufficient_storage', status: 507, details: { storage: 'engine' } });
    expect((err as AppError).message).toMatch(/^commit container abc failed: the container engine's storage is full/);
  });

  it('keeps other engine failures as they were', () => {
    expect(toAppError(new EngineHttpError(500, 'no such container', ''), { resource: 'container' })).toMatchObject({ code: 'container_not_found' });
    expect(toAppError(new EngineHttpError(500, 'something else broke', ''))).toMatchObject({ code: 'internal' });
  });
});
