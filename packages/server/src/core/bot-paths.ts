import path from 'node:path';

/** Where a bot's files live on the host, all under BERTH_HOME. */
export class BotPaths {
  constructor(private readonly home: string) {}

  botDir(botId: string): string {
    return path.join(this.home, 'bots', botId);
  }

  dataDir(botId: string): string {
    return path.join(this.botDir(botId), 'data');
  }
}
