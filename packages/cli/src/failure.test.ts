import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { BerthApiError } from './connection.js';
import { CliError, connectionFailure, describeFailure, EXIT, isBrokenPipe } from './failure.js';

const ctx = { url: 'http://127.0.0.1:7070', bot: 'alpha' };

function errno(message: string, props: Record<string, unknown>): Error {
  return Object.assign(new Error(message), props);
}

describe('describeFailure', () => {
  it('exits 125 for Berth’s own failures: API errors, bad flags, its own checks', () => {
    expect(describeFailure(new BerthApiError(404, 'bot_not_found', 'no bot "x"'), ctx)).toEqual({ message: 'berth: no bot "x" (bot_not_found)', exitCode: 125 });
    expect(describeFailure(new CommanderError(1, 'commander.invalidArgument', 'bad'), ctx)).toEqual({ message: null, exitCode: 125 });
    expect(describeFailure(new CommanderError(1, 'commander.unknownOption', 'bad'), ctx)).toEqual({ message: null, exitCode: 125 });
    expect(describeFailure(new CliError('no command'), ctx)).toEqual({ message: 'berth: no command', exitCode: 125 });
    expect(describeFailure(new Error('boom'), ctx)).toEqual({ message: 'berth: boom', exitCode: 125 });
  });

  it('exits 0 after help or the version', () => {
    expect(describeFailure(new CommanderError(0, 'commander.version', '0.1.0'), ctx).exitCode).toBe(0);
    expect(describeFailure(new CommanderError(0, 'commander.helpDisplayed', '(help)'), ctx).exitCode).toBe(0);
    expect(describeFailure(new CommanderError(1, 'commander.help', '(help)'), ctx).exitCode).toBe(0);
  });

  it('names the URL when the server cannot be reached, never "fetch failed"', () => {
    const refused = new TypeError('fetch failed', { cause: errno('connect ECONNREFUSED 127.0.0.1:7070', { code: 'ECONNREFUSED', syscall: 'connect' }) });
    expect(describeFailure(refused, ctx)).toEqual({ message: 'berth: cannot reach Berth at http://127.0.0.1:7070: connect ECONNREFUSED 127.0.0.1:7070', exitCode: 125 });
    // localhost tries both ::1 and 127.0.0.1: Node's AggregateError has a code and no message.
    const both = new TypeError('fetch failed', { cause: Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }) });
    expect(connectionFailure(both)).toBe('ECONNREFUSED');
    const dns = new TypeError('fetch failed', { cause: errno('getaddrinfo ENOTFOUND berth.invalid', { code: 'ENOTFOUND', syscall: 'getaddrinfo' }) });
    expect(connectionFailure(dns)).toBe('getaddrinfo ENOTFOUND berth.invalid');
    // The terminal's WebSocket marks its socket errors.
    expect(connectionFailure(errno('connect ECONNREFUSED 127.0.0.1:7070', { code: 'ECONNREFUSED', berthConnection: true }))).toBe('connect ECONNREFUSED 127.0.0.1:7070');
    expect(connectionFailure(new Error('other'))).toBeNull();
  });

  it('ends quietly on a closed pipe, as a Unix tool killed by SIGPIPE', () => {
    const epipe = errno('write EPIPE', { code: 'EPIPE', syscall: 'write' });
    expect(isBrokenPipe(epipe)).toBe(true);
    expect(describeFailure(epipe, ctx)).toEqual({ message: null, exitCode: EXIT.brokenPipe });
    expect(EXIT.brokenPipe).toBe(141);
  });
});
