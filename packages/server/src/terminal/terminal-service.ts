import type { ExecSession, RuntimeDriver } from '../runtime/driver.js';
import type { Store } from '../store/store.js';
import type { BotWorkLimiter } from '../core/bot-work-limiter.js';
import { containerName } from '../core/labels.js';

/** bash when the image has it (a login shell, so profiles run), else sh. */
const SHELL = 'if [ -x /bin/bash ]; then exec /bin/bash -l; fi; exec /bin/sh -l';

export interface TerminalServiceDeps {
  store: Store;
  driver: RuntimeDriver;
  containerDataPath: string;
  /** A session with no input or output this long is closed (BERTH_TERMINAL_IDLE_SECONDS). */
  idleSeconds: number;
  /** Open terminals per bot (their own cap, not exec's places); none: unlimited. */
  limiter?: BotWorkLimiter;
}

/** An interactive shell on a pseudo-terminal in the bot's running container. */
export class TerminalService {
  constructor(private readonly deps: TerminalServiceDeps) {}

  get idleMs(): number {
    return this.deps.idleSeconds * 1000;
  }

  async open(idOrName: string, size: { cols: number; rows: number }): Promise<ExecSession> {
    const bot = await this.deps.store.mustGetBot(idOrName);
    const release = this.deps.limiter ? await this.deps.limiter.acquire(bot.id) : () => undefined;
    const session = await this.openIn(bot.id, size).catch((err: unknown) => {
      release();
      throw err;
    });
    void session.exitCode.catch(() => undefined).finally(release);
    return session;
  }

  private openIn(botId: string, size: { cols: number; rows: number }): Promise<ExecSession> {
    return this.deps.driver.execStream(containerName(botId), {
      command: ['/bin/sh', '-c', SHELL],
      tty: true,
      stdin: true,
      size,
      cwd: this.deps.containerDataPath,
      env: { TERM: 'xterm-256color' },
    });
  }
}
