import { AppError } from '../errors.js';

/**
 * Glob patterns for finding files (`src/**\/*.ts`), matched against paths relative to the directory
 * searched. `*` and `?` stay within one path segment, `**` as a whole segment spans any number of
 * them (none included), `[abc]`, `[a-z]`, `[!x]`/`[^x]` are classes, `{a,b}` alternatives and `\`
 * escapes the next character. Dot files match like any other. Paths come from the container, so the
 * matcher has no backtracking blow-up: a segment is matched in O(n·m), a path in O(P·S) segment
 * matches, whatever the pattern and the path.
 */
export interface GlobPattern {
  /** Whether a relative path (segments separated by `/`) matches. */
  matches(path: string): boolean;
  /**
   * A `find -name` filter every match's last segment passes, when the pattern allows one that is
   * surely no stricter than the matcher (only literals, `*` and `?`): it spares the walk's output.
   */
  nameFilter: string | null;
  /** How deep a match can be (segments), or null when `**` makes it unbounded. */
  maxDepth: number | null;
}

const MAX_GLOB_PATTERN_LENGTH = 1024;
/** Alternatives a pattern's braces may expand to. */
const MAX_ALTERNATIVES = 64;

type Token = { kind: 'char'; ch: string } | { kind: 'any' } | { kind: 'star' } | { kind: 'class'; negate: boolean; items: [string, string][] };
type Segment = { kind: 'globstar' } | { kind: 'part'; tokens: Token[] };

export function compileGlob(pattern: string): GlobPattern {
  if (pattern.length === 0) throw invalid('the pattern is empty');
  if (pattern.length > MAX_GLOB_PATTERN_LENGTH) throw invalid(`the pattern is longer than ${MAX_GLOB_PATTERN_LENGTH} characters`);
  if (pattern.startsWith('/')) throw invalid('the pattern is relative to the directory searched; give that directory as `path` and a relative pattern');
  const alternatives = expandBraces(pattern).map(parsePattern);
  for (const segments of alternatives) {
    if (segments.some((s) => s.kind === 'part' && s.tokens.length === 2 && isDotDot(s.tokens))) throw invalid('the pattern may not contain `..`');
  }
  const lasts = alternatives.map((segments) => segments[segments.length - 1]);
  const first = lasts[0];
  const plain = (s: Segment | undefined): s is { kind: 'part'; tokens: Token[] } => s?.kind === 'part' && s.tokens.every((t) => t.kind !== 'class');
  const name = plain(first) ? findName(first.tokens) : null;
  const nameFilter = name !== null && lasts.every((s) => plain(s) && findName(s.tokens) === name) ? name : null;
  const depths = alternatives.map((segments) => (segments.some((s) => s.kind === 'globstar') ? null : segments.length));
  const maxDepth = depths.includes(null) ? null : Math.max(...(depths as number[]));
  return {
    matches: (path) => {
      const parts = path.split('/').filter((p) => p !== '' && p !== '.');
      return alternatives.some((segments) => matchSegments(segments, parts));
    },
    nameFilter,
    maxDepth,
  };
}

function invalid(message: string): AppError {
  return new AppError('validation_failed', { reason: `invalid glob pattern: ${message}` });
}

function isDotDot(tokens: Token[]): boolean {
  return tokens.every((t) => t.kind === 'char' && t.ch === '.');
}

/** `{a,b}c` → `ac`, `bc`; nested braces too; a brace without a matching close is literal. */
function expandBraces(pattern: string): string[] {
  let out = [pattern];
  for (let round = 0; round < MAX_ALTERNATIVES; round++) {
    const next: string[] = [];
    let changed = false;
    for (const p of out) {
      const group = firstGroup(p);
      if (!group) {
        next.push(p);
        continue;
      }
      changed = true;
      for (const alt of group.alternatives) next.push(p.slice(0, group.start) + alt + p.slice(group.end + 1));
      if (next.length > MAX_ALTERNATIVES) throw invalid(`its braces expand to more than ${MAX_ALTERNATIVES} patterns`);
    }
    out = next;
    if (!changed) return out;
  }
  throw invalid(`its braces expand to more than ${MAX_ALTERNATIVES} patterns`);
}

/** The first innermost `{…,…}` group (no braces inside it), with its alternatives. */
function firstGroup(p: string): { start: number; end: number; alternatives: string[] } | null {
  let open = -1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') i++;
    else if (c === '{') open = i;
    else if (c === '}' && open >= 0) {
      const body = p.slice(open + 1, i);
      const alternatives: string[] = [];
      let from = 0;
      for (let j = 0; j < body.length; j++) {
        if (body[j] === '\\') j++;
        else if (body[j] === ',') {
          alternatives.push(body.slice(from, j));
          from = j + 1;
        }
      }
      alternatives.push(body.slice(from));
      // `{a}` has nothing to choose from: it stays as written.
      if (alternatives.length > 1) return { start: open, end: i, alternatives };
      open = -1;
    }
  }
  return null;
}

function parsePattern(pattern: string): Segment[] {
  const segments: Segment[] = [];
  for (const raw of splitSegments(pattern)) {
    if (raw === '' || raw === '.') continue;
    if (raw === '**') {
      // `**/**` is one `**`.
      if (segments[segments.length - 1]?.kind !== 'globstar') segments.push({ kind: 'globstar' });
      continue;
    }
    segments.push({ kind: 'part', tokens: tokenize(raw) });
  }
  if (segments.length === 0) throw invalid('it names no file');
  return segments;
}

/** Splits at `/` outside classes and escapes. */
function splitSegments(pattern: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      cur += c + (pattern[++i] as string);
    } else if (c === '/') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function tokenize(segment: string): Token[] {
  const chars = Array.from(segment);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\' && i + 1 < chars.length) tokens.push({ kind: 'char', ch: chars[++i] as string });
    else if (c === '*') {
      // `a**b` is `a*b`: consecutive stars are one.
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') tokens.push({ kind: 'any' });
    else if (c === '[') {
      const cls = parseClass(chars, i);
      if (cls) {
        tokens.push(cls.token);
        i = cls.end;
      } else {
        tokens.push({ kind: 'char', ch: c });
      }
    } else tokens.push({ kind: 'char', ch: c });
  }
  return tokens;
}

/** `[…]` from `start`, or null when it does not close (then `[` is a literal). */
function parseClass(chars: string[], start: number): { token: Token; end: number } | null {
  let i = start + 1;
  const negate = chars[i] === '!' || chars[i] === '^';
  if (negate) i++;
  const items: [string, string][] = [];
  // A `]` right after the opening is a member.
  let firstItem = true;
  for (; i < chars.length; i++) {
    let c = chars[i] as string;
    if (c === ']' && !firstItem) return { token: { kind: 'class', negate, items }, end: i };
    firstItem = false;
    if (c === '\\' && i + 1 < chars.length) c = chars[++i] as string;
    if (chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']') {
      let hi = chars[i + 2] as string;
      i += 2;
      if (hi === '\\' && i + 1 < chars.length) hi = chars[++i] as string;
      items.push([c, hi]);
    } else {
      items.push([c, c]);
    }
  }
  return null;
}

/** The segment as a `find -name` argument (only literals, `*` and `?`), or null when another token is in it. */
function findName(tokens: Token[]): string | null {
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'star') out += '*';
    // `find` in the container's C locale takes `?` for one byte; the matcher, for one character (é is two bytes).
    else if (t.kind === 'any') out += '*';
    else if (t.kind === 'char' && !'*?[]\\'.includes(t.ch)) out += t.ch;
    else return null;
  }
  return out;
}

/** Segments against path parts, `**` spanning any number of parts: a table of P × S cells, each filled once. */
function matchSegments(segments: Segment[], parts: string[]): boolean {
  const P = segments.length;
  const S = parts.length;
  // ok[p][s]: segments from p match parts from s. Filled from the end.
  let next = new Array<boolean>(S + 1).fill(false);
  next[S] = true; // no segments left, no parts left
  for (let p = P - 1; p >= 0; p--) {
    const seg = segments[p] as Segment;
    const cur = new Array<boolean>(S + 1).fill(false);
    for (let s = S; s >= 0; s--) {
      if (seg.kind === 'globstar') cur[s] = (next[s] as boolean) || (s < S && (cur[s + 1] as boolean));
      else cur[s] = s < S && (next[s + 1] as boolean) && matchPart(seg.tokens, parts[s] as string);
    }
    next = cur;
  }
  return next[0] as boolean;
}

/**
 * One segment against one name: the classic wildcard match with a single backtrack point (the last
 * star), O(n·m) at worst.
 */
function matchPart(tokens: Token[], name: string): boolean {
  const chars = Array.from(name);
  let t = 0;
  let c = 0;
  let starT = -1;
  let starC = 0;
  while (c < chars.length) {
    const tok = tokens[t];
    if (tok && tok.kind !== 'star' && matchOne(tok, chars[c] as string)) {
      t++;
      c++;
    } else if (tok?.kind === 'star') {
      starT = t++;
      starC = c;
    } else if (starT >= 0) {
      t = starT + 1;
      c = ++starC;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}

function matchOne(tok: Token, ch: string): boolean {
  switch (tok.kind) {
    case 'char':
      return tok.ch === ch;
    case 'any':
      return true;
    case 'class': {
      const cp = ch.codePointAt(0) ?? 0;
      const inside = tok.items.some(([lo, hi]) => cp >= (lo.codePointAt(0) ?? 0) && cp <= (hi.codePointAt(0) ?? 0));
      return inside !== tok.negate;
    }
    default:
      return false;
  }
}
