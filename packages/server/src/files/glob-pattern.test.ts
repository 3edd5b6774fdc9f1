import { describe, expect, it } from 'vitest';
import { compileGlob } from './glob-pattern.js';

describe('glob patterns', () => {
  const m = (pattern: string, path: string) => compileGlob(pattern).matches(path);

  it('keeps * and ? within a segment, and lets ** span any number of them', () => {
    expect(m('*.ts', 'a.ts')).toBe(true);
    expect(m('*.ts', 'src/a.ts')).toBe(false);
    expect(m('**/*.ts', 'a.ts')).toBe(true);
    expect(m('**/*.ts', 'src/deep/er/a.ts')).toBe(true);
    expect(m('**/*.ts', 'src/a.tsx')).toBe(false);
    expect(m('src/**', 'src/a/b')).toBe(true);
    expect(m('src/**/test/*.js', 'src/test/x.js')).toBe(true);
    expect(m('src/**/test/*.js', 'src/a/b/test/x.js')).toBe(true);
    expect(m('src/**/test/*.js', 'src/a/b/test/y/x.js')).toBe(false);
    expect(m('a?c', 'abc')).toBe(true);
    expect(m('a?c', 'ac')).toBe(false);
    expect(m('a*b*c', 'axxbyyc')).toBe(true);
    expect(m('.*', '.hidden')).toBe(true);
    expect(m('*', '.hidden')).toBe(true);
  });

  it('knows classes, braces and escapes', () => {
    expect(m('[abc].txt', 'b.txt')).toBe(true);
    expect(m('[!abc].txt', 'b.txt')).toBe(false);
    expect(m('[a-c]x', 'cx')).toBe(true);
    expect(m('[^a-c]x', 'dx')).toBe(true);
    expect(m('*.{ts,tsx}', 'a.tsx')).toBe(true);
    expect(m('*.{ts,tsx}', 'a.js')).toBe(false);
    expect(m('{src,lib}/**/*.{js,mjs}', 'lib/x/y.mjs')).toBe(true);
    expect(m('\\*.txt', '*.txt')).toBe(true);
    expect(m('\\*.txt', 'a.txt')).toBe(false);
    expect(m('[unclosed', '[unclosed')).toBe(true);
    expect(m('ü*', 'über')).toBe(true);
  });

  it('offers a find -name filter and a depth when the pattern allows them', () => {
    expect(compileGlob('**/*.ts')).toMatchObject({ nameFilter: '*.ts', maxDepth: null });
    // `?` is one character to the matcher but one byte to `find` in the C locale: the filter takes any run there.
    expect(compileGlob('src/*/x?.js')).toMatchObject({ nameFilter: 'x*.js', maxDepth: 3 });
    expect(compileGlob('?.txt').matches('é.txt')).toBe(true);
    expect(compileGlob('*.{ts,js}')).toMatchObject({ nameFilter: null, maxDepth: 1 });
    expect(compileGlob('src/**')).toMatchObject({ nameFilter: null, maxDepth: null });
    expect(compileGlob('[ab].txt').nameFilter).toBeNull();
  });

  it('refuses empty, absolute, parent-reaching and exploding patterns', () => {
    for (const p of ['', '/etc/*', '../*', 'a/../b', 'x'.repeat(2000), '{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}']) {
      expect(() => compileGlob(p), p).toThrow(/invalid glob pattern/);
    }
  });

  it('matches hostile names in time linear in their length', () => {
    const g = compileGlob('*a*a*a*a*a*a*a*a*a*a*b');
    const name = 'a'.repeat(100_000);
    expect(g.matches(name)).toBe(false);
    const deep = compileGlob('**/**/x/**/**/y');
    expect(deep.matches(Array.from({ length: 2000 }, () => 'x').join('/'))).toBe(false);
  });
});
