import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildCacheControl, MAX_MAX_AGE_MS, parseDuration, type CacheControlOptions } from '../../../src/http/semantics/cache-control.js';

describe('Cache-Control', () => {
  const cases: Array<[name: string, options: CacheControlOptions | undefined, expected: string | undefined]> = [
    ['no options', undefined, 'public, max-age=0'],
    ['maxAge in milliseconds', { maxAge: 60_000 }, 'public, max-age=60'],
    ['maxAge with a partial second (floored)', { maxAge: 1999 }, 'public, max-age=1'],
    ['maxAge as a day string', { maxAge: '1d' }, 'public, max-age=86400'],
    ['maxAge as an hour string with immutable', { maxAge: '2h', immutable: true }, 'public, max-age=7200, immutable'],
    ['immutable alone', { immutable: true }, 'public, max-age=0, immutable'],
    ['a negative maxAge (clamped to 0)', { maxAge: -5000 }, 'public, max-age=0'],
    ['a maxAge above one year (clamped)', { maxAge: 10 * MAX_MAX_AGE_MS }, 'public, max-age=31536000'],
    ['a 2y string (clamped)', { maxAge: '2y' }, 'public, max-age=31536000'],
    ['maxAge Infinity (clamped to a year, as send)', { maxAge: Infinity }, 'public, max-age=31536000'],
    ['maxAge -Infinity (clamped to 0)', { maxAge: -Infinity }, 'public, max-age=0'],
    ['cacheControl false', { cacheControl: false, maxAge: '1d', immutable: true }, undefined],
    ['cacheControl true', { cacheControl: true, maxAge: 1000 }, 'public, max-age=1'],
  ];
  for (const [name, options, expected] of cases) {
    it(`for ${name} is ${JSON.stringify(expected)}`, () => {
      assert.equal(buildCacheControl(options), expected);
    });
  }
  for (const maxAge of ['1 fortnight', 'abc', '', NaN, 'Infinity']) {
    it(`rejects maxAge ${JSON.stringify(maxAge)} with ZC_ERR_INVALID_ARG`, () => {
      assert.throws(() => buildCacheControl({ maxAge }), { name: 'TypeError', code: 'ZC_ERR_INVALID_ARG' });
    });
  }
});

describe('parseDuration', () => {
  const cases: Array<[text: string, expected: number | undefined]> = [
    ['500', 500],
    ['500ms', 500],
    ['10s', 10_000],
    ['10 sec', 10_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1d', 86_400_000],
    ['1D', 86_400_000],
    ['2 days', 172_800_000],
    ['1w', 604_800_000],
    ['1y', 31_557_600_000],
    ['-1s', -1000],
    [' 3s ', 3000],
    ['1x', undefined],
    ['s', undefined],
    ['1.2.3s', undefined],
    ['1e3', undefined],
    ['', undefined],
    ['1'.repeat(101), undefined],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${JSON.stringify(text)} as ${expected}`, () => {
      assert.equal(parseDuration(text), expected);
    });
  }
});
