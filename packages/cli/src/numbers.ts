import { InvalidArgumentError } from 'commander';
import { GLOB_MAX_LIMIT } from '@berth/contract';

/** What a numeric option accepts. Bounds are inclusive unless `above` is used. */
export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean;
  min?: number;
  /** The number must be greater than this (for "positive" values such as a timeout). */
  above?: number;
  max?: number;
  /** A word also accepted in place of a number (e.g. "none"). */
  word?: string;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * Reads a number the way a person types it: digits with an optional fraction; no hex, exponents,
 * units or empty strings (`Number('')` is 0 and `Number('abc')` is NaN, which is how bad values got through).
 * Throws commander's InvalidArgumentError, which the CLI reports with the option's name and exits 125.
 */
export function parseNumber(value: string, rule: NumberRule = {}): number {
  const text = value.trim();
  const what = rule.integer ? 'a whole number' : 'a number';
  const orWord = rule.word === undefined ? '' : `, or "${rule.word}"`;
  if (!(rule.integer ? INTEGER : DECIMAL).test(text)) throw new InvalidArgumentError(`expected ${what}${orWord}`);
  const n = Number(text);
  if (!Number.isFinite(n) || (rule.integer && !Number.isSafeInteger(n))) throw new InvalidArgumentError(`expected ${what}${orWord}`);
  if (rule.min !== undefined && n < rule.min) throw new InvalidArgumentError(`must be at least ${rule.min}`);
  if (rule.above !== undefined && n <= rule.above) throw new InvalidArgumentError(`must be more than ${rule.above}`);
  if (rule.max !== undefined && n > rule.max) throw new InvalidArgumentError(`must be at most ${rule.max}`);
  return n;
}

/** A commander argument parser for one numeric option. */
export function numberOption(rule: NumberRule): (value: string) => number {
  return (value) => parseNumber(value, rule);
}

/** A commander parser for an option that takes a number or one word (`--disk-limit-mb none`). */
export function numberOrWordOption<W extends string>(word: W, rule: Omit<NumberRule, 'word'>): (value: string) => number | W {
  return (value) => (value.trim() === word ? word : parseNumber(value, { ...rule, word }));
}

/** The limits the API enforces, checked before a request is sent. */
export const LIMITS = {
  cpus: { min: 0.01, max: 1024 },
  memoryMb: { integer: true, min: 6, max: 4_194_304 },
  pidsLimit: { integer: true, min: 16, max: 1_000_000 },
  diskLimitMb: { integer: true, min: 1, max: 16 * 1024 * 1024 },
  stopTimeout: { integer: true, min: 0, max: 3600 },
  execTimeout: { above: 0, max: 7 * 24 * 3600 },
  tailBytes: { integer: true, min: 0, max: 1024 * 1024 },
  bytes: { integer: true, min: 0 },
  globLimit: { integer: true, min: 1, max: GLOB_MAX_LIMIT },
  /** `berth tasks wait` asks the server again every 600 s (its longest wait): any length is fine here. */
  waitTimeout: { above: 0 },
  outputLength: { integer: true, min: 1 },
} satisfies Record<string, NumberRule>;
