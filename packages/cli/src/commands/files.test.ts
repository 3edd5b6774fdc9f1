import { describe, expect, it } from 'vitest';
import { parseCpArgs, parseRemote } from './files.js';

describe('berth cp arguments', () => {
  it('reads <bot>:<path> on either side', () => {
    expect(parseCpArgs('alpha:/data/a.txt', './a.txt')).toEqual({ direction: 'from-bot', bot: 'alpha', remote: '/data/a.txt', local: './a.txt' });
    expect(parseCpArgs('a.txt', 'alpha:notes/')).toEqual({ direction: 'to-bot', bot: 'alpha', remote: 'notes/', local: 'a.txt' });
    expect(parseCpArgs('-', 'bot_0123abcd:/tmp/x')).toEqual({ direction: 'to-bot', bot: 'bot_0123abcd', remote: '/tmp/x', local: '-' });
    expect(parseCpArgs('alpha:x', '-')).toMatchObject({ direction: 'from-bot', local: '-' });
  });

  it('takes local paths with a colon when written ./a:b or /abs/a:b', () => {
    expect(parseRemote('./a:b')).toBeNull();
    expect(parseRemote('/tmp/a:b')).toBeNull();
    expect(parseRemote('dir/a:b')).toBeNull();
    expect(parseRemote('alpha:a:b')).toEqual({ bot: 'alpha', path: 'a:b' });
  });

  it('refuses two bots, no bot, or a bot without a path', () => {
    expect(() => parseCpArgs('a:x', 'b:y')).toThrow('between two bots');
    expect(() => parseCpArgs('x', 'y')).toThrow('one side must be <bot>:<path>');
    expect(() => parseCpArgs('alpha:', 'y')).toThrow('give a path after "alpha:"');
  });
});
