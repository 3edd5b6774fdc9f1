/**
 * Resolves on `drain` or `close`, whichever comes first: a writable can take more, or it was torn
 * down. Plain listeners rather than `events.once` with an AbortSignal, since this runs for every
 * chunk of an archive and an aborted `once` costs an exception with a stack trace.
 */
export function drainedOrClosed(emitter: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      emitter.off('drain', done);
      emitter.off('close', done);
      resolve();
    };
    emitter.on('drain', done);
    emitter.on('close', done);
  });
}
