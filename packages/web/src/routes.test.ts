import { describe, expect, it } from 'vitest';
import { BOT_TABS, botPath, matchRoute } from './routes.js';

describe('matchRoute', () => {
  it('finds each page by its address', () => {
    expect(matchRoute('/')).toEqual({ page: 'bots' });
    expect(matchRoute('/bots')).toEqual({ page: 'bots' });
    expect(matchRoute('/bots/')).toEqual({ page: 'bots' });
    expect(matchRoute('/login')).toEqual({ page: 'login' });
    expect(matchRoute('/bots/new')).toEqual({ page: 'new-bot' });
    expect(matchRoute('/bots/alpha')).toEqual({ page: 'bot', bot: 'alpha', tab: 'container' });
    expect(matchRoute('/bots/alpha/terminal')).toEqual({ page: 'bot', bot: 'alpha', tab: 'terminal' });
  });

  it('has no page for an unknown tab, a deeper path, or an address that does not decode', () => {
    expect(matchRoute('/bots/alpha/logs')).toEqual({ page: 'not-found' });
    expect(matchRoute('/bots/alpha/files/x')).toEqual({ page: 'not-found' });
    expect(matchRoute('/bots/alpha/constructor')).toEqual({ page: 'not-found' });
    expect(matchRoute('/elsewhere')).toEqual({ page: 'not-found' });
    expect(matchRoute('/bots/%E0%A4%A')).toEqual({ page: 'not-found' });
  });
});

describe('botPath', () => {
  it('leads back to the same bot and tab', () => {
    for (const name of ['alpha', 'bot-1', 'new', 'a b/c?d']) {
      for (const tab of BOT_TABS) expect(matchRoute(botPath(name, tab)), `${name} ${tab}`).toEqual({ page: 'bot', bot: name, tab });
    }
  });

  it('gives the Container tab the short address', () => {
    expect(botPath('alpha')).toBe('/bots/alpha');
    expect(botPath('alpha', 'files')).toBe('/bots/alpha/files');
  });
});
