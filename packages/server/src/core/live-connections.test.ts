import { describe, expect, it } from 'vitest';
import { botTokensKey, LiveConnections, tokenKey } from './live-connections.js';

describe('LiveConnections', () => {
  it('ends the connections under a key, once, and forgets them', () => {
    const live = new LiveConnections();
    const ended: string[] = [];
    live.add([tokenKey('a'), botTokensKey('bot')], () => ended.push('a1'));
    live.add([tokenKey('a'), botTokensKey('bot')], () => ended.push('a2'));
    live.add([tokenKey('b'), botTokensKey('bot')], () => ended.push('b'));
    expect(live.end(tokenKey('a'))).toBe(2);
    expect(ended).toEqual(['a1', 'a2']);
    // Gone from every key they were under.
    expect(live.end(botTokensKey('bot'))).toBe(1);
    expect(ended).toEqual(['a1', 'a2', 'b']);
    expect(live.end(tokenKey('b'))).toBe(0);
    expect(live.has(botTokensKey('bot'))).toBe(false);
  });

  it('leaves nothing behind once a connection unregisters, and survives a failing end', () => {
    const live = new LiveConnections();
    const unregister = live.add([tokenKey('a')], () => {
      throw new Error('boom');
    });
    let other = false;
    live.add([tokenKey('a')], () => (other = true));
    expect(live.end(tokenKey('a'))).toBe(2);
    expect(other).toBe(true);
    unregister();
    const again = live.add([tokenKey('c')], () => undefined);
    again();
    expect(live.has(tokenKey('c'))).toBe(false);
  });
});
