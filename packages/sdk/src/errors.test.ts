import { BerthApiError } from '@berth/contract';
import { describe, expect, it } from 'vitest';
import { operationError, OperationFailedError, payloadError, statusOf } from './errors.js';

describe('operation errors', () => {
  it('are API errors with the operation’s code, its table status and details', () => {
    const err = operationError('op_1', { code: 'image_pull_failed', message: 'pull failed', details: { image: 'x' } });
    expect(err).toBeInstanceOf(OperationFailedError);
    expect(err).toBeInstanceOf(BerthApiError);
    expect(err).toMatchObject({ operationId: 'op_1', code: 'image_pull_failed', status: 502, message: 'pull failed', details: { image: 'x' } });
  });

  it('still throw something meaningful for a payload that is not one', () => {
    expect(operationError('op', null)).toMatchObject({ code: 'internal', status: 500 });
    expect(operationError('op', { code: 'not_a_code', message: 'm' })).toMatchObject({ code: 'not_a_code', status: 500 });
    expect(statusOf('toString')).toBe(500);
  });

  it('map an exec error event to a plain API error', () => {
    const err = payloadError({ code: 'container_not_running', message: 'stopped' });
    expect(err).not.toBeInstanceOf(OperationFailedError);
    expect(err).toMatchObject({ code: 'container_not_running', status: 409 });
  });
});
