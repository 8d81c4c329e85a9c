/**
 * LIKE matching: the same answers as the regular expression it replaces (checked on seeded random patterns and
 * values). Its speed on pathological patterns is tested over HTTP (`test/collections.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { LikePattern } from './like.js';

/** The backtracking matcher `_like` used before: correct, but exponential on `%a%a%a...b`. */
const reference = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')}$`, 'is');

describe('LikePattern', () => {
  it('agrees with the regular expression on 20,000 random patterns and values', () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const word = (max: number, alphabet: string) => Array.from({ length: rnd(max) }, () => alphabet[rnd(alphabet.length)]).join('');
    for (let i = 0; i < 20_000; i++) {
      // Long enough to cross the 32-state word boundary.
      const pattern = word(48, 'aAb%_c.');
      const value = word(48, 'aAbc.\n');
      expect(LikePattern.compile(pattern).test(value), JSON.stringify({ pattern, value })).toBe(reference(pattern).test(value));
    }
  });

  it('is case-insensitive, `_` is one character, `%` any run, and nothing else is special', () => {
    expect(LikePattern.compile('WEB-%').test('web-1')).toBe(true);
    expect(LikePattern.compile('w_b').test('wb')).toBe(false);
    expect(LikePattern.compile('%').test('')).toBe(true);
    expect(LikePattern.compile('').test('')).toBe(true);
    expect(LikePattern.compile('a.c').test('abc')).toBe(false);
    expect(LikePattern.compile('☃_').test('☃x')).toBe(true);
  });
});
