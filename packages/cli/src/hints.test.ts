import { describe, expect, it } from 'vitest';
import { cliHint } from './hints.js';

describe('cliHint', () => {
  it('says the API’s request fields as commands and flags', () => {
    expect(cliHint({ code: 'container_exists', message: 'a container for bot "alpha" already exists: recreate it to replace it (its data dir is kept)' }, { bot: 'alpha' })).toBe(
      'a container for bot "alpha" already exists: run `berth recreate alpha` to replace it (its data dir is kept)',
    );
    expect(cliHint({ code: 'file_exists', message: 'b.txt already exists: set overwrite to replace it' }, { bot: 'alpha' })).toBe('b.txt already exists: pass -f to replace it');
    expect(cliHint({ code: 'validation_failed', message: 'the directory /data/x is not empty; pass recursive=true to remove it with its contents' }, {})).toBe(
      'the directory /data/x is not empty; pass -r to remove it with its contents',
    );
    expect(cliHint({ code: 'validation_failed', message: '/data cannot be removed; use POST /bots/{bot}/data/reset to empty the data dir' }, { bot: 'b1' })).toBe(
      '/data cannot be removed; run `berth data reset b1` to empty the data dir',
    );
    expect(cliHint({ code: 'disk_limit_exceeded', message: 'bot "a" uses 70 MiB of its 64 MiB disk limit; free some space (or raise diskLimitMb) first' }, { bot: 'a' })).toBe(
      'bot "a" uses 70 MiB of its 64 MiB disk limit; free some space (or raise the limit with `berth bots set a --disk-limit-mb <n>`) first',
    );
    expect(cliHint({ code: 'container_not_running', message: 'the container of bot "a" is not running: start it first' }, { bot: 'a' })).toBe(
      'the container of bot "a" is not running: start it with `berth start a`',
    );
  });

  it('names flags for the fields a validation message starts with', () => {
    expect(cliHint({ code: 'validation_failed', message: 'resources.cpus: too small; timeoutSeconds: too big; other: kept' }, {})).toBe('--cpus: too small; --timeout: too big; other: kept');
  });

  it('adds a next step by code when the message has none, and leaves other messages alone', () => {
    expect(cliHint({ code: 'container_not_found', message: 'no container for bot "a": create one first' }, { bot: 'a' })).toBe(
      'no container for bot "a": create it with `berth container create a`',
    );
    expect(cliHint({ code: 'container_not_found', message: 'bot "a" has no container' }, { bot: 'a' })).toBe('bot "a" has no container; create it with `berth container create a`');
    expect(cliHint({ code: 'container_exists', message: 'already there' }, {})).toBe('already there; run `berth recreate <bot>` to replace it');
    expect(cliHint({ code: 'operation_in_progress', message: 'bot has a running create operation op_1', details: { operationId: 'op_1', kind: 'create' } }, { bot: 'a' })).toBe(
      'bot has a running create operation op_1; follow it with `berth operations follow op_1`, then try again',
    );
    expect(cliHint({ code: 'too_many_requests', message: 'the bot already has 4 calls running and 16 waiting; retry later', details: { retryAfterSeconds: 0.5 } }, {})).toBe(
      'the bot already has 4 calls running and 16 waiting; try again in 1 s',
    );
    expect(cliHint({ code: 'bot_not_found', message: 'no bot "x"' }, { bot: 'x' })).toBe('no bot "x"');
  });
});
