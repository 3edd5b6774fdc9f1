import { describe, expect, it } from 'vitest';
import { BotName, CreateBotBody, PatchBotBody, type Bot } from '@berth/contract';
import { BOT_NAME_PATTERN, createBody, draftFromBot, EMPTY_DRAFT, needsRecreate, parseEnv, parseNumberField, patchBody } from './bot-config.js';

const bot: Bot = {
  id: 'bot_1',
  name: 'alpha',
  image: 'localhost/berth/workspace:bookworm',
  cdiDevices: ['nvidia.com/gpu=0', 'x.com/y=1'],
  resources: { cpus: 1.5, memoryMb: 512, pidsLimit: 4096 },
  network: 'bridge',
  env: { A: '1', B: 'x=y' },
  diskLimitMb: 2048,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  status: 'running',
  version: 1,
};

describe('the new bot form', () => {
  it('sends only the name and network when nothing else is filled in, so the server’s defaults apply', () => {
    const body = createBody('  alpha ', EMPTY_DRAFT);
    expect(body).toEqual({ name: 'alpha', network: 'bridge' });
    expect(CreateBotBody.safeParse(body).success).toBe(true);
  });

  it('sends what was typed, as numbers and a variable table the server accepts', () => {
    const body = createBody('alpha', { image: ' img:1 ', cdi: 'a.com/b=1, a.com/b=2', cpus: '0.5', memoryMb: '256', pidsLimit: '100', network: 'none', env: 'A=1\n\n# note\nB = two ', diskLimitMb: '2048' });
    expect(body).toEqual({
      name: 'alpha',
      image: 'img:1',
      cdiDevices: 'a.com/b=1, a.com/b=2',
      network: 'none',
      resources: { cpus: 0.5, memoryMb: 256, pidsLimit: 100 },
      env: { A: '1', B: ' two' },
      diskLimitMb: 2048,
    });
    expect(CreateBotBody.safeParse(body).success).toBe(true);
  });

  it('refuses a number field that is not a number instead of sending no limit', () => {
    expect(() => createBody('a', { ...EMPTY_DRAFT, cpus: 'abc' })).toThrow('CPUs must be a number');
    expect(() => createBody('a', { ...EMPTY_DRAFT, memoryMb: '0x10' })).toThrow('Memory must be a whole number');
    expect(() => createBody('a', { ...EMPTY_DRAFT, pidsLimit: '1e3' })).toThrow('Process limit must be a whole number');
    expect(() => createBody('a', { ...EMPTY_DRAFT, diskLimitMb: '1.5' })).toThrow('Disk limit must be a whole number');
    expect(() => createBody('a', { ...EMPTY_DRAFT, memoryMb: '-5' })).toThrow('Memory must be a whole number');
  });
});

describe('parseNumberField', () => {
  it('reads digits with an optional decimal point; empty is no value', () => {
    expect(parseNumberField(' 2 ', 'X')).toBe(2);
    expect(parseNumberField('1.25', 'X')).toBe(1.25);
    expect(parseNumberField('.5', 'X')).toBe(0.5);
    expect(parseNumberField('3.', 'X')).toBe(3);
    expect(parseNumberField('', 'X')).toBeNull();
    expect(parseNumberField('   ', 'X')).toBeNull();
    expect(parseNumberField('007', 'X', { integer: true })).toBe(7);
  });

  it('refuses what Number() would read as something else', () => {
    for (const text of ['Infinity', '0b1', '1_000', '1,5', '1.2.3', '.', '+1']) expect(() => parseNumberField(text, 'X'), text).toThrow('X must be a number');
  });
});

describe('parseEnv', () => {
  it('reads KEY=value lines, skipping blanks and comments, keeping = in values', () => {
    expect(parseEnv('A=1\r\n  \n# c\nURL=http://x/?a=b\nEMPTY=')).toEqual({ A: '1', URL: 'http://x/?a=b', EMPTY: '' });
  });

  it('names the line that is not KEY=value', () => {
    expect(() => parseEnv('A=1\njust text')).toThrow('"just text" is not KEY=value');
    expect(() => parseEnv('=value')).toThrow('is not KEY=value');
  });

  it('refuses a name the server would refuse, saying why', () => {
    expect(() => parseEnv('1A=x')).toThrow('"1A" is not a variable name');
    expect(() => parseEnv('MY-VAR=x')).toThrow('"MY-VAR" is not a variable name');
  });
});

describe('the settings form', () => {
  it('shows a bot’s config as text and sends it back unchanged', () => {
    const draft = draftFromBot(bot);
    expect(draft).toEqual({ image: bot.image, cdi: 'nvidia.com/gpu=0\nx.com/y=1', cpus: '1.5', memoryMb: '512', pidsLimit: '4096', network: 'bridge', env: 'A=1\nB=x=y', diskLimitMb: '2048' });
    const body = patchBody(draft);
    expect(body).toEqual({ image: bot.image, cdiDevices: draft.cdi, network: 'bridge', env: bot.env, resources: { cpus: 1.5, memoryMb: 512, pidsLimit: 4096 }, diskLimitMb: 2048 });
    expect(PatchBotBody.safeParse(body).success).toBe(true);
  });

  it('clears what was emptied: no CPU, memory or disk limit, no variables, no devices', () => {
    const body = patchBody({ ...draftFromBot(bot), cpus: '', memoryMb: '', diskLimitMb: '', env: '', cdi: '' });
    expect(body).toMatchObject({ resources: { cpus: null, memoryMb: null }, diskLimitMb: null, env: {}, cdiDevices: '' });
  });

  it('keeps the process limit when its field is emptied: it has no "none"', () => {
    expect(patchBody({ ...draftFromBot(bot), pidsLimit: '' }).resources).toEqual({ cpus: 1.5, memoryMb: 512 });
  });

  it('keeps the image when its field is emptied', () => {
    expect(patchBody({ ...draftFromBot(bot), image: ' ' })).not.toHaveProperty('image');
  });
});

describe('needsRecreate', () => {
  it('is false when only the disk limit changed: that applies at once', () => {
    expect(needsRecreate(bot, { ...bot, diskLimitMb: 4096, updatedAt: 'later' })).toBe(false);
  });

  it('is true for anything the container was made with', () => {
    expect(needsRecreate(bot, { ...bot, image: 'other' })).toBe(true);
    expect(needsRecreate(bot, { ...bot, cdiDevices: [] })).toBe(true);
    expect(needsRecreate(bot, { ...bot, resources: { ...bot.resources, cpus: 2 } })).toBe(true);
    expect(needsRecreate(bot, { ...bot, network: 'none' })).toBe(true);
    expect(needsRecreate(bot, { ...bot, env: { A: '2' } })).toBe(true);
  });
});

describe('the bot name field', () => {
  it('accepts in the browser what the server accepts, and refuses what it refuses', () => {
    // Browsers match `pattern` as a whole, with the `v` flag; the length is held by maxLength.
    const field = new RegExp(`^(?:${BOT_NAME_PATTERN})$`, 'v');
    for (const name of ['alpha', 'bot-1', '9', 'a-', '-a', 'Alpha', 'a_b', 'a.b', 'a b', 'é']) {
      expect(field.test(name), name).toBe(BotName.safeParse(name).success);
    }
  });
});
