#!/usr/bin/env node
import { serverUrl } from './connection.js';
import { describeFailure, EXIT } from './failure.js';
import { buildProgram, type RunContext } from './program.js';

// A reader that goes away (`berth ls | head -1`) ends the CLI quietly, as SIGPIPE ends a Unix tool.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.brokenPipe);
    // Any other failure to write (a full disk behind `>`, EIO) is Berth's own: said, not a stack trace.
    if (stream !== process.stderr) process.stderr.write(`berth: ${err.message}\n`);
    process.exit(EXIT.berth);
  });
}

const ctx: RunContext = { globals: { json: false } };
const program = buildProgram(ctx);

program.parseAsync().catch((err: unknown) => {
  const globals = { ...program.opts(), ...ctx.globals };
  const failure = describeFailure(err, { bot: ctx.bot, url: serverUrl(globals) });
  if (failure.message !== null) process.stderr.write(`${failure.message}\n`);
  process.exit(failure.exitCode);
});
