import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, type RunContext } from './program.js';

/** Parses argv with the real program; actions that would reach a server meet a closed port instead. */
async function parse(args: string[]): Promise<{ ctx: RunContext; error: unknown }> {
  const ctx: RunContext = { globals: { json: false } };
  const program = buildProgram(ctx);
  program.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  for (const cmd of program.commands) cmd.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  const error = await program.parseAsync(args, { from: 'user' }).then(
    () => null,
    (e: unknown) => e,
  );
  return { ctx, error };
}

const closed = ['--url', 'http://127.0.0.1:1', '--token', 't'];

describe('the berth program', () => {
  it('refuses a bad number before anything is sent', async () => {
    const { error } = await parse(['bots', 'create', 'x', '--cpus', 'abc']);
    expect(error).toBeInstanceOf(CommanderError);
    expect(error).toMatchObject({ code: 'commander.invalidArgument', message: expect.stringContaining("option '--cpus <n>' argument 'abc' is invalid. expected a number") });
  });

  it('answers --version with the CLI’s version', async () => {
    const { error } = await parse(['--version']);
    expect(error).toMatchObject({ code: 'commander.version', exitCode: 0, message: expect.stringMatching(/^berth \d+\.\d+\.\d+/) });
  });

  it('takes the global options before the verb and after it', async () => {
    const before = await parse([...closed, '--json', 'ls']);
    expect(before.ctx.globals).toEqual({ url: 'http://127.0.0.1:1', token: 't', json: true });
    const after = await parse(['ls', '--json', ...closed]);
    expect(after.ctx.globals).toEqual({ url: 'http://127.0.0.1:1', token: 't', json: true });
  });

  it('remembers the bot a command is about, for its hints', async () => {
    const { ctx } = await parse([...closed, 'container', 'info', 'alpha']);
    expect(ctx.bot).toBe('alpha');
  });

  it('keeps the command names users already have', () => {
    const names = (cmd: { name(): string; commands: readonly unknown[] }, prefix = ''): string[] =>
      (cmd.commands as { name(): string; commands: readonly unknown[] }[]).flatMap((c) => [`${prefix}${c.name()}`, ...names(c, `${prefix}${c.name()} `)]);
    const all = names(buildProgram());
    for (const n of [
      'bots list', 'bots create', 'bots show', 'bots set', 'bots delete',
      'container create', 'container info', 'container start', 'container stop', 'container delete',
      'snapshots list', 'snapshots create', 'snapshots restore', 'snapshots delete', 'versions',
      'data export', 'data import', 'data reset',
      'exec', 'tasks list', 'tasks get', 'tasks kill',
      'files ls', 'files get', 'files put', 'files rm', 'files edit', 'files mv',
      'tokens create', 'tokens list', 'tokens revoke',
      'info', 'cdi-devices', 'events',
      'ls', 'inspect', 'start', 'stop', 'restart', 'recreate', 'cp', 'shell', 'version', 'operations follow',
    ]) {
      expect(all).toContain(n);
    }
  });
});
