import { describe, expect, it } from 'vitest';
import { mergeExecOptions, splitExecArgs } from './exec.js';

describe('splitExecArgs (what follows the bot name)', () => {
  it('passes the command and its flags through without --', () => {
    expect(splitExecArgs(['ls', '-la', '/data'])).toMatchObject({ command: ['ls', '-la', '/data'], options: { env: [] } });
    // Flags that are also exec's own belong to the command once it has started.
    expect(splitExecArgs(['grep', '-w', '-e', 'x', '--timeout', '3', 'f']).command).toEqual(['grep', '-w', '-e', 'x', '--timeout', '3', 'f']);
  });

  it('still takes -- before the command, and keeps a later -- for the command', () => {
    expect(splitExecArgs(['--', 'ls', '-la']).command).toEqual(['ls', '-la']);
    expect(splitExecArgs(['sh', '-c', 'echo "$@"', '--', 'a']).command).toEqual(['sh', '-c', 'echo "$@"', '--', 'a']);
  });

  it('reads exec’s own options right after the bot name, up to the command', () => {
    const { options, command } = splitExecArgs(['-w', '/tmp', '-e', 'A=1', '--timeout', '5', '-i', 'cat', '-n']);
    expect(options).toMatchObject({ cwd: '/tmp', env: ['A=1'], timeout: 5, stdin: true });
    expect(command).toEqual(['cat', '-n']);
    expect(splitExecArgs(['--sh', 'echo $HOME'])).toMatchObject({ options: { sh: 'echo $HOME' }, command: [] });
  });

  it('refuses an unknown option before the command and a bad number', () => {
    expect(() => splitExecArgs(['--bogus', 'ls'])).toThrow(/unknown option '--bogus'/);
    expect(() => splitExecArgs(['--timeout', 'abc', 'ls'])).toThrow(/expected a number/);
  });

  it('merges the options given before and after the bot name', () => {
    const merged = mergeExecOptions({ env: ['A=1'], cwd: '/a', json: true }, { env: ['B=2'], timeout: 3 });
    expect(merged).toMatchObject({ env: ['A=1', 'B=2'], cwd: '/a', timeout: 3, json: true });
  });
});
